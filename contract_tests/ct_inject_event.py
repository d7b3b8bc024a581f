"""Append one event to a live session as a newer server would: `ct_inject_event.py SESSION TYPE
PAYLOAD_JSON`, with QUEUEIT_LIVE_DSN the live database's owner DSN. Prints the event's seq.

The live Swift feed test (contract_tests/swift, LiveFeedTests) uses it to put an event type and
an enum value this version does not know into the real stream, in `seq` order, so the server's
fan-out, replay and `GET /events` carry them like any other event.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from uuid import UUID

import asyncpg


async def main(session_id: UUID, kind: str, payload: str) -> None:
    conn = await asyncpg.connect(os.environ["QUEUEIT_LIVE_DSN"])
    try:
        seq = await conn.fetchval(
            "select seq from app._append_event($1, $2, $3::jsonb, false)",
            session_id,
            kind,
            json.dumps(json.loads(payload)),
        )
    finally:
        await conn.close()
    print(seq)


if __name__ == "__main__":
    asyncio.run(main(UUID(sys.argv[1]), sys.argv[2], sys.argv[3]))
