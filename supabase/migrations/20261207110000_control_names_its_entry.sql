-- A control call can name the entry it means (issue: a retried or doubled `next` skipped
-- songs: four concurrent `next` calls moved four tracks to history, since none could say which
-- track it meant to end).
--
-- app.control_playback_of(session, action, entry): like app.control_playback, but when
-- `p_entry_id` is given and is not the playing entry once the session row is locked, nothing
-- changes and `stale` is true (the service answers 409 not_current_entry). Concurrent calls
-- naming the same entry queue on the row lock; the first moves on, the rest then see another
-- entry playing. Without an entry it is app.control_playback.

create function app.control_playback_of(p_session_id uuid, p_action text, p_entry_id uuid)
  returns table (changed boolean, playback_state text, current_entry_id uuid,
                 finished_entry_id uuid, playback_started_at timestamptz, paused_at timestamptz,
                 stale boolean)
  language plpgsql security definer
  set search_path = ''
  as $$
  #variable_conflict use_column
  declare
    v_current uuid;
  begin
    if not app.is_moderator(p_session_id) then
      raise exception 'only the host or a co-host may control playback of session %', p_session_id
        using errcode = '42501';
    end if;
    select s.current_entry_id into v_current
      from queueit.sessions s where s.id = p_session_id for update;
    if p_entry_id is not null and v_current is distinct from p_entry_id then
      return query
        select false, s.playback_state, s.current_entry_id, null::uuid,
               s.playback_started_at, s.paused_at, true
          from queueit.sessions s where s.id = p_session_id;
      return;
    end if;
    return query
      select t.changed, t.playback_state, t.current_entry_id, t.finished_entry_id,
             t.playback_started_at, t.paused_at, false
        from app._playback_transition(p_session_id, p_action) t;
  end
  $$;
revoke all on function app.control_playback_of(uuid, text, uuid) from public;
grant execute on function app.control_playback_of(uuid, text, uuid) to authenticated;
