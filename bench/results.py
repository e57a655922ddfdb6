"""`make bench`: collect the figures of a benchmark step into one results file.

Whole commands are timed by ``/usr/bin/time -v`` (wall clock and peak resident
memory); this module reads its report, adds what the step measured itself, and
merges everything into ``$WELFARE_HOME/bench/results.json`` (one key per step),
printing a line a person can read.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path


def parse_time_v(text: str) -> dict:
    """Wall seconds, peak RSS (MiB) and exit status from GNU time's -v report."""
    out: dict = {}
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", text)
    if m:
        h, mnt, s = int(m.group(1) or 0), int(m.group(2)), float(m.group(3))
        out["wall_s"] = round(h * 3600 + mnt * 60 + s, 2)
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    if m:
        out["peak_rss_mib"] = round(int(m.group(1)) / 1024, 1)
    m = re.search(r"User time \(seconds\): ([\d.]+)", text)
    if m:
        out["user_s"] = float(m.group(1))
    m = re.search(r"Exit status: (\d+)", text)
    if m:
        out["exit_status"] = int(m.group(1))
    return out


def record(results: Path, step: str, figures: dict) -> dict:
    data = json.loads(results.read_text(encoding="utf-8")) if results.exists() else {}
    data[step] = {"measured_at": datetime.now(UTC).isoformat(timespec="seconds"), **figures}
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return data[step]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.results")
    ap.add_argument("step", help="name of the benchmark step, e.g. generate")
    ap.add_argument("--time-file", required=True, help="the report of /usr/bin/time -v")
    ap.add_argument("--results", required=True, help="the results JSON to merge into")
    ap.add_argument("--extra", action="append", default=[], help="key=JSON-file to include")
    ap.add_argument("--limit-wall-s", type=float)
    ap.add_argument("--limit-rss-mib", type=float)
    args = ap.parse_args(argv)
    figures = parse_time_v(Path(args.time_file).read_text(encoding="utf-8", errors="replace"))
    for item in args.extra:
        key, _, path = item.partition("=")
        figures[key] = json.loads(Path(path).read_text(encoding="utf-8"))
    checks = {}
    if args.limit_wall_s is not None and "wall_s" in figures:
        checks["wall_within_limit"] = figures["wall_s"] <= args.limit_wall_s
        figures["limit_wall_s"] = args.limit_wall_s
    if args.limit_rss_mib is not None and "peak_rss_mib" in figures:
        checks["rss_within_limit"] = figures["peak_rss_mib"] <= args.limit_rss_mib
        figures["limit_rss_mib"] = args.limit_rss_mib
    figures.update(checks)
    record(Path(args.results), args.step, figures)
    print(f"bench {args.step}: wall {figures.get('wall_s')} s, peak RSS {figures.get('peak_rss_mib')} MiB"
          + "".join(f", {k} {v}" for k, v in checks.items()) + f" -> {args.results}")
    return 0 if all(checks.values()) and figures.get("exit_status", 0) == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
