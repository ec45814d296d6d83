"""Access (GDPR Art. 15) and portability (Art. 20): a machine-readable bundle of everything
the tenant holds about a subject, sealed under the subject's own key when it is kept.

The bundle is a zip of `manifest.json` (every source searched, how, what was found, and which
columns hold pseudonyms rather than values), `data/<schema.table>.json` for each database table
with rows, `lake/<layer>/<table>.json` for each lake table with rows, and `summary.txt` for
people. It shows exactly the subject's footprint, the rows an erasure would act on.

A bundle is personal data. What tenantry keeps of it is sealed (AES-GCM) under the subject's
data key (`seal_bundle`), so the erasure that destroys that key shreds every kept copy too; a
sealed bundle opens (`open_bundle`) only while the key exists. Where the caller hands the
plaintext zip on (the API's response, `dsar export --out`), it leaves tenantry's custody.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import uuid
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tenantry.db.uow import UnitOfWork
from tenantry.errors import NotFoundError, ValidationError
from tenantry.models.enums import DsarKind, DsarStatus
from tenantry.privacy.crypto import DecryptionError, KeyDestroyedError, open_, seal
from tenantry.privacy.keys import KeyRing
from tenantry.privacy.subjects import resolve_subject
from tenantry.privacy.vault import keyring
from tenantry.services.principal import Action, Principal
from tenantry.services.privacy.dsar import close_request, open_request
from tenantry.services.privacy.footprint import (
    Footprint,
    find_footprint,
    pseudonymised_columns,
    row_dicts,
)

__all__ = [
    "SEALED_SUFFIX",
    "ExportResult",
    "SealedHeader",
    "export_subject",
    "open_bundle",
    "read_header",
    "seal_bundle",
    "sealed_name",
    "write_private",
]

FORMAT = "tenantry-dsar-export/1"
SEALED_SUFFIX = ".zip.sealed"
_MAGIC = b"tenantry-sealed-export/1\n"
_LAKE_PSEUDONYMS = ("user_key", "email_key")


@dataclass(frozen=True)
class ExportResult:
    request_id: uuid.UUID
    subject_id: uuid.UUID
    bundle: bytes  # the plaintext zip: personal data, never kept unsealed by tenantry
    rows: int
    tables: int


@dataclass(frozen=True)
class SealedHeader:
    """The clear header of a sealed bundle: ids only, no personal data."""

    tenant_id: uuid.UUID
    subject_id: uuid.UUID
    request_id: uuid.UUID
    key_version: int


def _lake_pseudonyms(rows: list[dict[str, object]]) -> list[str]:
    names = {name for row in rows for name in row}
    return sorted(n for n in names if n in _LAKE_PSEUDONYMS or n.endswith("_key"))


def _bundle(
    fp: Footprint, files: dict[str, list[dict[str, object]]], head: dict[str, str]
) -> bytes:
    pseudonyms = {
        name: pseudonymised_columns(name[len("data/") : -len(".json")])
        if name.startswith("data/")
        else _lake_pseudonyms(rows)
        for name, rows in files.items()
    }
    manifest = {
        "format": FORMAT,
        **head,
        "sources": fp.manifest,
        "files": sorted(files),
        "pseudonymised_columns": {k: v for k, v in sorted(pseudonyms.items()) if v},
    }
    lines = [
        f"Data export for request {head['request_id']}",
        f"Generated {datetime.fromisoformat(head['generated_at']):%Y-%m-%d %H:%M} UTC",
        "",
        "We searched these sources:",
    ]
    lines += [
        f"  {m['source']:<34} {m['rows']:>5} record(s)  ({m['searched_by']})" for m in fp.manifest
    ]
    lines += [
        "",
        "Each file in data/ holds the records of one database table as JSON, each file in lake/",
        "the records of one analytics table. Events and analytics know you only by pseudonyms",
        "(keyed hashes such as user_key and email_key, listed in manifest.json): they are shown",
        "as stored.",
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest, indent=2))
        for name, rows in files.items():
            zf.writestr(name, json.dumps(rows, indent=2, ensure_ascii=False, default=str))
        zf.writestr("summary.txt", "\n".join(lines) + "\n")
    return buffer.getvalue()


def export_subject(
    uow: UnitOfWork, principal: Principal, email: str, *, lake_home: Path | None = None
) -> ExportResult:
    """Build the subject's bundle and record the access request as completed.

    With `lake_home` (`$TENANTRY_HOME`), the subject's lake rows are part of the bundle.
    """
    principal.require(Action.PRIVACY)
    ring = keyring(uow)
    fp = find_footprint(uow, ring, email, lake_home=lake_home)
    if fp.total == 0:
        raise NotFoundError("no data about this e-mail address in this tenant")
    # The subject owns the key its kept bundles are sealed under; a footprint without a
    # registered subject gets one now, so that erasure finds and shreds it.
    subject = fp.subject or resolve_subject(uow, ring, email=fp.email)
    request = open_request(uow, ring, kind=DsarKind.ACCESS, email=email)
    if request.subject_id is not None:  # this request is now part of the footprint too
        fp.rows.setdefault("privacy.dsar_requests", []).append(request.id)
    files: dict[str, list[dict[str, object]]] = {}
    for table, ids in fp.rows.items():
        if ids:
            files[f"data/{table}.json"] = row_dicts(uow, ring, table, ids)
    for table, rows in fp.lake.items():
        if rows:
            files[f"lake/{table}.json"] = rows
    head = {
        "request_id": str(request.id),
        "tenant_id": str(uow.require_tenant()),
        "generated_at": uow.clock.now().isoformat(),
    }
    bundle = _bundle(fp, files, head)
    close_request(uow, request, status=DsarStatus.COMPLETED, outcome=f"exported {fp.total} rows")
    return ExportResult(request.id, subject.id, bundle, fp.total, len(files))


def _aad(header: SealedHeader) -> bytes:
    return f"dsar-export|{header.tenant_id}|{header.subject_id}|{header.request_id}".encode()


def seal_bundle(ring: KeyRing, result: ExportResult) -> bytes:
    """The bundle sealed under the subject's data key, behind a clear header of ids."""
    version, key = ring.subject_key(result.subject_id)
    header = SealedHeader(ring.tenant_id, result.subject_id, result.request_id, version)
    line = json.dumps(
        {
            "tenant_id": str(header.tenant_id),
            "subject_id": str(header.subject_id),
            "request_id": str(header.request_id),
            "key_version": version,
        }
    ).encode()
    return _MAGIC + line + b"\n" + seal(key, result.bundle, _aad(header), version=version)


def read_header(data: bytes) -> SealedHeader | None:
    """The header of a sealed bundle, or None when the bytes are not one."""
    if not data.startswith(_MAGIC):
        return None
    line, _, _ = data[len(_MAGIC) :].partition(b"\n")
    try:
        raw = json.loads(line)
        return SealedHeader(
            uuid.UUID(raw["tenant_id"]),
            uuid.UUID(raw["subject_id"]),
            uuid.UUID(raw["request_id"]),
            int(raw["key_version"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


def open_bundle(ring: KeyRing, data: bytes) -> bytes:
    """The plaintext zip of a sealed bundle of this tenant; `KeyDestroyedError` once the
    subject has been erased."""
    header = read_header(data)
    if header is None or header.tenant_id != ring.tenant_id:
        raise ValidationError("not a sealed export of this tenant")
    _prefix, _, rest = data[len(_MAGIC) :].partition(b"\n")
    try:
        _version, key = ring.subject_key(header.subject_id)
    except NotFoundError:
        raise KeyDestroyedError() from None
    try:
        return open_(key, rest, _aad(header))
    except DecryptionError:
        raise ValidationError("the sealed export is damaged or was altered") from None


def write_private(data: bytes, out: Path) -> Path:
    """Write the file readable by its owner only, via a temporary file beside it and a rename,
    so a failure leaves no partial file."""
    if not out.parent.is_dir():
        raise ValidationError("the export file's folder does not exist")
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def sealed_name(request_id: uuid.UUID) -> str:
    """The file name of a kept (sealed) bundle: ids only."""
    return f"dsar-{request_id}{SEALED_SUFFIX}"
