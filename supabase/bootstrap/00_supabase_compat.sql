-- QueueIT bootstrap: create what a Supabase project provides and plain PostgreSQL lacks.
--
-- Run by `queueit.db.migrate.apply` before the migrations, on plain PostgreSQL only (the embedded
-- pgserver, CI, a self-hosted server). It is NOT a migration: the Supabase CLI never sees it
-- (it only reads supabase/migrations/), and on a Supabase database it does nothing at all,
-- because the whole body is skipped when the role `supabase_admin` exists.
--
-- Idempotent: every object is created only when missing, and existing objects are never
-- replaced, so running it twice (or concurrently from two processes) is harmless.
--
-- What it creates, mirroring Supabase:
--   roles   anon, authenticated, service_role   NOLOGIN NOINHERIT (service_role BYPASSRLS when
--           we are superuser, as on Supabase); granted to the login role running this script so
--           the service can `SET LOCAL ROLE authenticated` (PostgREST's `set_config('role', ...)`).
--   schema  auth, with auth.uid(), auth.role(), auth.email(), auth.jwt() reading the
--           transaction setting `request.jwt.claims` exactly like Supabase's definitions.
do $bootstrap$
declare
  r text;
begin
  if exists (select 1 from pg_catalog.pg_roles where rolname = 'supabase_admin') then
    raise notice 'queueit bootstrap: Supabase detected (role supabase_admin exists); nothing to do';
    return;
  end if;

  foreach r in array array['anon', 'authenticated', 'service_role'] loop
    if not exists (select 1 from pg_catalog.pg_roles where rolname = r) then
      begin
        execute format('create role %I nologin noinherit', r);
      exception when duplicate_object or unique_violation then
        null;  -- created concurrently by another database's bootstrap on the same cluster
      end;
    end if;
    -- The login role must be able to SET ROLE to each of these. Granting twice is a no-op.
    execute format('grant %I to %I', r, session_user);
  end loop;

  if (select rolsuper from pg_catalog.pg_roles where rolname = current_user) then
    alter role service_role bypassrls;
  end if;

  create schema if not exists auth;
  grant usage on schema auth to anon, authenticated, service_role;

  -- The function bodies are Supabase's (supabase/auth migrations), including the legacy
  -- `request.jwt.claim.*` settings, so policies behave identically on both platforms.
  if to_regprocedure('auth.uid()') is null then
    create function auth.uid() returns uuid
      language sql stable
      as $f$
        select coalesce(
          nullif(current_setting('request.jwt.claim.sub', true), ''),
          (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
        )::uuid
      $f$;
  end if;

  if to_regprocedure('auth.role()') is null then
    create function auth.role() returns text
      language sql stable
      as $f$
        select coalesce(
          nullif(current_setting('request.jwt.claim.role', true), ''),
          (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
        )::text
      $f$;
  end if;

  if to_regprocedure('auth.email()') is null then
    create function auth.email() returns text
      language sql stable
      as $f$
        select coalesce(
          nullif(current_setting('request.jwt.claim.email', true), ''),
          (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
        )::text
      $f$;
  end if;

  if to_regprocedure('auth.jwt()') is null then
    create function auth.jwt() returns jsonb
      language sql stable
      as $f$
        select coalesce(
          nullif(current_setting('request.jwt.claim', true), ''),
          nullif(current_setting('request.jwt.claims', true), '')
        )::jsonb
      $f$;
  end if;
end
$bootstrap$;
