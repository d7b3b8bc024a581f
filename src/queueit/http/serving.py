"""How uvicorn serves the app: one set of options for `queueit run` and the tests' servers."""

from __future__ import annotations

from typing import Any

from queueit.config import Settings
from queueit.http.server_protocol import protocol_class


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """uvicorn.run / uvicorn.Config keyword arguments, host and port aside.

    Forwarding headers are believed only from `settings.trusted_proxies` (uvicorn's
    ProxyHeadersMiddleware then puts the forwarded client address in the scope, so the socket
    caps count clients, not the proxy); with none configured, no header is believed.
    """
    trusted = settings.trusted_proxies
    return {
        "log_config": None,  # uvicorn's loggers propagate to the root (logging_setup)
        "access_log": False,  # the app writes one access line per request itself
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted or None,
        "ws_max_size": settings.ws_max_message_bytes,
        "http": protocol_class(settings),  # read timeouts, problem+json for its own answers
    }
