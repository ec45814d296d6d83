"""Watching an IMAP mailbox for payment notification e-mails: new messages, in order, once.

`MailboxWatcher` opens the mailbox read-only (EXAMINE), finds the messages above its cursor
with `UID SEARCH` and fetches each with `UID FETCH (BODY.PEEK[])` (nothing is marked seen).
Every raw message goes to the handler; the cursor (mailbox, UIDVALIDITY, last UID) advances
only after the handler returned, so a crash hands a message on again rather than losing it
(at least once: the store recognises a re-delivered message). A changed UIDVALIDITY means the
server renumbered the mailbox: the watch starts again from its beginning. Network errors close
the connection and reconnect with growing pauses; a refused login ends the watch.

This module owns the IMAP conversation and the URL it is given. It stores nothing itself (the
`CursorStore` does), parses no e-mail, and never logs a message, an address or a password.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import unquote, urlsplit

from tenantry.errors import AuthenticationError, ValidationError

__all__ = [
    "MAX_MESSAGE_BYTES",
    "BatchReport",
    "CursorStore",
    "ImapUrl",
    "MailboxWatcher",
    "MessageHandler",
    "parse_imap_url",
]

MessageHandler = Callable[[int, bytes], None]  # (UID, raw message)
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_FETCH_BATCH = 25
MAX_MESSAGE_BYTES = 20 * 1024 * 1024  # a notification is a few kilobytes; this is no notification
_UID = re.compile(rb"UID (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
_NETWORK_ERRORS = (OSError, imaplib.IMAP4.abort, socket.timeout)


@dataclass(frozen=True)
class ImapUrl:
    """`imaps://user@host[:port]/MAILBOX` (or `imap://`, upgraded by STARTTLS)."""

    secure: bool  # imaps: TLS from the first byte
    user: str
    host: str
    port: int
    mailbox: str

    @property
    def key(self) -> str:
        """The mailbox's identity for its cursor (no password)."""
        scheme = "imaps" if self.secure else "imap"
        return f"{scheme}://{self.user}@{self.host}:{self.port}/{self.mailbox}"


def parse_imap_url(value: str, *, insecure: bool = False) -> ImapUrl:
    """Parse and check a mailbox URL; plain `imap://` only to this machine or with `insecure`."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ValidationError("the IMAP URL is malformed") from None
    if parts.scheme not in ("imap", "imaps"):
        raise ValidationError("the mailbox URL must start with imaps:// (or imap://)")
    if parts.password is not None:
        raise ValidationError("put no password in the URL; use --password-env")
    if not parts.username or not parts.hostname:
        raise ValidationError("the IMAP URL needs a user and a host: imaps://user@host/INBOX")
    if parts.query or parts.fragment:
        raise ValidationError("the IMAP URL takes no query or fragment")
    mailbox = unquote(parts.path.lstrip("/")) or "INBOX"
    if any(ord(c) < 32 for c in mailbox) or len(mailbox) > 200:
        raise ValidationError("the mailbox name is not usable")
    secure = parts.scheme == "imaps"
    if not secure and parts.hostname not in _LOCAL_HOSTS and not insecure:
        raise ValidationError(
            "plain imap:// is only allowed to localhost; use imaps:// or pass --insecure"
        )
    return ImapUrl(
        secure=secure,
        user=unquote(parts.username),
        host=parts.hostname,
        port=port or (993 if secure else 143),
        mailbox=mailbox,
    )


class CursorStore(Protocol):
    """Where the watch keeps how far it has read a mailbox."""

    def load(self, mailbox: str) -> tuple[int, int] | None:
        """(UIDVALIDITY, last UID handed on), or None for a mailbox never read."""
        ...

    def save(self, mailbox: str, uidvalidity: int, last_uid: int) -> None: ...


@dataclass(frozen=True)
class BatchReport:
    """One pass over the mailbox, in counts."""

    fetched: int  # handed on
    reset: bool  # UIDVALIDITY changed: started again from the beginning
    skipped: int = 0  # larger than the watch takes: passed over

    def line(self) -> str:
        reset = " (mailbox renumbered: read again from the start)" if self.reset else ""
        skipped = f", {self.skipped} too large and skipped" if self.skipped else ""
        return f"payments watch: {self.fetched} new message(s) handed on{skipped}{reset}"


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


class MailboxWatcher:
    """The IMAP side of `tenantry payments watch` (see the module docstring)."""

    def __init__(
        self,
        url: ImapUrl,
        password: str,
        store: CursorStore,
        *,
        timeout: float = 60.0,
        ssl_context: ssl.SSLContext | None = None,
        max_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        self.url = url
        self._password = password
        self.store = store
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.ssl_context = ssl_context or ssl.create_default_context()
        self._conn: imaplib.IMAP4 | None = None

    def _connect(self) -> imaplib.IMAP4:
        url = self.url
        conn: imaplib.IMAP4
        if url.secure:
            conn = imaplib.IMAP4_SSL(
                url.host, url.port, ssl_context=self.ssl_context, timeout=self.timeout
            )
        else:
            conn = imaplib.IMAP4(url.host, url.port, timeout=self.timeout)
            if "STARTTLS" in conn.capabilities:
                conn.starttls(self.ssl_context)
        try:
            conn.login(url.user, self._password)
        except imaplib.IMAP4.abort:
            raise
        except imaplib.IMAP4.error:
            _close(conn)
            raise AuthenticationError("the IMAP server refused the login") from None
        return conn

    def close(self) -> None:
        """Log out (quietly: the connection may be gone already)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            _close(conn)

    def poll(self, handle: MessageHandler) -> BatchReport:
        """Hand on every message above the cursor, oldest first; the cursor follows each."""
        if self._conn is None:
            self._conn = self._connect()
        conn = self._conn
        typ, _ = conn.select(_quote(self.url.mailbox), readonly=True)
        if typ != "OK":
            raise ValidationError("the mailbox does not exist or cannot be opened")
        _, found = conn.response("UIDVALIDITY")
        if not found or found[0] is None:
            raise imaplib.IMAP4.abort("the server sent no UIDVALIDITY")
        uidvalidity = int(found[-1])
        cursor = self.store.load(self.url.key)
        reset = cursor is not None and cursor[0] != uidvalidity
        last = cursor[1] if cursor is not None and not reset else 0
        if cursor is None or reset:
            self.store.save(self.url.key, uidvalidity, last)
        uids = self._search(conn, last)
        handed = skipped = 0
        for start in range(0, len(uids), _FETCH_BATCH):
            chunk = uids[start : start + _FETCH_BATCH]
            sizes = self._sizes(conn, chunk)
            wanted = [uid for uid in chunk if sizes.get(uid, 0) <= self.max_bytes]
            fetched = dict(self._fetch(conn, wanted)) if wanted else {}
            for uid in chunk:
                if uid in fetched:
                    handle(uid, fetched[uid])
                    handed += 1
                elif sizes.get(uid, 0) > self.max_bytes:
                    skipped += 1
                # else: deleted since the search. Either way the cursor moves past it.
                self.store.save(self.url.key, uidvalidity, uid)
        return BatchReport(fetched=handed, reset=reset, skipped=skipped)

    @staticmethod
    def _search(conn: imaplib.IMAP4, last: int) -> list[int]:
        typ, data = conn.uid("SEARCH", "UID", f"{last + 1}:*")
        if typ != "OK":
            raise imaplib.IMAP4.abort("UID SEARCH failed")
        found = b" ".join(d for d in data if isinstance(d, bytes)).split()
        # `n:*` also matches the newest message when none is above n: keep only those above.
        return sorted({int(u) for u in found if u.isdigit() and int(u) > last})

    @staticmethod
    def _sizes(conn: imaplib.IMAP4, uids: list[int]) -> dict[int, int]:
        """Each message's size, asked before its body is fetched."""
        typ, data = conn.uid("FETCH", ",".join(map(str, uids)), "(UID RFC822.SIZE)")
        if typ != "OK":
            raise imaplib.IMAP4.abort("UID FETCH RFC822.SIZE failed")
        sizes: dict[int, int] = {}
        for part in data:
            line = part[0] if isinstance(part, tuple) else part
            if isinstance(line, bytes):
                uid, size = _UID.search(line), _SIZE.search(line)
                if uid is not None and size is not None:
                    sizes[int(uid.group(1))] = int(size.group(1))
        return sizes

    @staticmethod
    def _fetch(conn: imaplib.IMAP4, uids: list[int]) -> list[tuple[int, bytes]]:
        typ, data = conn.uid("FETCH", ",".join(map(str, uids)), "(UID BODY.PEEK[])")
        if typ != "OK":
            raise imaplib.IMAP4.abort("UID FETCH failed")
        messages: dict[int, bytes] = {}
        for part in data:
            if isinstance(part, tuple):
                match = _UID.search(part[0])
                if match is not None:
                    messages[int(match.group(1))] = part[1]
        # A message deleted meanwhile is simply not there; the rest go on in UID order.
        return [(uid, messages[uid]) for uid in uids if uid in messages]

    def run(
        self,
        handle: MessageHandler,
        *,
        interval: float,
        stop: threading.Event,
        report: Callable[[BatchReport], None],
        once: bool = False,
        max_backoff: float = 60.0,
        attempts: int | None = None,
    ) -> int:
        """Poll until `stop` is set (or one pass with `once`); returns the passes completed.

        A network error closes the connection, waits (1, 2, 4, ... up to `max_backoff`
        seconds) and reconnects; `attempts` consecutive failures (None: no limit) end the watch
        with the last error. A refused login, a missing mailbox or an error of the handler end
        it at once.
        """
        passes = 0
        failures = 0
        try:
            while not stop.is_set():
                try:
                    outcome = self.poll(handle)
                except _NETWORK_ERRORS:
                    self.close()
                    failures += 1
                    if attempts is not None and failures >= attempts:
                        raise
                    stop.wait(min(max_backoff, 2.0 ** (failures - 1)))
                    continue
                failures = 0
                passes += 1
                report(outcome)
                if once:
                    break
                stop.wait(interval)
        finally:
            self.close()
        return passes


def _close(conn: imaplib.IMAP4) -> None:
    try:
        conn.logout()
    except (*_NETWORK_ERRORS, imaplib.IMAP4.error):
        with contextlib.suppress(OSError):
            conn.shutdown()
