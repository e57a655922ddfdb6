"""Retention (PDPA): purge on a schedule what the warehouse no longer needs, and record each purge.

The Personal Data Protection Act B.E. 2562 wants personal data kept no longer than its purpose needs.
What the warehouse keeps beyond its current state is the raw deliveries of earlier nights, the
quarantined rows of those deliveries, the rejected files, and the Data Docs and run logs. The
``welfare_retention`` DAG (and ``welfare purge``) calls :func:`purge` daily. One row per purged
object goes into ``audit.retention_purge``, with the reason. ``audit.load_ledger`` and
``audit.file_audit`` are the record of what was delivered, so they stay. Nothing that a current
state, a dbt snapshot or an incremental model still reads is purged.

Periods, in days, from the environment (:func:`retention_periods`; a whole number of at least 1):

- ``WELFARE_RETENTION_RAW_DAYS`` (400): a superseded raw partition, counted from the day it was
  superseded;
- ``WELFARE_RETENTION_QUARANTINE_DAYS`` (180): the quarantined rows of a superseded load, counted
  the same way;
- ``WELFARE_RETENTION_REJECTED_FILES_DAYS`` (180): a rejected file under
  ``$WELFARE_HOME/quarantine/files/``;
- ``WELFARE_RETENTION_DATA_DOCS_DAYS`` (90): a file under ``$WELFARE_HOME/data_docs/`` (the GX
  stores and the site);
- ``WELFARE_RETENTION_RUN_LOGS_DAYS`` (90): a file under ``$WELFARE_HOME/runs/`` or
  ``$WELFARE_HOME/airflow/logs/``.

**Raw partitions** (``raw.<system>__<extract>__l<load_id>``, one per delivered file). What the dbt
project reads of raw:

- the staging view of a *snapshot* extract (``macros/current_state.sql``) reads the latest load in
  the ledger (by extract_date, then load_id). For each key quarantined in that load, it also reads
  the key's latest earlier valid row (the stale fallback). That row can lie in any older load.
- the staging views of *increment* extracts, and ``stg_lao__allowance_payment_rows``
  (read by ``int_allowance_payments_current``), read every load. For an increment, each load adds
  events and corrections. Its partitions are part of the current state, so **increments are never
  purged** (neither their partitions nor their quarantined rows, which
  ``int_lao_allowance_reliability`` counts).
- the snapshots (``snapshots.snp_<system>__<extract>``) read the staging views, so they read the
  current state only. The BMN ones read only ``load_id >`` the newest load already captured
  (``macros/new_deliveries.sql``). ``newer_deliveries`` compares that load with the ledger, which
  stays. ``int_person_register_measurements``, ``int_bmn_person_records`` and
  ``int_bmn_person_nights`` read the current state and keep their own history in their tables. No
  model rebuilds a past state (for example the state at the end of a fiscal year) from old raw
  partitions.

So a load L of a snapshot extract is purged when all four of these hold:

1. it is **superseded**. A later load of the extract exists in the order current_state uses
   (extract_date, then load_id). L has been superseded since the extract_date of the next load
   S in that order, and that was more than ``RAW_DAYS`` days before ``now`` (in Asia/Bangkok);
2. the extract's **dbt snapshot has captured a later state**.
   ``snapshots.snp_<system>__<extract>`` holds a row of a load after L in that order. If the
   snapshot does not exist yet, nothing of the extract is purged;
3. **no key of the current load falls back to it**. L does not hold the row that the stale
   fallback reads now (the same query as the macro);
4. its partition still exists. A migrated ``__unpartitioned`` default partition is never
   touched.

The partition is dropped (``drop table``; the transformer role is a member of the owner). The
check and the drop run in one transaction per extract. That transaction holds ``SHARE`` on
``audit.load_ledger``, so no load commits in between.

**Quarantined rows** (``audit.quarantine``) of a load L of a snapshot extract are deleted under
rules 1 and 2, with ``QUARANTINE_DAYS`` instead. The current load's rows stay, because the staging
view reads them for the stale fallback. The stale fallback needs the raw row, not the quarantined
row, so the quarantined rows of a load kept by rule 3 do go. ``person_link_quality`` counts
quarantined rows per night of every night still held, so it loses the rows of the purged nights.
That is the retention, not a change of state.

**Rejected files** under ``$WELFARE_HOME/quarantine/files/<system>/<date>/`` (each with its
``.reason.txt``) are deleted when they were kept more than ``REJECTED_FILES_DAYS`` days ago. The
time kept is the later of the file's mtime and the newest ``finished_at`` of the
``audit.file_audit`` rows whose ``kept_at`` names it. Those rows keep their reason, and their
``kept_at`` is set to NULL (the file is gone; ``audit.retention_purge`` says when and why).

**Data Docs and run logs**: every regular file whose mtime is more than the period old. Links are
neither followed nor removed, and any other non-regular file is left alone. A folder that the
purge emptied is removed, but the root folders never are. The Data Docs index is rebuilt by the
next load, and until then it may still link to a purged validation page.

The purge is idempotent: a second run with the same ``now`` purges nothing new. ``dry_run=True``
returns the same plan and changes nothing (a read-only transaction, no file touched).

Known limits: a key that comes back quarantined after being absent from the current state for
longer than the raw period finds no earlier version to fall back to. A check-strategy snapshot
records a load only where values changed, so a registry that never changes keeps its superseded
loads, which errs on the safe side. A late delivery whose extract_date is older than the current
load is superseded from the start, and the snapshot_shrink check of a still later, older-dated
delivery would compare it with a purged load.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from welfare import contract
from welfare.contract import Extract
from welfare.settings import LOCAL_TZ, PgTarget, welfare_home, whole_number
from welfare.warehouse import ddl
from welfare.warehouse.sql import connect, q, sql_literal

log = logging.getLogger(__name__)

# name: (environment variable, default days, what it applies to)
PERIODS: dict[str, tuple[str, int, str]] = {
    "raw": ("WELFARE_RETENTION_RAW_DAYS", 400, "superseded raw partitions of snapshot extracts"),
    "quarantine": ("WELFARE_RETENTION_QUARANTINE_DAYS", 180, "quarantined rows of superseded snapshot loads"),
    "rejected_files": ("WELFARE_RETENTION_REJECTED_FILES_DAYS", 180,
                       "rejected files kept under quarantine/files/"),
    "data_docs": ("WELFARE_RETENTION_DATA_DOCS_DAYS", 90, "Great Expectations Data Docs under data_docs/"),
    "run_logs": ("WELFARE_RETENTION_RUN_LOGS_DAYS", 90,
                 "run logs under runs/ and airflow/logs/, and the dbt node results under dbt/nodes/"),
}
# The folders of $WELFARE_HOME swept by mtime: (category, folder, period)
FILE_AREAS = (
    ("rejected_file", "quarantine/files", "rejected_files"),
    ("data_docs", "data_docs", "data_docs"),
    ("run_log", "runs", "run_logs"),
    ("run_log", "airflow/logs", "run_logs"),
    ("run_log", "dbt/nodes", "run_logs"),  # each build's node results and log lines (the UI's dbt tasks)
)
# How long a purge waits before it fails (and Airflow retries it): for the loads running (they hold
# audit.load_ledger), and for a dbt build reading a raw table it drops a partition of (short: while it
# waits, the build's next reads of that table wait behind it).
LEDGER_LOCK_TIMEOUT = "15min"
DROP_LOCK_TIMEOUT = "1min"


class RetentionError(ValueError):
    pass


def retention_periods(environ: dict[str, str] | None = None) -> dict[str, int]:
    """The retention period of each category, in days: its environment variable, else the default."""
    env = os.environ if environ is None else environ
    out = {}
    for name, (var, default, _) in PERIODS.items():
        raw = (env.get(var) or "").strip()
        if not raw:
            out[name] = default
            continue
        out[name] = whole_number(raw, var, "days", RetentionError)
    return out


@dataclass(frozen=True)
class Purged:
    """One object purged (or, in a dry run, to be purged)."""

    category: str  # raw_partition | quarantine_rows | rejected_file | data_docs | run_log
    object: str  # the partition, "audit.quarantine load <id>", or the path relative to $WELFARE_HOME
    reason: str
    system: str | None = None
    extract: str | None = None
    extract_date: date | None = None
    load_id: int | None = None
    rows: int | None = None
    bytes: int | None = None


@dataclass(frozen=True)
class Kept:
    """A superseded load past its period that is held back, and why."""

    category: str
    object: str
    reason: str
    load_id: int | None = None


@dataclass
class PurgeResult:
    as_of: datetime
    dry_run: bool
    periods: dict[str, int]
    purged: list[Purged] = field(default_factory=list)
    kept: list[Kept] = field(default_factory=list)

    def of(self, category: str) -> list[Purged]:
        return [p for p in self.purged if p.category == category]

    def summary(self) -> dict:
        """Counts per category, JSON-ready (an Airflow task's return value)."""
        counts: dict[str, int] = {}
        for p in self.purged:
            counts[p.category] = counts.get(p.category, 0) + 1
        return {
            "as_of": self.as_of.isoformat(),
            "dry_run": self.dry_run,
            "periods_days": dict(self.periods),
            "purged": counts,
            "rows": sum(p.rows or 0 for p in self.purged),
            "bytes": sum(p.bytes or 0 for p in self.purged),
            "kept": [asdict(k) for k in self.kept],
        }


def purge(target: PgTarget, home: Path | None = None, now: datetime | None = None, dry_run: bool = False,
          run_id: str | None = None, periods: dict[str, int] | None = None) -> PurgeResult:
    """Purge what is past its retention period as of ``now`` (an aware datetime; default: now) in the
    warehouse ``target`` (a role that owns raw and audit, e.g. welfare_transformer) and under ``home``
    (default ``$WELFARE_HOME``). ``dry_run``: return the plan, change nothing."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        raise RetentionError("now must carry a time zone")
    home = Path(home) if home is not None else welfare_home()
    periods = periods or retention_periods()
    today = now.astimezone(ZoneInfo(LOCAL_TZ)).date()
    result = PurgeResult(as_of=now, dry_run=dry_run, periods=periods)
    with connect(target.dsn) as conn:
        with conn.cursor() as cur:
            cur.execute("select to_regclass('audit.retention_purge') is not null")
            if not cur.fetchone()[0]:
                raise ddl.NotSetUp("audit.retention_purge is missing: run `welfare warehouse setup` (as the "
                                   "warehouse's superuser) before the purge")
        conn.rollback()
        for system in contract.systems().values():
            for ext in system.extracts.values():
                if ext.kind == "snapshot":
                    _purge_extract(conn, ext, today, now, periods, dry_run, run_id, result)
        for category, folder, period in FILE_AREAS:
            _purge_files(conn, home, folder, category, period, now, periods, dry_run, run_id, result)
    for category in ("raw_partition", "quarantine_rows", "rejected_file", "data_docs", "run_log"):
        n = len(result.of(category))
        if n:
            log.info("%s %d %s", "would purge" if dry_run else "purged", n, category)
    for k in result.kept:
        log.info("kept %s: %s", k.object, k.reason)
    return result


# ---------------------------------------------------------------- raw partitions and quarantined rows
def _record(cur, item: Purged, now: datetime, run_id: str | None) -> None:
    cur.execute(
        "insert into audit.retention_purge (run_id, as_of, category, object, system, extract, extract_date, "
        "load_id, rows_purged, bytes_purged, reason) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (run_id, now, item.category, item.object, item.system, item.extract, item.extract_date, item.load_id,
         item.rows, item.bytes, item.reason))


def snapshot_relation(ext: Extract) -> str:
    """The dbt snapshot of a snapshot-kind extract (one per extract: tests/dbt keeps it so)."""
    return f"snapshots.snp_{ext.qualified_name}"


def _snapshot_seen(cur, ext: Extract) -> tuple[date, int] | None:
    """(extract_date, load_id) of the latest load the extract's dbt snapshot holds a row of; None if the
    snapshot does not exist or is empty."""
    cur.execute("select to_regclass(%s) is not null", (snapshot_relation(ext),))
    if not cur.fetchone()[0]:
        return None
    cur.execute(f"select extracted_on, load_id from snapshots.{q('snp_' + ext.qualified_name)} "
                "where load_id is not null order by extracted_on desc, load_id desc limit 1")
    row = cur.fetchone()
    return (row[0], int(row[1])) if row else None


def _fallback_loads(cur, ext: Extract, current_id: int, current_date: date) -> dict[int, int]:
    """load_id -> how many keys: the loads the stale fallback of the staging view reads now (keys
    quarantined in the current load, each at its latest earlier row: macros/current_state.sql)."""
    keys = [q(k) for k in ext.key]
    picked = ", ".join(f"q.record ->> {sql_literal(k)} as {q(k)}" for k in ext.key)
    on = " and ".join(f"r.{k}::text = k.{k}" for k in keys)
    by = ", ".join(f"r.{k}" for k in keys)
    cur.execute(
        f"""
        with quarantined_keys as (
            select distinct {picked} from audit.quarantine as q where q.load_id = %(cur)s
        ),
        fallback as (
            select distinct on ({by}) r._load_id
            from quarantined_keys as k
            inner join {ddl.raw_table(ext)} as r on {on}
            where r._load_id <> %(cur)s and r._extract_date <= %(date)s
            order by {by}, r._extract_date desc, r._load_id desc, r._row_no desc
        )
        select _load_id, count(*) from fallback group by _load_id
        """, {"cur": current_id, "date": current_date})
    return {int(a): int(b) for a, b in cur.fetchall()}


def _purge_extract(conn, ext: Extract, today: date, now: datetime, periods: dict[str, int], dry_run: bool,
                   run_id: str | None, result: PurgeResult) -> None:
    """The superseded loads of one snapshot extract: plan, and unless ``dry_run`` purge, in one transaction."""
    raw_var, quar_var = PERIODS["raw"][0], PERIODS["quarantine"][0]
    snapshot = snapshot_relation(ext)
    with conn.cursor() as cur:
        if dry_run:
            cur.execute("set transaction read only")
        else:
            cur.execute(f"set local lock_timeout = {sql_literal(LEDGER_LOCK_TIMEOUT)}")
            # no load of any extract commits while this extract's plan is made and carried out
            cur.execute("lock table audit.load_ledger in share mode")
            cur.execute(f"set local lock_timeout = {sql_literal(DROP_LOCK_TIMEOUT)}")
        cur.execute("select load_id, extract_date, rows_loaded from audit.load_ledger "
                    "where system = %s and extract = %s order by extract_date, load_id", (ext.system, ext.name))
        loads = cur.fetchall()
        if len(loads) < 2:
            conn.rollback()
            return
        current_id, current_date, _ = loads[-1]
        cur.execute("select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid "
                    "where i.inhparent = %s::regclass", (ddl.raw_table(ext),))
        partitions = {r[0] for r in cur.fetchall()}
        cur.execute("select load_id, count(*) from audit.quarantine where system = %s and extract = %s "
                    "group by load_id", (ext.system, ext.name))
        quarantined = dict(cur.fetchall())
        seen = _snapshot_seen(cur, ext)
        fallback = _fallback_loads(cur, ext, current_id, current_date)

        for (load_id, extract_date, rows_loaded), (next_id, next_date, _) in zip(loads, loads[1:], strict=False):
            name = f"{ext.qualified_name}__l{load_id}"
            partition = f"raw.{name}"
            age = (today - next_date).days
            superseded = (f"{ext.system}.{ext.name} load {load_id} (the {extract_date} delivery) superseded on "
                          f"{next_date} by load {next_id}, {age} days before {today}")
            captured = seen is not None and (extract_date, load_id) < seen
            for category, period, present in (("raw_partition", "raw", name in partitions),
                                              ("quarantine_rows", "quarantine", quarantined.get(load_id, 0) > 0)):
                if not present or age <= periods[period]:
                    continue
                obj = partition if category == "raw_partition" else f"audit.quarantine load {load_id}"
                var = raw_var if period == "raw" else quar_var
                if seen is None:
                    result.kept.append(Kept(category, obj, f"{superseded}; but {snapshot} does not exist yet "
                                            "(no dbt snapshot has captured the extract)", load_id))
                    continue
                if not captured:
                    result.kept.append(Kept(category, obj, f"{superseded}; but {snapshot} has captured no later "
                                            f"load yet (its latest is load {seen[1]})", load_id))
                    continue
                if category == "raw_partition" and load_id in fallback:
                    result.kept.append(Kept(category, obj, f"{superseded}; but it holds the latest valid version of "
                                            f"{fallback[load_id]} key(s) quarantined in the current load "
                                            f"{current_id}, which the staging view falls back to", load_id))
                    continue
                why = (f"{superseded}, longer than the {period} period of {periods[period]} days ({var}); "
                       f"{snapshot} has captured load {seen[1]}")
                if category == "raw_partition":
                    cur.execute("select pg_total_relation_size(%s::regclass)", (partition,))
                    item = Purged(category, obj, why + "; no key of the current load falls back to it",
                                  ext.system, ext.name, extract_date, load_id, int(rows_loaded), int(cur.fetchone()[0]))
                    if not dry_run:
                        cur.execute(f"drop table raw.{q(name)}")
                else:
                    item = Purged(category, obj, why, ext.system, ext.name, extract_date, load_id,
                                  int(quarantined[load_id]))
                    if not dry_run:
                        cur.execute("delete from audit.quarantine where load_id = %s", (load_id,))
                        item = replace(item, rows=cur.rowcount)
                if not dry_run:
                    _record(cur, item, now, run_id)
                result.purged.append(item)
    if dry_run:
        conn.rollback()
    else:
        conn.commit()


# ---------------------------------------------------------------- files
def _kept_files(conn) -> dict[str, tuple[datetime, list[str], str]]:
    """Path under quarantine/files/ -> (newest finished_at, the kept_at values naming it, extract) of the
    audit.file_audit rows that kept a rejected file there (matched by the path below ``quarantine/files/``,
    so a moved $WELFARE_HOME still matches)."""
    out: dict[str, tuple[datetime, list[str], str]] = {}
    with conn.cursor() as cur:
        cur.execute("select kept_at, max(finished_at), max(extract) from audit.file_audit where kept_at is not null "
                    "group by kept_at")
        for kept_at, finished, extract in cur.fetchall():
            rel = kept_at.replace(os.sep, "/").split("/quarantine/files/", 1)[-1]
            if rel in out:
                prev = out[rel]
                out[rel] = (max(prev[0], finished), [*prev[1], kept_at], prev[2])
            else:
                out[rel] = (finished, [kept_at], extract)
    conn.rollback()
    return out


def _sweep(root: Path, judge: Callable[[str, os.stat_result], str | None],
           take: Callable[[str, os.stat_result, str, Callable[[], None] | None], bool], delete: bool) -> None:
    """Every regular file under ``root`` that ``judge(rel, stat)`` gives a reason for is handed to
    ``take(rel, stat, reason, remove)`` (``remove`` unlinks it; None in a dry run; ``take`` says whether the
    file went). Never follows a link (``os.fwalk`` with directory descriptors, so a folder swapped for a link
    meanwhile is not entered either); a folder the sweep emptied is removed, ``root`` itself never."""
    if root.is_symlink() or not root.is_dir():
        return
    emptied: set[str] = set()
    for dirpath, dirnames, filenames, dirfd in os.fwalk(root, topdown=False, follow_symlinks=False):
        rel_dir = os.path.relpath(dirpath, root).replace(os.sep, "/")
        changed = False
        for name in sorted(filenames):
            try:
                st = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            reason = judge(rel, st)
            if reason is None:
                continue

            def remove(name: str = name, dirfd: int = dirfd) -> None:
                os.unlink(name, dir_fd=dirfd)

            if take(rel, st, reason, remove if delete else None):
                changed = True
        if delete:
            for d in dirnames:
                child = d if rel_dir == "." else f"{rel_dir}/{d}"
                if child in emptied:
                    try:
                        os.rmdir(d, dir_fd=dirfd)
                        changed = True
                    except OSError:  # not empty (or no longer a folder): it stays
                        pass
        if changed:
            emptied.add(rel_dir)


def _purge_files(conn, home: Path, folder: str, category: str, period: str, now: datetime,
                 periods: dict[str, int], dry_run: bool, run_id: str | None, result: PurgeResult) -> None:
    days = periods[period]
    var = PERIODS[period][0]
    limit = timedelta(days=days)
    kept = _kept_files(conn) if category == "rejected_file" else {}

    def when(rel: str, st: os.stat_result) -> tuple[datetime, str]:
        mtime = datetime.fromtimestamp(st.st_mtime, UTC)
        audit = kept.get(rel.removesuffix(".reason.txt"))
        if audit is None:
            return mtime, "its mtime"
        return max(mtime, audit[0]), "the later of its mtime and its file_audit row's finished_at"

    def judge(rel: str, st: os.stat_result) -> str | None:
        at, basis = when(rel, st)
        age = now - at
        if age <= limit:
            return None
        what = {"rejected_file": "rejected file kept", "data_docs": "Data Docs file written",
                "run_log": "run log written"}[category]
        return (f"{what} on {at:%Y-%m-%d} ({basis}), {age.days} days before {now:%Y-%m-%d}, longer than the "
                f"{period} period of {days} days ({var})")

    def take(rel: str, st: os.stat_result, reason: str, remove: Callable[[], None] | None) -> bool:
        system = extract = extract_date = None
        audit_rows: list[str] = []
        if category == "rejected_file":
            parts = rel.split("/")
            system = parts[0] if len(parts) >= 3 else None
            try:
                extract_date = date.fromisoformat(parts[1]) if len(parts) >= 3 else None
            except ValueError:
                extract_date = None
            audit = kept.get(rel.removesuffix(".reason.txt"))
            if audit is not None:
                audit_rows, extract = audit[1], audit[2]
                if not rel.endswith(".reason.txt"):
                    reason += "; its audit.file_audit row keeps the reason, kept_at set to NULL"
        item = Purged(category, f"{folder}/{rel}", reason, system, extract, extract_date, bytes=st.st_size)
        if remove is None:
            result.purged.append(item)
            return True
        with conn.cursor() as cur:
            _record(cur, item, now, run_id)
            if audit_rows and not rel.endswith(".reason.txt"):
                cur.execute("update audit.file_audit set kept_at = null where kept_at = any(%s)", (audit_rows,))
            try:
                remove()
            except FileNotFoundError:  # gone meanwhile: nothing purged, nothing recorded
                conn.rollback()
                return False
            conn.commit()
        result.purged.append(item)
        return True

    _sweep(home / folder, judge, take, delete=not dry_run)
