-- QueueIT core schema: tables, constraints, indexes, integrity triggers.
-- Row level security, grants and the API functions follow in the next migrations.
-- docs/data-model.md describes every table and rule.
--
-- Conventions: every time is timestamptz; every id a uuid except tracks.id (the Spotify id);
-- free text has a length bound and no control characters (`!~ '[[:cntrl:]]'`); URLs are https.

-- Private schema for helper functions. Never exposed through PostgREST (not in its schema list),
-- no privileges for PUBLIC; the RLS migration grants USAGE to `authenticated` only.
create schema if not exists app;
revoke all on schema app from public;

-- A random join code from an unambiguous alphabet (no 0/O, 1/I). Randomness comes from
-- gen_random_uuid() (a CSPRNG, core since PostgreSQL 13; no pgcrypto needed): bytes 6 and 8 of
-- a v4 uuid carry version/variant bits, so they are skipped. 256 is a multiple of 32: no bias.
create function app.new_join_code(p_length int default 6) returns text
  language sql volatile
  set search_path = ''
  as $$
    select string_agg(
             substr('ABCDEFGHJKLMNPQRSTUVWXYZ23456789', (get_byte(b, pos) % 32) + 1, 1),
             '' order by i)
      from (select uuid_send(gen_random_uuid()) as b) as r,
           generate_series(1, least(greatest(p_length, 4), 12)) as i,
           lateral (select (array[0, 1, 2, 3, 4, 5, 7, 9, 10, 11, 12, 13])[i] as pos) as p
  $$;
revoke all on function app.new_join_code(int) from public;

-- Generic updated_at maintenance.
create function app.touch_updated_at() returns trigger
  language plpgsql
  set search_path = ''
  as $$
  begin
    new.updated_at := now();
    return new;
  end
  $$;
revoke all on function app.touch_updated_at() from public;

------------------------------------------------------------------------------------------------
-- profiles: one row per user, id = the JWT `sub`. No FK to auth.users on purpose: development
-- tokens mint users that exist only here. Upserted by the user themself on first use.
create table public.profiles (
  id          uuid primary key,
  username    text not null
              constraint profiles_username_check
              check (char_length(username) between 1 and 64 and username !~ '[[:cntrl:]]'),
  email       text
              constraint profiles_email_check
              check (email is null or (char_length(email) between 3 and 320
                                       and email !~ '[[:cntrl:][:space:]]')),
  avatar_url  text
              constraint profiles_avatar_url_check
              check (avatar_url is null or (char_length(avatar_url) <= 2048
                                            and avatar_url ~ '^https://[^[:cntrl:][:space:]]+$')),
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);
create trigger profiles_touch before update on public.profiles
  for each row execute function app.touch_updated_at();

------------------------------------------------------------------------------------------------
-- sessions: a party. Live while ended_at is null. Members, bans, entries, votes and events
-- hang off it and go with it (ON DELETE CASCADE); ending a session keeps the rows as history
-- but removes every membership (app.end_session).
create table public.sessions (
  id                    uuid primary key default gen_random_uuid(),
  join_code             text not null default app.new_join_code()
                        constraint sessions_join_code_check check (join_code ~ '^[A-Z0-9]{4,12}$'),
  host_id               uuid not null references public.profiles (id) on delete cascade,
  created_at            timestamptz not null default now(),
  ended_at              timestamptz,
  end_reason            text
                        constraint sessions_end_reason_check check (end_reason ~ '^[a-z_]{1,32}$'),
  last_activity_at      timestamptz not null default now(),
  idle_warning_sent_at  timestamptz,
  -- per-session event counter; bumped only by app.append_event (row lock => gap-free seq)
  last_seq              bigint not null default 0 constraint sessions_last_seq_check check (last_seq >= 0),
  playback_state        text not null default 'stopped'
                        constraint sessions_playback_state_check
                        check (playback_state in ('stopped', 'playing', 'paused')),
  current_entry_id      uuid,
  -- when the current entry would have started had it never been paused: position = now() - this
  -- (or paused_at - this while paused)
  playback_started_at   timestamptz,
  paused_at             timestamptz,
  -- settings
  queue_locked          boolean not null default false,
  allow_downvotes       boolean not null default true,
  max_queued_per_user   int default 10       -- null = unlimited
                        constraint sessions_max_queued_check
                        check (max_queued_per_user is null or max_queued_per_user between 1 and 1000),
  max_track_duration_ms int                  -- null = any length
                        constraint sessions_max_track_duration_check
                        check (max_track_duration_ms is null or max_track_duration_ms > 0),
  allow_explicit        boolean not null default true,
  skip_vote_share       numeric(4, 3) not null default 0.5
                        constraint sessions_skip_vote_share_check
                        check (skip_vote_share > 0 and skip_vote_share <= 1),
  skip_vote_min         int not null default 2
                        constraint sessions_skip_vote_min_check check (skip_vote_min between 1 and 1000),
  constraint sessions_ended_consistent check ((ended_at is null) = (end_reason is null)),
  constraint sessions_playback_consistent check (
    (playback_state = 'stopped') = (current_entry_id is null)
    and (playback_state = 'stopped') = (playback_started_at is null)
    and (playback_state = 'paused') = (paused_at is not null)
  )
)
-- last_seq/last_activity_at change on every event: leave room for HOT updates (none of the
-- columns touched by app.append_event is indexed).
with (fillfactor = 80);

-- Join codes are unique among live sessions only; ended sessions free their code.
create unique index sessions_live_join_code_key on public.sessions (join_code) where ended_at is null;
create index sessions_host_id_idx on public.sessions (host_id);

------------------------------------------------------------------------------------------------
-- session_members: user_id is the primary key, so a user is in at most one session. Leaving
-- deletes the row; ending a session deletes all its rows.
create table public.session_members (
  user_id     uuid primary key references public.profiles (id) on delete cascade,
  session_id  uuid not null references public.sessions (id) on delete cascade,
  role        text not null default 'guest'
              constraint session_members_role_check check (role in ('host', 'cohost', 'guest')),
  joined_at   timestamptz not null default now()
);
create index session_members_session_idx on public.session_members (session_id, role);
create unique index session_members_one_host on public.session_members (session_id) where role = 'host';

------------------------------------------------------------------------------------------------
create table public.session_bans (
  session_id  uuid not null references public.sessions (id) on delete cascade,
  user_id     uuid not null references public.profiles (id) on delete cascade,
  banned_by   uuid references public.profiles (id) on delete set null,
  created_at  timestamptz not null default now(),
  primary key (session_id, user_id)
);

------------------------------------------------------------------------------------------------
-- tracks: shared catalogue cache of Spotify metadata, upserted when a track is queued.
create table public.tracks (
  id           text primary key constraint tracks_id_check check (id ~ '^[A-Za-z0-9_-]{1,64}$'),
  isrc         text constraint tracks_isrc_check check (isrc is null or isrc ~ '^[A-Za-z0-9-]{1,32}$'),
  name         text not null
               constraint tracks_name_check
               check (char_length(name) between 1 and 500 and name !~ '[[:cntrl:]]'),
  artists      text not null
               constraint tracks_artists_check
               check (char_length(artists) between 1 and 1000 and artists !~ '[[:cntrl:]]'),
  album        text not null default ''
               constraint tracks_album_check
               check (char_length(album) <= 500 and album !~ '[[:cntrl:]]'),
  duration_ms  int not null
               constraint tracks_duration_check check (duration_ms between 1 and 86400000),
  image_url    text
               constraint tracks_image_url_check
               check (image_url is null or (char_length(image_url) <= 2048
                                            and image_url ~ '^https://[^[:cntrl:][:space:]]+$')),
  explicit     boolean not null default false,
  updated_at   timestamptz not null default now()
);
create trigger tracks_touch before update on public.tracks
  for each row execute function app.touch_updated_at();

------------------------------------------------------------------------------------------------
-- queue_entries: one row per time a track was queued in a session. `queued` rows are the queue;
-- `playing` is the current entry; `played`, `skipped`, `removed` are history.
create table public.queue_entries (
  id           uuid primary key default gen_random_uuid(),
  session_id   uuid not null references public.sessions (id) on delete cascade,
  track_id     text not null references public.tracks (id),
  added_by     uuid not null references public.profiles (id) on delete cascade,
  added_at     timestamptz not null default now(),
  status       text not null default 'queued'
               constraint queue_entries_status_check
               check (status in ('queued', 'playing', 'played', 'skipped', 'removed')),
  finished_at  timestamptz,
  constraint queue_entries_finished_check check ((status in ('queued', 'playing')) = (finished_at is null)),
  -- target of the composite FKs below, which pin votes and the current entry to their session
  constraint queue_entries_id_session_key unique (id, session_id)
);
-- at most one queued entry per track per session (a played track may be queued again)
create unique index queue_entries_one_queued_track on public.queue_entries (session_id, track_id)
  where status = 'queued';
create unique index queue_entries_one_playing on public.queue_entries (session_id)
  where status = 'playing';
-- the queue of a session; play order is (total votes desc, added_at, id), totals come from votes
create index queue_entries_queue_idx on public.queue_entries (session_id, added_at, id)
  where status = 'queued';
create index queue_entries_history_idx on public.queue_entries (session_id, finished_at desc)
  where status in ('played', 'skipped', 'removed');
-- per-user cap, and profile visibility ("added something to my session")
create index queue_entries_added_by_idx on public.queue_entries (added_by, session_id);

-- Status moves forward only; finished_at is stamped by the database.
create function app.queue_entry_transition() returns trigger
  language plpgsql
  set search_path = ''
  as $$
  begin
    if new.status is distinct from old.status then
      if not ((old.status = 'queued' and new.status in ('playing', 'removed'))
              or (old.status = 'playing' and new.status in ('played', 'skipped', 'removed'))) then
        raise exception 'queue entry % cannot go from % to %', old.id, old.status, new.status
          using errcode = '55000';  -- object_not_in_prerequisite_state
      end if;
      if new.status in ('played', 'skipped', 'removed') then
        new.finished_at := coalesce(new.finished_at, now());
      end if;
    end if;
    if new.session_id <> old.session_id or new.track_id <> old.track_id
       or new.added_by <> old.added_by or new.added_at <> old.added_at then
      raise exception 'queue entry % is immutable except for its status', old.id
        using errcode = '55000';
    end if;
    return new;
  end
  $$;
revoke all on function app.queue_entry_transition() from public;
create trigger queue_entries_transition before update on public.queue_entries
  for each row execute function app.queue_entry_transition();

alter table public.sessions
  add constraint sessions_current_entry_fkey
  foreign key (current_entry_id, id) references public.queue_entries (id, session_id);

------------------------------------------------------------------------------------------------
-- votes: one row per user per entry; withdrawing (value 0) deletes the row. Totals are always
-- sum(value) over these rows, so they are exact under any concurrency. session_id is
-- denormalized (pinned to the entry's session by the composite FK) so RLS checks are cheap.
create table public.votes (
  entry_id    uuid not null,
  session_id  uuid not null,
  user_id     uuid not null references public.profiles (id) on delete cascade,
  value       smallint not null constraint votes_value_check check (value in (-1, 1)),
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now(),
  primary key (entry_id, user_id),
  constraint votes_entry_fkey foreign key (entry_id, session_id)
    references public.queue_entries (id, session_id) on delete cascade
);
-- RLS adds `session_id = <caller's session>` to every query, so lead with it; entry_id second
-- makes per-entry sums an index(-only) scan instead of a scan of the whole session's votes.
create index votes_session_entry_idx on public.votes (session_id, entry_id) include (value);
create index votes_user_idx on public.votes (user_id);
create trigger votes_touch before update on public.votes
  for each row execute function app.touch_updated_at();

-- skip_votes: vote-to-skip the playing entry (see app.vote_skip).
create table public.skip_votes (
  entry_id    uuid not null,
  session_id  uuid not null,
  user_id     uuid not null references public.profiles (id) on delete cascade,
  created_at  timestamptz not null default now(),
  primary key (entry_id, user_id),
  constraint skip_votes_entry_fkey foreign key (entry_id, session_id)
    references public.queue_entries (id, session_id) on delete cascade
);
create index skip_votes_session_entry_idx on public.skip_votes (session_id, entry_id);
create index skip_votes_user_idx on public.skip_votes (user_id);

------------------------------------------------------------------------------------------------
-- session_events: the realtime log. seq is gap-free per session (assigned by app.append_event
-- under the session row lock), so `since=SEQ` resumes exactly.
create table public.session_events (
  session_id  uuid not null references public.sessions (id) on delete cascade,
  seq         bigint not null constraint session_events_seq_check check (seq > 0),
  type        text not null constraint session_events_type_check check (type ~ '^[a-z][a-z0-9_.]{0,63}$'),
  payload     jsonb not null default '{}'::jsonb,
  created_at  timestamptz not null default now(),
  primary key (session_id, seq)
);

------------------------------------------------------------------------------------------------
-- A session must have its host as a member when the creating transaction commits
-- (create-session-and-join is atomic: no orphan sessions).
create function app.check_session_has_host() returns trigger
  language plpgsql
  security definer
  set search_path = ''
  as $$
  begin
    if new.ended_at is null and not exists (
      select 1 from public.session_members m
       where m.session_id = new.id and m.user_id = new.host_id and m.role = 'host'
    ) then
      raise exception 'session % was created without its host as a member', new.id
        using errcode = '23514';  -- check_violation
    end if;
    return null;
  end
  $$;
revoke all on function app.check_session_has_host() from public;
create constraint trigger sessions_created_with_host
  after insert on public.sessions
  deferrable initially deferred
  for each row execute function app.check_session_has_host();

-- Ranked queue view: every entry with its vote total. security_invoker => the caller's RLS
-- applies to both tables. Play order: total_votes desc, added_at asc, id asc.
create view public.queue_entries_with_votes
  with (security_invoker = true)
  as
  select e.id, e.session_id, e.track_id, e.added_by, e.added_at, e.status, e.finished_at,
         coalesce(t.total, 0)::int as total_votes
    from public.queue_entries e
    left join lateral (
      select sum(v.value) as total from public.votes v where v.entry_id = e.id
    ) t on true;
