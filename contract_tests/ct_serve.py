"""Serve the real QueueIT app for the contract job, the way `queueit run` does.

    python contract_tests/ct_serve.py PORT_FILE

Environment: the service's own settings (DATABASE_URL, DATA_DIR, RATE_LIMIT_*, LOG_LEVEL; see
`.env.example`); the job raises every RATE_LIMIT_* (tools/generous_limits.py).
The listening socket is bound to 127.0.0.1 port 0 before the server starts; its port is written
to PORT_FILE once the app has started (lifespan done), so the caller never races a half-started
server.

The app and uvicorn options of `queueit run` (queueit.http.serving: frame limit, no access
log, proxy headers only from TRUSTED_PROXIES, the HTTP protocol with read timeouts).
"""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import uvicorn

from queueit.app import create_app
from queueit.config import Settings
from queueit.http.serving import uvicorn_options
from queueit.logging_setup import configure


async def main(port_file: Path) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    configure(settings.log_level)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings), timeout_graceful_shutdown=5, **uvicorn_options(settings)
    )
    server = uvicorn.Server(config)

    async def announce() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.02)
        tmp = port_file.with_suffix(".tmp")
        tmp.write_text(str(port))
        tmp.replace(port_file)

    announcer = asyncio.create_task(announce())
    await server.serve(sockets=[sock])
    announcer.cancel()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
