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


def _target():
    """The warehouse: WELFARE_WAREHOUSE_URI if set (a deployed PostgreSQL), else the embedded one."""
    from welfare.settings import PgTarget
    from welfare.warehouse.embedded import EmbeddedWarehouse

    if os.environ.get("WELFARE_WAREHOUSE_URI"):
        return PgTarget.from_uri(os.environ["WELFARE_WAREHOUSE_URI"])
    return EmbeddedWarehouse.default().start()


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
    target = _target()
    rows = report.load_rows(target)
    wanted = {d for d in summary.dates}
    rows = [r for r in rows if r["extract_date"] in wanted]
    print()
    print("Load report (per file: rows in = loaded + quarantined + rejected + re-sent)")
    print(report.format_rows(rows))
    out = reports_dir()
    out.mkdir(parents=True, exist_ok=True)
    kpi_csv = out / "kpi_values.csv"
    n = export_kpis(target, kpi_csv)
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
    target = _target()
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


def cmd_report(args) -> int:
    from welfare.ingest import report

    print(report.load_report(_target(), system=args.system, extract_date=args.date))
    return 0


def cmd_warehouse(args) -> int:
    from welfare.warehouse import ddl
    from welfare.warehouse.embedded import EmbeddedWarehouse, WarehouseError

    wh = EmbeddedWarehouse.default()
    try:
        if args.action == "start":
            t = wh.start()
            ddl.bootstrap(t.dsn)
            print(f"warehouse running: {t.uri}")
        elif args.action == "stop":
            wh.stop()
            print("warehouse stopped")
        elif args.action == "status":
            print(json.dumps(wh.status(), indent=2))
            return 0 if wh.running() else 3
        elif args.action == "psql":
            t = wh.start()
            psql = Path(json.loads(wh.config_file.read_text())["bindir"]) / "psql"
            return subprocess.call([str(psql) if psql.exists() else "psql", t.uri, *args.psql_args])
    except WarehouseError as exc:
        print(f"welfare warehouse {args.action}: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_airflow(args) -> int:
    """Run the airflow CLI with the project's environment (AIRFLOW_HOME, dags folder, connection)."""
    from welfare.cli import runner

    wh_target = _target()
    env = runner.airflow_env(wh_target, Path(args.sources) if args.sources else None)
    runner.ensure_airflow(env)
    return subprocess.call([runner.airflow_bin(), *args.airflow_args], env=env)


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

    rep = sub.add_parser("report", help="print the load report")
    rep.add_argument("--system")
    rep.add_argument("--date", type=date.fromisoformat)
    rep.set_defaults(func=cmd_report)

    w = sub.add_parser("warehouse", help="the embedded PostgreSQL warehouse under $WELFARE_HOME")
    w.add_argument("action", choices=["start", "stop", "status", "psql"])
    w.add_argument("psql_args", nargs=argparse.REMAINDER)
    w.set_defaults(func=cmd_warehouse)

    a = sub.add_parser("airflow", help="the airflow CLI with the project's environment, e.g. `welfare airflow dags list`")
    a.add_argument("--sources", help="sources root for the run (WELFARE_SOURCES)")
    a.add_argument("airflow_args", nargs=argparse.REMAINDER)
    a.set_defaults(func=cmd_airflow)
    return p


def main(argv: list[str] | None = None) -> int:
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
