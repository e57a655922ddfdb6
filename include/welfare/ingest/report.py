"""The load report a person reads: per system and file, what came in and what happened to it."""

from __future__ import annotations

from datetime import date

from welfare.settings import PgTarget
from welfare.warehouse.sql import connect


def load_rows(target: PgTarget, system: str | None = None, extract_date: date | None = None) -> list[dict]:
    sql = """
        select system, extract_date, file_name, status, rows_in, rows_loaded, rows_quarantined, rows_rejected,
               rows_resent, quarantined_by_rule, threshold_breached, reason, duration_s
        from audit.file_audit
        where (%(system)s::text is null or system = %(system)s)
          and (%(d)s::date is null or extract_date = %(d)s)
        order by extract_date, system, file_name, audit_id
    """
    with connect(target.dsn) as conn, conn.cursor() as cur:
        cur.execute(sql, {"system": system, "d": extract_date})
        cols = [c.name for c in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]


def format_rows(rows: list[dict]) -> str:
    if not rows:
        return "(no files loaded or rejected)"
    head = (f"{'date':<10}  {'system':<6}  {'file':<28} {'status':<9} {'in':>8} {'loaded':>8} {'quarant.':>8} "
            f"{'reject.':>8} {'re-sent':>8}  top rules / reason")
    lines = [head, "-" * len(head)]
    for r in rows:
        rules = sorted((r["quarantined_by_rule"] or {}).items(), key=lambda kv: -kv[1])[:3]
        why = ", ".join(f"{k} {v}" for k, v in rules)
        if r["status"] in ("rejected", "resent") or r["threshold_breached"]:
            why = (why + "; " if why else "") + (r["reason"] or "")
        flag = "BREACHED" if r["threshold_breached"] else r["status"]
        lines.append(
            f"{r['extract_date']!s:<10}  {r['system']:<6}  {r['file_name']:<28} {flag:<9} {r['rows_in']:>8} "
            f"{r['rows_loaded']:>8} {r['rows_quarantined']:>8} {r['rows_rejected']:>8} {r['rows_resent']:>8}  {why}")
    return "\n".join(lines)


def load_report(target: PgTarget, system: str | None = None, extract_date: date | None = None) -> str:
    return format_rows(load_rows(target, system, extract_date))
