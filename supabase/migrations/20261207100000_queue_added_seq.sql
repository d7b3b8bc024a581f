-- Play order a client can reproduce from the wire (issue: `added_at` travels in whole seconds
-- while the queue was ordered by its microseconds, so songs added within one second were shown
-- and played in an order no client could know).
--
-- `added_seq` numbers entries in the order they were added (one sequence for all sessions:
-- compare it only within one queue). The queue plays by total_votes desc, then added_seq asc,
-- and every QueuedSong on the wire carries it.

alter table queueit.queue_entries add column added_seq bigint;
-- existing entries, in the order the old rule played them
update queueit.queue_entries e
   set added_seq = o.n
  from (select q.id, row_number() over (order by q.added_at, q.id) as n
          from queueit.queue_entries q) o
 where o.id = e.id;
alter table queueit.queue_entries alter column added_seq set not null;
alter table queueit.queue_entries alter column added_seq add generated always as identity;
select setval(pg_get_serial_sequence('queueit.queue_entries', 'added_seq'),
              coalesce((select max(added_seq) from queueit.queue_entries), 0) + 1, false);

drop index queueit.queue_entries_queue_idx;
create index queue_entries_queue_idx on queueit.queue_entries (session_id, added_seq)
  where status = 'queued';

-- security_invoker as before; the new column at the end (create or replace keeps the grants)
create or replace view queueit.queue_entries_with_votes
  with (security_invoker = true)
  as
  select e.id, e.session_id, e.track_id, e.added_by, e.added_at, e.status, e.finished_at,
         coalesce(t.total, 0)::int as total_votes, e.added_seq
    from queueit.queue_entries e
    left join lateral (
      select sum(v.value) as total from queueit.votes v where v.entry_id = e.id
    ) t on true;

-- The released body (20261203070000_private_schema.sql) with the new order; nothing else differs.
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
           order by q.total_votes desc, q.added_seq
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
