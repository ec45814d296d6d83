"""Access tokens of a connection during one collection: refreshed when expired or about to
expire, or once when an API answers 401, and reported back as a `ConnectionUpdate`.

Owns the refresh calls of Google (OAuth 2.0 refresh grant) and Meta (long-lived token
exchange) and the error texts a connection's `last_error` shows. Must not: let a token reach a
Retrieval that is kept as evidence (token answers are read and dropped), an error text, or a log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tenantry.insight.collectors.common import as_int, json_body
from tenantry.insight.facts import ConnectionInfo, ConnectionUpdate, Fetcher, Retrieval
from tenantry.models.enums import EvidenceSource

__all__ = [
    "EXPIRED_ERROR",
    "REJECTED_ERROR",
    "REVOKED_ERROR",
    "Token",
    "TokenSession",
    "exchange_meta_token",
    "refresh_google_token",
]

EXPIRED_ERROR = "access token expired and cannot be refreshed"
REVOKED_ERROR = "refresh token revoked"
REJECTED_ERROR = "access token rejected (Graph error 190)"


@dataclass(frozen=True)
class Token:
    """The answer of a token endpoint: a new access token, or why there is none."""

    access_token: str | None = None
    expires_at: datetime | None = None
    refresh_token: str | None = None  # set when the server rotated it
    error: str | None = None


def _token(retrieval: Retrieval, now: datetime) -> Token:
    retrieval, data = json_body(retrieval)
    if data is None:
        if "invalid_grant" in (retrieval.error or ""):
            return Token(error=REVOKED_ERROR)
        return Token(error=f"token refresh failed: {retrieval.error}")
    access = data.get("access_token")
    if not isinstance(access, str) or not access:
        return Token(error="token refresh failed: the answer holds no access token")
    seconds = as_int(data.get("expires_in"))
    rotated = data.get("refresh_token")
    return Token(
        access_token=access,
        expires_at=now + timedelta(seconds=seconds) if seconds else None,
        refresh_token=rotated if isinstance(rotated, str) and rotated else None,
    )


def refresh_google_token(
    fetch: Fetcher,
    *,
    token_url: str,
    client_id: str | None,
    client_secret: str | None,
    refresh_token: str | None,
    now: datetime,
) -> Token:
    """The OAuth 2.0 refresh grant (RFC 6749 section 6) at Google's token endpoint."""
    if not (client_id and client_secret and refresh_token):
        return Token(error=EXPIRED_ERROR)
    form = {
        "grant_type": "refresh_token",
        "client_id": client_id,
        "client_secret": client_secret,
        "refresh_token": refresh_token,
    }
    answer = fetch.post_form(
        token_url, form, collector="gbp", source=EvidenceSource.GBP, shown_uri=token_url
    )
    return _token(answer, now)


def exchange_meta_token(
    fetch: Fetcher,
    *,
    graph_url: str,
    app_id: str | None,
    app_secret: str | None,
    access_token: str,
    now: datetime,
    collector: str,
    source: EvidenceSource,
) -> Token:
    """Meta's exchange of a (still valid) long-lived token for a new long-lived one."""
    if not (app_id and app_secret):
        return Token(error="token refresh failed: no Meta app credentials")
    url = f"{graph_url}/oauth/access_token"
    params = {
        "grant_type": "fb_exchange_token",
        "client_id": app_id,
        "client_secret": app_secret,
        "fb_exchange_token": access_token,
    }
    answer = fetch.get(url, params=params, collector=collector, source=source, shown_uri=url)
    return _token(answer, now)


class TokenSession:
    """One connection's token during one collection: refreshed at most once."""

    def __init__(
        self,
        connection: ConnectionInfo,
        refresher: Callable[[], Token],
        now: datetime,
        margin: timedelta,
    ) -> None:
        self.connection = connection
        self.access_token = connection.access_token
        self._refresher = refresher
        self._now = now
        self._margin = margin
        self._refreshed: Token | None = None
        self._tried = False
        self.error: str | None = None  # why the last refresh failed

    def _expires(self) -> datetime | None:
        expires = self.connection.token_expires_at
        if expires is not None and expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)  # a naive time is read as UTC
        return expires

    def expiring(self) -> bool:
        expires = self._expires()
        return not self.access_token or (
            expires is not None and expires <= self._now + self._margin
        )

    def expired(self) -> bool:
        expires = self._expires()
        return not self.access_token or (expires is not None and expires <= self._now)

    def refresh(self) -> bool:
        if self._tried:
            return False
        self._tried = True
        token = self._refresher()
        if token.error or not token.access_token:
            self.error = token.error or EXPIRED_ERROR
            return False
        self._refreshed, self.access_token = token, token.access_token
        return True

    def call(self, send: Callable[[str], Retrieval], *, retry_on_401: bool = True) -> Retrieval:
        """`send` with the current token; after a 401, once more with a refreshed one."""
        retrieval = send(self.access_token or "")
        if retry_on_401 and retrieval.status_code == 401 and self.refresh():
            retrieval = send(self.access_token or "")
        return retrieval

    def update(self, ok: bool, error: str | None) -> ConnectionUpdate:
        token = self._refreshed
        return ConnectionUpdate(
            connection_id=self.connection.id,
            ok=ok,
            error=error,
            access_token=token.access_token if token else None,
            refresh_token=token.refresh_token if token else None,
            token_expires_at=token.expires_at if token else None,
        )
