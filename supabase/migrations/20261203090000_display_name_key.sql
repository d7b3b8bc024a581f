-- Display names that look alike are told apart (issue: a guest joined with exactly the host's
-- name). `name_key` is what a reader compares: NFKC (full-width and other compatibility forms
-- fold to plain letters), lower case, without white space. Two members of one session with the
-- same key are both shown with a short id (sessions/read_repository.py `_user`); invisible and
-- format characters never reach the table (auth/user.py cleans names from tokens).
alter table queueit.profiles
  add column name_key text
  generated always as (lower(regexp_replace(normalize(username, NFKC), '\s+', '', 'g'))) stored;
