"""Limits of money amounts, shared by every entry point that reads one."""

from __future__ import annotations

__all__ = ["MAX_CENTS"]

# 100 million euros: more than any booking, payment, deposit or deal of a local business, and
# far inside a bigint, so sums of many amounts cannot overflow.
MAX_CENTS = 10**10
