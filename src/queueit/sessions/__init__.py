"""Sessions: create, join, read, leave, playback control, vote-to-skip, history, idle reaper.

`queueit.sessions.snapshot.load_current_session` is the full state of a session as one member sees
it (`GET /sessions/current`, the WebSocket snapshot, the events fallback).
"""
