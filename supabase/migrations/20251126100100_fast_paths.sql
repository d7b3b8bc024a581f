-- Fast paths: the same rules, a fraction of the database time (DESIGN §7: ≥ 1000 votes/s).
--
-- 1. RLS helpers in PL/pgSQL.
-- 2. app.cast_vote checks its rules itself (SECURITY DEFINER) instead of through the votes
--    policies; app._votes_updated_event is folded into it.
--
-- PostgreSQL (before 18) plans the body of a non-inlined LANGUAGE sql function again on every
-- call from a new statement, and these helpers cannot be inlined (SECURITY DEFINER, SET
-- search_path). A helper that calls another one (app.is_member -> app.my_session_id) paid two
-- plannings each time: ~0.2 ms per call, several calls per write. PL/pgSQL keeps each
-- statement's plan for the life of the connection, so a call costs a plan-cache lookup and an
-- index probe. Semantics, signatures, volatility, SECURITY DEFINER, search_path and grants are
-- unchanged (CREATE OR REPLACE keeps the ACL and the policies that use them).

create or replace function app.my_session_id() returns uuid
  language plpgsql stable security definer
  set search_path = ''
  as $$
  begin
    return (select m.session_id
              from public.session_members m
              join public.sessions s on s.id = m.session_id and s.ended_at is null
             where m.user_id = auth.uid());
  end
  $$;

create or replace function app.my_moderated_session_id() returns uuid
  language plpgsql stable security definer
  set search_path = ''
  as $$
  begin
    return (select m.session_id
              from public.session_members m
              join public.sessions s on s.id = m.session_id and s.ended_at is null
             where m.user_id = auth.uid() and m.role in ('host', 'cohost'));
  end
  $$;

create or replace function app.my_hosted_session_id() returns uuid
  language plpgsql stable security definer
  set search_path = ''
  as $$
  begin
    return (select m.session_id
              from public.session_members m
              join public.sessions s on s.id = m.session_id and s.ended_at is null
             where m.user_id = auth.uid() and m.role = 'host');
  end
  $$;

create or replace function app.is_member(p_session_id uuid) returns boolean
  language plpgsql stable security definer
  set search_path = ''
  as $$
  begin
    return coalesce(p_session_id = app.my_session_id(), false);
  end
  $$;

create or replace function app.is_moderator(p_session_id uuid) returns boolean
  language plpgsql stable security definer
  set search_path = ''
  as $$
  begin
    return coalesce(p_session_id = app.my_moderated_session_id(), false);
  end
  $$;

create or replace function app.is_host(p_session_id uuid) returns boolean
  language plpgsql stable security definer
  set search_path = ''
  as $$
  begin
    return coalesce(p_session_id = app.my_hosted_session_id(), false);
  end
  $$;

create or replace function app.can_join(p_session_id uuid, p_role text) returns boolean
  language plpgsql stable security definer
  set search_path = ''
  as $$
  begin
    return exists (
      select 1
        from public.sessions s
       where s.id = p_session_id
         and s.ended_at is null
         and not exists (select 1 from public.session_bans b
                          where b.session_id = s.id and b.user_id = auth.uid())
         and (p_role = 'guest'
              or (p_role = 'host'
                  and s.host_id = auth.uid()
                  and not exists (select 1 from public.session_members m
                                   where m.session_id = s.id and m.role = 'host'))));
  end
  $$;

create or replace function app.can_ban(p_session_id uuid, p_user_id uuid) returns boolean
  language plpgsql stable security definer
  set search_path = ''
  as $$
  begin
    return p_user_id <> auth.uid()
       and exists (select 1 from public.sessions s
                    where s.id = p_session_id and s.host_id <> p_user_id)
       and not exists (
             select 1 from public.session_members m
              where m.session_id = p_session_id and m.user_id = p_user_id
                and (m.role = 'host' or (m.role = 'cohost' and not app.is_host(p_session_id))));
  end
  $$;

create or replace function app.can_add_entry(p_session_id uuid) returns boolean
  language plpgsql stable security definer
  set search_path = ''
  as $$
  begin
    return exists (
      select 1
        from public.session_members m
        join public.sessions s on s.id = m.session_id and s.ended_at is null
       where m.user_id = auth.uid() and m.session_id = p_session_id
         and (not s.queue_locked or m.role in ('host', 'cohost')));
  end
  $$;

create or replace function app.can_vote(p_entry_id uuid, p_value int) returns boolean
  language plpgsql stable security definer
  set search_path = ''
  as $$
  begin
    return exists (
      select 1
        from public.queue_entries e
        join public.sessions s on s.id = e.session_id and s.ended_at is null
       where e.id = p_entry_id and e.status = 'queued'
         and (p_value > 0 or s.allow_downvotes));
  end
  $$;

create or replace function app.can_see_profile(p_user_id uuid) returns boolean
  language plpgsql stable security definer
  set search_path = ''
  as $$
  begin
    return p_user_id = auth.uid() or exists (
      select 1
        from public.session_members me
        join public.sessions s on s.id = me.session_id and s.ended_at is null
       where me.user_id = auth.uid()
         and (exists (select 1 from public.session_members o
                       where o.session_id = me.session_id and o.user_id = p_user_id)
              or exists (select 1 from public.queue_entries e
                          where e.session_id = me.session_id and e.added_by = p_user_id)
              or exists (select 1 from public.session_bans b
                          where b.session_id = me.session_id and b.user_id = p_user_id)));
  end
  $$;

------------------------------------------------------------------------------------------------
-- 2. app.cast_vote as SECURITY DEFINER. Writing the vote row through the votes policies cost
-- about a third of a vote's database time (the INSERT and ON CONFLICT UPDATE checks evaluate
-- app.my_session_id() and app.can_vote() again, then app._votes_updated_event checked the
-- membership once more). The function now checks exactly what those policies check, once:
-- the vote is the caller's own (auth.uid()), in the caller's live session, on a queued entry of
-- it, and -1 only where downvotes are allowed. Direct writes to `votes` still go through RLS.
-- Same signature, outcomes and grants; the event is written the same way (total summed after
-- the session row is locked, so the last votes_updated of an entry carries the exact total).
create or replace function app.cast_vote(p_entry_id uuid, p_value int)
  returns table (outcome text, session_id uuid, total_votes int, seq bigint)
  language plpgsql security definer
  set search_path = ''
  as $$
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
    select m.session_id into v_sid from public.session_members m where m.user_id = v_uid;
    if v_sid is null then
      return query select 'not_in_session'::text, null::uuid, null::int, null::bigint;
      return;
    end if;
    select e.status, s.allow_downvotes into v_status, v_down
      from public.queue_entries e
      join public.sessions s on s.id = e.session_id and s.ended_at is null
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
    if v_rows = 0 then
      select coalesce(sum(v.value), 0)::int into v_total
        from public.votes v where v.session_id = v_sid and v.entry_id = p_entry_id;
      return query select 'unchanged'::text, v_sid, v_total, null::bigint;
      return;
    end if;
    update public.sessions s
       set last_seq = s.last_seq + 1,
           last_activity_at = clock_timestamp(),
           idle_warning_sent_at = null
     where s.id = v_sid and s.ended_at is null
    returning s.last_seq into v_seq;
    if v_seq is null then
      raise exception 'session % has ended', v_sid using errcode = '55000';
    end if;
    select coalesce(sum(v.value), 0)::int into v_total
      from public.votes v where v.session_id = v_sid and v.entry_id = p_entry_id;
    insert into public.session_events (session_id, seq, type, payload, created_at)
    values (v_sid, v_seq, 'votes_updated',
            jsonb_build_object('queued_song_id', p_entry_id, 'total_votes', v_total),
            clock_timestamp());
    return query select 'ok'::text, v_sid, v_total, v_seq;
  end
  $$;

drop function app._votes_updated_event(uuid, uuid);
