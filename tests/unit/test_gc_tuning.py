"""`tenantry serve` workers collect young garbage less often (`tenantry.api.workers.tune_gc`)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pydantic
import pytest

from tenantry.api.workers import tune_gc
from tenantry.config import Settings


@pytest.fixture(autouse=True)
def _restore_thresholds() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_the_youngest_generation_gets_the_threshold_and_the_older_keep_their_ratios() -> None:
    gc.set_threshold(700, 10, 10)
    tune_gc(12_345)
    assert gc.get_threshold() == (12_345, 10, 10)


def test_zero_keeps_pythons_thresholds() -> None:
    gc.set_threshold(700, 10, 10)
    tune_gc(0)
    assert gc.get_threshold() == (700, 10, 10)


def test_the_setting_defaults_to_ten_thousand_and_refuses_negatives() -> None:
    assert Settings().api_gc_threshold == 10_000
    with pytest.raises(pydantic.ValidationError, match="api_gc_threshold"):
        Settings(api_gc_threshold=-1)
