"""Who may read and write what in the warehouse: the roles, created by the project.

``welfare_owner``        owns every schema and object; NOLOGIN, nobody logs in as it.
``welfare_loader``       the ingest: writes ``raw`` (through two owner functions that create and attach a
                         load's partition), ``audit`` and ``landing``; reads nothing dbt builds.
``welfare_transformer``  dbt: a member of ``welfare_owner`` (its sessions ``set role welfare_owner``, so
                         what dbt creates is the owner's); also runs the retention purge.
``welfare_bi_reader``    the BI tool: the aggregate marts only (no person-level row anywhere).
``welfare_analyst``      adds the pseudonymised person-level marts.
``welfare_caseworker``   a group: the follow-up lists in ``restricted`` with names and ids, limited by row
                         level security to the districts ``access.caseworker_districts`` grants the
                         login; logins are made by ``welfare caseworker grant``.
``welfare_auditor``      the load audit and the quarantine's reasons (not the quarantined records).

Which mart each reader may read is dbt's ``grants`` config (``dbt_project.yml``, re-applied by every
build to the tables it recreates); the row security of the follow-up lists and the check that the
pseudonym key is present are dbt macros (``macros/access.sql``). dbt builds into the generation
readers do not see (``<layer>_blue`` or ``<layer>_green``); readers read the views ``marts.*`` and
``restricted.*``, which the publish (:mod:`welfare.warehouse.wap`) points at the published generation
with the grants dbt gave its relations, and it alone gives readers the usage of that generation's
schemas. This module makes the roles and what lies outside dbt: the database, the schemas, the
ingest's grants, the caseworkers' table.

The human roles (analyst, auditor, every caseworker login) are audited: with pgaudit, every read
they make is logged with the relation (``pgaudit.log = 'read'``); without it, their statements are
(``log_statement = 'all'``). See :mod:`welfare.warehouse.access_log`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from welfare.settings import PgTarget
from welfare.warehouse.sql import connect, q

OWNER = "welfare_owner"
ROLES = {
    "loader": "welfare_loader",
    "transformer": "welfare_transformer",
    "bi_reader": "welfare_bi_reader",
    "analyst": "welfare_analyst",
    "caseworker": "welfare_caseworker",
    "auditor": "welfare_auditor",
}
LOGIN_ROLES = ("loader", "transformer", "bi_reader", "analyst", "auditor")
AUDITED_ROLES = ("analyst", "auditor")  # and every caseworker login
INGEST_SCHEMAS = ("util", "raw", "landing", "audit", "access")
GENERATIONS = ("blue", "green")
GENERATION_LAYERS = ("staging", "intermediate", "marts", "restricted")  # one schema per layer and generation
READER_SCHEMAS = ("marts", "restricted")  # the readers' views of the published generation
SHARED_DBT_SCHEMAS = ("reference", "snapshots", "history")  # seeds, snapshots, S1.1's history: one for both
DBT_SCHEMAS = (*READER_SCHEMAS, *SHARED_DBT_SCHEMAS,
               *(f"{layer}_{color}" for color in GENERATIONS for layer in GENERATION_LAYERS))
# dbt's schemas before the generations: the first publish drops what is left of them
LEGACY_DBT_SCHEMAS = ("staging", "intermediate")
_LOGIN_NAME = re.compile(r"^[a-z][a-z0-9_]{2,40}$")


def role_name(role: str) -> str:
    """``loader`` -> ``welfare_loader``; a full role name is returned as it is."""
    return ROLES.get(role, role)


def role_target(admin: PgTarget, role: str, password: str) -> PgTarget:
    """The target of the same database as login ``role``."""
    import dataclasses

    return dataclasses.replace(admin, user=role_name(role), password=password, options="")


def _pgaudit_loaded(cur) -> bool:
    cur.execute("select 'pgaudit' = any(string_to_array(replace(current_setting('shared_preload_libraries'), ' ', ''), ','))")
    return bool(cur.fetchone()[0])


def audit_login(cur, login: str) -> None:
    """The access audit of one human login (cluster-wide role settings)."""
    if _pgaudit_loaded(cur):
        cur.execute(f"alter role {q(login)} set pgaudit.log = 'read'")
        cur.execute(f"alter role {q(login)} set pgaudit.log_statement = off")
        cur.execute(f"alter role {q(login)} reset log_statement")
    else:
        cur.execute(f"alter role {q(login)} set log_statement = 'all'")
        cur.execute(f"alter role {q(login)} reset pgaudit.log")


# Each login role's connections at most: a load task holds up to about five (the loader's session, the rule
# results' engine, GX's datasource), and a night runs four such tasks at once under the scheduler, the three
# systems side by side under `welfare run`. The server's max_connections (100, embedded.py) bounds them all.
LOGIN_CONNECTION_LIMIT = 40


def _ensure_role(cur, name: str, login: bool, password: str | None) -> None:
    cur.execute("select 1 from pg_roles where rolname = %s", (name,))
    if cur.fetchone() is None:
        cur.execute(f"create role {q(name)}")
    attrs = "login" if login else "nologin"
    cur.execute(f"alter role {q(name)} {attrs} nosuperuser nocreatedb nocreaterole noreplication nobypassrls "
                "inherit connection limit " + (str(LOGIN_CONNECTION_LIMIT) if login else "-1"))
    if login and password:
        cur.execute("set local password_encryption = 'scram-sha-256'")
        cur.execute(f"alter role {q(name)} password %s", (password,))
    elif not login:
        cur.execute(f"alter role {q(name)} password null")


def create_roles(admin: PgTarget, password: Callable[[str], str]) -> None:
    """The cluster's roles (idempotent; passwords set anew from ``password(role)``)."""
    with connect(admin.dsn) as conn, conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext('welfare.roles'))")
        _ensure_role(cur, OWNER, login=False, password=None)
        _ensure_role(cur, ROLES["caseworker"], login=False, password=None)
        for role in LOGIN_ROLES:
            _ensure_role(cur, ROLES[role], login=True, password=password(role))
        cur.execute(f"grant {OWNER} to {ROLES['transformer']}")
        for role in AUDITED_ROLES:
            audit_login(cur, ROLES[role])
        cur.execute("select r.rolname from pg_auth_members m join pg_roles g on g.oid = m.roleid "
                    "join pg_roles r on r.oid = m.member where g.rolname = %s", (ROLES["caseworker"],))
        for (login,) in cur.fetchall():
            audit_login(cur, login)
        conn.commit()


def _own_everything(cur) -> None:
    """Objects of the project's schemas that another role owns (a warehouse built before the roles, by
    the superuser) become the owner's."""
    schemas = list(INGEST_SCHEMAS + DBT_SCHEMAS + LEGACY_DBT_SCHEMAS)
    cur.execute("select nspname from pg_namespace where nspname = any(%s) and nspowner <> %s::regrole",
                (schemas, OWNER))
    for (s,) in cur.fetchall():
        cur.execute(f"alter schema {q(s)} owner to {OWNER}")
    cur.execute("""
        select n.nspname, c.relname, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = any(%s) and c.relowner <> %s::regrole and c.relkind in ('r', 'p', 'v', 'm', 'f')
        """, (schemas, OWNER))
    for s, name, kind in cur.fetchall():
        what = {"v": "view", "m": "materialized view", "f": "foreign table"}.get(kind, "table")
        cur.execute(f"alter {what} {q(s)}.{q(name)} owner to {OWNER}")
    cur.execute("""
        select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = any(%s) and p.proowner <> %s::regrole
        """, (schemas, OWNER))
    for (fn,) in cur.fetchall():
        cur.execute(f"alter routine {fn} owner to {OWNER}")


ACCESS_DDL = f"""
-- Which caseworker login serves which districts: the row security of the follow-up lists reads it.
create table if not exists access.caseworker_districts (
    login          name not null,
    district_code  text not null check (district_code ~ '^60[0-9]{{2}}$'),
    granted_by     text not null default session_user,
    granted_at     timestamptz not null default now(),
    primary key (login, district_code)
);
-- The districts of the session's login (a caseworker reads nothing else of the table).
create or replace function access.my_districts() returns setof text
    language sql stable security definer set search_path = pg_catalog, pg_temp
as $$ select district_code from access.caseworker_districts where login = session_user $$;
revoke all on function access.my_districts() from public;

-- The loader creates and attaches a load's raw partition through these: it owns nothing and may
-- create no table in raw; the partition is the owner's, and the loader may only fill and read it.
create or replace function util.raw_partition_create(p_load_id bigint) returns text
    language plpgsql security definer set search_path = pg_catalog, pg_temp
as $$
declare
    l record;
    parent regclass;
    part text;
    cols text;
begin
    select system, extract into l from audit.load_ledger where load_id = p_load_id;
    if not found then
        raise exception 'load % is not in audit.load_ledger', p_load_id;
    end if;
    parent := to_regclass(format('raw.%I', l.system || '__' || l.extract));
    if parent is null then
        raise exception 'no raw table for %.%', l.system, l.extract;
    end if;
    part := format('raw.%I', l.system || '__' || l.extract || '__l' || p_load_id);
    select string_agg(format('%I %s', a.attname, format_type(a.atttypid, a.atttypmod)), ', ' order by a.attnum)
    into cols
    from pg_attribute a
    where a.attrelid = parent and a.attnum > 0 and not a.attisdropped
      and a.attname not in ('_load_id', '_system', '_extract', '_extract_date', '_source_file', '_row_no',
                            '_loaded_at');
    execute format('create table %s (_load_id bigint not null default %s check (_load_id = %s), '
                   '_row_no bigint not null, %s)', part, p_load_id, p_load_id, cols);
    execute format('grant select, insert on %s to {ROLES["loader"]}', part);
    return part;
end
$$;

create or replace function util.raw_partition_attach(p_load_id bigint) returns void
    language plpgsql security definer set search_path = pg_catalog, pg_temp
as $$
declare
    l record;
    part text;
begin
    select system, extract, extract_date, file_name into l from audit.load_ledger where load_id = p_load_id;
    if not found then
        raise exception 'load % is not in audit.load_ledger', p_load_id;
    end if;
    part := format('raw.%I', l.system || '__' || l.extract || '__l' || p_load_id);
    execute format('alter table %s add column _system text not null default %L, '
                   'add column _extract text not null default %L, '
                   'add column _extract_date date not null default %L, '
                   'add column _source_file text not null default %L, '
                   'add column _loaded_at timestamptz not null default now()',
                   part, l.system, l.extract, l.extract_date, l.file_name);
    execute format('alter table %s attach partition %s for values in (%s)',
                   format('raw.%I', l.system || '__' || l.extract), part, p_load_id);
end
$$;
revoke all on function util.raw_partition_create(bigint) from public;
revoke all on function util.raw_partition_attach(bigint) from public;
"""


def apply_database(admin: PgTarget) -> None:
    """Who may connect, and what the ingest's schemas grant; the dbt schemas' grants are dbt's
    (re-applied at every build). Idempotent; :func:`setup` makes the schemas the owner's and runs the
    ingest's DDL first."""
    loader, auditor, caseworker = ROLES["loader"], ROLES["auditor"], ROLES["caseworker"]
    logins = [ROLES[r] for r in LOGIN_ROLES] + [caseworker]
    with connect(admin.dsn) as conn, conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext('welfare.bootstrap'))")
        db = q(admin.database)
        cur.execute(f"revoke all on database {db} from public")
        cur.execute(f"grant connect, temporary on database {db} to {', '.join(logins)}")
        cur.execute("revoke all on schema public from public")
        if _pgaudit_available(cur):
            cur.execute("create extension if not exists pgaudit")
        cur.execute(f"set local role {OWNER}")
        cur.execute(ACCESS_DDL)
        # the ingest
        cur.execute(f"grant usage on schema util, raw, audit to {loader}")
        cur.execute(f"grant usage, create on schema landing to {loader}")
        cur.execute(f"grant select on all tables in schema raw to {loader}")
        cur.execute(f"grant select, insert, update on all tables in schema audit to {loader}")
        # what was built and published is the transformer's record (as the owner), not the loader's
        cur.execute(f"revoke insert, update, delete, truncate on audit.warehouse_build, audit.warehouse_publish "
                    f"from {loader}")
        cur.execute(f"grant execute on function util.raw_partition_create(bigint), "
                    f"util.raw_partition_attach(bigint) to {loader}")
        # the auditor: the load audit, and of the quarantine the reasons, not the records
        cur.execute(f"grant usage on schema audit to {auditor}")
        cur.execute("select table_name from information_schema.tables where table_schema = 'audit' "
                    "and table_name <> 'quarantine'")
        for (t,) in cur.fetchall():
            cur.execute(f"grant select on audit.{q(t)} to {auditor}")
        cur.execute(f"grant select (load_id, system, extract, extract_date, source_file, row_no, rule, rules, "
                    f"message, messages) on audit.quarantine to {auditor}")
        # the caseworkers: their own districts, through access.my_districts()
        cur.execute(f"grant usage on schema access to {caseworker}")
        cur.execute(f"grant execute on function access.my_districts() to {caseworker}")
        conn.commit()


def _pgaudit_available(cur) -> bool:
    cur.execute("select exists (select 1 from pg_available_extensions where name = 'pgaudit')")
    return bool(cur.fetchone()[0]) and _pgaudit_loaded(cur)


def setup(admin: PgTarget, password: Callable[[str], str]) -> None:
    """Everything, as the superuser: roles, the ingest's DDL as the owner, the grants."""
    from welfare.warehouse import ddl

    create_roles(admin, password)
    with connect(admin.dsn) as conn, conn.cursor() as cur:
        cur.execute("select pg_advisory_xact_lock(hashtext('welfare.bootstrap'))")
        cur.execute(f"alter database {q(admin.database)} owner to {OWNER}")
        for s in INGEST_SCHEMAS + DBT_SCHEMAS:
            cur.execute(f"create schema if not exists {q(s)} authorization {OWNER}")
            cur.execute(f"revoke all on schema {q(s)} from public")
        _own_everything(cur)  # a warehouse built before the roles: its objects become the owner's
        conn.commit()
    ddl.bootstrap(admin.dsn, role=OWNER)
    apply_database(admin)


# ---------------------------------------------------------------- caseworkers
def grant_districts(admin: PgTarget, login: str, districts: list[str], password: str, granted_by: str) -> None:
    """``login`` (made a caseworker login if new) serves ``districts`` from now on."""
    if not _LOGIN_NAME.match(login) or login in ROLES.values() or login == OWNER:
        raise ValueError(f"{login!r} is not a valid caseworker login (lower-case letters, digits, _; "
                         "not a role of the project)")
    for d in districts:
        if not re.match(r"^60[0-9]{2}$", d):
            raise ValueError(f"{d!r} is not a district code of Nakhon Sawan (60DD)")
    with connect(admin.dsn) as conn, conn.cursor() as cur:
        _ensure_role(cur, login, login=True, password=password)
        cur.execute(f"grant {ROLES['caseworker']} to {q(login)}")
        audit_login(cur, login)
        for d in districts:
            cur.execute("insert into access.caseworker_districts (login, district_code, granted_by) "
                        "values (%s, %s, %s) on conflict do nothing", (login, d, granted_by))
        conn.commit()


def revoke_districts(admin: PgTarget, login: str, districts: list[str] | None) -> int:
    """``login`` no longer serves ``districts`` (all of them when None); returns how many were removed."""
    with connect(admin.dsn) as conn, conn.cursor() as cur:
        if districts:
            cur.execute("delete from access.caseworker_districts where login = %s and district_code = any(%s)",
                        (login, districts))
        else:
            cur.execute("delete from access.caseworker_districts where login = %s", (login,))
        n = cur.rowcount
        conn.commit()
    return n
