"""Write, audit, publish: readers never see a half-built or failing night.

**Two generations.** dbt builds the layers ``staging``, ``intermediate``, ``marts`` and ``restricted``
into ``<layer>_blue`` or ``<layer>_green`` (``macros/generate_schema_name.sql``, by the environment
variable ``WELFARE_BUILD_COLOR`` that :func:`welfare.orchestration.tasks.dbt_env` sets), always into the
generation that is *not* published, so the published one is never touched by a build. The seeds
(``reference``), the snapshots (``snapshots``) and S1.1's run history (``history``) are shared: one of
each. A table model is rebuilt anyway; an incremental model of the building generation was last built
two builds ago and catches up (its filters are relative to its own ``this``), so the nightly cost stays
incremental; the first build of a generation is a full build.

**Readers read views.** ``marts.<name>`` and ``restricted.<name>`` are views made here, not by dbt: one
per relation dbt builds in the generation's ``marts_<color>`` and ``restricted_<color>`` (dbt's
manifest), ``with (security_invoker = true)`` so that the caseworkers' row security applies to the
caseworker reading, each with the grants dbt gave its relation (``dbt_project.yml`` stays the one
place that says who reads what) and its relation's and columns' comments. Readers have the usage of
the published generation's ``marts_<color>`` and ``restricted_<color>`` and of no other.

**The gate** (:func:`build`): dbt's exit status 0, and ``run_results.json`` of that very invocation
(``metadata.env.WELFARE_BUILD_ID``) a ``build`` in which every node passed (``warn`` passes), every
model of the generation was built and every test of what was built ran. Else nothing is published,
the build raises :class:`BuildFailed` naming the nodes, and readers keep the published generation
untouched.

**The publish** (:func:`publish`): one transaction, as ``welfare_transformer`` with ``set role
welfare_owner``: every view re-pointed (a view dropped when the project no longer has its relation; a
table of an older warehouse dropped), the readers' schema usage moved, and the publish recorded in
``audit.warehouse_publish``. It first takes the lock of every reader-facing relation, all in one
statement that may wait less than half the server's ``deadlock_timeout`` (so a reader queued behind it
is never the one a deadlock check aborts), then changes everything in one round trip. While readers'
transactions hold those relations it lets go, waits up to ``WELFARE_PUBLISH_LOCK_TIMEOUT_SECONDS``
(default 30) for them to end and tries again, ``WELFARE_PUBLISH_ATTEMPTS`` (default 3) times, then
fails with :class:`PublishBlocked` naming the sessions in the way. A reader's transaction that has read
a reader-facing relation sees that night to its end; one that reads after the commit sees the new
night, whole: what a generation shows depends only on what its build wrote (S1.1's published builds
are the build's own table, ``int_published_builds``), never on the publish's row.

The published generation is the one of the latest ``audit.warehouse_publish`` row; builds are in
``audit.warehouse_build``. dbt runs through the orchestration room's runner
(:func:`welfare.orchestration.tasks.run_dbt`, handed over with :func:`use_dbt_runner`, as this room may
not import that one), or one passed as ``run_dbt``: ``run_dbt(target, args, color=..., build_id=...)``,
raising when dbt exits non-zero.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from welfare.settings import PgTarget, welfare_home
from welfare.warehouse.roles import (
    GENERATION_LAYERS,
    GENERATIONS,
    LEGACY_DBT_SCHEMAS,
    OWNER,
    READER_SCHEMAS,
)
from welfare.warehouse.sql import connect, q

log = logging.getLogger(__name__)

# dbt's node statuses that pass the gate; anything else (error, fail, runtime error, skipped, ...) fails it
PASSING = frozenset({"success", "pass", "warn", "no-op"})
FAILING_FIRST = ("error", "runtime error", "fail")
LOCK_KEY = "welfare.warehouse.wap"  # one build or publish at a time
DbtRunner = Callable[..., None]
_RUNNER: DbtRunner | None = None


class WapError(RuntimeError):
    """A build or a publish that cannot go on; nothing was published."""


class BuildFailed(WapError):
    def __init__(self, message: str, failures: list[str]):
        super().__init__(message)
        self.failures = failures


class PublishBlocked(WapError):
    """Readers held the published relations' locks for longer than the publish waits."""


def lock_timeout_seconds() -> float:
    return float(os.environ.get("WELFARE_PUBLISH_LOCK_TIMEOUT_SECONDS", "30"))


def publish_attempts() -> int:
    return int(os.environ.get("WELFARE_PUBLISH_ATTEMPTS", "3"))


def use_dbt_runner(run_dbt: DbtRunner) -> None:
    """The runner :func:`build` runs dbt with when it is given none (the orchestration room hands its own)."""
    global _RUNNER
    _RUNNER = run_dbt


# ---------------------------------------------------------------- generations
def schema_of(layer: str, color: str) -> str:
    """``marts``, ``green`` -> ``marts_green``: where dbt builds a layer of a generation."""
    if color not in GENERATIONS:
        raise ValueError(f"a generation is one of {GENERATIONS}, not {color!r}")
    return f"{layer}_{color}"


def other(color: str) -> str:
    return GENERATIONS[1 - GENERATIONS.index(color)]


def _published(cur) -> str | None:
    cur.execute("select to_regclass('audit.warehouse_publish') is not null")
    if not cur.fetchone()[0]:
        return None
    cur.execute("select generation from audit.warehouse_publish order by publish_id desc limit 1")
    row = cur.fetchone()
    return row[0] if row else None


def published(target: PgTarget) -> str | None:
    """The generation readers read (of the latest publish), or None before the first publish."""
    with connect(target.dsn) as conn, conn.cursor() as cur:
        return _published(cur)


def building_color(target: PgTarget) -> str:
    """The generation a build goes into: the one that is not published (blue before the first publish)."""
    current = published(target)
    return other(current) if current else GENERATIONS[0]


def color_for(target: PgTarget, args: Sequence[str]) -> str:
    """The generation a dbt command works on: ``docs`` documents the published one (the building one before
    any publish); every other command builds or tests the unpublished one."""
    if list(args[:1]) == ["docs"]:
        return published(target) or building_color(target)
    return building_color(target)


def new_build_id(kind: str = "build") -> str:
    """A build's id: sortable by time, unique, safe in a libpq option."""
    return f"{kind}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{os.urandom(3).hex()}"


def session_options(color: str, build_id: str) -> str:
    """libpq options that tell each dbt session its build (the history of S1.1 records it)."""
    return f" -c welfare.build_color={color} -c welfare.build_id={build_id}"


def dbt_target_dir() -> Path:
    """Where dbt writes its artifacts (manifest.json, run_results.json, the docs)."""
    return welfare_home() / "dbt" / "target"


@contextmanager
def _exclusive(target: PgTarget, what: str) -> Iterator:
    """A session holding the warehouse's build-and-publish lock (as the owner), autocommit."""
    with connect(target.dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("select pg_try_advisory_lock(hashtext(%s))", (LOCK_KEY,))
        if not cur.fetchone()[0]:
            cur.execute("select string_agg(format('pid %%s (%%s, %%s since %%s)', a.pid, a.usename, "
                        "coalesce(nullif(a.application_name, ''), '?'), a.backend_start), '; ') "
                        "from pg_locks l join pg_stat_activity a on a.pid = l.pid "
                        "where l.locktype = 'advisory' and l.granted and l.objid = hashtext(%s)::oid", (LOCK_KEY,))
            holder = cur.fetchone()[0] or "another session"
            raise WapError(f"cannot {what}: another build or publish of the warehouse is running ({holder}); "
                           "nothing was changed, try again when it has finished")
        cur.execute(f"set role {q(OWNER)}")
        yield conn


def require_ready(target: PgTarget) -> None:
    """The warehouse was set up for publishing (``welfare warehouse setup`` made audit.warehouse_publish and
    moved S1.1's history out of the old intermediate schema)."""
    with connect(target.dsn) as conn, conn.cursor() as cur:
        cur.execute("select to_regclass('audit.warehouse_publish') is not null, "
                    "to_regclass('intermediate.int_person_register_measurements') is not null")
        ready, unmoved = cur.fetchone()
    if not ready or unmoved:
        raise WapError("the warehouse is not set up for publishing: run `welfare warehouse setup` (as its "
                       "superuser, WELFARE_ADMIN_URI on a deployed server), which creates audit.warehouse_publish "
                       "and moves S1.1's run history to the schema history")


# ---------------------------------------------------------------- the gate
@dataclass
class Verdict:
    invocation_id: str | None = None
    relations: list[str] = field(default_factory=list)   # "marts.kpi_values", ... (the readers' names)
    failures: list[str] = field(default_factory=list)    # what stops the publish, most telling first
    statuses: dict[str, int] = field(default_factory=dict)
    elapsed_s: float | None = None


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0][:200] if (text or "").strip() else ""


def judge(target_dir: Path, build_id: str, color: str, dbt_error: BaseException | None = None) -> Verdict:
    """The gate: may the generation ``color`` that build ``build_id`` wrote be published?"""
    v = Verdict()
    run = _read_json(target_dir / "run_results.json")
    manifest = _read_json(target_dir / "manifest.json")
    if run is None or manifest is None:
        v.failures.append(f"dbt left no run_results.json and manifest.json in {target_dir}: its build did not "
                          "finish" + (f" ({_first_line(str(dbt_error))})" if dbt_error else ""))
        return v
    meta = run.get("metadata") or {}
    if (meta.get("env") or {}).get("WELFARE_BUILD_ID") != build_id:
        v.failures.append(f"{target_dir / 'run_results.json'} is not this build's ({build_id}): another dbt "
                          "invocation wrote it")
        return v
    v.invocation_id = meta.get("invocation_id")
    if (manifest.get("metadata") or {}).get("invocation_id") != v.invocation_id:
        v.failures.append("manifest.json and run_results.json come from different dbt invocations")
        return v
    if (run.get("args") or {}).get("which") != "build":
        v.failures.append(f"the invocation was `dbt {(run.get('args') or {}).get('which')}`, not `dbt build`: "
                          "only a build runs the tests with the models")
    v.elapsed_s = run.get("elapsed_time")
    results = {r["unique_id"]: r for r in run.get("results") or []}
    for r in results.values():
        v.statuses[r["status"]] = v.statuses.get(r["status"], 0) + 1
    bad = sorted((r for r in results.values() if r["status"] not in PASSING),
                 key=lambda r: (FAILING_FIRST.index(r["status"]) if r["status"] in FAILING_FIRST else 9,
                                r["unique_id"]))
    skipped = [r for r in bad if r["status"] == "skipped"]
    for r in bad:
        if r["status"] != "skipped":
            msg = _first_line(r.get("message"))
            v.failures.append(f"{r['unique_id']} ({r['status']}{': ' + msg if msg else ''})")
    if skipped:
        names = ", ".join(r["unique_id"] for r in skipped[:5])
        v.failures.append(f"{len(skipped)} node(s) skipped ({names}{', ...' if len(skipped) > 5 else ''})")

    nodes = manifest.get("nodes") or {}
    ran = {uid for uid, r in results.items() if r["status"] in PASSING}
    generation = {schema_of(layer, color) for layer in GENERATION_LAYERS}
    models = {uid: n for uid, n in nodes.items() if n.get("resource_type") == "model"
              and (n.get("config") or {}).get("materialized") != "ephemeral"}
    unbuilt = sorted(uid for uid, n in models.items() if n.get("schema") in generation and uid not in results)
    if unbuilt:
        v.failures.append(f"{len(unbuilt)} model(s) of the {color} generation were not built by this build "
                          f"(a selection leaves them as an earlier build left them): {', '.join(unbuilt[:8])}"
                          + (", ..." if len(unbuilt) > 8 else ""))
    built = ran | {uid for uid, n in nodes.items() if n.get("resource_type") not in ("model", "seed", "snapshot")}
    tests = {uid: n for uid, n in nodes.items() if n.get("resource_type") == "test"}
    tests |= manifest.get("unit_tests") or {}
    untested = sorted(uid for uid, n in tests.items() if uid not in results
                      and set((n.get("depends_on") or {}).get("nodes") or []) <= built | {
                          d for d in (n.get("depends_on") or {}).get("nodes") or [] if d.startswith("source.")})
    if untested:
        v.failures.append(f"{len(untested)} test(s) of what was built did not run: {', '.join(untested[:5])}"
                          + (", ..." if len(untested) > 5 else ""))
    if dbt_error is not None and not v.failures:
        v.failures.append(f"dbt exited non-zero: {_first_line(str(dbt_error))}")
    readers = {schema_of(layer, color): layer for layer in READER_SCHEMAS}
    v.relations = sorted(f"{readers[n['schema']]}.{n.get('alias') or n['name']}"
                         for n in models.values() if n.get("schema") in readers)
    return v


# ---------------------------------------------------------------- build
def _ledger_state(cur) -> tuple[str | None, dict[str, str]]:
    """The drop date (the latest extract_date loaded) and, per system, its latest extract_date loaded."""
    cur.execute("select system, max(extract_date) from audit.load_ledger group by system order by system")
    latest = {s: d.isoformat() for s, d in cur.fetchall()}
    return (max(latest.values()) if latest else None), latest


def build(target: PgTarget, dbt_args: Sequence[str] = (), run_id: str | None = None, night: dict | None = None,
          *, run_dbt: DbtRunner | None = None, target_dir: Path | None = None) -> dict:
    """``dbt build`` (plus ``dbt_args``, e.g. ``--fail-fast``, ``--full-refresh``) into the generation readers
    do not see, then the gate. Returns the build (plain values: it goes to :func:`publish`, also from another
    Airflow task); raises :class:`BuildFailed` naming the failing nodes when the gate is shut, having
    published nothing."""
    runner = run_dbt or _RUNNER
    if runner is None:
        raise WapError("no dbt runner: import welfare.orchestration.tasks (it hands over run_dbt) or pass run_dbt")
    args = list(dbt_args)
    if args[:1] == ["build"]:
        args = args[1:]
    target_dir = Path(target_dir or dbt_target_dir())
    require_ready(target)
    with _exclusive(target, "build") as conn, conn.cursor() as cur:
        current = _published(cur)
        color = other(current) if current else GENERATIONS[0]
        build_id = new_build_id()
        drop_date, latest = _ledger_state(cur)
        night_date = (night or {}).get("drop_date")
        started = datetime.now(UTC)
        cur.execute("insert into audit.warehouse_build (build_id, generation, run_id, dbt_args, drop_date, "
                    "night_date, started_at, status) values (%s, %s, %s, %s, %s, %s, %s, 'building')",
                    (build_id, color, run_id, args, drop_date, night_date, started))
        log.info("build %s: dbt build %s into the %s generation (published: %s)", build_id, " ".join(args), color,
                 current or "none yet")
        (target_dir / "run_results.json").unlink(missing_ok=True)
        t0 = time.monotonic()
        error: BaseException | None = None
        try:
            runner(target, ["build", *args], color=color, build_id=build_id)
        except Exception as exc:  # dbt exited non-zero (or could not start): the gate says what failed
            error = exc
        dbt_seconds = round(time.monotonic() - t0, 1)
        verdict = judge(target_dir, build_id, color, error)
        cur.execute("update audit.warehouse_build set finished_at = now(), status = %s, dbt_invocation_id = %s, "
                    "failures = %s where build_id = %s",
                    ("failed" if verdict.failures else "passed", verdict.invocation_id, verdict.failures, build_id))
    if verdict.failures:
        shown = "; ".join(verdict.failures[:12]) + ("; ..." if len(verdict.failures) > 12 else "")
        raise BuildFailed(f"build {build_id} of the {color} generation failed, nothing was published (readers "
                          f"still read {current or 'nothing yet'}): {shown}", verdict.failures)
    log.info("build %s passed: %s (%s s)", build_id, verdict.statuses, dbt_seconds)
    return {"build_id": build_id, "generation": color, "published_before": current, "run_id": run_id,
            "dbt_args": args, "dbt_invocation_id": verdict.invocation_id, "drop_date": drop_date,
            "night_date": night_date, "latest_extracts": latest, "started_at": started.isoformat(),
            "relations": verdict.relations, "statuses": verdict.statuses, "dbt_seconds": dbt_seconds, "night": night}


# ---------------------------------------------------------------- publish
_DROP = {"v": "view", "m": "materialized view", "f": "foreign table", "r": "table", "p": "table"}


def _acl(cur, relation: str) -> list[tuple[str, str]]:
    """(grantee, privilege) of a relation's ACL, the owner's own left out; grantee ``public`` for PUBLIC."""
    cur.execute("select case when a.grantee = 0 then 'public' else pg_get_userbyid(a.grantee) end, a.privilege_type "
                "from pg_class c, aclexplode(c.relacl) as a where c.oid = %s::regclass and a.grantee <> c.relowner "
                "order by 1, 2", (relation,))
    return cur.fetchall()


def _role(grantee: str) -> str:
    return "public" if grantee == "public" else q(grantee)


def _columns(cur, relation: str) -> list[tuple]:
    cur.execute("select attname, atttypid, atttypmod, attcollation from pg_attribute where attrelid = %s::regclass "
                "and attnum > 0 and not attisdropped order by attnum", (relation,))
    return cur.fetchall()


def _schema_exists(cur, schema: str) -> bool:
    cur.execute("select exists (select 1 from pg_namespace where nspname = %s)", (schema,))
    return bool(cur.fetchone()[0])


def _schema_grantees(cur, schema: str) -> list[str]:
    cur.execute("select distinct case when a.grantee = 0 then 'public' else pg_get_userbyid(a.grantee) end "
                "from pg_namespace n, aclexplode(n.nspacl) as a where n.nspname = %s and a.grantee <> n.nspowner",
                (schema,))
    return [r[0] for r in cur.fetchall()]


def _reader_relations(cur) -> list[tuple[str, str, str]]:
    """(schema, name, relkind) of every relation in the readers' schemas."""
    cur.execute("select n.nspname, c.relname, c.relkind::text from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                "where n.nspname = any(%s) and c.relkind in ('r', 'p', 'v', 'm', 'f') order by 1, 2",
                (list(READER_SCHEMAS),))
    return cur.fetchall()


@dataclass
class _Plan:
    lock: list[str]        # every relation of the readers' schemas now: locked at once before anything changes
    script: list[bytes]    # then, in one round trip: the views, their grants and comments, the schemas' usage


def _plan(cur, b: dict) -> _Plan:
    """What the switch to ``b``'s generation does, read from the catalogs (nothing changed yet)."""
    color, relations = b["generation"], list(b["relations"])
    out = _Plan([], [])

    def sql(text: str, params: tuple = ()) -> None:
        out.script.append(cur.mogrify(text, params) if params else text.encode())

    missing = []
    for rel in relations:
        layer, name = rel.split(".", 1)
        cur.execute("select to_regclass(%s)", (f"{q(schema_of(layer, color))}.{q(name)}",))
        if cur.fetchone()[0] is None:
            missing.append(f"{schema_of(layer, color)}.{name}")
    if missing:
        raise WapError(f"the {color} generation lacks {', '.join(missing)}: nothing was published")
    for s in READER_SCHEMAS:
        sql(f"create schema if not exists {q(s)}")
    existing = _reader_relations(cur)
    out.lock = [f"{q(s)}.{q(n)}" for s, n, _ in existing]
    kinds = {f"{s}.{n}": kind for s, n, kind in existing}
    keep: dict[str, bool] = {}  # reader view -> its present columns stay (create or replace), else it is made anew
    for rel in relations:
        layer, name = rel.split(".", 1)
        if kinds.get(rel) == "v":
            now, then = _columns(cur, f"{q(layer)}.{q(name)}"), _columns(cur, f"{q(schema_of(layer, color))}.{q(name)}")
            keep[rel] = then[:len(now)] == now  # a view may gain columns at its end, nothing else
    for s, name, kind in sorted(existing, key=lambda e: e[2] != "v"):  # views first: a view may read a table
        rel = f"{s}.{name}"
        if rel not in keep or not keep[rel]:  # gone from the project, an older warehouse's table, new columns
            sql(f"drop {_DROP[kind]} {q(s)}.{q(name)}")
    for rel in relations:
        layer, name = rel.split(".", 1)
        view, source = f"{q(layer)}.{q(name)}", f"{q(schema_of(layer, color))}.{q(name)}"
        sql(f"create or replace view {view} with (security_invoker = true) as select * from {source}")
        if keep.get(rel):
            for grantee, _ in _acl(cur, view):
                sql(f"revoke all on {view} from {_role(grantee)}")
        for grantee, privilege in _acl(cur, source):
            sql(f"grant {privilege} on {view} to {_role(grantee)}")
        cur.execute("select obj_description(%s::regclass, 'pg_class')", (source,))
        sql(f"comment on view {view} is %s", (cur.fetchone()[0],))
        cur.execute("select a.attname, col_description(a.attrelid, a.attnum) from pg_attribute as a "
                    "where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped order by a.attnum",
                    (source,))
        for column, comment in cur.fetchall():
            sql(f"comment on column {view}.{q(column)} is %s", (comment,))
    for layer in READER_SCHEMAS:
        new, old = schema_of(layer, color), schema_of(layer, other(color))
        readers = sorted({g for rel in relations if rel.split(".", 1)[0] == layer
                          for g, _ in _acl(cur, f"{q(new)}.{q(rel.split('.', 1)[1])}")})
        for g in _schema_grantees(cur, new):
            sql(f"revoke all on schema {q(new)} from {_role(g)}")
        if _schema_exists(cur, old):
            for g in _schema_grantees(cur, old):
                sql(f"revoke all on schema {q(old)} from {_role(g)}")
        if readers:
            sql(f"grant usage on schema {q(new)}, {q(layer)} to {', '.join(_role(g) for g in readers)}")
    for legacy in LEGACY_DBT_SCHEMAS:  # dbt's schemas before the generations: nobody maintains them any more
        if _schema_exists(cur, legacy):
            sql(f"drop schema {q(legacy)} cascade")
    return out


def lock_wait_ms(cur) -> int:
    """How long the switch waits for the readers' locks, all of them, before it lets go of them and tries again:
    less than half the server's deadlock_timeout, so that a reader waiting behind the publish is never the
    one a deadlock check aborts (its check cannot find the publish waiting)."""
    cur.execute("select setting::int from pg_settings where name = 'deadlock_timeout'")
    return max(50, min(500, cur.fetchone()[0] // 2 - 50))


def _switch(cur, b: dict, plan: _Plan, wait_ms: int) -> None:
    """The publish's transaction, up to its commit."""
    if plan.lock:
        cur.execute("set local statement_timeout = %s", (f"{wait_ms}ms",))
        cur.execute(f"lock table {', '.join(plan.lock)} in access exclusive mode")
        cur.execute("set local statement_timeout = 0")
    cur.execute("set local lock_timeout = %s", (f"{wait_ms}ms",))  # nothing else should wait: if it does, again
    cur.execute(b";\n".join(plan.script))
    cur.execute("insert into audit.warehouse_publish (build_id, generation, dbt_invocation_id, run_id, drop_date, "
                "night_date, started_at, relations, latest_extracts) values (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (b["build_id"], b["generation"], b["dbt_invocation_id"], b.get("run_id"), b.get("drop_date"),
                 b.get("night_date"), b["started_at"], list(b["relations"]),
                 json.dumps(b.get("latest_extracts") or {})))
    cur.execute("update audit.warehouse_build set status = 'published' where build_id = %s", (b["build_id"],))


_HELD = """
    from pg_locks l
    join pg_class c on c.oid = l.relation
    join pg_namespace n on n.oid = c.relnamespace
    where l.granted and l.pid <> pg_backend_pid() and n.nspname = any(%s)
"""


def _holders(cur) -> list[str]:
    """The transactions (virtual ids: pg_locks shows them to any role) holding a lock on a reader's relation."""
    cur.execute("select distinct l.virtualtransaction" + _HELD, (list(READER_SCHEMAS),))
    return [r[0] for r in cur.fetchall()]


def _describe(cur, transactions: list[str]) -> str:
    cur.execute("select string_agg(distinct format('pid %%s (%%s)', l.pid, coalesce(a.usename::text, '?')), "
                "', ') from pg_locks l left join pg_stat_activity a on a.pid = l.pid "
                "where l.virtualtransaction = any(%s)", (transactions,))
    return cur.fetchone()[0] or "transactions that have since ended"


def _wait_for(cur, transactions: list[str], seconds: float) -> list[str]:
    """Until none of ``transactions`` holds a lock on a reader's relation, or ``seconds`` have passed (the
    publish holds no lock meanwhile; other readers come and go); returns those still holding."""
    deadline = time.monotonic() + seconds
    pause = 0.02
    while True:
        cur.execute("select distinct l.virtualtransaction" + _HELD + " and l.virtualtransaction = any(%s)",
                    (list(READER_SCHEMAS), transactions))
        holding = [r[0] for r in cur.fetchall()]
        cur.connection.rollback()
        if not holding or time.monotonic() >= deadline:
            return holding
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, 0.5)


def _published_summary(cur, build_id: str) -> dict:
    cur.execute("select generation, relations, published_at, drop_date, night_date from audit.warehouse_publish "
                "where build_id = %s", (build_id,))
    generation, relations, at, drop_date, night_date = cur.fetchone()
    return {"build_id": build_id, "generation": generation, "relations": list(relations),
            "published_at": at.isoformat(), "drop_date": drop_date.isoformat() if drop_date else None,
            "night_date": night_date.isoformat() if night_date else None}


def publish(target: PgTarget, build: dict, *, lock_timeout_s: float | None = None,
            attempts: int | None = None) -> dict:
    """Point the readers' views at the generation ``build`` (what :func:`build` returned) wrote, in one
    transaction, and record it. Publishing a build already published changes nothing. Raises
    :class:`WapError` when the build cannot be published (it failed, or a later build replaced it), and
    :class:`PublishBlocked` when readers held the published relations through ``attempts`` attempts (after
    each, the publish waits up to ``lock_timeout_s`` for the transactions holding them); nothing is
    published then."""
    import psycopg2.errors

    lock_timeout_s = lock_timeout_seconds() if lock_timeout_s is None else lock_timeout_s
    attempts = max(1, publish_attempts() if attempts is None else attempts)
    build_id, color = build["build_id"], build["generation"]
    t0 = time.monotonic()
    with _exclusive(target, "publish") as conn, conn.cursor() as cur:
        cur.execute("select status, generation from audit.warehouse_build where build_id = %s", (build_id,))
        row = cur.fetchone()
        if row is None:
            raise WapError(f"build {build_id} is not in audit.warehouse_build: nothing to publish")
        status, recorded = row
        if status == "published":
            log.info("build %s is published already", build_id)
            return {**_published_summary(cur, build_id), "publish_seconds": 0.0, "attempts": 0}
        if status != "passed" or recorded != color:
            raise WapError(f"build {build_id} {status} (generation {recorded}): only a build that passed is published")
        cur.execute("select build_id from audit.warehouse_build where generation = %s order by started_at desc "
                    "limit 1", (color,))
        latest = cur.fetchone()[0]
        if latest != build_id:
            raise WapError(f"the {color} generation was built again since build {build_id} (by {latest}): it no longer "
                           "holds what that build tested; nothing was published")
        previous = _published(cur)
        if previous == color:
            raise WapError(f"the {color} generation is the published one already")
        conn.autocommit = False
        try:
            plan = _plan(cur, build)
            wait_ms = lock_wait_ms(cur)
            conn.rollback()
            for tried in range(1, attempts + 1):
                cur.execute("select 1")  # the attempt's transaction
                try:
                    _switch(cur, build, plan, wait_ms)
                    conn.commit()
                    break
                except (psycopg2.errors.QueryCanceled, psycopg2.errors.LockNotAvailable):
                    conn.rollback()
                blockers = _holders(cur)
                conn.rollback()
                if tried == attempts:
                    who = _describe(cur, blockers)
                    conn.rollback()
                    raise PublishBlocked(
                        f"build {build_id} was not published: readers held the relations of "
                        f"{' and '.join(READER_SCHEMAS)} through {attempts} attempts, the publish waiting up to "
                        f"{lock_timeout_s:g} s for them after each ({who}). Readers still read "
                        f"{previous or 'nothing yet'}; publish this build again (the publish task, or "
                        "welfare.warehouse.wap.publish) once they are done, or end those sessions")
                log.warning("publish %s: readers hold the published relations (attempt %s of %s); waiting up to %s s "
                            "for the %s transaction(s) holding them", build_id, tried, attempts, lock_timeout_s,
                            len(blockers))
                _wait_for(cur, blockers, lock_timeout_s)
        except BaseException:
            conn.rollback()
            raise
        conn.autocommit = True
        out = _published_summary(cur, build_id)
    seconds = round(time.monotonic() - t0, 2)
    log.info("published build %s: the %s generation (%s relations) in %s s", build_id, color, len(out["relations"]),
             seconds)
    return {**out, "previous_generation": previous, "publish_seconds": seconds, "attempts": tried}


def build_and_publish(target: PgTarget, dbt_args: Sequence[str] = (), run_id: str | None = None, *,
                      night: dict | None = None, run_dbt: DbtRunner | None = None,
                      target_dir: Path | None = None) -> dict:
    """:func:`build`, then :func:`publish`: the night readers see changes only if every node and test passed.
    Returns the generation, the relations published and the seconds of each step."""
    t0 = time.monotonic()
    b = build(target, dbt_args, run_id=run_id, night=night, run_dbt=run_dbt, target_dir=target_dir)
    p = publish(target, b)
    return {**b, **p, "seconds": round(time.monotonic() - t0, 1)}


def discard(target: PgTarget, color: str) -> list[str]:
    """Drop every schema of the unpublished generation ``color`` (after a key rotation: no relation under
    the old key stays); its next build is a full build. Returns the schemas dropped."""
    import psycopg2.errors

    dropped = []
    with _exclusive(target, "discard a generation") as conn, conn.cursor() as cur:
        if _published(cur) == color:
            raise WapError(f"the {color} generation is published: readers read it")
        conn.autocommit = False
        cur.execute("set local lock_timeout = %s", (f"{int(lock_timeout_seconds() * publish_attempts() * 1000)}ms",))
        try:
            for layer in GENERATION_LAYERS:
                s = schema_of(layer, color)
                if _schema_exists(cur, s):
                    cur.execute(f"drop schema {q(s)} cascade")
                    dropped.append(s)
            conn.commit()
        except psycopg2.errors.LockNotAvailable:
            conn.rollback()
            raise WapError(f"the {color} generation is still being read (a query begun before the publish): it "
                           "was not dropped; discard it again when that query has ended") from None
        conn.autocommit = True
    log.info("discarded the %s generation: %s", color, ", ".join(dropped) or "nothing to drop")
    return dropped
