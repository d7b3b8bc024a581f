"""Realtime: the session WebSocket, its polling fallback, and cross-process fan-out.

    hub = RealtimeHub(settings, db, verifier, snapshot_loader=...)   # one per process
    await hub.start(); app.state.realtime_hub = hub                   # Runtime start
    hub.publish(session_id, seq)                                      # after each COMMIT
    await hub.stop()                                                  # Runtime stop
    from queueit.realtime.endpoints import router                     # WS + GET /events

See `queueit.realtime.hub` for the fan-out design and asyncapi/queueit.yaml for the protocol.
"""

from queueit.realtime.hub import HubStats, RealtimeHub
from queueit.realtime.loader import SnapshotLoader
from queueit.realtime.protocol import CloseCode, ErrorCode

__all__ = ["CloseCode", "ErrorCode", "HubStats", "RealtimeHub", "SnapshotLoader"]
