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


def test_a_lone_writer_is_not_kept_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    coalescer = WriteCoalescer(max_batch=64, gather_seconds=5.0)
    sizes: Counter[int] = Counter()

    def perform_writes(requests: list[Any]) -> list[Response]:
        sizes[len(requests)] += 1
        return [Response(status_code=201) for _ in requests]

    monkeypatch.setattr(coalescing, "perform_writes", perform_writes)

    async def one_after_another() -> float:
        start = time.perf_counter()
        for _ in range(5):
            await coalescer.submit(_request())
        return time.perf_counter() - start

    # Each batch had one write, so the next one waits for one write, which is there at once.
    assert asyncio.run(one_after_another()) < 1.0
    assert sizes == Counter({1: 5})
