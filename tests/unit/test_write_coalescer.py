"""The write coalescer's batching, with the database work replaced by a short sleep.

Clients that write one request after another (as a form backend or an import does) get their
answers together when their batch commits, and send their next writes a moment later. The
next batch waits for them instead of going off with the one write that happened to arrive
during the previous batch: without that wait the two alternated for good, one batch of all
the others and one of a single write.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.responses import Response

from tenantry.api import coalescing
from tenantry.api.coalescing import WriteCoalescer

CLIENTS = 16
WRITES_EACH = 12


def _request() -> Any:
    caller = SimpleNamespace(tenant_id=uuid.UUID(int=1), ref="apikey:test")
    return SimpleNamespace(ctx=SimpleNamespace(caller=caller), platform=False)


def _batch_sizes(monkeypatch: pytest.MonkeyPatch, coalescer: WriteCoalescer) -> Counter[int]:
    sizes: Counter[int] = Counter()

    def perform_writes(requests: list[Any]) -> list[Response]:
        sizes[len(requests)] += 1
        time.sleep(0.004)  # a transaction
        return [Response(status_code=201) for _ in requests]

    monkeypatch.setattr(coalescing, "perform_writes", perform_writes)

    async def client(n: int) -> None:
        await asyncio.sleep(n * 0.0003)  # the first writes arrive one by one
        for _ in range(WRITES_EACH):
            await coalescer.submit(_request())
            await asyncio.sleep(0.0005)  # the answer travels, the next write comes back

    async def load() -> None:
        await asyncio.gather(*(client(n) for n in range(CLIENTS)))

    asyncio.run(load())
    assert sum(size * count for size, count in sizes.items()) == CLIENTS * WRITES_EACH
    return sizes


def test_a_steady_load_is_written_in_full_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = _batch_sizes(monkeypatch, WriteCoalescer(max_batch=64, gather_seconds=0.05))
    batches = sum(sizes.values())
    # Twelve rounds of sixteen writes: a few batches more while the clients fall into step.
    assert batches <= WRITES_EACH + 6, sorted(sizes.items())
    assert sizes[1] <= 3, sorted(sizes.items())


def test_the_next_batch_waits_briefly_and_only_for_writes_that_come(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    coalescer = WriteCoalescer(max_batch=64, gather_seconds=0.3)
    sizes: list[int] = []

    def perform_writes(requests: list[Any]) -> list[Response]:
        sizes.append(len(requests))
        time.sleep(0.05)
        return [Response(status_code=201) for _ in requests]

    monkeypatch.setattr(coalescing, "perform_writes", perform_writes)

    async def scenario() -> tuple[float, float]:
        first = [asyncio.ensure_future(coalescer.submit(_request())) for _ in range(4)]
        await asyncio.sleep(0.02)  # the four are in the database now
        late = asyncio.ensure_future(coalescer.submit(_request()))  # waits for their batch
        await asyncio.gather(*first)
        start = time.perf_counter()
        await late  # four went together, one came: it goes once the wait runs out
        waited = time.perf_counter() - start
        one = asyncio.ensure_future(coalescer.submit(_request()))
        await asyncio.sleep(0.02)
        two = asyncio.ensure_future(coalescer.submit(_request()))
        await one
        start = time.perf_counter()
        await two  # one went alone, one came: it goes at once
        return waited, time.perf_counter() - start

    waited, at_once = asyncio.run(scenario())
    assert sizes == [4, 1, 1, 1]
    assert 0.3 <= waited < 1.0, waited
    assert at_once < 0.2, at_once
