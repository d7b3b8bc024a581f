"""Supabase Auth's admin API, for deleting the caller's Auth user.

Through `supabase_auth` (the Auth client the `supabase` package wraps as `client.auth.admin`;
the meta-package itself is not a dependency because its realtime client pins websockets < 16,
which this project's tests pin at 17). The service-role key is server-side only: it is sent as
`apikey` and bearer token to {SUPABASE_URL}/auth/v1 and never logged.
"""

from __future__ import annotations

import logging
from uuid import UUID

import httpx
from supabase_auth import AsyncGoTrueAdminAPI
from supabase_auth.errors import AuthApiError

from queueit.config import Settings

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5.0


class AuthAdminUnavailable(Exception):
    """The Auth server did not delete the user (down, refused the key, answered an error)."""


class AuthAdmin:
    def __init__(self, url: str, service_role_key: str) -> None:
        self._client = httpx.AsyncClient(timeout=TIMEOUT_SECONDS)
        self._api = AsyncGoTrueAdminAPI(
            url=url,
            headers={"apikey": service_role_key, "Authorization": f"Bearer {service_role_key}"},
            http_client=self._client,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthAdmin | None:
        """None when the deployment cannot delete Auth users (no Auth URL or no key)."""
        url = settings.auth_url
        key = settings.supabase_service_role_key
        if url is None or key is None or not key.get_secret_value():
            return None
        return cls(url, key.get_secret_value())

    async def delete_user(self, user_id: UUID) -> None:
        """Delete the Auth user; an already deleted one (404) counts as deleted."""
        try:
            await self._api.delete_user(str(user_id))
        except AuthApiError as exc:
            if exc.status == 404:
                return
            log.warning("Auth admin refused to delete a user: %s %s", exc.status, exc.code)
            raise AuthAdminUnavailable(f"Auth answered {exc.status}") from exc
        except Exception as exc:  # AuthError for network errors, timeouts, unreadable answers
            log.warning("Auth admin unreachable: %s", type(exc).__name__)
            raise AuthAdminUnavailable(type(exc).__name__) from exc

    async def aclose(self) -> None:
        await self._client.aclose()
