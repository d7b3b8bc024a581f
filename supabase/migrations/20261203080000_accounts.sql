-- Accounts: anonymous guests, and deleting a person's data (DELETE /api/v1/me, or the account
-- deleted in Supabase Auth).

-- Supabase marks anonymous sign-ins with the `is_anonymous` claim; the profile remembers it so a
-- host cannot make an anonymous member co-host, and a leaving host hands over to a signed-up
-- member first (the service checks both, since the setting ALLOW_ANONYMOUS_HOSTS is the
-- deployment's).
alter table queueit.profiles add column is_anonymous boolean not null default false;
grant insert (is_anonymous), update (is_anonymous) on queueit.profiles to authenticated;

-- A session outlives its deleted host just long enough for its phones to receive the final
-- `session_ended` (the realtime fan-out reads events after commit): the session keeps its row
-- and that one event, with no host. The idle reaper's pruning keeps at most EVENTS_RETAINED
-- events per session, and nobody can read an ended session whose host is gone.
alter table queueit.sessions alter column host_id drop not null;
alter table queueit.sessions
  drop constraint sessions_host_id_fkey,
  add constraint sessions_host_id_fkey
    foreign key (host_id) references queueit.profiles (id) on delete set null;

-- Remove everything QueueIT holds about one user, telling every live session what changed:
--   * a live session they host ends (`session_ended`, reason host_ended); its earlier events,
--     which name its members, are deleted, and so are the ended sessions they hosted before;
--   * their votes on queued entries of live sessions are withdrawn (`votes_updated`);
--   * their queued entries in live sessions are removed (`song_removed`);
--   * an entry of theirs that is playing is skipped and playback stops (`playback_changed`);
--   * they leave the live session they are in (`member_left`);
--   * then the profile goes, and with it (ON DELETE CASCADE) memberships, bans, skip votes and
--     their entries in history.
-- Events already written in other sessions keep the name they showed then, until pruned.
-- Returns the (session, seq) of every event written, for the caller to publish; it also
-- NOTIFYs them itself, because the Auth trigger below runs in the Auth server's transaction.
-- A user with no profile is a no-op (a retried deletion).
create function app.forget_user(p_user_id uuid)
  returns table (session_id uuid, seq bigint)
  language plpgsql volatile security definer
  set search_path = ''
  as $$
  #variable_conflict use_column
  declare
    v_member  record;
    v_row     record;
    v_seq     bigint;
    v_pairs   text[] := '{}';
  begin
    perform 1 from queueit.profiles p where p.id = p_user_id for update;
    if not found then
      return;
    end if;

    select m.session_id, m.role into v_member
      from queueit.session_members m
      join queueit.sessions s on s.id = m.session_id and s.ended_at is null
     where m.user_id = p_user_id;

    if v_member.role = 'host' then
      select e.seq into v_seq from app._end_session(v_member.session_id, 'host_ended', '{}') e;
      delete from queueit.session_events x
       where x.session_id = v_member.session_id and x.seq < v_seq;
      session_id := v_member.session_id; seq := v_seq; return next;
    end if;
    delete from queueit.sessions s
     where s.host_id = p_user_id and s.ended_at is not null
       and s.id is distinct from v_member.session_id;

    -- votes on other people's queued entries (their own entries go below, votes and all)
    for v_row in
      select v.entry_id, v.session_id
        from queueit.votes v
        join queueit.queue_entries e on e.id = v.entry_id and e.status = 'queued'
        join queueit.sessions s on s.id = v.session_id and s.ended_at is null
       where v.user_id = p_user_id and e.added_by <> p_user_id
       order by v.session_id, v.entry_id
    loop
      delete from queueit.votes v where v.entry_id = v_row.entry_id and v.user_id = p_user_id;
      select a.seq into v_seq
        from app._append_event(v_row.session_id, 'votes_updated', jsonb_build_object(
               'queued_song_id', v_row.entry_id,
               'total_votes', (select coalesce(sum(v.value), 0)::int from queueit.votes v
                                where v.entry_id = v_row.entry_id)), false) a;
      session_id := v_row.session_id; seq := v_seq; return next;
    end loop;

    for v_row in
      select e.id, e.session_id
        from queueit.queue_entries e
        join queueit.sessions s on s.id = e.session_id and s.ended_at is null
       where e.added_by = p_user_id and e.status = 'queued'
       order by e.session_id, e.added_at
    loop
      update queueit.queue_entries e set status = 'removed' where e.id = v_row.id;
      select a.seq into v_seq
        from app._append_event(v_row.session_id, 'song_removed', jsonb_build_object(
               'queued_song_id', v_row.id, 'removed_by', p_user_id), false) a;
      session_id := v_row.session_id; seq := v_seq; return next;
    end loop;

    for v_row in
      select e.id, e.session_id, s.skip_vote_min, s.skip_vote_share
        from queueit.queue_entries e
        join queueit.sessions s on s.id = e.session_id and s.ended_at is null
       where e.added_by = p_user_id and e.status = 'playing'
    loop
      update queueit.sessions s
         set playback_state = 'stopped', current_entry_id = null,
             playback_started_at = null, paused_at = null
       where s.id = v_row.session_id;
      update queueit.queue_entries e set status = 'skipped' where e.id = v_row.id;
      select a.seq into v_seq
        from app._append_event(v_row.session_id, 'playback_changed', jsonb_build_object(
               'action', 'skip',
               'playback', jsonb_build_object(
                 'state', 'stopped', 'current', null, 'started_at', null, 'skip_votes', 0,
                 'skip_votes_needed', greatest(v_row.skip_vote_min, ceil(v_row.skip_vote_share *
                   (select count(*) from queueit.session_members m
                     where m.session_id = v_row.session_id
                       and m.user_id <> p_user_id))::int)),
               'finished', null), false) a;
      session_id := v_row.session_id; seq := v_seq; return next;
    end loop;

    if v_member.role in ('guest', 'cohost') then
      delete from queueit.session_members m where m.user_id = p_user_id;
      select a.seq into v_seq
        from app._append_event(v_member.session_id, 'member_left', jsonb_build_object(
               'user_id', p_user_id,
               'member_count', (select count(*)::int from queueit.session_members m
                                 where m.session_id = v_member.session_id),
               'new_host_id', null), false) a;
      session_id := v_member.session_id; seq := v_seq; return next;
    end if;

    delete from queueit.profiles p where p.id = p_user_id;
  end
  $$;
revoke all on function app.forget_user(uuid) from public;

-- The caller's own data (DELETE /api/v1/me). Publishing is the service's; the NOTIFY from the
-- trigger path is not needed here.
create function app.forget_me()
  returns table (session_id uuid, seq bigint)
  language sql volatile security definer
  set search_path = ''
  as $$
    select f.session_id, f.seq from app.forget_user(auth.uid()) f
  $$;
revoke all on function app.forget_me() from public;
grant execute on function app.forget_me() to authenticated;

-- In staging and production the database is Supabase's, with the Auth server's `auth.users`:
-- every profile then belongs to an Auth user, and deleting the user (through the API or the
-- dashboard) forgets them first, then the foreign key's cascade has nothing left to do. The
-- embedded database has no `auth.users` (development tokens mint users that exist only here),
-- so there the tie is skipped.
create function app.forget_deleted_auth_user() returns trigger
  language plpgsql security definer
  set search_path = ''
  as $$
  declare
    v_pairs text;
  begin
    select string_agg(f.session_id || ':' || f.seq, ',') into v_pairs
      from app.forget_user(old.id) f;
    if v_pairs is not null then
      perform pg_notify('queueit_events', v_pairs);  -- the realtime hub's channel
    end if;
    return old;
  end
  $$;
revoke all on function app.forget_deleted_auth_user() from public;

do $$
begin
  if to_regclass('auth.users') is not null then
    alter table queueit.profiles
      add constraint profiles_id_auth_user_fkey
      foreign key (id) references auth.users (id) on delete cascade;
    create trigger queueit_forget_user before delete on auth.users
      for each row execute function app.forget_deleted_auth_user();
  end if;
end
$$;
