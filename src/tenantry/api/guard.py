"""`RequestGuard`: refuses requests no endpoint can take, before any of them is parsed.

One pure ASGI middleware in front of every route (FastAPI's own handling and the compiled fast
path alike) enforces the API's input limits:

- a body larger than `MAX_BODY_BYTES` is refused with 413 (by its `Content-Length` before it is
  read, or as soon as the bytes received pass the limit);
- a body whose JSON nests deeper than `MAX_JSON_DEPTH` arrays and objects is refused with 400
  before a parser recurses into it (a cheap count of brackets; only a body with more brackets
  than the limit is scanned properly);
- text PostgreSQL cannot store (NUL, or a UTF-16 surrogate without its pair, which has no UTF-8
  form) in a body, the path or the query string is refused with 422, naming where it was
  found but never the value.

Everything else passes through untouched, so the endpoints and their models see only input the
database can hold. The body is read here once and replayed to the application.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tenantry.api.problems import send_problem
from tenantry.domain.text import unstorable_text

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_JSON_DEPTH",
    "RequestGuard",
    "json_too_deep",
    "unstorable_escape",
    "unstorable_text",
]

MAX_BODY_BYTES = 1024 * 1024
MAX_JSON_DEPTH = 64

# A JSON string token, or one bracket outside strings.
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
# One escape sequence: backslashes only occur inside strings, each starts exactly one escape.
_ESCAPE = re.compile(rb"\\(?:u([0-9a-fA-F]{4})|.)", re.DOTALL)
_NUL_MESSAGE = "text must not contain NUL characters or unpaired UTF-16 surrogates"


def json_too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON in `body` nests more than `limit` arrays and objects."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # cannot nest deeper than it has brackets: the common case, in C
    depth = 0
    for match in _JSON_TOKEN.finditer(body):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif token in (b"]", b"}"):
            depth -= 1
    return False


def unstorable_escape(body: bytes) -> bool:
    """Whether the JSON in `body` spells NUL or a lone surrogate as a `\\u` escape."""
    # Only NUL (\u0000) and surrogates (\ud800 to \udfff) matter: most bodies spell neither,
    # and the scan is skipped (a body with other escapes, say \u00fc, too).
    if b"\\u0000" not in body and b"\\ud" not in body and b"\\uD" not in body:
        return False
    high_end = -1  # where the escape of a high surrogate still waiting for its pair ends
    for match in _ESCAPE.finditer(body):
        hex_digits = match.group(1)
        if high_end >= 0 and (hex_digits is None or match.start() != high_end):
            return True
        code = int(hex_digits, 16) if hex_digits is not None else -1
        if high_end >= 0:
            high_end = -1
            if not 0xDC00 <= code <= 0xDFFF:
                return True
        elif code == 0 or 0xDC00 <= code <= 0xDFFF:
            return True
        elif 0xD800 <= code <= 0xDBFF:
            high_end = match.end()
    return high_end >= 0


def _locate(body: bytes) -> str:
    """Where in the body the unstorable text is, as `body.<path>` (`body` if not JSON)."""
    try:
        document = json.loads(body)
    except ValueError:
        return "body"
    path = _find(document)
    return ".".join(["body", *path]) if path is not None else "body"


def _find(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [] if unstorable_text(value) else None
    items: Any = ()
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    for key, item in items:
        if isinstance(key, str) and unstorable_text(key):
            return [key.encode("unicode_escape").decode()]
        found = _find(item)
        if found is not None:
            return [str(key), *found]
    return None


class RequestGuard:
    """Body size, JSON depth and storable text, checked before the application runs."""

    def __init__(
        self, app: ASGIApp, *, max_body: int = MAX_BODY_BYTES, max_depth: int = MAX_JSON_DEPTH
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query: bytes = scope.get("query_string", b"")
        if b"%00" in query or b"\x00" in query:
            await _invalid(scope, send, "query")
            return
        if "\x00" in scope["path"]:
            await _invalid(scope, send, "path")
            return
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        body = await self._read(scope, receive, send)
        if body is None:
            return  # refused
        if json_too_deep(body, self.max_depth):
            await send_problem(
                scope,
                send,
                400,
                "bad-request",
                "Bad request",
                f"JSON nested deeper than {self.max_depth} levels",
            )
            return
        if b"\x00" in body or unstorable_escape(body):
            await _invalid(scope, send, _locate(body))
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        for name, value in scope["headers"]:
            if name == b"content-length":
                if value.isdigit() and int(value) > self.max_body:
                    await self._too_large(scope, send)
                    return None
                break
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return None
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await self._too_large(scope, send)
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        await send_problem(
            scope,
            send,
            413,
            "payload-too-large",
            "Payload too large",
            f"the request body is larger than {self.max_body} bytes",
        )


async def _invalid(scope: Scope, send: Send, where: str) -> None:
    await send_problem(
        scope,
        send,
        422,
        "validation-failed",
        "Invalid input",
        "1 invalid field(s)",
        errors=[(where, _NUL_MESSAGE)],
    )


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the application the body already read, then the real one."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
