"""What a night's build runs on: each system's latest drop in the warehouse against the night's date.

The nightly chain builds once the three ingests of the night have finished, whether each delivered
or timed out waiting. A system that did not deliver is named here, and the build runs on what is
current: that system's latest earlier drop.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import date

from welfare import contract
from welfare.settings import PgTarget

log = logging.getLogger(__name__)


@dataclass
class NightPlan:
    drop_date: str
    latest: dict[str, str | None] = field(default_factory=dict)  # per system: its latest drop seen by the ingest
    missing: list[str] = field(default_factory=list)             # systems with nothing for drop_date

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self) -> str:
        if not self.missing:
            return f"night {self.drop_date}: every system delivered ({', '.join(sorted(self.latest))})"
        parts = [f"{s} (its latest drop: {self.latest.get(s) or 'none'})" for s in self.missing]
        return (f"night {self.drop_date}: building on what is current WITHOUT this night's drop of "
                + ", ".join(parts))


def plan(target: PgTarget, drop_date: date) -> NightPlan:
    """Per system, the latest drop the ingest looked at (any outcome: loaded, rejected, re-sent) up to
    ``drop_date``; those with none for ``drop_date`` are missing."""
    from welfare.warehouse.sql import connect

    systems = sorted(contract.systems())
    with connect(target.dsn) as conn, conn.cursor() as cur:
        cur.execute("""
            select system, max(extract_date) from audit.file_audit
            where extract_date <= %s and extract <> '-' group by system
        """, (drop_date,))
        latest = {s: d for s, d in cur.fetchall()}
    out = NightPlan(drop_date.isoformat(),
                    {s: (latest[s].isoformat() if latest.get(s) else None) for s in systems})
    out.missing = [s for s in systems if latest.get(s) != drop_date]
    (log.warning if out.missing else log.info)("%s", out.describe())
    return out


ASSET_EXTRA_KEYS = ("system", "extract", "extract_date", "file_name", "status", "rows_in", "rows_loaded",
                    "rows_quarantined", "rows_rejected", "rows_resent", "load_id", "duration_s")


def asset_extra(summary: dict) -> dict:
    """What a load's asset event carries (the UI's asset view shows it): the counts, never a value of a row."""
    return {k: summary[k] for k in ASSET_EXTRA_KEYS if k in summary}
