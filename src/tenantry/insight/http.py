"""The guarded HTTP client of the visibility check: every collector fetches through it.

`SafeFetcher` fetches only http(s) URLs; refuses hosts that resolve to a private, loopback,
link-local, multicast, reserved, shared (CGNAT) or cloud-metadata address unless told to allow
them; connects to the very address it vetted (the name is not resolved twice, so DNS cannot
change between check and connect, and TLS still verifies the real name); follows redirects
itself and vets each hop; holds one deadline over the whole retrieval, redirects and slow bodies
included; and keeps at most `max_bytes` of a body. It never raises for a bad URL or a failing
server: the `Retrieval` says why. It stores no secret: `uri` is the caller's `shown_uri`, or the
URL without user info and without secret query parameters, and a secret the request carried
(token or key in a query parameter or header) is blanked out of the body and error it comes back
in (the body's hash covers what is kept). No database, no logging.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, quote_plus

import httpcore
import httpx

from tenantry.config import Settings
from tenantry.insight.facts import Retrieval
from tenantry.models.enums import EvidenceSource

__all__ = ["MAX_URL_LENGTH", "Resolver", "SafeFetcher", "address_problem", "redact_url"]

Resolver = Callable[[str, int], Sequence[str]]
"""host, port -> the IP addresses the host resolves to (tests inject one)."""

MAX_URL_LENGTH = 2000
_SECRET_PARAMS = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "client_secret",
        "code",
        "fb_exchange_token",
        "key",
        "password",
        "refresh_token",
        "sig",
        "signature",
        "token",
    }
)
# Headers that may follow a redirect to another origin; the caller's others (Authorization,
# API keys) stay with the origin they were meant for.
_CROSS_ORIGIN_HEADERS = frozenset({"accept", "accept-language"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_METADATA = ipaddress.ip_address("169.254.169.254")
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class _StopError(Exception):
    """The retrieval ends here; the message is the Retrieval's error."""


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_problem(address: str) -> str | None:
    """Why an address must not be fetched from (None: it is a public address)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return address_problem(str(embedded))
    checks = (
        (ip == _METADATA, "the cloud metadata address"),
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT, "shared (CGNAT)"),
        (ip.is_reserved, "reserved"),
        (ip.is_private, "private"),
        (not ip.is_global, "not public"),
    )
    return next((f"{ip} is {what}" for hit, what in checks if hit), None)


def redact_url(url: str) -> str:
    """The URL as it may be stored: no user info, no secret query parameters."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return "(invalid URL)"
    kept = [(k, v) for k, v in parsed.params.multi_items() if k.lower() not in _SECRET_PARAMS]
    shown = parsed.copy_with(userinfo=b"", path=parsed.path or "/")
    return str(shown.copy_with(params=httpx.QueryParams(tuple(kept))))[:MAX_URL_LENGTH]


def _clamp(timeout: float | None, deadline: float, exc: type[Exception]) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise exc("deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket whose every read and write waits no longer than the retrieval's deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: float) -> None:
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout, self._deadline, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout, self._deadline, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        left = _clamp(timeout, self._deadline, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._inner.start_tls(ssl_context, server_hostname, left), self._deadline
        )

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects to the vetted addresses, whatever the host name would resolve to now: each in
    turn until one answers (a host with an IPv6 address the network cannot route)."""

    def __init__(self, host: str, addresses: list[str], deadline: float) -> None:
        self._host, self._addresses, self._deadline = host, addresses, deadline
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        if host != self._host:
            raise httpcore.ConnectError("host was not vetted")
        for i, address in enumerate(self._addresses):
            left = _clamp(timeout, self._deadline, httpcore.ConnectTimeout)
            try:
                stream = self._inner.connect_tcp(address, port, left, local_address, socket_options)
            except httpcore.ConnectError:
                if i == len(self._addresses) - 1:
                    raise
                continue
            return _DeadlineStream(stream, self._deadline)
        raise httpcore.ConnectError("no address to connect to")

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _BodyStream(httpx.SyncByteStream):
    def __init__(self, inner: Iterable[bytes]) -> None:
        self._inner = inner

    def __iter__(self) -> Iterator[bytes]:
        yield from self._inner

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


class _PinnedTransport(httpx.BaseTransport):
    """One hop: one connection to a vetted address (no pool shared between host names)."""

    def __init__(
        self, host: str, addresses: list[str], deadline: float, ctx: ssl.SSLContext
    ) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=ctx,
            network_backend=_PinnedBackend(host, addresses, deadline),
            max_connections=1,
            max_keepalive_connections=0,
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        url = request.url
        req = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        resp = self._pool.handle_request(req)
        assert isinstance(resp.stream, Iterable)
        return httpx.Response(
            status_code=resp.status,
            headers=resp.headers,
            stream=_BodyStream(resp.stream),
            extensions=resp.extensions,
        )

    def close(self) -> None:
        self._pool.close()


_NETWORK_ERRORS = (
    httpx.HTTPError,
    httpx.InvalidURL,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    OSError,
    ValueError,
)
_TIMEOUTS = (httpx.TimeoutException, httpcore.TimeoutException, TimeoutError)
_CONNECT_ERRORS = (httpx.ConnectError, httpcore.ConnectError, ConnectionError)


class SafeFetcher:
    """The `Fetcher` of facts.py over httpx, with the guards described in the module doc."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        timeout_seconds: float = 10.0,
        max_bytes: int = 2_000_000,
        max_redirects: int = 5,
        user_agent: str = "tenantry-visibility-check/1.0",
        connect_timeout_seconds: float | None = None,
        allowed_networks: Iterable[str] = (),
        resolver: Resolver | None = None,
        ssl_context: ssl.SSLContext | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.allow_private = allow_private
        self.timeout_seconds = timeout_seconds
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.user_agent = user_agent
        self.connect_timeout_seconds = connect_timeout_seconds or min(timeout_seconds, 5.0)
        # Networks fetched even when private ones are refused (one intranet host, a test server).
        self._allowed = tuple(ipaddress.ip_network(n) for n in allowed_networks)
        self._resolver: Resolver = resolver or _system_resolver
        self._ssl = ssl_context or httpx.create_ssl_context()
        self._clock = clock or (lambda: datetime.now(UTC))

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> SafeFetcher:
        return cls(
            allow_private=settings.collect_allow_private_networks,
            timeout_seconds=settings.collect_timeout_seconds,
            max_bytes=settings.collect_max_bytes,
            max_redirects=settings.collect_max_redirects,
            user_agent=settings.collect_user_agent,
            **kwargs,
        )

    def get(
        self,
        url: str,
        *,
        collector: str,
        source: EvidenceSource,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        shown_uri: str | None = None,
    ) -> Retrieval:
        return self._retrieve("GET", url, collector, source, headers, shown_uri, params=params)

    def post_form(
        self,
        url: str,
        data: dict[str, str],
        *,
        collector: str,
        source: EvidenceSource,
        shown_uri: str | None = None,
    ) -> Retrieval:
        return self._retrieve("POST", url, collector, source, None, shown_uri, data=data)

    def post_json(
        self,
        url: str,
        body: dict[str, Any],
        *,
        collector: str,
        source: EvidenceSource,
        headers: dict[str, str] | None = None,
        shown_uri: str | None = None,
    ) -> Retrieval:
        return self._retrieve("POST", url, collector, source, headers, shown_uri, json=body)

    def _retrieve(
        self,
        method: str,
        url: str,
        collector: str,
        source: EvidenceSource,
        headers: dict[str, str] | None,
        shown_uri: str | None,
        **content: Any,
    ) -> Retrieval:
        retrieved_at = self._clock()
        start = time.monotonic()
        state: dict[str, Any] = {"uri": url}
        fields: dict[str, Any] = {}
        try:
            fields = self._follow(method, url, dict(headers or {}), content, start, state)
        except _StopError as stop:
            fields = {**state.get("fields", {}), "error": str(stop)}
        except _TIMEOUTS:
            fields = {"error": self._timed_out()}
        except _CONNECT_ERRORS as exc:
            fields = {"error": f"connection failed: {_short(exc)}"}
        except _NETWORK_ERRORS as exc:
            fields = {"error": f"request failed: {_short(exc)}"}
        secrets = _secrets(headers, content)
        if secrets and fields.get("body"):
            fields["body"] = _scrub(fields["body"], secrets)
        if secrets and fields.get("error"):
            fields["error"] = _scrub(fields["error"].encode(), secrets).decode(errors="replace")
        return Retrieval(
            collector=collector,
            source=source,
            uri=redact_url(shown_uri) if shown_uri else redact_url(state["uri"]),
            retrieved_at=retrieved_at,
            elapsed_ms=int((time.monotonic() - start) * 1000),
            **fields,
        )

    def _timed_out(self) -> str:
        return f"timed out after {self.timeout_seconds:g} s"

    def _follow(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        content: dict[str, Any],
        start: float,
        state: dict[str, Any],
    ) -> dict[str, Any]:
        deadline = start + self.timeout_seconds
        for hop in range(self.max_redirects + 1):
            target = self._check_url(url, redirected=hop > 0)
            state["uri"] = str(target)
            addresses = self._vet(target, deadline, redirected=hop > 0)
            with self._client(target, addresses, deadline) as client:
                request = client.build_request(
                    method, target, headers=headers, timeout=self._timeout(deadline), **content
                )
                state["uri"] = str(request.url)
                response = client.send(request, stream=True)
                try:
                    location = response.headers.get("location")
                    if response.status_code not in _REDIRECTS or not location:
                        return self._read(response, deadline, state)
                    if method != "GET":
                        raise _StopError(
                            f"HTTP {response.status_code}: redirect of a POST not followed"
                        )
                finally:
                    response.close()
            next_url = target.join(location)
            content = {}  # the caller's query parameters belong to the first URL only
            if _origin(next_url) != _origin(target):
                headers = {k: v for k, v in headers.items() if k.lower() in _CROSS_ORIGIN_HEADERS}
            url = str(next_url)
            state["uri"] = url
        raise _StopError(f"too many redirects (more than {self.max_redirects})")

    def _check_url(self, url: str, *, redirected: bool) -> httpx.URL:
        prefix = "redirect refused: " if redirected else ""
        if len(url) > MAX_URL_LENGTH:
            raise _StopError(f"{prefix}URL longer than {MAX_URL_LENGTH} characters")
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError):
            raise _StopError(f"{prefix}invalid URL") from None
        if parsed.scheme not in ("http", "https"):
            raise _StopError(f"{prefix}only http and https URLs are fetched")
        if not parsed.host:
            raise _StopError(f"{prefix}URL has no host")
        if parsed.userinfo:
            raise _StopError(f"{prefix}URL carries user info")
        return parsed

    def _vet(self, url: httpx.URL, deadline: float, *, redirected: bool) -> list[str]:
        """The addresses to connect to: the host's, if every one of them is allowed."""
        host = url.raw_host.decode("ascii")
        port = url.port or (443 if url.scheme == "https" else 80)
        addresses = _literal(host) or self._resolve(host, port, deadline)
        if not addresses:
            raise _StopError("could not resolve host")
        if not self.allow_private:
            for address in addresses:
                problem = address_problem(address)
                if problem and not self._allowed_address(address):
                    prefix = "redirect refused" if redirected else "refused"
                    raise _StopError(f"{prefix}: {problem} (private networks are not collected)")
        return addresses

    def _allowed_address(self, address: str) -> bool:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        return any(ip in net for net in self._allowed)

    def _resolve(self, host: str, port: int, deadline: float) -> list[str]:
        """Resolve in a helper thread, so a slow DNS server cannot outlast the deadline."""
        result: list[Sequence[str] | BaseException] = []

        def run() -> None:
            try:
                result.append(self._resolver(host, port))
            except (OSError, UnicodeError, ValueError) as exc:
                result.append(exc)

        worker = threading.Thread(target=run, name="tenantry-resolve", daemon=True)
        worker.start()
        worker.join(max(0.0, deadline - time.monotonic()))
        if not result:
            raise _StopError(self._timed_out())
        if isinstance(result[0], BaseException):
            raise _StopError("could not resolve host")
        return list(result[0])

    def _client(self, url: httpx.URL, addresses: list[str], deadline: float) -> httpx.Client:
        transport = _PinnedTransport(url.raw_host.decode("ascii"), addresses, deadline, self._ssl)
        return httpx.Client(
            transport=transport,
            trust_env=False,
            follow_redirects=False,
            headers={"User-Agent": self.user_agent},
        )

    def _timeout(self, deadline: float) -> httpx.Timeout:
        left = max(0.001, deadline - time.monotonic())
        return httpx.Timeout(left, connect=min(self.connect_timeout_seconds, left))

    def _read(
        self, response: httpx.Response, deadline: float, state: dict[str, Any]
    ) -> dict[str, Any]:
        """Status, type and at most `max_bytes` of the body; stops at the deadline."""
        fields: dict[str, Any] = {
            "status_code": response.status_code,
            "content_type": (response.headers.get("content-type") or None),
        }
        if fields["content_type"]:
            fields["content_type"] = fields["content_type"][:200]
        state["fields"] = fields
        chunks: list[bytes] = []
        kept = 0
        try:
            for chunk in response.iter_bytes():
                room = self.max_bytes - kept
                if len(chunk) > room:
                    chunks.append(chunk[:room])
                    fields["truncated"] = True
                    break
                chunks.append(chunk)
                kept += len(chunk)
                if time.monotonic() > deadline:
                    raise httpcore.ReadTimeout("deadline passed")
        except _TIMEOUTS:
            fields.update(body=b"".join(chunks), truncated=True)
            raise _StopError(self._timed_out()) from None
        fields["body"] = b"".join(chunks)
        if not 200 <= response.status_code < 300:
            fields["error"] = f"HTTP {response.status_code}"
        return fields


def _literal(host: str) -> list[str]:
    """The address a host names literally, in any spelling (`127.1`, `0x7f.1`, `2130706433`)."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        return [socket.inet_ntoa(socket.inet_aton(host))]
    except (OSError, UnicodeError, ValueError):
        return []


def _secrets(headers: dict[str, str] | None, content: dict[str, Any]) -> list[str]:
    """The secrets a request carries: secret query or form fields, credential headers."""
    found = [
        value
        for part in (content.get("params"), content.get("data"))
        if isinstance(part, dict)
        for name, value in part.items()
        if name.lower() in _SECRET_PARAMS and isinstance(value, str)
    ]
    for name, value in (headers or {}).items():
        if any(word in name.lower() for word in ("authorization", "key", "token", "secret")):
            found.append(value.split(" ", 1)[-1])  # "Bearer <token>": the token
    return [v for v in found if len(v) >= 8]


def _scrub(data: bytes, secrets: list[str]) -> bytes:
    """`data` with every spelling of each secret (plain, URL-encoded) blanked out: an API may
    echo the token it was sent (the Graph API's paging links do)."""
    for secret in secrets:
        for spelling in {secret, quote(secret, safe=""), quote_plus(secret)}:
            data = data.replace(spelling.encode(), b"[redacted]")
    return data


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:160]
