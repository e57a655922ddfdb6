"""Rendering helpers shared by the source systems: dates as the contract writes them, seeded randomness."""

from __future__ import annotations

import random
import zlib
from datetime import date
from functools import cache


def rng_for(seed: int, *parts) -> random.Random:
    """An independent, deterministic random stream for one part of the province."""
    key = "|".join(str(p) for p in (seed, *parts))
    return random.Random(zlib.crc32(key.encode("utf-8")) * 1_000_003 + seed)


@cache
def be(ordinal: int | None) -> str:
    """dd/mm/yyyy in the Buddhist Era; '' for no date."""
    if not ordinal:
        return ""
    d = date.fromordinal(ordinal)
    return f"{d.day:02d}/{d.month:02d}/{d.year + 543}"


@cache
def iso(ordinal: int | None) -> str | None:
    if not ordinal:
        return None
    return date.fromordinal(ordinal).isoformat()


def fy_start(fy: int) -> int:
    return date(fy - 544, 10, 1).toordinal()


def fy_end(fy: int) -> int:
    return date(fy - 543, 9, 30).toordinal()


@cache
def month_start(m: int) -> int:
    """Ordinal of the first day of month index m (= year * 12 + month - 1)."""
    return date(m // 12, m % 12 + 1, 1).toordinal()


def month_of(ordinal: int) -> int:
    d = date.fromordinal(ordinal)
    return d.year * 12 + d.month - 1


@cache
def period(m: int) -> str:
    return f"{m // 12:04d}-{m % 12 + 1:02d}"
