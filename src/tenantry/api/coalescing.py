"""Group commit for POST writes: concurrent writes of one caller share one transaction.

Every write transaction that touches an audited table holds its tenant's audit chain head
until it commits, so one tenant's writes commit one after another, each paying its own round
trips, audit appends and WAL flush. While a batch of a caller's writes is in the database,
that caller's next writes wait here; when it is done they go together, as one transaction
(`perform_writes`), and each request gets its own response (or error) once that commits. An idle
API sends a write at once; under load, batches grow with the load, up to `max_batch`. Callers
are told apart by tenant and principal reference, so a batch has one audit actor.

After a batch, the next one waits up to `gather_seconds` for as many writes as the last one
had: the clients it has just answered send their next writes a moment later. Without the
wait, a straggler that arrived during the batch went alone, the others waited for it and went
together, and the two alternated for good: half the batches of a steady load were single
writes (measured: 399 of 797), each paying a whole transaction.

Only writes that do nothing but database work in their unit of work may be coalesced: when a
batch fails, each of its writes runs again alone.
"""

from __future__ import annotations

import asyncio

from anyio import to_thread
from fastapi.responses import Response

from tenantry.api.idempotency import Outcome, WriteRequest, perform_writes

__all__ = ["WriteCoalescer"]

_GroupKey = tuple[asyncio.AbstractEventLoop, object, str, bool]
_Waiting = list[tuple[WriteRequest, "asyncio.Future[Response]"]]


class _Group:
    def __init__(self) -> None:
        self.waiting: _Waiting = []
        self.drains = 0
        self.wanted = 0  # the drain waits for this many writes (0: it does not wait)
        self.filled = asyncio.Event()


class WriteCoalescer:
    """Runs the concurrent writes of each caller in batches of at most `max_batch`.

    Up to `in_flight` batches of one caller run at a time (one by default: a second batch of
    the same tenant would mostly wait for the first one's audit chain lock, and measured
    slower; with several worker processes the tenant has one batch in flight per worker).
    """

    def __init__(self, max_batch: int, in_flight: int = 1, gather_seconds: float = 0.002) -> None:
        self.max_batch = max_batch
        self.in_flight = in_flight
        self.gather_seconds = gather_seconds
        self._groups: dict[_GroupKey, _Group] = {}
        self._drains: set[asyncio.Task[None]] = set()

    async def submit(self, request: WriteRequest) -> Response:
        """The response of `request`, written alone or together with the caller's others."""
        if self.max_batch <= 1:
            return await to_thread.run_sync(request.run_alone)
        caller = request.ctx.caller
        loop = asyncio.get_running_loop()
        key: _GroupKey = (loop, caller.tenant_id, caller.ref, request.platform)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group()
        future: asyncio.Future[Response] = loop.create_future()
        group.waiting.append((request, future))
        if group.wanted and len(group.waiting) >= group.wanted:
            group.filled.set()
        if group.drains < self.in_flight:
            # The drain takes its first batch when it starts, on a later turn of the loop:
            # requests that arrive meanwhile join it.
            group.drains += 1
            drain = loop.create_task(self._drain(key, group))
            self._drains.add(drain)
            drain.add_done_callback(self._drains.discard)
        return await future

    async def _drain(self, key: _GroupKey, group: _Group) -> None:
        """Write the group's waiting requests batch by batch until none are left."""
        batch: _Waiting = []
        try:
            while group.waiting:
                # A request cancelled while it waited (its client went away) is not written.
                batch = [(r, f) for r, f in group.waiting[: self.max_batch] if not f.done()]
                del group.waiting[: self.max_batch]
                if not batch:
                    continue
                outcomes = await to_thread.run_sync(perform_writes, [r for r, _f in batch])
                for (_request, future), outcome in zip(batch, outcomes, strict=True):
                    _settle(future, outcome)
                await self._gather(group, len(batch))
                batch = []
        except BaseException as exc:  # cancelled at shutdown: nobody may wait forever
            for _request, future in [*batch, *group.waiting]:
                if isinstance(exc, Exception):
                    _settle(future, exc)
                elif not future.done():
                    future.cancel()
            group.waiting.clear()
            raise
        finally:
            group.drains -= 1
            if group.drains == 0 and not group.waiting:
                self._groups.pop(key, None)

    async def _gather(self, group: _Group, last: int) -> None:
        """Wait (briefly) until as many writes wait as the last batch had, or some arrived."""
        wanted = min(last, self.max_batch)
        if not group.waiting or len(group.waiting) >= wanted or self.gather_seconds <= 0:
            return
        if self.in_flight != 1:  # the group's wait is one drain's: others would disarm it
            return
        group.wanted = wanted
        group.filled.clear()
        try:
            async with asyncio.timeout(self.gather_seconds):
                await group.filled.wait()
        except TimeoutError:
            pass
        finally:
            group.wanted = 0


def _settle(future: asyncio.Future[Response], outcome: Outcome) -> None:
    if future.done():  # its request was cancelled (the client went away)
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
