-- QueueIT row level security: helper functions, policies and grants.
--
-- Model: the service runs every request as role `authenticated` with the caller's JWT claims in
-- `request.jwt.claims` (exactly what PostgREST does on Supabase). These policies decide what that
-- user may see and change. `anon` gets no privilege at all. The owner of the tables (the
-- migration role: `postgres` on Supabase, the superuser in embedded mode) has BYPASSRLS, which
-- the SECURITY DEFINER functions below rely on; FORCE keeps any other owner honest.
--
-- Helpers are SECURITY DEFINER so policies can read session_members without recursing into
-- session_members' own policies. They answer only about the caller (auth.uid()), so exposing them
-- to `authenticated` leaks nothing. Policies call the argument-less ones as `(select f())`, which
-- PostgreSQL evaluates once per statement (an InitPlan) instead of once per row.
-- A membership row always points at a live session (app.end_session deletes them), but the
-- helpers still check ended_at so a stray row can never grant anything.

grant usage on schema app to authenticated;

create function app.my_session_id() returns uuid
  language sql stable security definer
  set search_path = ''
  as $$
    select m.session_id
      from public.session_members m
      join public.sessions s on s.id = m.session_id and s.ended_at is null
     where m.user_id = auth.uid()
  $$;

create function app.my_moderated_session_id() returns uuid
  language sql stable security definer
  set search_path = ''
  as $$
    select m.session_id
      from public.session_members m
      join public.sessions s on s.id = m.session_id and s.ended_at is null
     where m.user_id = auth.uid() and m.role in ('host', 'cohost')
  $$;

create function app.my_hosted_session_id() returns uuid
  language sql stable security definer
  set search_path = ''
  as $$
    select m.session_id
      from public.session_members m
      join public.sessions s on s.id = m.session_id and s.ended_at is null
     where m.user_id = auth.uid() and m.role = 'host'
  $$;

create function app.is_member(p_session_id uuid) returns boolean
  language sql stable security definer
  set search_path = ''
  as $$
    select coalesce(p_session_id = app.my_session_id(), false)
  $$;

create function app.is_moderator(p_session_id uuid) returns boolean
  language sql stable security definer
  set search_path = ''
  as $$
    select coalesce(p_session_id = app.my_moderated_session_id(), false)
  $$;

create function app.is_host(p_session_id uuid) returns boolean
  language sql stable security definer
  set search_path = ''
  as $$
    select coalesce(p_session_id = app.my_hosted_session_id(), false)
  $$;

-- May the caller insert a membership row with this role? Live session, not banned; `host` only
-- for the session's host_id and only while the session has no host member.
create function app.can_join(p_session_id uuid, p_role text) returns boolean
  language sql stable security definer
  set search_path = ''
  as $$
    select exists (
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
                                   where m.session_id = s.id and m.role = 'host')))
    )
  $$;

-- May the caller (a moderator of the session; checked by the policy) ban this user?
-- Never yourself, never the host; a co-host only when you are the host.
create function app.can_ban(p_session_id uuid, p_user_id uuid) returns boolean
  language sql stable security definer
  set search_path = ''
  as $$
    select p_user_id <> auth.uid()
       and exists (select 1 from public.sessions s where s.id = p_session_id and s.host_id <> p_user_id)
       and not exists (
             select 1 from public.session_members m
              where m.session_id = p_session_id and m.user_id = p_user_id
                and (m.role = 'host' or (m.role = 'cohost' and not app.is_host(p_session_id))))
  $$;

-- May the caller add to this session's queue? Member of the live session, and the queue is not
-- locked unless the caller moderates it. (Per-user cap, track length and explicit filter are
-- product rules the service checks, with proper error messages.)
create function app.can_add_entry(p_session_id uuid) returns boolean
  language sql stable security definer
  set search_path = ''
  as $$
    select exists (
      select 1
        from public.session_members m
        join public.sessions s on s.id = m.session_id and s.ended_at is null
       where m.user_id = auth.uid() and m.session_id = p_session_id
         and (not s.queue_locked or m.role in ('host', 'cohost'))
    )
  $$;

-- May a vote with this value be cast on this entry? It must be queued in a live session, and
-- downvotes must be allowed there. (Membership is checked by the policy itself.)
create function app.can_vote(p_entry_id uuid, p_value int) returns boolean
  language sql stable security definer
  set search_path = ''
  as $$
    select exists (
      select 1
        from public.queue_entries e
        join public.sessions s on s.id = e.session_id and s.ended_at is null
       where e.id = p_entry_id and e.status = 'queued'
         and (p_value > 0 or s.allow_downvotes)
    )
  $$;

-- May the caller read this profile? Your own; anyone in your session; anyone who added an entry
-- to your session (so the queue can show who added a song after they left); anyone banned from
-- your session.
create function app.can_see_profile(p_user_id uuid) returns boolean
  language sql stable security definer
  set search_path = ''
  as $$
    select p_user_id = auth.uid() or exists (
      select 1
        from public.session_members me
        join public.sessions s on s.id = me.session_id and s.ended_at is null
       where me.user_id = auth.uid()
         and (exists (select 1 from public.session_members o
                       where o.session_id = me.session_id and o.user_id = p_user_id)
              or exists (select 1 from public.queue_entries e
                          where e.session_id = me.session_id and e.added_by = p_user_id)
              or exists (select 1 from public.session_bans b
                          where b.session_id = me.session_id and b.user_id = p_user_id))
    )
  $$;

revoke all on function
  app.my_session_id(), app.my_moderated_session_id(), app.my_hosted_session_id(),
  app.is_member(uuid), app.is_moderator(uuid), app.is_host(uuid),
  app.can_join(uuid, text), app.can_ban(uuid, uuid), app.can_add_entry(uuid),
  app.can_vote(uuid, int), app.can_see_profile(uuid)
  from public;
grant execute on function
  app.my_session_id(), app.my_moderated_session_id(), app.my_hosted_session_id(),
  app.is_member(uuid), app.is_moderator(uuid), app.is_host(uuid),
  app.can_join(uuid, text), app.can_ban(uuid, uuid), app.can_add_entry(uuid),
  app.can_vote(uuid, int), app.can_see_profile(uuid),
  app.new_join_code(int)  -- the default of sessions.join_code runs as the inserting user
  to authenticated;

------------------------------------------------------------------------------------------------
-- Table privileges: start from nothing (Supabase's default privileges grant ALL on public tables
-- to anon and authenticated), then grant `authenticated` exactly the columns it may write.
-- Columns not granted are set only by the database (defaults, triggers) or by the functions in
-- the next migration: e.g. sessions.last_seq, ended_at, host_id; queue_entries.finished_at.
revoke all on table
  public.profiles, public.sessions, public.session_members, public.session_bans, public.tracks,
  public.queue_entries, public.votes, public.skip_votes, public.session_events,
  public.queue_entries_with_votes
  from public, anon, authenticated;

alter table public.profiles        enable row level security;
alter table public.sessions        enable row level security;
alter table public.session_members enable row level security;
alter table public.session_bans    enable row level security;
alter table public.tracks          enable row level security;
alter table public.queue_entries   enable row level security;
alter table public.votes           enable row level security;
alter table public.skip_votes      enable row level security;
alter table public.session_events  enable row level security;

alter table public.profiles        force row level security;
alter table public.sessions        force row level security;
alter table public.session_members force row level security;
alter table public.session_bans    force row level security;
alter table public.tracks          force row level security;
alter table public.queue_entries   force row level security;
alter table public.votes           force row level security;
alter table public.skip_votes      force row level security;
alter table public.session_events  force row level security;

-- profiles --------------------------------------------------------------------------------------
grant select on public.profiles to authenticated;
grant insert (id, username, email, avatar_url) on public.profiles to authenticated;
grant update (username, email, avatar_url) on public.profiles to authenticated;

create policy profiles_select on public.profiles for select to authenticated
  using (id = (select auth.uid()) or app.can_see_profile(id));
create policy profiles_insert on public.profiles for insert to authenticated
  with check (id = (select auth.uid()));
create policy profiles_update on public.profiles for update to authenticated
  using (id = (select auth.uid()))
  with check (id = (select auth.uid()));

-- sessions --------------------------------------------------------------------------------------
grant select on public.sessions to authenticated;
grant insert (id, join_code, host_id, queue_locked, allow_downvotes, max_queued_per_user,
              max_track_duration_ms, allow_explicit, skip_vote_share, skip_vote_min)
  on public.sessions to authenticated;
grant update (queue_locked, allow_downvotes, max_queued_per_user, max_track_duration_ms,
              allow_explicit, skip_vote_share, skip_vote_min,
              playback_state, current_entry_id, playback_started_at, paused_at)
  on public.sessions to authenticated;

-- host_id = caller: the creator reads the row it just inserted (INSERT ... RETURNING) before its
-- membership row exists, and a host can look back at sessions they host.
create policy sessions_select on public.sessions for select to authenticated
  using (id = (select app.my_session_id()) or host_id = (select auth.uid()));
create policy sessions_insert on public.sessions for insert to authenticated
  with check (host_id = (select auth.uid()) and ended_at is null);
create policy sessions_update on public.sessions for update to authenticated
  using (id = (select app.my_moderated_session_id()))
  with check (id = (select app.my_moderated_session_id()));

-- session_members -------------------------------------------------------------------------------
grant select, delete on public.session_members to authenticated;
grant insert (user_id, session_id, role) on public.session_members to authenticated;
grant update (role) on public.session_members to authenticated;

create policy session_members_select on public.session_members for select to authenticated
  using (user_id = (select auth.uid()) or session_id = (select app.my_session_id()));
create policy session_members_insert on public.session_members for insert to authenticated
  with check (user_id = (select auth.uid()) and app.can_join(session_id, role));
-- only the host promotes/demotes co-hosts; the host row itself is changed by app.transfer_host
create policy session_members_update on public.session_members for update to authenticated
  using (session_id = (select app.my_hosted_session_id()) and role <> 'host')
  with check (session_id = (select app.my_hosted_session_id()) and role in ('cohost', 'guest'));
-- leave (own row); kick: moderators remove guests, only the host removes co-hosts; never the host
create policy session_members_delete on public.session_members for delete to authenticated
  using (user_id = (select auth.uid())
         or (session_id = (select app.my_moderated_session_id())
             and (role = 'guest'
                  or (role = 'cohost' and session_id = (select app.my_hosted_session_id())))));

-- session_bans ----------------------------------------------------------------------------------
grant select, delete on public.session_bans to authenticated;
grant insert (session_id, user_id, banned_by) on public.session_bans to authenticated;

create policy session_bans_select on public.session_bans for select to authenticated
  using (user_id = (select auth.uid()) or session_id = (select app.my_moderated_session_id()));
create policy session_bans_insert on public.session_bans for insert to authenticated
  with check (session_id = (select app.my_moderated_session_id())
              and banned_by = (select auth.uid())
              and app.can_ban(session_id, user_id));
create policy session_bans_delete on public.session_bans for delete to authenticated
  using (session_id = (select app.my_moderated_session_id()));

-- tracks: public catalogue metadata; any signed-in user may cache what Spotify returned --------
grant select on public.tracks to authenticated;
grant insert (id, isrc, name, artists, album, duration_ms, image_url, explicit)
  on public.tracks to authenticated;
grant update (isrc, name, artists, album, duration_ms, image_url, explicit)
  on public.tracks to authenticated;

create policy tracks_select on public.tracks for select to authenticated using (true);
create policy tracks_insert on public.tracks for insert to authenticated with check (true);
create policy tracks_update on public.tracks for update to authenticated using (true) with check (true);

-- queue_entries ---------------------------------------------------------------------------------
grant select on public.queue_entries to authenticated;
grant insert (id, session_id, track_id, added_by) on public.queue_entries to authenticated;
grant update (status) on public.queue_entries to authenticated;

create policy queue_entries_select on public.queue_entries for select to authenticated
  using (session_id = (select app.my_session_id()));
create policy queue_entries_insert on public.queue_entries for insert to authenticated
  with check (added_by = (select auth.uid())
              and session_id = (select app.my_session_id())
              and status = 'queued'
              and app.can_add_entry(session_id));
-- moderators change any entry of their session (playback, removal); a member may remove their
-- own queued entry
create policy queue_entries_update on public.queue_entries for update to authenticated
  using (session_id = (select app.my_moderated_session_id())
         or (added_by = (select auth.uid()) and session_id = (select app.my_session_id())
             and status = 'queued'))
  with check (session_id = (select app.my_moderated_session_id())
              or (added_by = (select auth.uid()) and session_id = (select app.my_session_id())
                  and status in ('queued', 'removed')));

-- votes -----------------------------------------------------------------------------------------
grant select, delete on public.votes to authenticated;
grant insert (entry_id, session_id, user_id, value) on public.votes to authenticated;
grant update (value) on public.votes to authenticated;

create policy votes_select on public.votes for select to authenticated
  using (session_id = (select app.my_session_id()));
create policy votes_insert on public.votes for insert to authenticated
  with check (user_id = (select auth.uid())
              and session_id = (select app.my_session_id())
              and app.can_vote(entry_id, value));
create policy votes_update on public.votes for update to authenticated
  using (user_id = (select auth.uid()) and session_id = (select app.my_session_id()))
  with check (user_id = (select auth.uid())
              and session_id = (select app.my_session_id())
              and app.can_vote(entry_id, value));
create policy votes_delete on public.votes for delete to authenticated
  using (user_id = (select auth.uid()) and session_id = (select app.my_session_id()));

-- skip_votes: cast through app.vote_skip (it checks the threshold atomically); withdraw = delete
grant select, delete on public.skip_votes to authenticated;

create policy skip_votes_select on public.skip_votes for select to authenticated
  using (session_id = (select app.my_session_id()));
create policy skip_votes_delete on public.skip_votes for delete to authenticated
  using (user_id = (select auth.uid()) and session_id = (select app.my_session_id()));

-- session_events: members read (the REST polling fallback); written only by app.append_event ----
grant select on public.session_events to authenticated;

create policy session_events_select on public.session_events for select to authenticated
  using (session_id = (select app.my_session_id()));

-- the ranked queue view (security_invoker: the policies above apply) ----------------------------
grant select on public.queue_entries_with_votes to authenticated;
