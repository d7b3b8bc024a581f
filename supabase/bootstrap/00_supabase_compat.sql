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
-- What it creates, mirroring Supabase (supabase/postgres: migrations/db/init-scripts and
-- migrations/db/migrations) wherever security depends on it:
--   roles   anon, authenticated, service_role: NOLOGIN INHERIT (Supabase altered them to INHERIT
--           in 2023); service_role BYPASSRLS.
--           authenticator: LOGIN NOINHERIT, member of the three; what PostgREST connects as
--           before `set role`, so the Data-API tests connect as it too.
--           queueit_owner: plays Supabase's `postgres`, which runs the migrations and owns what
--           they create: NOSUPERUSER CREATEDB CREATEROLE REPLICATION BYPASSRLS, member of anon,
--           authenticated and service_role. Locally the superuser is itself named `postgres`
--           (initdb), so the stand-in needs its own name; `queueit.db.migrate` runs the
--           migrations under `SET ROLE queueit_owner`, so a migration that needs superuser
--           fails here exactly as it would on Supabase.
--   grants  USAGE on schema public for queueit_owner, anon, authenticated, service_role, and the
--           default privileges Supabase sets there: ALL on every table, sequence and function
--           created later in public, for anon, authenticated and service_role. (This is the side
--           door the private-schema migration closes; reproducing it is what lets the tests see
--           it.)
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

  foreach r in array array['anon', 'authenticated', 'service_role', 'authenticator', 'queueit_owner'] loop
    if not exists (select 1 from pg_catalog.pg_roles where rolname = r) then
      begin
        execute format('create role %I nologin', r);
      exception when duplicate_object or unique_violation then
        null;  -- created concurrently by another database's bootstrap on the same cluster
      end;
    end if;
  end loop;
  alter role anon inherit;
  alter role authenticated inherit;
  alter role service_role inherit bypassrls;
  alter role authenticator login noinherit;
  alter role queueit_owner nosuperuser createdb createrole replication bypassrls;
  grant anon, authenticated, service_role to authenticator;
  -- ADMIN OPTION: on PostgreSQL 15 (Supabase, config.toml) CREATEROLE alone lets `postgres` grant
  -- these roles to a role it creates; the embedded server is 16, where that takes ADMIN OPTION.
  grant anon, authenticated, service_role to queueit_owner with admin option;
  -- The login role running this script must be able to SET ROLE to each of these.
  foreach r in array array['anon', 'authenticated', 'service_role', 'queueit_owner'] loop
    execute format('grant %I to %I', r, session_user);
  end loop;
  -- Supabase's postgres has ALL on its database (CREATE: new schemas).
  execute format('grant all on database %I to queueit_owner', current_database());

  grant usage on schema public to anon, authenticated, service_role;
  grant usage, create on schema public to queueit_owner;
  foreach r in array array[session_user::text, 'queueit_owner'] loop
    execute format('alter default privileges for role %I in schema public'
                   ' grant all on tables to anon, authenticated, service_role', r);
    execute format('alter default privileges for role %I in schema public'
                   ' grant all on sequences to anon, authenticated, service_role', r);
    execute format('alter default privileges for role %I in schema public'
                   ' grant all on functions to anon, authenticated, service_role', r);
  end loop;

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
