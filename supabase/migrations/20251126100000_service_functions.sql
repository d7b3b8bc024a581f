-- QueueIT service functions: what the REST service needs on top of the API functions.
--
-- 1. The idle reaper's warning is the contract's event: `session_ending {ends_at, reason: "idle"}`
--    (it was `session_idle_warning {ends_at}`). Every event type and payload the database
--    writes now equals the contract's *Event `type` and `data` exactly.
-- 2. app.session_access: why a caller may or may not use a session (one row, one round trip).
-- 3. app.append_member_event: member_joined / member_left / member_kicked with an exact
--    `member_count` (counted after the session row is locked).
-- 4. app.cast_vote: the vote path in one round trip — vote row (under the votes policies), exact
--    total and `votes_updated` event.

------------------------------------------------------------------------------------------------
-- 1. Idle reaper: same rules as before, contract event.
create or replace function app.end_idle_sessions(p_idle_after interval, p_warn_before interval)
  returns table (session_id uuid, action text, seq bigint)
  language plpgsql security definer
  set search_path = ''
  as $$
  #variable_conflict use_column
  declare
    r      record;
    v_seq  bigint;
    v_ends timestamptz;
  begin
    for r in
      select s.id, s.last_activity_at, s.idle_warning_sent_at
        from public.sessions s
       where s.ended_at is null
         and s.last_activity_at < now() - greatest(p_idle_after - p_warn_before, interval '0')
       order by s.last_activity_at
         for update skip locked
    loop
      v_ends := greatest(r.last_activity_at + p_idle_after,
                         coalesce(r.idle_warning_sent_at, now()) + p_warn_before);
      if r.idle_warning_sent_at is null then
        select a.seq into v_seq
          from app._append_event(r.id, 'session_ending',
                                 jsonb_build_object('ends_at', app.rfc3339(v_ends), 'reason', 'idle'),
                                 false) a;
        update public.sessions s set idle_warning_sent_at = now() where s.id = r.id;
        session_id := r.id; action := 'warned'; seq := v_seq;
        return next;
      elsif now() >= v_ends then
        select a.seq into v_seq from app._end_session(r.id, 'idle', '{}'::jsonb) a;
        session_id := r.id; action := 'ended'; seq := v_seq;
        return next;
      end if;
    end loop;
  end
  $$;

------------------------------------------------------------------------------------------------
-- 2. Access to a session, as the caller: does it exist, has it ended, is the caller banned from
-- it, and the caller's role in it (null when not a member). Always one row. SECURITY DEFINER so a
-- non-member can be told *why* (404 no such session / 409 ended / 403 banned / 403 not a member);
-- it reveals nothing but existence and end of a session whose uuid the caller already has.
create function app.session_access(p_session_id uuid)
  returns table (found boolean, ended boolean, banned boolean, role text, last_seq bigint)
  language sql stable security definer
  set search_path = ''
  as $$
    select s.id is not null,
           coalesce(s.ended_at is not null, false),
           exists (select 1 from public.session_bans b
                    where b.session_id = p_session_id and b.user_id = auth.uid()),
           (select m.role from public.session_members m
             where m.session_id = p_session_id and m.user_id = auth.uid()
               and s.ended_at is null),
           s.last_seq
      from (select 1) as one
      left join public.sessions s on s.id = p_session_id
  $$;

------------------------------------------------------------------------------------------------
-- 3. Membership events. Like app.append_event (members only, resets the idle clock), and sets
-- payload.member_count to the number of members once the session row is locked: every
-- transaction that appended before has committed, so concurrent joins and leaves each report the
-- exact count, and the last event always holds the true one. `p_leaving`: the caller is about to
-- delete their own membership in this transaction (leave appends before deleting): not counted.
create function app.append_member_event(p_session_id uuid, p_type text, p_payload jsonb,
                                        p_leaving boolean default false)
  returns table (seq bigint, created_at timestamptz)
  language plpgsql security definer
  set search_path = ''
  as $$
  #variable_conflict use_column
  declare
    v_seq   bigint;
    v_count int;
    v_at    timestamptz;
  begin
    if not app.is_member(p_session_id) then
      raise exception 'only members of session % may write its events', p_session_id
        using errcode = '42501';
    end if;
    if p_type not in ('member_joined', 'member_left', 'member_kicked') then
      raise exception 'not a membership event: %', p_type using errcode = '22023';
    end if;
    update public.sessions s
       set last_seq = s.last_seq + 1,
           last_activity_at = clock_timestamp(),
           idle_warning_sent_at = null
     where s.id = p_session_id and s.ended_at is null
    returning s.last_seq into v_seq;
    if v_seq is null then
      raise exception 'session % has ended', p_session_id using errcode = '55000';
    end if;
    select count(*)::int into v_count
      from public.session_members m
     where m.session_id = p_session_id and not (p_leaving and m.user_id = auth.uid());
    v_at := clock_timestamp();
    insert into public.session_events (session_id, seq, type, payload, created_at)
    values (p_session_id, v_seq, p_type,
            coalesce(p_payload, '{}'::jsonb) || jsonb_build_object('member_count', v_count), v_at);
    return query select v_seq, v_at;
  end
  $$;

------------------------------------------------------------------------------------------------
-- 4. Votes.
--
-- app._votes_updated_event(sid, entry): appends `votes_updated {queued_song_id, total_votes}`.
-- The total is summed AFTER the session row is locked (the UPDATE inside _append_event): every
-- transaction that appended before us has committed by then, so under any concurrency the last
-- votes_updated event of an entry carries the exact total. Members only.
create function app._votes_updated_event(p_session_id uuid, p_entry_id uuid)
  returns table (seq bigint, total_votes int)
  language plpgsql security definer
  set search_path = ''
  as $$
  #variable_conflict use_column
  declare
    v_seq   bigint;
    v_total int;
  begin
    if not app.is_member(p_session_id) then
      raise exception 'only members of session % may write its events', p_session_id
        using errcode = '42501';
    end if;
    -- lock the session row first (serializes this session's event writers until commit)
    update public.sessions s
       set last_seq = s.last_seq + 1,
           last_activity_at = clock_timestamp(),
           idle_warning_sent_at = null
     where s.id = p_session_id and s.ended_at is null
    returning s.last_seq into v_seq;
    if v_seq is null then
      raise exception 'session % has ended', p_session_id using errcode = '55000';
    end if;
    -- a new statement: its snapshot sees every vote committed before we got the lock
    select coalesce(sum(v.value), 0)::int into v_total
      from public.votes v where v.session_id = p_session_id and v.entry_id = p_entry_id;
    insert into public.session_events (session_id, seq, type, payload, created_at)
    values (p_session_id, v_seq, 'votes_updated',
            jsonb_build_object('queued_song_id', p_entry_id, 'total_votes', v_total),
            clock_timestamp());
    return query select v_seq, v_total;
  end
  $$;

-- app.cast_vote(entry, value): the caller's vote on a queued entry of their session, in one round
-- trip. SECURITY INVOKER: the vote row is written under the votes policies (as the caller, in the
-- caller's session, only on queued entries, -1 only where downvotes are allowed). value 0
-- withdraws. Answers instead of raising, so the service picks the problem:
--   outcome  ok | unchanged | not_in_session | song_not_found | not_queued | downvotes_disabled
-- `seq` is the event written (null when nothing changed).
create function app.cast_vote(p_entry_id uuid, p_value int)
  returns table (outcome text, session_id uuid, total_votes int, seq bigint)
  language plpgsql
  set search_path = ''
  as $$
  #variable_conflict use_column
  declare
    v_uid    uuid := auth.uid();
    v_sid    uuid := app.my_session_id();
    v_status text;
    v_down   boolean;
    v_rows   int;
    v_seq    bigint;
    v_total  int;
  begin
    if p_value is null or p_value not in (-1, 0, 1) then
      raise exception 'vote value must be -1, 0 or 1' using errcode = '22023';
    end if;
    if v_uid is null or v_sid is null then
      return query select 'not_in_session'::text, null::uuid, null::int, null::bigint;
      return;
    end if;
    select e.status, s.allow_downvotes into v_status, v_down
      from public.queue_entries e
      join public.sessions s on s.id = e.session_id
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
      delete from public.votes v where v.entry_id = p_entry_id and v.user_id = v_uid;
    else
      insert into public.votes as v (entry_id, session_id, user_id, value)
      values (p_entry_id, v_sid, v_uid, p_value)
      on conflict (entry_id, user_id) do update set value = excluded.value
       where v.value <> excluded.value;
    end if;
    get diagnostics v_rows = row_count;

    if v_rows > 0 then
      select a.seq, a.total_votes into v_seq, v_total
        from app._votes_updated_event(v_sid, p_entry_id) a;
      return query select 'ok'::text, v_sid, v_total, v_seq;
    else
      select coalesce(sum(v.value), 0)::int into v_total
        from public.votes v where v.session_id = v_sid and v.entry_id = p_entry_id;
      return query select 'unchanged'::text, v_sid, v_total, null::bigint;
    end if;
  end
  $$;

revoke all on function
  app.session_access(uuid),
  app.append_member_event(uuid, text, jsonb, boolean),
  app._votes_updated_event(uuid, uuid),
  app.cast_vote(uuid, int)
  from public;
grant execute on function
  app.session_access(uuid),
  app.append_member_event(uuid, text, jsonb, boolean),
  app._votes_updated_event(uuid, uuid),
  app.cast_vote(uuid, int)
  to authenticated;
