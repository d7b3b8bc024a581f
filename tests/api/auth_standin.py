"""A local stand-in for Supabase Auth's admin endpoint, over real HTTP on 127.0.0.1.

`DELETE /auth/v1/admin/users/{id}` as the Auth server documents it: the service-role key as
`apikey` and bearer token (401 otherwise), 404 for an unknown user, and on success the row leaves
`auth.users` in the test database — which fires the migrations' trigger exactly as the real
server's delete does. `mode` makes it fail: "error" answers 500, "down" drops the connection.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncpg

KEY = "test-service-role-key"
_PATH = re.compile(r"^/auth/v1/admin/users/([0-9a-f-]{36})$")


class AuthStandIn:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.mode = "ok"
        self.requests: list[dict[str, Any]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_DELETE(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                stand_in.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "body": body}
                )
                if stand_in.mode == "down":
                    self.close_connection = True
                    self.connection.close()
                    return
                if self.headers.get("apikey") != KEY or (
                    self.headers.get("Authorization") != f"Bearer {KEY}"
                ):
                    return self._answer(401, {"code": 401, "msg": "Invalid API key"})
                if stand_in.mode == "error":
                    return self._answer(500, {"code": 500, "msg": "Database error deleting user"})
                match = _PATH.match(self.path)
                if match is None:
                    return self._answer(404, {"code": 404, "msg": "Not found"})
                deleted = asyncio.run(stand_in._delete(match[1]))
                if not deleted:
                    return self._answer(
                        404, {"code": 404, "error_code": "user_not_found", "msg": "User not found"}
                    )
                self._answer(200, {"id": match[1]})

            def _answer(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/auth/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    async def _delete(self, user_id: str) -> bool:
        conn = await asyncpg.connect(self.dsn)
        try:
            status = await conn.execute("delete from auth.users where id = $1::uuid", user_id)
        finally:
            await conn.close()
        return status != "DELETE 0"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
