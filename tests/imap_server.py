"""A small IMAP4rev1 server for tests: real TCP, real protocol, one thread per connection.

Speaks what `tenantry payments watch` needs and a client may send around it: CAPABILITY,
LOGIN, SELECT/EXAMINE, UID SEARCH, UID FETCH (BODY.PEEK[] / BODY[], or RFC822.SIZE), NOOP,
LOGOUT and, when given a TLS context, STARTTLS (or TLS from the first byte with
`implicit_tls`). Mailboxes are
in memory: `add` appends a message with the next UID, `renumber` gives a mailbox a new
UIDVALIDITY (as a server does after rebuilding it). `drop_on_fetch` makes the server cut the
connection when the next UID FETCH arrives, as a network failure would. `commands` records
every command line (the password masked) for assertions.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import re
import socket
import ssl
import threading
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ImapTestServer", "self_signed_certificate"]

_TOKEN = re.compile(rb'"((?:[^"\\]|\\.)*)"|(\S+)')


@dataclass
class _Mailbox:
    uidvalidity: int
    messages: dict[int, bytes] = field(default_factory=dict)
    next_uid: int = 1


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for localhost and 127.0.0.1 and its key, as PEM files in `directory`."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "imap-cert.pem", directory / "imap-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _uid_set(spec: bytes, uids: list[int]) -> set[int]:
    """The UIDs an IMAP sequence set (`1,4:7,9:*`) names among `uids` (RFC 3501 6.4.8)."""
    top = max(uids, default=0)
    chosen: set[int] = set()
    for part in spec.split(b","):
        lo_text, _, hi_text = part.partition(b":")
        lo = top if lo_text == b"*" else int(lo_text)
        hi = lo if not hi_text else top if hi_text == b"*" else int(hi_text)
        lo, hi = min(lo, hi), max(lo, hi)
        chosen |= {u for u in uids if lo <= u <= hi}
    return chosen


class ImapTestServer:
    """Start with `start()` (or as a context manager); `port` is where it listens."""

    def __init__(
        self,
        *,
        user: str = "payments@example.com",
        password: str = "not-a-real-password",  # noqa: S107  (a test server)
        tls: ssl.SSLContext | None = None,
        implicit_tls: bool = False,
    ) -> None:
        self.user = user
        self.password = password
        self.tls = tls
        self.implicit_tls = implicit_tls
        self.mailboxes: dict[str, _Mailbox] = {"INBOX": _Mailbox(uidvalidity=1000)}
        self.commands: list[str] = []
        self.logins = 0
        self.drop_on_fetch = 0
        self._lock = threading.Lock()
        self._clients: set[socket.socket] = set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> ImapTestServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> ImapTestServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._listener.close()
        self.drop_connections()

    def add(self, raw: bytes, mailbox: str = "INBOX") -> int:
        with self._lock:
            box = self.mailboxes.setdefault(mailbox, _Mailbox(uidvalidity=1000))
            uid = box.next_uid
            box.messages[uid] = raw
            box.next_uid += 1
            return uid

    def renumber(self, uidvalidity: int, mailbox: str = "INBOX") -> None:
        """A new UIDVALIDITY: the same messages, numbered from 1 again."""
        with self._lock:
            box = self.mailboxes[mailbox]
            messages = [box.messages[u] for u in sorted(box.messages)]
            self.mailboxes[mailbox] = _Mailbox(
                uidvalidity=uidvalidity,
                messages={i + 1: m for i, m in enumerate(messages)},
                next_uid=len(messages) + 1,
            )

    def drop_connections(self) -> None:
        with self._lock:
            clients, self._clients = set(self._clients), set()
        for sock in clients:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    # -- the protocol ---------------------------------------------------------------------

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return  # stopped
            threading.Thread(target=self._serve, args=(sock,), daemon=True).start()

    def _serve(self, sock: socket.socket) -> None:
        try:
            if self.implicit_tls:
                assert self.tls is not None
                sock = self.tls.wrap_socket(sock, server_side=True)
            with self._lock:
                self._clients.add(sock)
            _Session(self, sock).run()
        except (OSError, ValueError):
            pass  # the client went away, or the test dropped the connection
        finally:
            with self._lock:
                self._clients.discard(sock)
            with contextlib.suppress(OSError):
                sock.close()


class _Session:
    def __init__(self, server: ImapTestServer, sock: socket.socket) -> None:
        self.server = server
        self.sock = sock
        self.reader = sock.makefile("rb")
        self.authenticated = False
        self.selected: str | None = None

    def send(self, line: bytes) -> None:
        self.sock.sendall(line + b"\r\n")

    def run(self) -> None:
        self.send(b"* OK IMAP4rev1 test server ready")
        while True:
            line = self.reader.readline(65536)
            if not line:
                return
            tokens = [m.group(1) if m.group(1) is not None else m.group(2)
                      for m in _TOKEN.finditer(line.rstrip(b"\r\n"))]  # fmt: skip
            if len(tokens) < 2:
                self.send(b"* BAD no command")
                continue
            tag, command, args = tokens[0], tokens[1].upper(), tokens[2:]
            logged = b"LOGIN <user> <password>" if command == b"LOGIN" else line.strip()
            self.server.commands.append(logged.decode(errors="replace"))
            if not self.dispatch(tag, command, args):
                return

    def dispatch(self, tag: bytes, command: bytes, args: list[bytes]) -> bool:
        if command == b"CAPABILITY":
            extra = (
                b" STARTTLS"
                if self.server.tls is not None and not self.server.implicit_tls
                else b""
            )
            self.send(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN" + extra)
            self.send(tag + b" OK CAPABILITY completed")
        elif command == b"NOOP":
            self.send(tag + b" OK NOOP completed")
        elif command == b"LOGOUT":
            self.send(b"* BYE logging out")
            self.send(tag + b" OK LOGOUT completed")
            return False
        elif command == b"STARTTLS" and self.server.tls is not None:
            self.send(tag + b" OK begin TLS negotiation now")
            self.sock = self.server.tls.wrap_socket(self.sock, server_side=True)
            with self.server._lock:
                self.server._clients.add(self.sock)
            self.reader = self.sock.makefile("rb")
        elif command == b"LOGIN" and len(args) == 2:
            password = re.sub(rb"\\(.)", rb"\1", args[1]).decode()
            if args[0].decode() == self.server.user and password == self.server.password:
                self.authenticated = True
                self.server.logins += 1
                self.send(tag + b" OK LOGIN completed")
            else:
                self.send(tag + b" NO [AUTHENTICATIONFAILED] invalid credentials")
        elif not self.authenticated:
            self.send(tag + b" BAD log in first")
        elif command in (b"SELECT", b"EXAMINE") and len(args) == 1:
            self.select(tag, command, args[0].decode())
        elif command == b"UID" and args and self.selected is not None:
            return self.uid(tag, args[0].upper(), args[1:])
        else:
            self.send(tag + b" BAD unsupported command")
        return True

    def select(self, tag: bytes, command: bytes, name: str) -> None:
        with self.server._lock:
            box = self.server.mailboxes.get(name)
        if box is None:
            self.selected = None
            self.send(tag + b" NO no such mailbox")
            return
        self.selected = name
        self.send(b"* FLAGS (\\Seen \\Answered \\Flagged \\Deleted \\Draft)")
        self.send(b"* %d EXISTS" % len(box.messages))
        self.send(b"* 0 RECENT")
        self.send(b"* OK [UIDVALIDITY %d] UIDs valid" % box.uidvalidity)
        self.send(b"* OK [UIDNEXT %d] predicted next UID" % box.next_uid)
        mode = b"[READ-ONLY]" if command == b"EXAMINE" else b"[READ-WRITE]"
        self.send(tag + b" OK " + mode + b" " + command + b" completed")

    def uid(self, tag: bytes, sub: bytes, args: list[bytes]) -> bool:
        with self.server._lock:
            box = self.server.mailboxes[self.selected or "INBOX"]
            uids = sorted(box.messages)
            messages = dict(box.messages)
        if sub == b"SEARCH":
            spec = args[1] if len(args) == 2 and args[0].upper() == b"UID" else args[0]
            found = sorted(_uid_set(spec, uids))
            self.send(b"* SEARCH" + b"".join(b" %d" % u for u in found))
            self.send(tag + b" OK SEARCH completed")
        elif sub == b"FETCH" and len(args) >= 2:
            if self.server.drop_on_fetch > 0:
                self.server.drop_on_fetch -= 1
                return False  # the connection breaks off without an answer
            items = b" ".join(args[1:]).upper()
            if items == b"(UID RFC822.SIZE)":
                for uid in sorted(_uid_set(args[0], uids)):
                    seq = uids.index(uid) + 1
                    size = len(messages[uid])
                    self.send(b"* %d FETCH (UID %d RFC822.SIZE %d)" % (seq, uid, size))
                self.send(tag + b" OK FETCH completed")
                return True
            if b"BODY.PEEK[]" not in items and b"BODY[]" not in items:
                self.send(tag + b" BAD only BODY[], BODY.PEEK[] and RFC822.SIZE are served")
                return True
            for uid in sorted(_uid_set(args[0], uids)):
                raw = messages[uid]
                seq = uids.index(uid) + 1
                self.sock.sendall(b"* %d FETCH (UID %d BODY[] {%d}\r\n" % (seq, uid, len(raw)))
                self.sock.sendall(raw + b")\r\n")
            self.send(tag + b" OK FETCH completed")
        else:
            self.send(tag + b" BAD unsupported UID command")
        return True
