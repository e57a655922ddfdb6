"""Who read which relation, and when: the access log of the human roles.

The server logs every read of the audited roles (``welfare_analyst``, ``welfare_auditor`` and every
caseworker login, see :mod:`welfare.warehouse.roles`): with pgaudit one ``AUDIT: SESSION,...,READ,
SELECT,TABLE,<schema.relation>`` line per relation read (statement text not logged, so no value a
person searched for), without it the statement (``log_statement = 'all'``), whose relations are
read from its text. The server's log is a JSON line a record, a file a weekday, overwritten after
a week; :func:`collect` copies the audit records out of it into
``$WELFARE_HOME/access/access-log.jsonl`` (0600), where they are kept for
``WELFARE_RETENTION_ACCESS_LOG_DAYS`` (default 400: a fiscal year and the audit after it), then
purged by the retention DAG. ``welfare access-log`` collects, then shows them.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from welfare.settings import private_dir, welfare_home

RETENTION_DAYS_ENV = "WELFARE_RETENTION_ACCESS_LOG_DAYS"
DEFAULT_RETENTION_DAYS = 400
NOT_HUMAN = {"welfare", "postgres", "welfare_loader", "welfare_transformer", "welfare_owner"}
_RELATION = re.compile(r"(?<![\w\"])\"?((?:marts|restricted|staging|intermediate)(?:_blue|_green)?|audit|raw|snapshots"
                       r"|reference|history|access|landing)\"?\s*\.\s*\"?([a-z_][a-z0-9_]*)\"?", re.IGNORECASE)


def access_dir(home: Path | None = None) -> Path:
    return private_dir((home or welfare_home()) / "access")


def log_file(home: Path | None = None) -> Path:
    return access_dir(home) / "access-log.jsonl"


def retention_days() -> int:
    return int(os.environ.get(RETENTION_DAYS_ENV, str(DEFAULT_RETENTION_DAYS)))


def server_log_dir() -> Path | None:
    """Where the server writes its JSON log: ``$WELFARE_SERVER_LOG_DIR``, else the embedded cluster's."""
    if os.environ.get("WELFARE_SERVER_LOG_DIR"):
        return Path(os.environ["WELFARE_SERVER_LOG_DIR"])
    from welfare.warehouse.embedded import EmbeddedWarehouse

    wh = EmbeddedWarehouse.default()
    return wh.server_log_dir if wh.initialised() else None


def parse(record: dict) -> list[dict]:
    """The reads one server log record says a human role made (none for any other record)."""
    user, message = record.get("user"), record.get("message") or ""
    if not user or user in NOT_HUMAN:
        return []
    base = {"at": record.get("timestamp"), "user": user, "database": record.get("dbname"),
            "client": record.get("remote_host"), "session": record.get("session_id"),
            "application": record.get("application_name")}
    if message.startswith("AUDIT: "):
        fields = next(csv.reader([message[len("AUDIT: "):]]))
        if len(fields) < 7 or fields[3] != "READ":
            return []
        return [{**base, "command": fields[4], "relation": fields[6], "via": "pgaudit"}]
    if message.startswith("statement: "):
        stmt = message[len("statement: "):]
        rels = sorted({f"{m.group(1).lower()}.{m.group(2).lower()}" for m in _RELATION.finditer(stmt)})
        verb = (stmt.strip().split(None, 1) or ["?"])[0].upper()
        return [{**base, "command": verb, "relation": r, "via": "log_statement"} for r in rels]
    return []


def collect(home: Path | None = None, source: Path | None = None) -> int:
    """Copy the audit records the server logged since the last collect; returns how many were added."""
    source = source or server_log_dir()
    if source is None or not source.is_dir():
        return 0
    state_file = access_dir(home) / "collected.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else {}
    added = 0
    out_path = log_file(home)
    with open(out_path, "a", encoding="utf-8") as out:
        os.chmod(out_path, 0o600)
        for path in sorted(source.glob("*.json")):
            with open(path, "rb") as f:
                head = hashlib.sha256(f.readline()).hexdigest()
                seen = state.get(path.name) or {}
                offset = seen.get("offset", 0) if seen.get("head") == head else 0
                size = path.stat().st_size
                if offset > size:
                    offset = 0  # truncated at rotation
                f.seek(offset)
                for line in f:
                    if not line.endswith(b"\n"):
                        break  # being written; read it next time
                    offset += len(line)
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue
                    for entry in parse(record):
                        out.write(json.dumps(entry, ensure_ascii=False) + "\n")
                        added += 1
                state[path.name] = {"head": head, "offset": offset}
    tmp = state_file.with_suffix(".new")
    tmp.write_text(json.dumps(state, indent=1))
    os.replace(tmp, state_file)
    return added


def _when(entry: dict) -> datetime:
    # jsonlog: "2026-12-04 06:51:02.123 +07"
    raw = (entry.get("at") or "").strip()
    for fmt in ("%Y-%m-%d %H:%M:%S.%f %z", "%Y-%m-%d %H:%M:%S %z"):
        try:
            return datetime.strptime(raw + ("00" if re.search(r"[+-]\d\d$", raw) else ""), fmt)
        except ValueError:
            continue
    return datetime.min.replace(tzinfo=UTC)


def entries(home: Path | None = None, since: datetime | None = None, user: str | None = None) -> list[dict]:
    path = log_file(home)
    if not path.exists():
        return []
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            e = json.loads(line)
            if since is not None and _when(e) < since:
                continue
            if user is not None and e.get("user") != user:
                continue
            out.append(e)
    return out


def purge(home: Path | None = None, now: datetime | None = None) -> int:
    """Drop the entries older than the retention period; returns how many."""
    path = log_file(home)
    if not path.exists():
        return 0
    cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days())
    kept, dropped = [], 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            if _when(json.loads(line)) < cutoff:
                dropped += 1
            else:
                kept.append(line)
    if dropped:
        tmp = path.with_suffix(".new")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.writelines(kept)
        os.replace(tmp, path)
    return dropped


def collect_and_purge(home: Path | None = None) -> tuple[int, int]:
    """The retention step of the access log: what the server logged copied out before its weekly
    overwrite, then the entries past their period dropped; (collected, purged)."""
    return collect(home), purge(home)


def format_entries(rows: list[dict]) -> str:
    if not rows:
        return "(no reads on record)"
    lines = [f"{'when':<27} {'who':<22} {'database':<14} {'command':<8} relation"]
    for e in rows:
        lines.append(f"{(e.get('at') or ''):<27} {e.get('user', ''):<22} {(e.get('database') or ''):<14} "
                     f"{e.get('command', ''):<8} {e.get('relation', '')}")
    return "\n".join(lines)
