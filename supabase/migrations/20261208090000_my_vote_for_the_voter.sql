-- The member who voted learns their own vote from the stream (issue: a vote cast on another
-- device never reached `my_votes` until the next snapshot, since events do not say who voted).
--
-- An event may carry data for one member only: `private_to` (a user id) and `private_data`
-- (merged into `data` in the copy that goes to that member's sockets and to their own
-- `GET /sessions/{id}/events`; every other member gets the event without it). `votes_updated`
-- uses it for `{"my_vote": v}`. Who voted what is never sent to others; the fan-out reads the
-- columns through app.fetch_events (definer, service role) and the member's own reads ask for
-- `private_data` only where `private_to` is themselves.

alter table queueit.session_events
  add column private_to uuid,
  add column private_data jsonb,
  add constraint session_events_private_check
    check ((private_to is null) = (private_data is null)
           and (private_data is null or jsonb_typeof(private_data) = 'object'));

drop function app.fetch_events(uuid, bigint, int);
create function app.fetch_events(p_session_id uuid, p_after_seq bigint, p_max_rows int default 500)
  returns table (seq bigint, type text, payload jsonb, created_at timestamptz,
                 private_to uuid, private_data jsonb)
  language sql stable security definer
  set search_path = ''
  as $$
    select e.seq, e.type, e.payload, e.created_at, e.private_to, e.private_data
      from queueit.session_events e
     where e.session_id = p_session_id and e.seq > p_after_seq
     order by e.seq
     limit greatest(least(p_max_rows, 10000), 0)
  $$;
revoke all on function app.fetch_events(uuid, bigint, int) from public;
grant execute on function app.fetch_events(uuid, bigint, int) to queueit_service;

-- app.cast_vote as in 20261203070000_private_schema.sql; the event now names the voter's vote.
CREATE OR REPLACE FUNCTION app.cast_vote(p_entry_id uuid, p_value integer)
 RETURNS TABLE(outcome text, session_id uuid, total_votes integer, seq bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
  #variable_conflict use_column
  declare
    v_uid    uuid := auth.uid();
    v_sid    uuid;
    v_status text;
    v_down   boolean;
    v_rows   int;
    v_seq    bigint;
    v_total  int;
  begin
    if p_value is null or p_value not in (-1, 0, 1) then
      raise exception 'vote value must be -1, 0 or 1' using errcode = '22023';
    end if;
    select m.session_id into v_sid from queueit.session_members m where m.user_id = v_uid;
    if v_sid is null then
      return query select 'not_in_session'::text, null::uuid, null::int, null::bigint;
      return;
    end if;
    select e.status, s.allow_downvotes into v_status, v_down
      from queueit.queue_entries e
      join queueit.sessions s on s.id = e.session_id and s.ended_at is null
     where e.id = p_entry_id and e.session_id = v_sid;
    if v_status is null then
      return query select 'song_not_found'::text, v_sid, null::int, null::bigint;
      return;
    end if;
    if v_status <> 'queued' then
      return query select 'not_queued'::text, v_sid, null::int, null::bigint;
      return;
    end if;
    if p_value < 0 and not v_down then
      return query select 'downvotes_disabled'::text, v_sid, null::int, null::bigint;
      return;
    end if;
    if p_value = 0 then
      delete from queueit.votes v where v.entry_id = p_entry_id and v.user_id = v_uid;
    else
      insert into queueit.votes as v (entry_id, session_id, user_id, value)
      values (p_entry_id, v_sid, v_uid, p_value)
      on conflict (entry_id, user_id) do update set value = excluded.value
       where v.value <> excluded.value;
    end if;
    get diagnostics v_rows = row_count;
    if v_rows = 0 then
      select coalesce(sum(v.value), 0)::int into v_total
        from queueit.votes v where v.session_id = v_sid and v.entry_id = p_entry_id;
      return query select 'unchanged'::text, v_sid, v_total, null::bigint;
      return;
    end if;
    update queueit.sessions s
       set last_seq = s.last_seq + 1,
           last_activity_at = clock_timestamp(),
           idle_warning_sent_at = null
     where s.id = v_sid and s.ended_at is null
    returning s.last_seq into v_seq;
    if v_seq is null then
      raise exception 'session % has ended', v_sid using errcode = '55000';
    end if;
    select coalesce(sum(v.value), 0)::int into v_total
      from queueit.votes v where v.session_id = v_sid and v.entry_id = p_entry_id;
    insert into queueit.session_events
      (session_id, seq, type, payload, created_at, private_to, private_data)
    values (v_sid, v_seq, 'votes_updated',
            jsonb_build_object('queued_song_id', p_entry_id, 'total_votes', v_total),
            clock_timestamp(), v_uid, jsonb_build_object('my_vote', p_value));
    return query select 'ok'::text, v_sid, v_total, v_seq;
  end
  $function$;

-- app.append_event with a part for the caller alone (`private_to` = the caller): adding a song
-- is the adder's upvote, and only the adder's copy of `song_added` says so (`my_vote`).
create function app.append_event_for_caller(
  p_session_id uuid, p_type text, p_payload jsonb, p_private_data jsonb)
  returns table (seq bigint, created_at timestamptz)
  language plpgsql security definer
  set search_path = ''
  as $$
  #variable_conflict use_column
  declare
    v_seq bigint;
    v_at  timestamptz;
  begin
    select a.seq, a.created_at into v_seq, v_at from app.append_event(p_session_id, p_type, p_payload) a;
    update queueit.session_events e
       set private_to = auth.uid(), private_data = p_private_data
     where e.session_id = p_session_id and e.seq = v_seq;
    return query select v_seq, v_at;
  end
  $$;
revoke all on function app.append_event_for_caller(uuid, text, jsonb, jsonb) from public;
grant execute on function app.append_event_for_caller(uuid, text, jsonb, jsonb) to authenticated;
