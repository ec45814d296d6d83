"""POST writes of the API: the caller's write handed to the service layer, its result rendered.

The transaction (one commit point, the `Idempotency-Key` record, group commit) is
`tenantry.services.idempotency`'s; this module only turns a request context into the service's
`IdempotentWrite` and a `WriteResult` into a response (a replay carries
`Idempotent-Replayed: true`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from fastapi.responses import Response
from pydantic import BaseModel

from tenantry.api.deps import Ctx, json_response
from tenantry.db.uow import UnitOfWork
from tenantry.services.idempotency import (
    IDEMPOTENCY_TTL,
    IdempotentWrite,
    Writer,
    WriteResult,
    Written,
    prune_expired,
    run_write,
    run_writes,
)

__all__ = [
    "IDEMPOTENCY_TTL",
    "Outcome",
    "WriteRequest",
    "Written",
    "perform_write",
    "perform_writes",
    "prune_expired",
    "render",
]

_REPLAYED = {"Idempotent-Replayed": "true"}


def render(result: WriteResult) -> Response:
    """The response of a write (or of its replay)."""
    headers = _REPLAYED if result.replayed else None
    if result.body is not None:
        return json_response(result.body, result.status, headers)
    return Response(
        content=json.dumps(result.raw).encode(),
        status_code=result.status,
        media_type="application/json",
        headers=headers,
    )


@dataclass(frozen=True)
class WriteRequest:
    """One write of a request, to be run alone or together with the caller's others."""

    ctx: Ctx
    method: str
    path: str
    body: BaseModel | None
    key: str | None
    write: Callable[[UnitOfWork], Written]
    platform: bool = False

    def service(self) -> IdempotentWrite:
        ctx = self.ctx
        writer = Writer(
            principal=ctx.principal,
            ref=ctx.caller.ref,
            open_uow=ctx.platform_uow if self.platform else ctx.uow,
            renderers=ctx.state.renderers,
        )
        return IdempotentWrite(writer, self.method, self.path, self.body, self.key, self.write)

    def run_alone(self) -> Response:
        return render(run_write(self.service()))


def perform_write(
    ctx: Ctx,
    *,
    method: str,
    path: str,
    body: BaseModel | None,
    key: str | None,
    write: Callable[[UnitOfWork], Written],
    platform: bool = False,
) -> Response:
    """Run `write` in one unit of work (platform: as the owner), honouring the key."""
    return WriteRequest(ctx, method, path, body, key, write, platform).run_alone()


Outcome = Response | Exception


def perform_writes(requests: list[WriteRequest]) -> list[Outcome]:
    """The writes of one caller in one transaction (see `services.idempotency.run_writes`)."""
    outcomes = run_writes([r.service() for r in requests])
    return [o if isinstance(o, Exception) else render(o) for o in outcomes]
