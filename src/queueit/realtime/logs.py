"""Keep `access_token` query parameters out of the server's logs.

uvicorn logs every WebSocket upgrade as `"WebSocket /path?query" [accepted]` on the
`uvicorn.error` logger, query string included, so a client authenticating with
`?access_token=...` would have its token written to the log. `RealtimeHub.start()` installs this
filter on that logger (idempotent); the token is replaced by `[redacted]`.
"""

from __future__ import annotations

import logging
import re

from queueit.auth.deps import TOKEN_QUERY_PARAM

_MARKER = "token"
# `access_token=` as sent, or with its underscore percent-encoded (the server decodes both).
_TOKEN_VALUE = re.compile(
    re.escape(TOKEN_QUERY_PARAM).replace("_", "(?:_|%5[Ff])") + r'=[^&\s"\']*'
)


def redact(text: str) -> str:
    """`text` with the value of every `access_token` query parameter redacted."""
    if _MARKER not in text:
        return text
    return _TOKEN_VALUE.sub(TOKEN_QUERY_PARAM + "=[redacted]", text)


class RedactAccessTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(
            isinstance(a, str) and _MARKER in a for a in record.args
        ):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str) and _MARKER in record.msg:
            record.msg = redact(record.msg)
        return True


def install(logger_names: tuple[str, ...] = ("uvicorn.error", "uvicorn")) -> None:
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactAccessTokens) for f in logger.filters):
            logger.addFilter(RedactAccessTokens())
