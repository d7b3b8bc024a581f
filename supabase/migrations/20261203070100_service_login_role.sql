-- The service's own login role: least privilege instead of `postgres`.
--
-- `queueit_service` can log in and do two things:
--   1. `SET ROLE authenticated` (membership without INHERIT): every request then runs with the
--      caller's claims under RLS, exactly as before;
--   2. run the fan-out and housekeeping functions the service needs outside any request:
--      app.fetch_events, app.latest_seqs, app.end_idle_sessions, app.prune_events.
-- It owns nothing, bypasses nothing, and cannot read a table by itself. A leaked DATABASE_URL
-- is then worth one user's rights at a time, not the whole database.
--
-- No password is set here (a migration is not the place for a secret). On Supabase, set one
-- once in the SQL editor: `alter role queueit_service with password '…';` (README, Supabase).
-- Locally the embedded server trusts its unix socket, so none is needed.

do $$
begin
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'queueit_service') then
    begin
      create role queueit_service login noinherit;
    exception when duplicate_object or unique_violation then
      null;  -- created concurrently by another database on the same cluster
    end;
  end if;
end
$$;

grant authenticated to queueit_service;
grant usage on schema app to queueit_service;

-- The last seq of each session, for the fan-out's safety-net poll (it runs for all sessions a
-- process serves, outside any user's request).
create function app.latest_seqs(p_session_ids uuid[])
  returns table (session_id uuid, last_seq bigint)
  language sql stable security definer
  set search_path = ''
  as $$
    select s.id, s.last_seq from queueit.sessions s where s.id = any(p_session_ids)
  $$;
revoke all on function app.latest_seqs(uuid[]) from public;

grant execute on function
  app.fetch_events(uuid, bigint, int),
  app.latest_seqs(uuid[]),
  app.end_idle_sessions(interval, interval),
  app.prune_events(bigint)
  to queueit_service;
