"""`welfare`: the command line of the Nakhon Sawan welfare warehouse."""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path


def cmd_generate(args) -> int:
    from welfare.generate import GenerateOptions, generate
    from welfare.generate.drops import parse_drops

    drops, resends = parse_drops(args.drops)
    opts = GenerateOptions(out=Path(args.out), scale=args.scale, seed=args.seed, drops=drops, resends=resends,
                           defects=args.defects)
    s = generate(opts)
    print(f"wrote {s.files} files under {s.out} ({', '.join(f'{k} {v}' for k, v in s.rows.items())} rows)")
    print(f"planted {len(s.planted)} defects; ground truth: {s.out / 'ground_truth.json'}")
    return 0


def cmd_calibrate(args) -> int:
    from welfare.generate.calibration import format_report, measure

    result = measure(Path(args.sources))
    print(format_report(result))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0 if all(h["within_5pct"] is not False for h in result["headlines"]) else 1


def _target(role: str = "bi_reader"):
    """The warehouse as ``role``: a deployed PostgreSQL (WELFARE_WAREHOUSE_URI) or the embedded one.
    Every command connects with the least role that does its work; none as the superuser."""
    from welfare.warehouse import connections

    return connections.role_target(role)


EXIT_FAILED = 1         # the pipeline itself failed
EXIT_DATA_PROBLEMS = 3  # the pipeline ran; some files were rejected or breached their quarantine threshold


def cmd_run(args) -> int:
    from welfare import ingest
    from welfare.cli import runner
    from welfare.ingest import report
    from welfare.settings import reports_dir, welfare_home

    sources = Path(args.sources)
    if not sources.is_dir():
        print(f"welfare run: no such sources folder: {sources}", file=sys.stderr)
        return 2
    try:
        ingest.check_configuration()
    except ingest.ConfigurationError as exc:
        print(f"welfare run: configuration error, nothing was loaded: {exc}", file=sys.stderr)
        return 2
    summary = runner.run_pipeline(sources, until=args.until)
    if not summary.dates:
        print(f"welfare run: no complete drop (a folder <system>/<YYYY-MM-DD>/ with _manifest.json) under {sources}",
              file=sys.stderr)
        return 2
    rows = report.load_rows(_target("auditor"))
    wanted = {d for d in summary.dates}
    rows = [r for r in rows if r["extract_date"] in wanted]
    print()
    print("Load report (per file: rows in = loaded + quarantined + rejected + re-sent)")
    print(report.format_rows(rows))
    out = reports_dir()
    out.mkdir(parents=True, exist_ok=True)
    kpi_csv = out / "kpi_values.csv"
    n = export_kpis(_target("bi_reader"), kpi_csv)
    (out / "load_report.txt").write_text(report.format_rows(rows) + "\n", encoding="utf-8")
    print()
    print(f"Indicators: {n} rows in marts.kpi_values (psql: `welfare warehouse psql`), exported to {kpi_csv}")
    print(f"Load report: {out / 'load_report.txt'}; quarantined rows: audit.quarantine; "
          f"rejected files: {welfare_home() / 'quarantine' / 'files'}")
    print(f"Data Docs: {welfare_home() / 'data_docs'}; Airflow run logs: {welfare_home() / 'runs'}")
    bad = [r for r in rows if r["status"] in ("rejected", "unexpected") or r["threshold_breached"]]
    explained = {(f"welfare_ingest_{r['system']}", r["extract_date"]) for r in bad}
    unexpected = [f"{r.dag_id} {r.extract_date}" for r in summary.runs
                  if not r.ok and (r.dag_id, r.extract_date) not in explained]
    if unexpected:
        print(f"\nwelfare run: FAILED: DAG runs failed for reasons other than the data: {', '.join(unexpected)} "
              "(see their logs above)", file=sys.stderr)
        return EXIT_FAILED
    if bad:
        print(f"\nwelfare run: DATA PROBLEMS: {len(bad)} file(s) rejected or over their quarantine threshold "
              "(listed above); everything else is loaded and the warehouse is built on what is current",
              file=sys.stderr)
        return EXIT_DATA_PROBLEMS
    return 0


def cmd_accept(args) -> int:
    """Accept one delivery rejected for snapshot_shrink, record who and when, and load it."""
    import getpass

    from welfare import contract, ingest
    from welfare.orchestration import tasks

    try:
        ext = contract.extract(args.system, args.extract)
    except KeyError:
        print(f"welfare accept: no extract {args.system}.{args.extract} in the contract", file=sys.stderr)
        return 2
    sources = Path(args.sources or os.environ.get("WELFARE_SOURCES") or "")
    if not sources.is_dir():
        print("welfare accept: give --sources (or set WELFARE_SOURCES): the folder of the drops", file=sys.stderr)
        return 2
    target = _target("loader")
    tasks.bootstrap_once(target)
    who = args.by or getpass.getuser()
    sha = tasks.accept(target, ext.system, ext.name, args.date, who, note=args.note)
    if sha is None:
        print(f"welfare accept: {ext.system}.{ext.name} of {args.date}: no delivery rejected for snapshot_shrink is "
              "on record; nothing accepted", file=sys.stderr)
        return 2
    print(f"accepted: {ext.system}/{args.date}/{ext.file} (sha256 {sha[:12]}…) by {who}; loading it")
    res = ingest.ingest_extract(target, sources, ext.system, ext.name, args.date,
                                threshold=ingest.threshold_for(ext.system, ext.name))
    print(f"{res.status}: {res.rows_in} rows in, {res.rows_loaded} loaded, {res.rows_quarantined} quarantined"
          + (f"; {res.reason}" if res.reason else ""))
    if res.status != "loaded":
        return EXIT_DATA_PROBLEMS
    print("The warehouse picks it up at its next build (the welfare_warehouse DAG, or `welfare run`).")
    return 0


def export_kpis(target, path: Path) -> int:
    from welfare.warehouse.sql import connect

    with connect(target.dsn) as conn, conn.cursor() as cur:
        cur.execute("select kpi_code, fiscal_year, area_code, value from marts.kpi_values "
                    "order by kpi_code, fiscal_year, area_code")
        rows = cur.fetchall()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["kpi_code", "fiscal_year", "area_code", "value"])
        for code, fy, area, value in rows:
            w.writerow([code, fy, area, "" if value is None else value])
    return len(rows)


def cmd_kpis(args) -> int:
    n = export_kpis(_target(), Path(args.csv))
    print(f"wrote {n} indicator rows to {args.csv}")
    return 0


def cmd_export_open(args) -> int:
    from welfare.export.open_data import check_threshold, export_open
    from welfare.settings import welfare_home

    try:
        threshold = check_threshold(args.threshold)
    except ValueError as e:
        print(f"welfare export-open: {e}", file=sys.stderr)
        return 2
    od = export_open(_target(), Path(args.out), threshold,
                     run_results=welfare_home() / "dbt" / "target" / "run_results.json")
    blanked = od.about["totals"]["blanked_cells"]
    print(f"wrote {', '.join(f'{n} ({blanked[n]} blanked)' for n in blanked)}, _about.json, อ่านก่อน.txt "
          f"to {args.out} (threshold {threshold})")
    return 0


def cmd_report(args) -> int:
    from welfare.ingest import report

    print(report.load_report(_target("auditor"), system=args.system, extract_date=args.date))
    return 0


PSQL_ROLES = ("analyst", "bi_reader", "auditor")  # and caseworker logins; never a component role


def cmd_warehouse(args) -> int:
    from welfare.warehouse import connections, roles
    from welfare.warehouse.embedded import EmbeddedWarehouse, WarehouseError

    wh = EmbeddedWarehouse.default()
    try:
        if args.action in ("start", "setup"):
            if args.action == "start" and os.environ.get("WELFARE_ADMIN_URI"):
                print("welfare warehouse start: WELFARE_ADMIN_URI names a deployed server; use `setup`",
                      file=sys.stderr)
                return 2
            admin = connections.setup()
            print(f"warehouse {'running and ' if args.action == 'start' else ''}set up: "
                  f"{admin.host}:{admin.port}/{admin.database}; roles: {', '.join(roles.ROLES.values())} "
                  f"(owned by {roles.OWNER}); passwords: WELFARE_<ROLE>_PASSWORD or $WELFARE_HOME/secrets")
        elif args.action == "stop":
            wh.stop()
            print("warehouse stopped")
        elif args.action == "status":
            print(json.dumps(wh.status(), indent=2))
            return 0 if wh.running() else 3
        elif args.action == "psql":
            role, rest = args.as_role, list(args.psql_args)
            while rest and (rest[0] == "--as" or rest[0].startswith("--as=")):  # `psql --as ROLE ...`
                role = rest[1] if rest[0] == "--as" and len(rest) > 1 else rest[0].partition("=")[2]
                rest = rest[2:] if rest[0] == "--as" else rest[1:]
            if rest[:1] == ["--"]:
                rest = rest[1:]
            args.psql_args = rest
            not_a_person = {"owner", roles.OWNER, "welfare", "postgres"} | {
                n for r in ("loader", "transformer", "caseworker") for n in (r, roles.ROLES[r])}
            if role in not_a_person:
                print(f"welfare warehouse psql: {role} is a component's role, not a person's; use --as "
                      f"{', '.join(PSQL_ROLES)} or a caseworker login", file=sys.stderr)
                return 2
            t = _target(role)
            psql = "psql"
            if not os.environ.get("WELFARE_WAREHOUSE_URI"):
                wh.start()
                found = Path(json.loads(wh.config_file.read_text())["bindir"]) / "psql"
                psql = str(found) if found.exists() else "psql"
            import dataclasses

            env = {**os.environ, "PGPASSWORD": t.password}  # not on the command line, where `ps` shows it
            return subprocess.call([psql, dataclasses.replace(t, password="").uri, *args.psql_args], env=env)
    except WarehouseError as exc:
        print(f"welfare warehouse {args.action}: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_airflow(args) -> int:
    """Run the airflow CLI with the project's environment (AIRFLOW_HOME, dags folder, connections): the
    live Airflow's (its metadata database) once `welfare up` has set it up, else `welfare run`'s."""
    from welfare.cli import live, runner

    cfg = live.read_config()
    if cfg is not None and not args.sources:
        env = live.live_env(cfg)
    else:
        env = runner.airflow_env(Path(args.sources) if args.sources else None)
        runner.ensure_airflow(env)
    return subprocess.call([runner.airflow_bin(), *args.airflow_args], env=env)


def cmd_up(args) -> int:
    from welfare.cli import live

    try:
        live.up(port=args.port, sources=args.sources, executor=args.executor, workers=args.workers,
                timeout_s=args.timeout, unpause=not args.paused)
    except live.LiveError as exc:
        print(f"welfare up: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_down(args) -> int:
    from welfare.cli import live

    live.down(echo=print)
    return 0


def cmd_status(args) -> int:
    from welfare.cli import live

    info = live.status()
    print(json.dumps(info, indent=2))
    return 0 if info["running"] and not info.get("unhealthy") else 3


def cmd_screenshot(args) -> int:
    from welfare.cli import live

    try:
        path, run_id = live.screenshot_run(Path(args.out), dag_id=args.dag, run_id=args.run)
    except live.LiveError as exc:
        print(f"welfare screenshot: {exc}", file=sys.stderr)
        return 2
    print(f"{path}: {args.dag} {run_id}")
    return 0


def cmd_caseworker(args) -> int:
    """Which caseworker login serves which districts (the row security of the follow-up lists)."""
    import getpass

    from welfare.warehouse import connections, roles, secrets
    from welfare.warehouse.sql import connect

    if args.action != "list" and not args.login:
        print(f"welfare caseworker {args.action}: name the login", file=sys.stderr)
        return 2
    admin = connections.admin_target()
    try:
        if args.action == "grant":
            if not args.districts:
                print("welfare caseworker grant: name the districts (60DD ...)", file=sys.stderr)
                return 2
            roles.grant_districts(admin, args.login, args.districts, secrets.password(args.login),
                                  granted_by=getpass.getuser())
            print(f"{args.login} serves {', '.join(args.districts)}; log in with "
                  f"`welfare warehouse psql --as {args.login}` (password: WELFARE_{args.login.upper()}_PASSWORD "
                  "or $WELFARE_HOME/secrets)")
        elif args.action == "revoke":
            n = roles.revoke_districts(admin, args.login, args.districts or None)
            print(f"{args.login}: {n} district(s) revoked")
    except ValueError as exc:
        print(f"welfare caseworker {args.action}: {exc}", file=sys.stderr)
        return 2
    if args.action == "list":
        with connect(admin.dsn) as conn, conn.cursor() as cur:
            cur.execute("select login, string_agg(district_code, ' ' order by district_code), max(granted_at) "
                        "from access.caseworker_districts group by login order by login")
            for login, districts, at in cur.fetchall():
                print(f"{login:<24} {districts}  (last granted {at:%Y-%m-%d})")
    return 0


def cmd_rotate_key(args) -> int:
    """A new pseudonym key, then every model that holds a person_key rebuilt from scratch, tested and
    published; the generation built under the old key is dropped."""
    from welfare.orchestration import tasks
    from welfare.warehouse import connections, secrets, wap

    if not args.rebuild_only:
        try:
            secrets.rotate_pseudonym_key()
        except secrets.SecretError as exc:
            print(f"welfare rotate-key: {exc}", file=sys.stderr)
            return 2
        print("a new pseudonym key is in $WELFARE_HOME/secrets/pseudonym.key; the old one is gone")
    transformer = connections.role_target("transformer")
    try:
        out = tasks.build_and_publish(transformer, ROTATION_REBUILD, run_id="rotate-key")
    except wap.WapError as exc:
        print(f"welfare rotate-key: {exc}", file=sys.stderr)
        print("welfare rotate-key: readers still read the warehouse under the old key; fix and run "
              "`welfare rotate-key --rebuild-only`", file=sys.stderr)
        return 1
    try:
        wap.discard(transformer, wap.other(out["generation"]))
    except wap.WapError as exc:
        print(f"welfare rotate-key: published under the new key, but the generation under the old key is still "
              f"there: {exc}", file=sys.stderr)
        return 1
    print(f"every model rebuilt under the new key and published (the {out['generation']} generation); the "
          "generation under the old key is dropped: no person_key of the old key remains")
    return 0


# Every model rebuilt from the current state (`dbt build`: its tests too, the gate of the publish); the run
# history of S1.1 holds no key and is kept.
ROTATION_REBUILD = ["--full-refresh", "--exclude", "int_person_register_measurements"]


def cmd_access_log(args) -> int:
    from welfare.warehouse import access_log

    access_log.collect()
    rows = access_log.entries(since=args.since, user=args.user)
    if args.json:
        for r in rows:
            print(json.dumps(r, ensure_ascii=False))
    else:
        print(access_log.format_entries(rows))
    return 0


def cmd_purge(args) -> int:
    """The retention purge now (what the welfare_retention DAG does nightly), as the transformer."""
    from welfare import retention
    from welfare.warehouse import access_log

    try:
        result = retention.purge(_target("transformer"), dry_run=args.dry_run, run_id="cli")
    except retention.RetentionError as exc:
        print(f"welfare purge: {exc}", file=sys.stderr)
        return 2
    verb = "would purge" if args.dry_run else "purged"
    for item in result.purged:
        print(f"{verb} {item.category:<16} {item.object}: {item.reason}")
    for kept in result.kept:
        print(f"kept   {kept.category:<16} {kept.object}: {kept.reason}")
    if not args.dry_run:
        _, n = access_log.collect_and_purge()
        print(f"access log: {n} entr{'y' if n == 1 else 'ies'} past {access_log.retention_days()} days dropped")
    print(f"{len(result.purged)} object(s) {verb}; periods (days): "
          + ", ".join(f"{k} {v}" for k, v in result.periods.items()))
    return 0


def _since(value: str):
    from datetime import datetime

    from welfare.settings import LOCAL_TZ

    d = datetime.fromisoformat(value)
    if d.tzinfo is None:
        from zoneinfo import ZoneInfo

        d = d.replace(tzinfo=ZoneInfo(LOCAL_TZ))
    return d


def build_parser() -> argparse.ArgumentParser:
    from welfare.generate.defects import DEFAULT_RATES
    from welfare.generate.drops import DEFAULT_DROP_SPEC

    p = argparse.ArgumentParser(prog="welfare", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", help="write synthetic source drops that follow sources.yml")
    g.add_argument("--out", required=True, help="folder to write <system>/<YYYY-MM-DD>/ drops into")
    g.add_argument("--scale", type=float, default=0.01, help="1.0 = the whole province (default 0.01)")
    g.add_argument("--seed", type=int, default=60)
    g.add_argument("--drops", default=DEFAULT_DROP_SPEC,
                   help="comma-separated drop dates; D=E makes drop D a byte-identical re-send of drop E "
                        f"(default {DEFAULT_DROP_SPEC})")
    g.add_argument("--defects", default="default",
                   help="'none', 'default', or name[=rate],... of: " + ", ".join(DEFAULT_RATES))
    g.set_defaults(func=cmd_generate)

    c = sub.add_parser("calibrate", help="headline counts of generated sources against the published figures")
    c.add_argument("--sources", required=True)
    c.add_argument("--json", help="also write the figures to this JSON file")
    c.set_defaults(func=cmd_calibrate)

    r = sub.add_parser("run", help="run the nightly pipeline (real Airflow DAGs) for every complete drop under --sources")
    r.add_argument("--sources", required=True)
    r.add_argument("--until", type=date.fromisoformat, help="last drop date to run (YYYY-MM-DD)")
    r.set_defaults(func=cmd_run)

    acc = sub.add_parser("accept", help="accept one delivery rejected for snapshot_shrink (recorded: who, when, "
                                        "which file), then load it")
    acc.add_argument("--system", required=True)
    acc.add_argument("--extract", required=True)
    acc.add_argument("--date", required=True, type=date.fromisoformat, help="the drop date (YYYY-MM-DD)")
    acc.add_argument("--sources", help="the sources root (default $WELFARE_SOURCES)")
    acc.add_argument("--by", help="who accepts (default: the login name)")
    acc.add_argument("--note", help="why, for the audit")
    acc.set_defaults(func=cmd_accept)

    k = sub.add_parser("kpis", help="export marts.kpi_values as CSV")
    k.add_argument("--csv", required=True)
    k.set_defaults(func=cmd_kpis)

    eo = sub.add_parser("export-open", help="open-data CSV files of the indicators (PDPA: counts of persons "
                                            "1..threshold blanked at district level, complementary suppression)")
    eo.add_argument("--out", required=True, help="folder to write the CSV files, _about.json and อ่านก่อน.txt into")
    eo.add_argument("--threshold", default=os.environ.get("WELFARE_SUPPRESS_THRESHOLD") or "5",
                    help="largest count blanked (default $WELFARE_SUPPRESS_THRESHOLD or 5)")
    eo.set_defaults(func=cmd_export_open)

    rep = sub.add_parser("report", help="print the load report")
    rep.add_argument("--system")
    rep.add_argument("--date", type=date.fromisoformat)
    rep.set_defaults(func=cmd_report)

    w = sub.add_parser("warehouse", help="the embedded PostgreSQL warehouse under $WELFARE_HOME: start (and set "
                                         "up), setup (roles, schemas, grants; WELFARE_ADMIN_URI for a deployed "
                                         "server), stop, status, psql --as ROLE")
    w.add_argument("action", choices=["start", "setup", "stop", "status", "psql"])
    w.add_argument("--as", dest="as_role", default="analyst",
                   help="psql: the role to log in as: analyst (default), bi_reader, auditor, or a caseworker login")
    w.add_argument("psql_args", nargs=argparse.REMAINDER)
    w.set_defaults(func=cmd_warehouse)

    cw = sub.add_parser("caseworker", help="caseworker logins and the districts each serves (row security of "
                                           "the follow-up lists in restricted)")
    cw.add_argument("action", choices=["grant", "revoke", "list"])
    cw.add_argument("login", nargs="?", help="the caseworker's login (made on first grant)")
    cw.add_argument("districts", nargs="*", help="district codes 60DD")
    cw.set_defaults(func=cmd_caseworker)

    rk = sub.add_parser("rotate-key", help="a new pseudonym key, then every model holding person_key rebuilt")
    rk.add_argument("--rebuild-only", action="store_true",
                    help="the key was rotated where WELFARE_PSEUDONYM_KEY is kept: rebuild only")
    rk.set_defaults(func=cmd_rotate_key)

    pu = sub.add_parser("purge", help="the retention purge now (superseded raw partitions, quarantine, rejected "
                                      "files, Data Docs, run logs, the access log past their periods)")
    pu.add_argument("--dry-run", action="store_true", help="list what would go, delete nothing")
    pu.set_defaults(func=cmd_purge)

    al = sub.add_parser("access-log", help="who read which relation and when (the human roles' reads)")
    al.add_argument("--since", type=_since, help="from this date or time (Asia/Bangkok unless it says)")
    al.add_argument("--user", help="one login only")
    al.add_argument("--json", action="store_true", help="one JSON object a line")
    al.set_defaults(func=cmd_access_log)

    up = sub.add_parser("up", help="start a live local Airflow (api-server, scheduler, dag-processor, triggerer) in the "
                                   "background; returns once they are healthy")
    up.add_argument("--port", type=int, default=None, help="the UI's port on 127.0.0.1 (default 8080, or the last one)")
    up.add_argument("--sources", default=None,
                    help="the drops folder to watch (default $WELFARE_SOURCES, else $WELFARE_HOME/drops)")
    up.add_argument("--executor", choices=["LocalExecutor", "CeleryExecutor"], default="LocalExecutor")
    up.add_argument("--workers", type=int, default=2, help="Celery workers to start (CeleryExecutor only)")
    up.add_argument("--timeout", type=float, default=240.0, help="seconds to wait for the components to be healthy")
    up.add_argument("--paused", action="store_true", help="leave the DAGs paused (default: unpaused, so 23:30 runs)")
    up.set_defaults(func=cmd_up)
    dn = sub.add_parser("down", help="stop the live local Airflow")
    dn.set_defaults(func=cmd_down)
    st = sub.add_parser("status", help="the live local Airflow's components and their health (exit 3 if not healthy)")
    st.set_defaults(func=cmd_status)
    sc = sub.add_parser("screenshot", help="a PNG of a DAG run in the live UI, seen through a headless Chromium "
                                           "that logs in as the admin")
    sc.add_argument("--dag", default="welfare_nightly", help="the DAG (default welfare_nightly)")
    sc.add_argument("--run", default=None, help="the run id (default: the DAG's latest finished run)")
    sc.add_argument("--out", required=True, help="the PNG to write")
    sc.set_defaults(func=cmd_screenshot)

    a = sub.add_parser("airflow", help="the airflow CLI with the project's environment, e.g. `welfare airflow dags list`")
    a.add_argument("--sources", help="sources root for the run (WELFARE_SOURCES)")
    a.add_argument("airflow_args", nargs=argparse.REMAINDER)
    a.set_defaults(func=cmd_airflow)
    return p


def main(argv: list[str] | None = None) -> int:
    import logging

    from welfare.settings import make_home_private

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    make_home_private()  # 0700 home; this process and what it starts write files 0600
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
