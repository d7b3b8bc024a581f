-- Deleting an Auth user (dashboard, Auth API, DELETE /api/v1/me) fires
-- app.forget_deleted_auth_user, which told the realtime hubs about every event it appended, in
-- one NOTIFY: a (session, seq) pair per withdrawn vote and removed song. PostgreSQL refuses a
-- payload of 8,000 bytes or more, so deleting a person with ~200 votes in a live party rolled
-- the whole delete back.
--
-- A hub needs only the newest seq of each session (it reads the events after the last one it
-- delivered), as the service's own NOTIFYs send (realtime/store.py: notify_payloads). So: one
-- pair per session, packed into payloads of at most 7,900 bytes.

create or replace function app.forget_deleted_auth_user() returns trigger
  language plpgsql security definer
  set search_path = ''
  as $$
  declare
    v_pair    text;
    v_payload text := '';
  begin
    for v_pair in
      select f.session_id || ':' || max(f.seq)
        from app.forget_user(old.id) f
       group by f.session_id
       order by f.session_id
    loop
      if v_payload <> '' and octet_length(v_payload) + 1 + octet_length(v_pair) > 7900 then
        perform pg_notify('queueit_events', v_payload);  -- the realtime hub's channel
        v_payload := '';
      end if;
      v_payload := case when v_payload = '' then v_pair else v_payload || ',' || v_pair end;
    end loop;
    if v_payload <> '' then
      perform pg_notify('queueit_events', v_payload);
    end if;
    return old;
  end
  $$;
revoke all on function app.forget_deleted_auth_user() from public;
