-- QueueIT's data leaves `public`, so Supabase's Data API cannot reach it.
--
-- On Supabase, PostgREST serves every relation and function of the schemas listed in
-- `api.schemas` (supabase/config.toml: `public`, `graphql_public`) to anyone holding the anon key
-- or a user's JWT, and pg_graphql reflects the schemas on that same search_path. The tables were
-- in `public` with column grants for `authenticated` (the role the service runs every request
-- as), so a signed-in user could write them directly — past every rule of the service and
-- without an event. Decision (docs/decisions.md, "No Data API"): the tables and the view move to
-- the schema `queueit`, which no API lists; the service keeps running each request as
-- `authenticated` with the caller's claims, so RLS still decides what each user sees.
-- The default privileges the migration role would give anon and authenticated on future objects
-- in `public` are revoked too.
--
-- ALTER ... SET SCHEMA keeps the grants, policies, indexes, triggers and the view's reference
-- (they point at the table, not at its name). Function bodies name tables as text, so every
-- function that names one is recreated below with its current definition and the new schema
-- (CREATE OR REPLACE keeps each function's grants). The bodies are unchanged otherwise, except
-- app.can_join: a guest row is no longer insertable directly; app.join_by_code (below) checks
-- the join code in the database.

create schema queueit;
revoke all on schema queueit from public;
grant usage on schema queueit to authenticated;

alter table public.profiles        set schema queueit;
alter table public.sessions        set schema queueit;
alter table public.session_members set schema queueit;
alter table public.session_bans    set schema queueit;
alter table public.tracks          set schema queueit;
alter table public.queue_entries   set schema queueit;
alter table public.votes           set schema queueit;
alter table public.skip_votes      set schema queueit;
alter table public.session_events  set schema queueit;
alter view  public.queue_entries_with_votes set schema queueit;

-- Nothing of QueueIT lives in `public` any more. Objects a later migration creates there would
-- still be served, so the migration role's default privileges in `public` (Supabase grants
-- anon, authenticated and service_role ALL on every new table, sequence and function) are
-- revoked. Supabase's own grants (USAGE on `public` for anon, and the default privileges of
-- `supabase_admin`) were made by another role and cannot be revoked from here; they reach
-- nothing of QueueIT. Keep new tables out of `public` (docs/decisions.md).
alter default privileges in schema public revoke all on tables from anon, authenticated;
alter default privileges in schema public revoke all on sequences from anon, authenticated;
alter default privileges in schema public revoke all on functions from anon, authenticated;
-- PostgreSQL lets PUBLIC execute every new function, in any schema; a per-schema default
-- cannot take that away (per-schema defaults only add), so it is revoked globally for the
-- migration role: a function it creates later is executable only where a migration grants it.
alter default privileges revoke execute on functions from public;

------------------------------------------------------------------------------------------------
-- Joining needs the join code, checked here rather than trusted from the service: insert the
-- caller as a guest of the live session with this code. NULL when no live session has it;
-- 42501 when the caller is banned from it. The caller must not be in another session (leave
-- first; the primary key on user_id refuses a second membership).
create function app.join_by_code(p_code text) returns uuid
  language plpgsql volatile security definer
  set search_path = ''
  as $$
  declare
    v_session uuid;
  begin
    select s.id into v_session
      from queueit.sessions s
     where s.join_code = upper(btrim(p_code)) and s.ended_at is null;
    if v_session is null then
      return null;
    end if;
    if exists (select 1 from queueit.session_bans b
                where b.session_id = v_session and b.user_id = auth.uid()) then
      raise exception 'banned from session %', v_session using errcode = '42501';
    end if;
    insert into queueit.session_members (user_id, session_id, role)
    values (auth.uid(), v_session, 'guest');
    return v_session;
  end
  $$;
revoke all on function app.join_by_code(text) from public;
grant execute on function app.join_by_code(text) to authenticated;

------------------------------------------------------------------------------------------------
-- Current definitions of every function that names a table, with the tables' new schema.

CREATE OR REPLACE FUNCTION app._append_event(p_session_id uuid, p_type text, p_payload jsonb, p_touch boolean)
 RETURNS TABLE(seq bigint, created_at timestamp with time zone)
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
  #variable_conflict use_column
  declare
    v_seq bigint;
    v_at  timestamptz;
  begin
    -- clock_timestamp() inside the UPDATE is evaluated once the row lock is ours, so created_at
    -- grows with seq (a transaction that waited for the lock gets the later time).
    update queueit.sessions s
       set last_seq = s.last_seq + 1,
           last_activity_at = case when p_touch then clock_timestamp() else s.last_activity_at end,
           idle_warning_sent_at = case when p_touch then null else s.idle_warning_sent_at end
     where s.id = p_session_id and s.ended_at is null
    returning s.last_seq into v_seq;
    if v_seq is null then
      if exists (select 1 from queueit.sessions s where s.id = p_session_id) then
        raise exception 'session % has ended', p_session_id using errcode = '55000';
      end if;
      raise exception 'session % does not exist', p_session_id using errcode = 'P0002';
    end if;
    v_at := clock_timestamp();
    insert into queueit.session_events (session_id, seq, type, payload, created_at)
    values (p_session_id, v_seq, p_type, coalesce(p_payload, '{}'::jsonb), v_at);
    return query select v_seq, v_at;
  end
  $function$;

CREATE OR REPLACE FUNCTION app._end_session(p_session_id uuid, p_reason text, p_payload jsonb)
 RETURNS TABLE(seq bigint, created_at timestamp with time zone)
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
  declare
    v_seq bigint;
    v_at  timestamptz;
  begin
    select a.seq, a.created_at into v_seq, v_at
      from app._append_event(p_session_id, 'session_ended',
                             jsonb_build_object('reason', p_reason) || coalesce(p_payload, '{}'::jsonb),
                             false) a;
    update queueit.queue_entries e set status = 'played'
     where e.session_id = p_session_id and e.status = 'playing';
    update queueit.sessions s
       set ended_at = now(), end_reason = p_reason,
           playback_state = 'stopped', current_entry_id = null,
           playback_started_at = null, paused_at = null
     where s.id = p_session_id;
    delete from queueit.session_members m where m.session_id = p_session_id;
    return query select v_seq, v_at;
  end
  $function$;

CREATE OR REPLACE FUNCTION app._playback_transition(p_session_id uuid, p_action text)
 RETURNS TABLE(changed boolean, playback_state text, current_entry_id uuid, finished_entry_id uuid, playback_started_at timestamp with time zone, paused_at timestamp with time zone)
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
  #variable_conflict use_column
  declare
    s          queueit.sessions%rowtype;
    v_next     uuid;
    v_finished uuid;
    v_changed  boolean := false;
  begin
    if p_action is null or p_action not in ('play', 'pause', 'skip', 'next') then
      raise exception 'unknown playback action %', p_action using errcode = '22023';
    end if;
    select * into s from queueit.sessions x where x.id = p_session_id for update;
    if not found then
      raise exception 'session % does not exist', p_session_id using errcode = 'P0002';
    end if;
    if s.ended_at is not null then
      raise exception 'session % has ended', p_session_id using errcode = '55000';
    end if;

    if p_action = 'pause' then
      if s.playback_state = 'playing' then
        update queueit.sessions x set playback_state = 'paused', paused_at = now() where x.id = s.id;
        v_changed := true;
      end if;
    elsif p_action = 'play' and s.playback_state = 'paused' then
      update queueit.sessions x
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
        update queueit.queue_entries e
           set status = case p_action when 'skip' then 'skipped' else 'played' end
         where e.id = s.current_entry_id and e.status = 'playing';
        v_finished := s.current_entry_id;
        v_changed := true;
      end if;
      if p_action = 'play' or v_finished is not null then
        loop
          select q.id into v_next
            from queueit.queue_entries_with_votes q
           where q.session_id = s.id and q.status = 'queued'
           order by q.total_votes desc, q.added_at, q.id
           limit 1;
          exit when v_next is null;
          -- a concurrent removal may have taken it; then pick again
          update queueit.queue_entries e set status = 'playing' where e.id = v_next and e.status = 'queued';
          exit when found;
        end loop;
        if v_next is not null then
          update queueit.sessions x
             set playback_state = 'playing', current_entry_id = v_next,
                 playback_started_at = now(), paused_at = null
           where x.id = s.id;
          v_changed := true;
        elsif v_finished is not null then
          update queueit.sessions x
             set playback_state = 'stopped', current_entry_id = null,
                 playback_started_at = null, paused_at = null
           where x.id = s.id;
        end if;
      end if;
    end if;

    return query
      select v_changed, x.playback_state, x.current_entry_id, v_finished,
             x.playback_started_at, x.paused_at
        from queueit.sessions x where x.id = s.id;
  end
  $function$;

CREATE OR REPLACE FUNCTION app.append_member_event(p_session_id uuid, p_type text, p_payload jsonb, p_leaving boolean DEFAULT false)
 RETURNS TABLE(seq bigint, created_at timestamp with time zone)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
    update queueit.sessions s
       set last_seq = s.last_seq + 1,
           last_activity_at = clock_timestamp(),
           idle_warning_sent_at = null
     where s.id = p_session_id and s.ended_at is null
    returning s.last_seq into v_seq;
    if v_seq is null then
      raise exception 'session % has ended', p_session_id using errcode = '55000';
    end if;
    select count(*)::int into v_count
      from queueit.session_members m
     where m.session_id = p_session_id and not (p_leaving and m.user_id = auth.uid());
    v_at := clock_timestamp();
    insert into queueit.session_events (session_id, seq, type, payload, created_at)
    values (p_session_id, v_seq, p_type,
            coalesce(p_payload, '{}'::jsonb) || jsonb_build_object('member_count', v_count), v_at);
    return query select v_seq, v_at;
  end
  $function$;

CREATE OR REPLACE FUNCTION app.can_add_entry(p_session_id uuid)
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
  begin
    return exists (
      select 1
        from queueit.session_members m
        join queueit.sessions s on s.id = m.session_id and s.ended_at is null
       where m.user_id = auth.uid() and m.session_id = p_session_id
         and (not s.queue_locked or m.role in ('host', 'cohost')));
  end
  $function$;

CREATE OR REPLACE FUNCTION app.can_ban(p_session_id uuid, p_user_id uuid)
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
  begin
    return p_user_id <> auth.uid()
       and exists (select 1 from queueit.sessions s
                    where s.id = p_session_id and s.host_id <> p_user_id)
       and not exists (
             select 1 from queueit.session_members m
              where m.session_id = p_session_id and m.user_id = p_user_id
                and (m.role = 'host' or (m.role = 'cohost' and not app.is_host(p_session_id))));
  end
  $function$;

CREATE OR REPLACE FUNCTION app.can_join(p_session_id uuid, p_role text)
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
  begin
    return exists (
      select 1
        from queueit.sessions s
       where s.id = p_session_id
         and s.ended_at is null
         and not exists (select 1 from queueit.session_bans b
                          where b.session_id = s.id and b.user_id = auth.uid())
         -- guests join only through app.join_by_code, which checks the code
         and p_role = 'host'
         and s.host_id = auth.uid()
         and not exists (select 1 from queueit.session_members m
                          where m.session_id = s.id and m.role = 'host'));
  end
  $function$;

CREATE OR REPLACE FUNCTION app.can_see_profile(p_user_id uuid)
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
  begin
    return p_user_id = auth.uid() or exists (
      select 1
        from queueit.session_members me
        join queueit.sessions s on s.id = me.session_id and s.ended_at is null
       where me.user_id = auth.uid()
         and (exists (select 1 from queueit.session_members o
                       where o.session_id = me.session_id and o.user_id = p_user_id)
              or exists (select 1 from queueit.queue_entries e
                          where e.session_id = me.session_id and e.added_by = p_user_id)
              or exists (select 1 from queueit.session_bans b
                          where b.session_id = me.session_id and b.user_id = p_user_id)));
  end
  $function$;

CREATE OR REPLACE FUNCTION app.can_vote(p_entry_id uuid, p_value integer)
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
  begin
    return exists (
      select 1
        from queueit.queue_entries e
        join queueit.sessions s on s.id = e.session_id and s.ended_at is null
       where e.id = p_entry_id and e.status = 'queued'
         and (p_value > 0 or s.allow_downvotes));
  end
  $function$;

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
    insert into queueit.session_events (session_id, seq, type, payload, created_at)
    values (v_sid, v_seq, 'votes_updated',
            jsonb_build_object('queued_song_id', p_entry_id, 'total_votes', v_total),
            clock_timestamp());
    return query select 'ok'::text, v_sid, v_total, v_seq;
  end
  $function$;

CREATE OR REPLACE FUNCTION app.check_session_has_host()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
  begin
    if new.ended_at is null and not exists (
      select 1 from queueit.session_members m
       where m.session_id = new.id and m.user_id = new.host_id and m.role = 'host'
    ) then
      raise exception 'session % was created without its host as a member', new.id
        using errcode = '23514';  -- check_violation
    end if;
    return null;
  end
  $function$;

CREATE OR REPLACE FUNCTION app.end_idle_sessions(p_idle_after interval, p_warn_before interval)
 RETURNS TABLE(session_id uuid, action text, seq bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
  #variable_conflict use_column
  declare
    r      record;
    v_seq  bigint;
    v_ends timestamptz;
  begin
    for r in
      select s.id, s.last_activity_at, s.idle_warning_sent_at
        from queueit.sessions s
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
        update queueit.sessions s set idle_warning_sent_at = now() where s.id = r.id;
        session_id := r.id; action := 'warned'; seq := v_seq;
        return next;
      elsif now() >= v_ends then
        select a.seq into v_seq from app._end_session(r.id, 'idle', '{}'::jsonb) a;
        session_id := r.id; action := 'ended'; seq := v_seq;
        return next;
      end if;
    end loop;
  end
  $function$;

CREATE OR REPLACE FUNCTION app.fetch_events(p_session_id uuid, p_after_seq bigint, p_max_rows integer DEFAULT 500)
 RETURNS TABLE(seq bigint, type text, payload jsonb, created_at timestamp with time zone)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    select e.seq, e.type, e.payload, e.created_at
      from queueit.session_events e
     where e.session_id = p_session_id and e.seq > p_after_seq
     order by e.seq
     limit greatest(least(p_max_rows, 10000), 0)
  $function$;

CREATE OR REPLACE FUNCTION app.find_session_by_code(p_code text)
 RETURNS TABLE(session_id uuid, is_banned boolean)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    select s.id,
           exists (select 1 from queueit.session_bans b
                    where b.session_id = s.id and b.user_id = auth.uid())
      from queueit.sessions s
     where s.join_code = upper(btrim(p_code)) and s.ended_at is null
  $function$;

CREATE OR REPLACE FUNCTION app.my_hosted_session_id()
 RETURNS uuid
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
  begin
    return (select m.session_id
              from queueit.session_members m
              join queueit.sessions s on s.id = m.session_id and s.ended_at is null
             where m.user_id = auth.uid() and m.role = 'host');
  end
  $function$;

CREATE OR REPLACE FUNCTION app.my_moderated_session_id()
 RETURNS uuid
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
  begin
    return (select m.session_id
              from queueit.session_members m
              join queueit.sessions s on s.id = m.session_id and s.ended_at is null
             where m.user_id = auth.uid() and m.role in ('host', 'cohost'));
  end
  $function$;

CREATE OR REPLACE FUNCTION app.my_session_id()
 RETURNS uuid
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
  begin
    return (select m.session_id
              from queueit.session_members m
              join queueit.sessions s on s.id = m.session_id and s.ended_at is null
             where m.user_id = auth.uid());
  end
  $function$;

CREATE OR REPLACE FUNCTION app.prune_events(p_keep bigint)
 RETURNS bigint
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
    with d as (
      delete from queueit.session_events e
       using queueit.sessions s
       where s.id = e.session_id and e.seq <= s.last_seq - greatest(p_keep, 0)
      returning 1
    )
    select count(*) from d
  $function$;

CREATE OR REPLACE FUNCTION app.session_access(p_session_id uuid)
 RETURNS TABLE(found boolean, ended boolean, banned boolean, role text, last_seq bigint)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
    select s.id is not null,
           coalesce(s.ended_at is not null, false),
           exists (select 1 from queueit.session_bans b
                    where b.session_id = p_session_id and b.user_id = auth.uid()),
           (select m.role from queueit.session_members m
             where m.session_id = p_session_id and m.user_id = auth.uid()
               and s.ended_at is null),
           s.last_seq
      from (select 1) as one
      left join queueit.sessions s on s.id = p_session_id
  $function$;

CREATE OR REPLACE FUNCTION app.transfer_host(p_session_id uuid, p_new_host uuid)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
  begin
    if not app.is_host(p_session_id) then
      raise exception 'only the host of session % may hand over the host role', p_session_id
        using errcode = '42501';
    end if;
    perform 1 from queueit.sessions s where s.id = p_session_id for update;
    if p_new_host = auth.uid() then
      return;
    end if;
    if not exists (select 1 from queueit.session_members m
                    where m.session_id = p_session_id and m.user_id = p_new_host) then
      raise exception 'user % is not a member of session %', p_new_host, p_session_id
        using errcode = 'P0002';
    end if;
    update queueit.session_members m set role = 'cohost' where m.user_id = auth.uid();
    update queueit.session_members m set role = 'host' where m.user_id = p_new_host;
    update queueit.sessions s set host_id = p_new_host where s.id = p_session_id;
  end
  $function$;

CREATE OR REPLACE FUNCTION app.vote_skip(p_entry_id uuid)
 RETURNS TABLE(votes integer, needed integer, skipped boolean)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
  #variable_conflict use_column
  declare
    v_uid     uuid := auth.uid();
    v_sid     uuid := app.my_session_id();
    s         queueit.sessions%rowtype;
    v_votes   int;
    v_members int;
    v_needed  int;
    v_skipped boolean := false;
  begin
    if v_uid is null or v_sid is null then
      raise exception 'not in a session' using errcode = '42501';
    end if;
    select * into s from queueit.sessions x where x.id = v_sid for update;
    if s.current_entry_id is distinct from p_entry_id then
      raise exception 'entry % is not playing', p_entry_id using errcode = '55000';
    end if;
    insert into queueit.skip_votes (entry_id, session_id, user_id)
    values (p_entry_id, v_sid, v_uid)
    on conflict do nothing;
    select count(*) into v_votes
      from queueit.skip_votes sv
      join queueit.session_members m on m.user_id = sv.user_id and m.session_id = sv.session_id
     where sv.entry_id = p_entry_id;
    select count(*) into v_members from queueit.session_members m where m.session_id = v_sid;
    v_needed := greatest(s.skip_vote_min, ceil(s.skip_vote_share * v_members)::int);
    if v_votes >= v_needed then
      perform * from app._playback_transition(v_sid, 'skip');
      v_skipped := true;
    end if;
    return query select v_votes, v_needed, v_skipped;
  end
  $function$;

