"""Signed checkpoints: the head of every chain at one moment, signed with Ed25519 and kept
twice, in `audit.checkpoints` and as a file under `$TENANTRY_HOME/audit-checkpoints/<db>/`.

The file copy is the anchor that lives outside the database: whoever rewrites a whole chain
inside the database, hashes included, still cannot make it match a head signed earlier. This
module owns the signing key (loading, creating it with mode 0600), the payload format, and
reading and writing both copies. It does not walk chains (see `verify.py`).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from tenantry.config import Settings
from tenantry.errors import ConfigurationError

__all__ = [
    "FORMAT",
    "HeadRef",
    "SignedCheckpoint",
    "create_checkpoint",
    "database_copy",
    "latest_file",
    "load_signing_key",
    "public_key_bytes",
]

FORMAT = "tenantry-audit-checkpoint-v1"


@dataclass(frozen=True)
class HeadRef:
    """A chain position: entry `seq` whose hash is `hash_hex`."""

    seq: int
    hash_hex: str


@dataclass(frozen=True)
class SignedCheckpoint:
    id: uuid.UUID
    created_at: datetime
    payload: str
    signature: bytes
    public_key: bytes

    def heads(self) -> dict[uuid.UUID, HeadRef]:
        data = json.loads(self.payload)
        return {
            uuid.UUID(t): HeadRef(int(h["seq"]), str(h["hash"])) for t, h in data["heads"].items()
        }

    def signed_by(self, public_key: bytes) -> bool:
        """True when the signature over the payload verifies with `public_key`."""
        try:
            Ed25519PublicKey.from_public_bytes(public_key).verify(
                self.signature, self.payload.encode()
            )
        except (InvalidSignature, ValueError):
            return False
        return True

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "payload": self.payload,
                "signature": base64.b64encode(self.signature).decode(),
                "public_key": base64.b64encode(self.public_key).decode(),
            },
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> SignedCheckpoint:
        data = json.loads(text)
        payload = str(data["payload"])
        inner = json.loads(payload)
        return cls(
            id=uuid.UUID(inner["id"]),
            created_at=datetime.fromisoformat(inner["created_at"]),
            payload=payload,
            signature=base64.b64decode(data["signature"]),
            public_key=base64.b64decode(data["public_key"]),
        )


def _key_from_setting(value: str) -> Ed25519PrivateKey:
    try:
        if value.lstrip().startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(value.encode(), password=None)
        else:
            key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(value, validate=True))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise ConfigurationError("TENANTRY_AUDIT_SIGNING_KEY is not an Ed25519 key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError("TENANTRY_AUDIT_SIGNING_KEY is not an Ed25519 key")
    return key


def load_signing_key(settings: Settings, *, create: bool) -> Ed25519PrivateKey | None:
    """The configured signing key; created (mode 0600) when `create` and none exists yet."""
    if settings.audit_signing_key is not None:
        return _key_from_setting(settings.audit_signing_key.get_secret_value())
    path = settings.audit_signing_key_file
    if path.exists():
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except ValueError as exc:
            raise ConfigurationError("the audit signing key file is not a PEM key") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigurationError("the audit signing key file is not an Ed25519 key")
        return key
    if not create:
        return None
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return key


def public_key_bytes(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _directory(settings: Settings, database: str) -> Path:
    return settings.audit_checkpoint_dir / database


def create_checkpoint(
    conn: psycopg.Connection, settings: Settings, *, now: datetime, checkpoint_id: uuid.UUID
) -> SignedCheckpoint:
    """Sign the current head of every chain; store it in the database and as a file.

    `conn` is an owner connection; the heads are read and the checkpoint inserted in one
    transaction, so the signed heads are a consistent snapshot. The caller commits.
    """
    key = load_signing_key(settings, create=True)
    assert key is not None
    database = conn.execute("SELECT current_database()").fetchone()
    assert database is not None
    heads = {
        str(tenant): {"seq": seq, "hash": head}
        for tenant, seq, head in conn.execute(
            "SELECT tenant_id, seq, encode(head_hash, 'hex') FROM audit.chain_heads"
            " ORDER BY tenant_id"
        )
    }
    payload = json.dumps(
        {
            "format": FORMAT,
            "id": str(checkpoint_id),
            "created_at": now.isoformat(),
            "database": database[0],
            "heads": heads,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    checkpoint = SignedCheckpoint(
        id=checkpoint_id,
        created_at=now,
        payload=payload,
        signature=key.sign(payload.encode()),
        public_key=public_key_bytes(key),
    )
    conn.execute(
        "INSERT INTO audit.checkpoints (id, created_at, payload, signature, public_key)"
        " VALUES (%s, %s, %s, %s, %s)",
        (checkpoint.id, now, payload, checkpoint.signature, checkpoint.public_key),
    )
    directory = _directory(settings, database[0])
    directory.mkdir(parents=True, exist_ok=True)
    stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
    path = directory / f"{stamp}-{checkpoint.id}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(checkpoint.to_json() + "\n")
    tmp.replace(path)
    return checkpoint


def latest_file(settings: Settings, database: str) -> SignedCheckpoint | None:
    """The newest checkpoint kept outside the database, or None."""
    directory = _directory(settings, database)
    if not directory.is_dir():
        return None
    files = sorted(directory.glob("*.json"))
    if not files:
        return None
    try:
        return SignedCheckpoint.from_json(files[-1].read_text())
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigurationError(f"unreadable audit checkpoint file {files[-1].name}") from exc


def database_copy(conn: psycopg.Connection, checkpoint_id: uuid.UUID) -> SignedCheckpoint | None:
    row = conn.execute(
        "SELECT id, created_at, payload, signature, public_key FROM audit.checkpoints"
        " WHERE id = %s",
        (checkpoint_id,),
    ).fetchone()
    if row is None:
        return None
    return SignedCheckpoint(
        id=row[0],
        created_at=row[1],
        payload=row[2],
        signature=bytes(row[3]),
        public_key=bytes(row[4]),
    )
