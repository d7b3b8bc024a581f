-- Generated join codes are 8 characters (32^8), not 6: with 2,000 live sessions a 6-character
-- code fell to 100 guessing addresses in days even at 500 wrong codes per address a day
-- (bench/join_guessing.py). Codes of live sessions keep working; new sessions get 8. Only the
-- default length changes (it is what sessions.join_code's default and the fixtures call).
create or replace function app.new_join_code(p_length int default 8) returns text
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
