"""The warehouse schemas the ingest owns, and their migrations: util, raw, landing, audit.

dbt owns everything downstream (staging, intermediate, marts and restricted in two generations,
snapshots, history; :mod:`welfare.warehouse.wap`), except the readers' views in marts and
restricted, which the publish makes. The raw tables are generated from the contract: one per
extract, typed, each row carrying its system, extract, extract date, source file and row number.
"""

from __future__ import annotations

from importlib import resources

from welfare import contract
from welfare.contract import Extract
from welfare.warehouse.sql import connect, q, sql_literal

SQL_TYPES = {
    "str": "text",
    "enum": "text",
    "int": "bigint",
    "decimal": "numeric",
    "date": "date",
    "bool": "boolean",
    "list": "text[]",
}

AUDIT_DDL = """
create schema if not exists raw;
create schema if not exists landing;
create schema if not exists audit;

-- One row per file delivery accepted into raw, keyed by its content.
create table if not exists audit.load_ledger (
    load_id        bigint generated always as identity primary key,
    system         text not null,
    extract        text not null,
    extract_date   date not null,
    file_name      text not null,
    sha256         text not null,
    rows_in        bigint not null,
    rows_loaded    bigint not null,
    rows_quarantined bigint not null,
    loaded_at      timestamptz not null default now(),
    unique (system, extract, extract_date, sha256)
);

-- One row per file the ingest looked at and did not skip as already loaded:
-- loaded, or rejected whole (manifest mismatch, schema drift, encoding).
create table if not exists audit.file_audit (
    audit_id       bigint generated always as identity primary key,
    load_id        bigint references audit.load_ledger (load_id),
    run_id         text,
    system         text not null,
    extract        text not null,
    extract_date   date not null,
    file_name      text not null,
    sha256         text,
    status         text not null,
    rows_in        bigint not null,
    rows_loaded    bigint not null,
    rows_quarantined bigint not null,
    rows_rejected  bigint not null,
    quarantined_by_rule jsonb not null default '{}'::jsonb,
    threshold_breached boolean not null default false,
    reason         text,
    kept_at        text,
    started_at     timestamptz not null,
    finished_at    timestamptz not null,
    duration_s     numeric not null
);

-- Rows refused by validation, kept with everything a person needs to act.
create table if not exists audit.quarantine (
    load_id        bigint not null references audit.load_ledger (load_id),
    system         text not null,
    extract        text not null,
    extract_date   date not null,
    source_file    text not null,
    row_no         bigint not null,
    rule           text not null,
    rules          text[] not null,
    message        text not null,
    messages       text[] not null,
    record         jsonb not null,
    primary key (load_id, row_no)
);
-- What the manifest said of a file, so a re-sent manifest that fixes a rejection is looked at anew.
alter table audit.file_audit add column if not exists manifest_rows bigint;
alter table audit.file_audit add column if not exists manifest_sha256 text;
-- A file re-sent byte for byte under a later date adds nothing: its rows are counted as re-sent,
-- pointing at the load that holds them.
alter table audit.file_audit add column if not exists rows_resent bigint not null default 0;
-- where the time of a load went (seconds): landing (checks, the file read into columns), validation
-- (rules and GX), publish
alter table audit.file_audit add column if not exists landing_s numeric;
alter table audit.file_audit add column if not exists validation_s numeric;
alter table audit.file_audit add column if not exists publish_s numeric;
alter table audit.file_audit add column if not exists resent_of bigint references audit.load_ledger (load_id);
alter table audit.file_audit drop constraint if exists file_audit_check;
alter table audit.file_audit drop constraint if exists file_audit_rows_check;
alter table audit.file_audit add constraint file_audit_rows_check
    check (rows_in = rows_loaded + rows_quarantined + rows_rejected + rows_resent);
alter table audit.file_audit drop constraint if exists file_audit_status_check;
alter table audit.file_audit add constraint file_audit_status_check
    check (status in ('loaded', 'rejected', 'resent', 'unexpected'));
-- the rule that rejected a file whole; the manifest the file came with (a re-sent drop repeats one);
-- the date of the drop a re-sent one repeats; who accepted a delivery the ingest had refused
alter table audit.file_audit add column if not exists rule text;
alter table audit.file_audit add column if not exists manifest_fingerprint text;
alter table audit.file_audit add column if not exists resends_date date;
alter table audit.file_audit add column if not exists accepted_by text;
create index if not exists file_audit_fingerprint_idx on audit.file_audit (system, manifest_fingerprint);

-- An operator's explicit acceptance of one delivery the ingest refused (snapshot_shrink): who, when,
-- which file (by its sha256). The next load of that file loads it.
create table if not exists audit.accepted_delivery (
    accept_id      bigint generated always as identity primary key,
    system         text not null,
    extract        text not null,
    extract_date   date not null,
    file_name      text not null,
    sha256         text not null,
    rule           text not null default 'snapshot_shrink',
    accepted_by    text not null,
    accepted_at    timestamptz not null default now(),
    note           text,
    unique (system, extract, extract_date, sha256, rule)
);

create index if not exists quarantine_extract_idx on audit.quarantine (system, extract, extract_date);

-- What the retention purge (welfare.retention, PDPA) removed, one row per object: a raw partition
-- dropped, a load's quarantined rows deleted, a kept rejected file, a Data Docs file or a run log
-- deleted; with the period and why the object was no longer needed. The ledger and file audit stay.
create table if not exists audit.retention_purge (
    purge_id       bigint generated always as identity primary key,
    run_id         text,
    purged_at      timestamptz not null default now(),
    as_of          timestamptz not null,
    category       text not null check (category in ('raw_partition', 'quarantine_rows', 'rejected_file',
                                                     'data_docs', 'run_log')),
    object         text not null,
    system         text,
    extract        text,
    extract_date   date,
    load_id        bigint references audit.load_ledger (load_id),
    rows_purged    bigint,
    bytes_purged   bigint,
    reason         text not null
);
create index if not exists retention_purge_load_idx on audit.retention_purge (load_id);

-- Write, audit, publish (welfare.warehouse.wap): every dbt build of a generation, and every publish.
-- A build goes into the generation readers do not see; its row says how it ended (failed: the nodes
-- that failed or did not run). Written by the transformer as the owner, read by the auditor.
create table if not exists audit.warehouse_build (
    build_id       text primary key,
    generation     text not null check (generation in ('blue', 'green')),
    run_id         text,
    dbt_args       text[] not null default '{}',
    drop_date      date,
    night_date     date,
    started_at     timestamptz not null,
    finished_at    timestamptz,
    status         text not null check (status in ('building', 'passed', 'failed', 'published')),
    dbt_invocation_id text,
    failures       text[] not null default '{}'
);
create index if not exists warehouse_build_generation_idx on audit.warehouse_build (generation, started_at);

-- One row per publish: the transaction that points the readers' views (marts.*, restricted.*) at a
-- build's generation writes it. drop_date: the latest extract_date of audit.load_ledger when the build
-- started; latest_extracts: per system, the latest extract_date loaded then; night_date: the night the
-- nightly chain built for, when it says (a re-sent or missing drop leaves drop_date earlier).
create table if not exists audit.warehouse_publish (
    publish_id     bigint generated always as identity primary key,
    build_id       text not null unique references audit.warehouse_build (build_id),
    generation     text not null check (generation in ('blue', 'green')),
    dbt_invocation_id text not null,
    run_id         text,
    drop_date      date,
    night_date     date,
    started_at     timestamptz not null,
    published_at   timestamptz not null default now(),
    relations      text[] not null,
    latest_extracts jsonb not null default '{}'::jsonb,
    published_by   text not null default session_user
);
-- night_date came after the tables: a warehouse set up before gets the column
alter table audit.warehouse_build add column if not exists night_date date;
alter table audit.warehouse_publish add column if not exists night_date date;
"""


def raw_table(ext: Extract) -> str:
    return f"raw.{ext.qualified_name}"


def raw_partition(ext: Extract, load_id: int) -> str:
    """The partition of ``raw.<system>__<extract>`` that holds one load (one delivered file)."""
    return f"{raw_table(ext)}__l{load_id}"


def raw_ddl(ext: Extract) -> str:
    """Every delivery of an extract, partitioned by load: a load's rows are written once, into a
    partition created in the same transaction (no index, no per-row foreign-key check; with
    ``wal_level = minimal`` not even WAL), and a delivery can be dropped whole."""
    cols = ",\n    ".join(f"{q(c.name)} {SQL_TYPES[c.type]}" for c in ext.columns)
    return f"""
create table if not exists {raw_table(ext)} (
    _load_id      bigint not null,
    _system       text not null,
    _extract      text not null,
    _extract_date date not null,
    _source_file  text not null,
    _row_no       bigint not null,
    _loaded_at    timestamptz not null default now(),
    {cols}
) partition by list (_load_id);
comment on table {raw_table(ext)} is {sql_literal(f"{ext.system}.{ext.name} ({ext.kind}): {ext.description}")};
"""


def _migrate_unpartitioned(cur) -> None:
    """A raw table from before partitioning becomes the default partition of the new one."""
    for system in contract.systems().values():
        for ext in system.extracts.values():
            name = ext.qualified_name
            cur.execute("select c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                        "where n.nspname = 'raw' and c.relname = %s", (name,))
            row = cur.fetchone()
            if row and row[0] == "r":
                cur.execute(f"alter table raw.{name} rename to {name}__unpartitioned")
                cur.execute(f"alter table raw.{name}__unpartitioned drop constraint if exists {name}_pkey")
                cur.execute(f"alter table raw.{name}__unpartitioned drop constraint if exists {name}__load_id_fkey")
                cur.execute(raw_ddl(ext))
                cur.execute(f"alter table raw.{name} attach partition raw.{name}__unpartitioned default")


def bootstrap_sql() -> str:
    util = resources.files("welfare.warehouse").joinpath("util.sql").read_text(encoding="utf-8")
    parts = [util, AUDIT_DDL]
    for system in contract.systems().values():
        for ext in system.extracts.values():
            parts.append(raw_ddl(ext))
    return "\n".join(parts)


HISTORY_SCHEMA = "history"
MEASUREMENTS = "int_person_register_measurements"


def _relkind(cur, schema: str, name: str) -> str | None:
    cur.execute("select c.relkind::text from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                "where n.nspname = %s and c.relname = %s", (schema, name))
    row = cur.fetchone()
    return row[0] if row else None


def _migrate_measurement_history(cur) -> None:
    """S1.1's run history lives in ``history.int_person_register_measurements``, shared by both
    generations of the warehouse (:mod:`welfare.warehouse.wap`). A warehouse built before keeps its
    history, moved before dbt builds anything: from ``marts.person_register_measurements`` (when the
    mart was a table) or ``intermediate.int_person_register_measurements`` (before the generations),
    with the columns saying which build measured (NULL: before builds were published)."""
    cur.execute(f"create schema if not exists {HISTORY_SCHEMA}")
    if _relkind(cur, HISTORY_SCHEMA, MEASUREMENTS) is None:
        if _relkind(cur, "intermediate", MEASUREMENTS) == "r":
            cur.execute(f"alter table intermediate.{MEASUREMENTS} set schema {HISTORY_SCHEMA}")
        elif _relkind(cur, "marts", "person_register_measurements") == "r":
            cur.execute(f"alter table marts.person_register_measurements set schema {HISTORY_SCHEMA}")
            cur.execute(f"alter table {HISTORY_SCHEMA}.person_register_measurements rename to {MEASUREMENTS}")
    if _relkind(cur, HISTORY_SCHEMA, MEASUREMENTS) == "r":
        cur.execute(f"alter table {HISTORY_SCHEMA}.{MEASUREMENTS} add column if not exists build_id text, "
                    "add column if not exists measured_at timestamptz")


def bootstrap(dsn: str, role: str | None = None) -> None:
    """Create (if missing) every schema, function and raw table the ingest needs, as ``role`` (the
    owner, when the set-up runs it: :func:`welfare.warehouse.roles.setup`)."""
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext('welfare.bootstrap'))")
        if role:
            cur.execute(f"set local role {q(role)}")
        cur.execute("create schema if not exists raw")
        _migrate_unpartitioned(cur)
        cur.execute(bootstrap_sql())
        _migrate_measurement_history(cur)
        conn.commit()


class NotSetUp(RuntimeError):
    pass


def require_setup(dsn: str) -> None:
    """Fails clearly when the warehouse was not set up (or was set up by an older version): the
    components' roles may not create schemas or migrate, `welfare warehouse setup` does."""
    with connect(dsn) as conn, conn.cursor() as cur:
        # from the catalogs: a component's role may have no usage of every schema
        cur.execute("select (select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                    "        where (n.nspname, c.relname) in (('audit', 'load_ledger'), ('audit', 'warehouse_publish'), "
                    "                                         ('access', 'caseworker_districts'))) = 3 "
                    "and exists (select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
                    "            where n.nspname = 'util' and p.proname = 'raw_partition_create')")
        ready = cur.fetchone()[0]
    if not ready:
        raise NotSetUp("the warehouse is not set up: run `welfare warehouse setup` (as its superuser, "
                       "WELFARE_ADMIN_URI) before the components connect")
