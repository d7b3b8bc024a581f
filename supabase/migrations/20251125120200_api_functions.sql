-- QueueIT functions for what RLS alone cannot express.
--
-- Each SECURITY DEFINER function is narrow, checks the caller itself (auth.uid() from the JWT
-- claims) and pins search_path. EXECUTE is revoked from PUBLIC on every function and granted to
-- `authenticated` only where listed; the rest run only as the owner (the service's login role:
-- `postgres` on Supabase and in embedded mode), i.e. from Database.system_conn().
--
-- Errors (SQLSTATE -> HTTP in the service):
--   42501 insufficient_privilege            -> 403   not a member / not a moderator / not host
--   P0002 no_data_found                     -> 404   no such session / member
--   55000 object_not_in_prerequisite_state  -> 409   session ended, entry not playing, bad transition
--   22023 invalid_parameter_value           -> 422   unknown action
--
-- Event types written by the database itself (everything else is written by the service through
-- app.append_event): session_ended {reason}, session_idle_warning {ends_at}.

-- RFC 3339 UTC, whole seconds, `Z` (the wire format of every date-time).
create function app.rfc3339(p_ts timestamptz) returns text
  language sql stable
  set search_path = ''
  as $$
    select to_char(p_ts at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
  $$;

------------------------------------------------------------------------------------------------
-- Events
--
-- app._append_event is the only writer of session_events. It bumps sessions.last_seq with
-- UPDATE ... RETURNING: the row lock serializes writers of one session until commit, so
--   * seq is gap-free (a rolled back transaction releases its number with the lock), and
--   * committed seqs always form a prefix: seq N+1 cannot commit before N, so a reader that has
--     seen N+1 has seen everything before it.
-- Call it as late as possible in a transaction: the session row stays locked until commit.
-- p_touch: user activity (resets the idle clock and any idle warning); false for system events.
create function app._append_event(p_session_id uuid, p_type text, p_payload jsonb, p_touch boolean)
  returns table (seq bigint, created_at timestamptz)
  language plpgsql
  set search_path = ''
  as $$
  #variable_conflict use_column
  declare
    v_seq bigint;
    v_at  timestamptz;
  begin
    -- clock_timestamp() inside the UPDATE is evaluated once the row lock is ours, so created_at
    -- grows with seq (a transaction that waited for the lock gets the later time).
    update public.sessions s
       set last_seq = s.last_seq + 1,
           last_activity_at = case when p_touch then clock_timestamp() else s.last_activity_at end,
           idle_warning_sent_at = case when p_touch then null else s.idle_warning_sent_at end
     where s.id = p_session_id and s.ended_at is null
    returning s.last_seq into v_seq;
    if v_seq is null then
      if exists (select 1 from public.sessions s where s.id = p_session_id) then
        raise exception 'session % has ended', p_session_id using errcode = '55000';
      end if;
      raise exception 'session % does not exist', p_session_id using errcode = 'P0002';
    end if;
    v_at := clock_timestamp();
    insert into public.session_events (session_id, seq, type, payload, created_at)
    values (p_session_id, v_seq, p_type, coalesce(p_payload, '{}'::jsonb), v_at);
    return query select v_seq, v_at;
  end
  $$;

-- Append an event as a member of the session (the caller's membership is checked). For leave,
-- kick and ban, append the event BEFORE deleting the membership row, in the same transaction:
-- the deletion and the event commit together, so order inside the transaction is invisible to
-- everyone else. Ending a session goes through app.end_session.
create function app.append_event(p_session_id uuid, p_type text, p_payload jsonb default '{}'::jsonb)
  returns table (seq bigint, created_at timestamptz)
  language plpgsql security definer
  set search_path = ''
  as $$
  begin
    if not app.is_member(p_session_id) then
      raise exception 'only members of session % may write its events', p_session_id
        using errcode = '42501';
    end if;
    return query select a.seq, a.created_at from app._append_event(p_session_id, p_type, p_payload, true) a;
  end
  $$;

-- Realtime fan-out: events of one session after a seq, in order. Service role only (it reads on
-- behalf of many connected users; they each passed RLS when they subscribed). Members reading
-- for themselves (the REST polling fallback) just SELECT from session_events under RLS.
create function app.fetch_events(p_session_id uuid, p_after_seq bigint, p_max_rows int default 500)
  returns table (seq bigint, type text, payload jsonb, created_at timestamptz)
  language sql stable security definer
  set search_path = ''
  as $$
    select e.seq, e.type, e.payload, e.created_at
      from public.session_events e
     where e.session_id = p_session_id and e.seq > p_after_seq
     order by e.seq
     limit greatest(least(p_max_rows, 10000), 0)
  $$;

-- Retention: keep the last p_keep events of every session (settings.events_retained); a client
-- asking for an older `since` gets a snapshot. Returns the number of rows deleted.
create function app.prune_events(p_keep bigint) returns bigint
  language sql volatile security definer
  set search_path = ''
  as $$
    with d as (
      delete from public.session_events e
       using public.sessions s
       where s.id = e.session_id and e.seq <= s.last_seq - greatest(p_keep, 0)
      returning 1
    )
    select count(*) from d
  $$;

------------------------------------------------------------------------------------------------
-- Joining

-- The live session with this join code (normalized: trimmed, upper-case), and whether the caller
-- is banned from it. No row when there is none. The only way to find a session you are not in.
create function app.find_session_by_code(p_code text)
  returns table (session_id uuid, is_banned boolean)
  language sql stable security definer
  set search_path = ''
  as $$
    select s.id,
           exists (select 1 from public.session_bans b
                    where b.session_id = s.id and b.user_id = auth.uid())
      from public.sessions s
     where s.join_code = upper(btrim(p_code)) and s.ended_at is null
  $$;

-- Hand the host role to another member; the old host becomes a co-host. Host only.
create function app.transfer_host(p_session_id uuid, p_new_host uuid) returns void
  language plpgsql security definer
  set search_path = ''
  as $$
  begin
    if not app.is_host(p_session_id) then
      raise exception 'only the host of session % may hand over the host role', p_session_id
        using errcode = '42501';
    end if;
    perform 1 from public.sessions s where s.id = p_session_id for update;
    if p_new_host = auth.uid() then
      return;
    end if;
    if not exists (select 1 from public.session_members m
                    where m.session_id = p_session_id and m.user_id = p_new_host) then
      raise exception 'user % is not a member of session %', p_new_host, p_session_id
        using errcode = 'P0002';
    end if;
    update public.session_members m set role = 'cohost' where m.user_id = auth.uid();
    update public.session_members m set role = 'host' where m.user_id = p_new_host;
    update public.sessions s set host_id = p_new_host where s.id = p_session_id;
  end
  $$;

------------------------------------------------------------------------------------------------
-- Ending

-- Ends a live session: writes `session_ended` {reason, ...p_payload}, stops playback (a playing
-- entry becomes `played`), stamps ended_at/end_reason and removes every membership (so everyone
-- is free to join elsewhere and loses access). Entries, votes and events stay as history.
create function app._end_session(p_session_id uuid, p_reason text, p_payload jsonb)
  returns table (seq bigint, created_at timestamptz)
  language plpgsql
  set search_path = ''
  as $$
  declare
    v_seq bigint;
    v_at  timestamptz;
  begin
    select a.seq, a.created_at into v_seq, v_at
      from app._append_event(p_session_id, 'session_ended',
                             jsonb_build_object('reason', p_reason) || coalesce(p_payload, '{}'::jsonb),
                             false) a;
    update public.queue_entries e set status = 'played'
     where e.session_id = p_session_id and e.status = 'playing';
    update public.sessions s
       set ended_at = now(), end_reason = p_reason,
           playback_state = 'stopped', current_entry_id = null,
           playback_started_at = null, paused_at = null
     where s.id = p_session_id;
    delete from public.session_members m where m.session_id = p_session_id;
    return query select v_seq, v_at;
  end
  $$;

-- End the caller's session. Moderators (host, co-hosts) only. p_reason: [a-z_]{1,32}.
create function app.end_session(p_session_id uuid, p_reason text default 'host_ended',
                                p_payload jsonb default '{}'::jsonb)
  returns table (seq bigint, created_at timestamptz)
  language plpgsql security definer
  set search_path = ''
  as $$
  begin
    if not app.is_moderator(p_session_id) then
      raise exception 'only the host or a co-host may end session %', p_session_id
        using errcode = '42501';
    end if;
    return query select a.seq, a.created_at from app._end_session(p_session_id, p_reason, p_payload) a;
  end
  $$;

-- The idle reaper (service role only; safe to run from several instances at once: sessions
-- being handled elsewhere are skipped). A live session idle for longer than
-- p_idle_after - p_warn_before first gets `session_idle_warning` {ends_at}; it ends (reason
-- `idle`) once it has been idle for p_idle_after AND the warning is at least p_warn_before old,
-- so a warning always comes first, however long the reaper was away. Any user event
-- (app.append_event) resets the idle clock and the warning.
create function app.end_idle_sessions(p_idle_after interval, p_warn_before interval)
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
          from app._append_event(r.id, 'session_idle_warning',
                                 jsonb_build_object('ends_at', app.rfc3339(v_ends)), false) a;
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
-- Playback state machine
--
-- play   stopped -> head of the queue starts (no-op on an empty queue); paused -> resumes
-- pause  playing -> paused
-- skip   current entry -> `skipped`, the head of the queue starts (or playback stops)
-- next   current entry -> `played` (track ended), the head of the queue starts (or stops)
-- The head is the first queued entry in play order: total votes desc, added_at, id.
-- Returns the new state and whether anything changed; the caller writes the event.
create function app._playback_transition(p_session_id uuid, p_action text)
  returns table (changed boolean, playback_state text, current_entry_id uuid,
                 finished_entry_id uuid, playback_started_at timestamptz, paused_at timestamptz)
  language plpgsql
  set search_path = ''
  as $$
  #variable_conflict use_column
  declare
    s          public.sessions%rowtype;
    v_next     uuid;
    v_finished uuid;
    v_changed  boolean := false;
  begin
    if p_action is null or p_action not in ('play', 'pause', 'skip', 'next') then
      raise exception 'unknown playback action %', p_action using errcode = '22023';
    end if;
    select * into s from public.sessions x where x.id = p_session_id for update;
    if not found then
      raise exception 'session % does not exist', p_session_id using errcode = 'P0002';
    end if;
    if s.ended_at is not null then
      raise exception 'session % has ended', p_session_id using errcode = '55000';
    end if;

    if p_action = 'pause' then
      if s.playback_state = 'playing' then
        update public.sessions x set playback_state = 'paused', paused_at = now() where x.id = s.id;
        v_changed := true;
      end if;
    elsif p_action = 'play' and s.playback_state = 'paused' then
      update public.sessions x
         set playback_state = 'playing',
             playback_started_at = x.playback_started_at + (now() - x.paused_at),
             paused_at = null
       where x.id = s.id;
      v_changed := true;
    elsif p_action = 'play' and s.playback_state = 'playing' then
      null;  -- already playing
    else
      -- play from stopped, or skip/next
      if p_action in ('skip', 'next') and s.current_entry_id is not null then
        update public.queue_entries e
           set status = case p_action when 'skip' then 'skipped' else 'played' end
         where e.id = s.current_entry_id and e.status = 'playing';
        v_finished := s.current_entry_id;
        v_changed := true;
      end if;
      if p_action = 'play' or v_finished is not null then
        loop
          select q.id into v_next
            from public.queue_entries_with_votes q
           where q.session_id = s.id and q.status = 'queued'
           order by q.total_votes desc, q.added_at, q.id
           limit 1;
          exit when v_next is null;
          -- a concurrent removal may have taken it; then pick again
          update public.queue_entries e set status = 'playing' where e.id = v_next and e.status = 'queued';
          exit when found;
        end loop;
        if v_next is not null then
          update public.sessions x
             set playback_state = 'playing', current_entry_id = v_next,
                 playback_started_at = now(), paused_at = null
           where x.id = s.id;
          v_changed := true;
        elsif v_finished is not null then
          update public.sessions x
             set playback_state = 'stopped', current_entry_id = null,
                 playback_started_at = null, paused_at = null
           where x.id = s.id;
        end if;
      end if;
    end if;

    return query
      select v_changed, x.playback_state, x.current_entry_id, v_finished,
             x.playback_started_at, x.paused_at
        from public.sessions x where x.id = s.id;
  end
  $$;

-- Playback control for moderators (host, co-hosts).
create function app.control_playback(p_session_id uuid, p_action text)
  returns table (changed boolean, playback_state text, current_entry_id uuid,
                 finished_entry_id uuid, playback_started_at timestamptz, paused_at timestamptz)
  language plpgsql security definer
  set search_path = ''
  as $$
  begin
    if not app.is_moderator(p_session_id) then
      raise exception 'only the host or a co-host may control playback of session %', p_session_id
        using errcode = '42501';
    end if;
    return query select * from app._playback_transition(p_session_id, p_action);
  end
  $$;

-- Vote to skip the playing entry of the caller's session (idempotent per user). When the votes
-- of current members reach max(skip_vote_min, ceil(skip_vote_share * members)) the entry is
-- skipped at once, in this transaction, even though the caller may be a guest.
create function app.vote_skip(p_entry_id uuid)
  returns table (votes int, needed int, skipped boolean)
  language plpgsql security definer
  set search_path = ''
  as $$
  #variable_conflict use_column
  declare
    v_uid     uuid := auth.uid();
    v_sid     uuid := app.my_session_id();
    s         public.sessions%rowtype;
    v_votes   int;
    v_members int;
    v_needed  int;
    v_skipped boolean := false;
  begin
    if v_uid is null or v_sid is null then
      raise exception 'not in a session' using errcode = '42501';
    end if;
    select * into s from public.sessions x where x.id = v_sid for update;
    if s.current_entry_id is distinct from p_entry_id then
      raise exception 'entry % is not playing', p_entry_id using errcode = '55000';
    end if;
    insert into public.skip_votes (entry_id, session_id, user_id)
    values (p_entry_id, v_sid, v_uid)
    on conflict do nothing;
    select count(*) into v_votes
      from public.skip_votes sv
      join public.session_members m on m.user_id = sv.user_id and m.session_id = sv.session_id
     where sv.entry_id = p_entry_id;
    select count(*) into v_members from public.session_members m where m.session_id = v_sid;
    v_needed := greatest(s.skip_vote_min, ceil(s.skip_vote_share * v_members)::int);
    if v_votes >= v_needed then
      perform * from app._playback_transition(v_sid, 'skip');
      v_skipped := true;
    end if;
    return query select v_votes, v_needed, v_skipped;
  end
  $$;

------------------------------------------------------------------------------------------------
revoke all on function
  app.rfc3339(timestamptz),
  app._append_event(uuid, text, jsonb, boolean),
  app.append_event(uuid, text, jsonb),
  app.fetch_events(uuid, bigint, int),
  app.prune_events(bigint),
  app.find_session_by_code(text),
  app.transfer_host(uuid, uuid),
  app._end_session(uuid, text, jsonb),
  app.end_session(uuid, text, jsonb),
  app.end_idle_sessions(interval, interval),
  app._playback_transition(uuid, text),
  app.control_playback(uuid, text),
  app.vote_skip(uuid)
  from public;

grant execute on function
  app.rfc3339(timestamptz),
  app.append_event(uuid, text, jsonb),
  app.find_session_by_code(text),
  app.transfer_host(uuid, uuid),
  app.end_session(uuid, text, jsonb),
  app.control_playback(uuid, text),
  app.vote_skip(uuid)
  to authenticated;
-- app.fetch_events, app.prune_events, app.end_idle_sessions and the app._* internals: owner only.
