"""Access (GDPR Art. 15) and portability (Art. 20): a machine-readable bundle of everything
the tenant holds about a subject.

The zip holds `manifest.json` (every source searched, how, and what was found),
`data/<schema.table>.json` for each table with rows, and `summary.txt` for people. It is
written to a temporary file beside the target and renamed, so a failure leaves no partial file.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tenantry.db.uow import UnitOfWork
from tenantry.errors import NotFoundError, ValidationError
from tenantry.models.enums import DsarKind, DsarStatus
from tenantry.privacy.dsar import close_request, open_request
from tenantry.privacy.footprint import find_footprint, row_dicts
from tenantry.privacy.keys import KeyRing

__all__ = ["ExportResult", "export_subject"]

FORMAT = "tenantry-dsar-export/1"


@dataclass(frozen=True)
class ExportResult:
    request_id: str
    path: Path
    rows: int
    tables: int


def export_subject(uow: UnitOfWork, ring: KeyRing, email: str, out: Path) -> ExportResult:
    """Write the subject's bundle to `out` and record the access request as completed."""
    if out.suffix != ".zip":
        raise ValidationError("the export file must end in .zip")
    if not out.parent.exists():
        raise ValidationError("the export file's folder does not exist")
    fp = find_footprint(uow, ring, email)
    if fp.total == 0:
        raise NotFoundError("no data about this e-mail address in this tenant")
    request = open_request(uow, ring, kind=DsarKind.ACCESS, email=email)
    now = uow.clock.now()
    files = {}
    for table, ids in fp.rows.items():
        if ids:
            files[f"data/{table}.json"] = row_dicts(uow, ring, table, ids)
    manifest = {
        "format": FORMAT,
        "request_id": str(request.id),
        "tenant_id": str(uow.require_tenant()),
        "generated_at": now.isoformat(),
        "sources": fp.manifest,
        "files": sorted(files),
    }
    lines = [
        f"Data export for request {request.id}",
        f"Generated {now:%Y-%m-%d %H:%M} UTC",
        "",
        "We searched these sources:",
    ]
    lines += [
        f"  {m['source']:<34} {m['rows']:>5} record(s)  ({m['searched_by']})" for m in fp.manifest
    ]
    lines += ["", "Each file in data/ holds the records of one table as JSON."]
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".partial")
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("manifest.json", json.dumps(manifest, indent=2))
            for name, rows in files.items():
                zf.writestr(name, json.dumps(rows, indent=2, ensure_ascii=False, default=str))
            zf.writestr("summary.txt", "\n".join(lines) + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    close_request(uow, request, status=DsarStatus.COMPLETED, outcome=f"exported {fp.total} rows")
    return ExportResult(str(request.id), out, fp.total, len(files))
