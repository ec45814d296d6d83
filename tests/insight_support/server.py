"""A local HTTP(S) server for the collector tests: real sockets on 127.0.0.1, routes that
reply with fixed or recorded bodies, or write to the socket themselves (slow, huge, broken).

Owns: starting and stopping the server and remembering the requests it saw. Must not: reach
outside 127.0.0.1, or print the requests it saw (they carry test tokens).
"""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["LocalServer", "Reply", "Seen", "json_reply", "local_server", "recorded"]

RECORDED = Path(__file__).parent / "recorded"


def recorded(name: str) -> bytes:
    """The bytes of a recorded API response (tests/insight_support/recorded/<name>)."""
    return (RECORDED / name).read_bytes()


@dataclass(frozen=True)
class Seen:
    """A request the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode())

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str | None = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(body: bytes | dict[str, Any], status: int = 200) -> Reply:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Reply(status, data, "application/json; charset=UTF-8")


# A route: a fixed reply, a function of the request, or a writer that speaks to the socket.
Route = Reply | Callable[[Seen], Reply] | Callable[[Seen, BaseHTTPRequestHandler], None]


class LocalServer:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[tuple[str, str], tuple[Route, bool]] = {}
        self.seen: list[Seen] = []
        self._tls = tls
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        scheme = "https" if self._tls else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    def route(self, method: str, path: str, reply: Route, *, raw: bool = False) -> None:
        """Serve `reply` at `path`; `raw`: the route writes status, headers and body itself."""
        self.routes[(method, path)] = (reply, raw)

    def requests(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]

    def start(self) -> LocalServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass  # requests carry test tokens: nothing is printed

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def _serve(self, method: str) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                seen = Seen(
                    method,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                server.seen.append(seen)
                route, raw = server.routes.get(
                    (method, parts.path), (Reply(404, b"not found"), False)
                )
                try:
                    if raw:
                        route(seen, self)  # type: ignore[call-arg]
                        return
                    reply = route if isinstance(route, Reply) else route(seen)  # type: ignore[call-arg]
                    self.send_response(reply.status)
                    if reply.content_type:
                        self.send_header("Content-Type", reply.content_type)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                    pass  # the client hung up (it stopped reading on purpose)

        return Handler


@contextmanager
def local_server(tls: ssl.SSLContext | None = None) -> Iterator[LocalServer]:
    server = LocalServer(tls).start()
    try:
        yield server
    finally:
        server.stop()
