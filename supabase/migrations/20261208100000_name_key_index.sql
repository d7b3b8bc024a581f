-- A party of 1,000 could not open its sockets: each member's name in a member list checked for
-- a look-alike by scanning the whole session (with the profiles' RLS check on every row), so a
-- snapshot of n members cost O(n²) (1,000 members: over a second, so 1,000 openings timed out).
-- The check now starts from the profiles with the same key, found by this index.
create index profiles_name_key_idx on queueit.profiles (name_key);
