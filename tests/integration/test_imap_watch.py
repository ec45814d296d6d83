"""The IMAP watch against a real IMAP server (`tests/imap_server.py`) over TCP and TLS.

New messages only, in UID order, never marked seen; the cursor moves only after a message was
handed on; a renumbered mailbox (new UIDVALIDITY) is read again; a dropped connection is
reconnected; a refused login ends the watch; cursors persist in `commerce.mailbox_cursors`.
"""

from __future__ import annotations

import imaplib
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tenantry.db.engine import Database
from tenantry.errors import AuthenticationError, ValidationError
from tenantry.models import MailboxCursor
from tenantry.payments.cursors import DatabaseCursors
from tenantry.payments.imap import BatchReport, ImapUrl, MailboxWatcher, parse_imap_url
from tests.conftest import TenantFixture
from tests.imap_server import ImapTestServer, self_signed_certificate

PASSWORD = "not-a-real-password"


def message(n: int) -> bytes:
    return (
        b"From: Venmo <venmo@venmo.example.com>\r\n"
        b"To: payments@example.com\r\n"
        b"Subject: Erika Mustermann paid you $%d.00\r\n"
        b"Message-ID: <m%d@example.com>\r\n\r\n"
        b"Payment number %d.\r\n" % (n, n, n)
    )


class MemoryCursors:
    def __init__(self) -> None:
        self.saved: dict[str, tuple[int, int]] = {}

    def load(self, mailbox: str) -> tuple[int, int] | None:
        return self.saved.get(mailbox)

    def save(self, mailbox: str, uidvalidity: int, last_uid: int) -> None:
        self.saved[mailbox] = (uidvalidity, last_uid)


class Collector:
    def __init__(self, fail_on: int | None = None) -> None:
        self.seen: list[tuple[int, bytes]] = []
        self.fail_on = fail_on

    def __call__(self, uid: int, raw: bytes) -> None:
        if uid == self.fail_on:
            raise RuntimeError("the store is down")
        self.seen.append((uid, raw))


@pytest.fixture
def imap() -> Iterator[ImapTestServer]:
    with ImapTestServer(password=PASSWORD) as s:
        yield s


def plain_url(imap: ImapTestServer, mailbox: str = "INBOX") -> ImapUrl:
    return parse_imap_url(f"imap://{imap.user}@127.0.0.1:{imap.port}/{mailbox}")


def test_only_new_messages_are_handed_on_in_uid_order_and_never_marked_seen(
    imap: ImapTestServer,
) -> None:
    for n in (1, 2, 3):
        imap.add(message(n))
    store = MemoryCursors()
    watcher = MailboxWatcher(plain_url(imap), PASSWORD, store)
    got = Collector()
    try:
        first = watcher.poll(got)
        assert first == BatchReport(fetched=3, reset=False)
        assert [uid for uid, _ in got.seen] == [1, 2, 3]
        assert got.seen[1][1] == message(2)
        assert watcher.poll(got).fetched == 0  # `4:*` matches UID 3: not handed on again
        imap.add(message(4))
        assert watcher.poll(got).fetched == 1
    finally:
        watcher.close()
    assert [uid for uid, _ in got.seen] == [1, 2, 3, 4]
    assert store.saved[watcher.url.key] == (1000, 4)
    commands = " ".join(imap.commands)
    assert "EXAMINE" in commands and "SELECT" not in commands
    assert "BODY.PEEK[]" in commands and "STORE" not in commands
    assert PASSWORD not in commands


def test_the_cursor_moves_only_past_messages_the_handler_took(imap: ImapTestServer) -> None:
    for n in (1, 2, 3):
        imap.add(message(n))
    store = MemoryCursors()
    watcher = MailboxWatcher(plain_url(imap), PASSWORD, store)
    try:
        with pytest.raises(RuntimeError):
            watcher.poll(Collector(fail_on=2))
        assert store.saved[watcher.url.key] == (1000, 1)
        again = Collector()
        watcher.poll(again)  # after a crash: from the message that failed
    finally:
        watcher.close()
    assert [uid for uid, _ in again.seen] == [2, 3]


def test_a_message_larger_than_the_limit_is_passed_over_not_fetched(imap: ImapTestServer) -> None:
    imap.add(message(1))
    imap.add(message(2) + b"x" * 5000)
    imap.add(message(3))
    store = MemoryCursors()
    watcher = MailboxWatcher(plain_url(imap), PASSWORD, store, max_bytes=1000)
    got = Collector()
    try:
        report = watcher.poll(got)
    finally:
        watcher.close()
    assert report == BatchReport(fetched=2, reset=False, skipped=1)
    assert "1 too large and skipped" in report.line()
    assert [uid for uid, _ in got.seen] == [1, 3]
    assert store.saved[watcher.url.key] == (1000, 3)
    fetched = [c for c in imap.commands if "BODY.PEEK[]" in c]
    assert fetched and all(" 2 " not in c and ",2," not in c for c in fetched)


def test_a_new_uidvalidity_reads_the_mailbox_again_from_the_start(
    imap: ImapTestServer,
) -> None:
    for n in (1, 2):
        imap.add(message(n))
    store = MemoryCursors()
    watcher = MailboxWatcher(plain_url(imap), PASSWORD, store)
    got = Collector()
    try:
        watcher.poll(got)
        imap.renumber(2000)
        report = watcher.poll(got)
    finally:
        watcher.close()
    assert report == BatchReport(fetched=2, reset=True)
    assert [uid for uid, _ in got.seen] == [1, 2, 1, 2]
    assert store.saved[watcher.url.key] == (2000, 2)


def test_a_dropped_connection_is_reconnected_and_nothing_is_lost_or_repeated(
    imap: ImapTestServer,
) -> None:
    for n in (1, 2, 3):
        imap.add(message(n))
    imap.drop_on_fetch = 2
    store = MemoryCursors()
    got = Collector()
    reports: list[BatchReport] = []
    watcher = MailboxWatcher(plain_url(imap), PASSWORD, store, timeout=5)
    passes = watcher.run(
        got, interval=0, stop=threading.Event(), report=reports.append, once=True,
        max_backoff=0.01, attempts=5,
    )  # fmt: skip
    assert passes == 1 and imap.logins == 3
    assert [uid for uid, _ in got.seen] == [1, 2, 3]
    assert reports == [BatchReport(fetched=3, reset=False)]


def test_a_watch_gives_up_after_its_attempts_when_the_server_keeps_failing(
    imap: ImapTestServer,
) -> None:
    imap.add(message(1))
    imap.drop_on_fetch = 10
    watcher = MailboxWatcher(plain_url(imap), PASSWORD, MemoryCursors(), timeout=5)
    with pytest.raises((imaplib.IMAP4.abort, OSError)):
        watcher.run(
            Collector(), interval=0, stop=threading.Event(), report=lambda _r: None,
            once=True, max_backoff=0.01, attempts=2,
        )  # fmt: skip
    assert imap.logins == 2


def test_a_running_watch_polls_until_stopped(imap: ImapTestServer) -> None:
    imap.add(message(1))
    stop = threading.Event()
    got = Collector()
    reports: list[BatchReport] = []

    def report(r: BatchReport) -> None:
        reports.append(r)
        if len(reports) == 1:
            imap.add(message(2))
        elif len(reports) == 3:
            stop.set()

    watcher = MailboxWatcher(plain_url(imap), PASSWORD, MemoryCursors())
    passes = watcher.run(got, interval=0.01, stop=stop, report=report)
    assert passes == 3
    assert [uid for uid, _ in got.seen] == [1, 2]
    assert [r.fetched for r in reports] == [1, 1, 0]


def test_a_refused_login_ends_the_watch_without_retrying(imap: ImapTestServer) -> None:
    watcher = MailboxWatcher(plain_url(imap), "wrong-password", MemoryCursors())
    with pytest.raises(AuthenticationError) as caught:
        watcher.run(Collector(), interval=0, stop=threading.Event(), report=lambda _r: None)
    assert "wrong-password" not in str(caught.value)
    assert sum(c.startswith("LOGIN") or " LOGIN " in c for c in imap.commands) == 1


def test_a_missing_mailbox_is_a_clear_error(imap: ImapTestServer) -> None:
    watcher = MailboxWatcher(plain_url(imap, "Payments"), PASSWORD, MemoryCursors())
    with pytest.raises(ValidationError, match="mailbox"):
        watcher.run(Collector(), interval=0, stop=threading.Event(), report=lambda _r: None)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    cert, key = self_signed_certificate(Path(tmp_path_factory.mktemp("imap-tls")))
    server_side = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_side.load_cert_chain(cert, key)
    client_side = ssl.create_default_context(cafile=str(cert))
    return server_side, client_side


@pytest.mark.parametrize("implicit", [True, False], ids=["imaps", "starttls"])
def test_messages_are_read_over_tls(
    tls: tuple[ssl.SSLContext, ssl.SSLContext], implicit: bool
) -> None:
    server_side, client_side = tls
    with ImapTestServer(password=PASSWORD, tls=server_side, implicit_tls=implicit) as server:
        server.add(message(1))
        scheme = "imaps" if implicit else "imap"
        url = parse_imap_url(f"{scheme}://{server.user}@localhost:{server.port}/INBOX")
        got = Collector()
        watcher = MailboxWatcher(url, PASSWORD, MemoryCursors(), ssl_context=client_side)
        try:
            watcher.poll(got)
        finally:
            watcher.close()
        assert [uid for uid, _ in got.seen] == [1]
        assert implicit or server.commands[1].endswith("STARTTLS")


def test_a_certificate_that_is_not_trusted_is_refused(
    tls: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    server_side, _ = tls
    with ImapTestServer(password=PASSWORD, tls=server_side, implicit_tls=True) as server:
        url = parse_imap_url(f"imaps://{server.user}@localhost:{server.port}/INBOX")
        watcher = MailboxWatcher(url, PASSWORD, MemoryCursors(), timeout=5)
        with pytest.raises(ssl.SSLError):
            watcher.run(
                Collector(), interval=0, stop=threading.Event(), report=lambda _r: None,
                once=True, max_backoff=0.01, attempts=1,
            )  # fmt: skip
        assert server.logins == 0


def test_cursors_persist_per_tenant_and_mailbox(
    db: Database, imap: ImapTestServer, tenant: TenantFixture, other_tenant: TenantFixture
) -> None:
    for n in (1, 2):
        imap.add(message(n))
    url = plain_url(imap)
    first = MailboxWatcher(url, PASSWORD, DatabaseCursors(db, tenant.id))
    try:
        first.poll(Collector())
    finally:
        first.close()
    imap.add(message(3))
    got = Collector()
    restarted = MailboxWatcher(url, PASSWORD, DatabaseCursors(db, tenant.id))
    try:
        restarted.poll(got)  # a new process: the position comes from the database
    finally:
        restarted.close()
    assert [uid for uid, _ in got.seen] == [3]
    assert DatabaseCursors(db, tenant.id).load(url.key) == (1000, 3)
    assert DatabaseCursors(db, other_tenant.id).load(url.key) is None
    with db.tenant_uow(other_tenant.id) as uow:  # RLS: the other tenant sees no cursor
        assert uow.session.scalar(select(func.count()).select_from(MailboxCursor)) == 0
