"""Write the nightly drops of every source system, manifests last, and the ground truth."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from welfare import contract
from welfare.generate.defects import Planted, parse_defects, plant
from welfare.generate.world import build_world, rng_for
from welfare.generate.writer import encode_extract, write_file, write_manifest

DEFAULT_DROPS = (date(2021, 9, 28), date(2021, 9, 29), date(2021, 9, 30))
GROUND_TRUTH_FILE = "ground_truth.json"


@dataclass
class GenerateOptions:
    out: Path
    scale: float = 0.01
    seed: int = 60
    drops: list[date] = field(default_factory=lambda: list(DEFAULT_DROPS))
    defects: str | None = "default"


@dataclass
class GenerateSummary:
    out: Path
    files: int
    rows: dict[str, int]
    planted: list[Planted]


def _rows_by_extract(world, k: int) -> dict[tuple[str, str], list[dict]]:
    return {
        ("msdhs", "organizations"): [o.row() for o in world.organizations[k]],
        ("msdhs", "volunteers"): [v.row() for v in world.volunteers[k]],
    }


def generate(opts: GenerateOptions) -> GenerateSummary:
    drops = sorted(opts.drops)
    rates = parse_defects(opts.defects)
    world = build_world(opts.seed, opts.scale, drops)
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    planted: list[Planted] = []
    totals: dict[str, int] = {}
    files = 0
    for k, d in enumerate(drops):
        per_system: dict[str, list[dict]] = {}
        for (system, name), rows in _rows_by_extract(world, k).items():
            ext = contract.extract(system, name)
            ds = d.isoformat()
            rng = rng_for(opts.seed, "defects", system, name, k)
            planted += plant(ext, rows, rates, rng, system, ds)
            data = encode_extract(ext, rows)
            entry = write_file(out / system / ds, ext.file, data)
            entry["rows"] = len(rows)
            per_system.setdefault(system, []).append(entry)
            totals[f"{system}.{name}"] = totals.get(f"{system}.{name}", 0) + len(rows)
            files += 1
        for system, entries in per_system.items():
            write_manifest(out / system / d.isoformat(), system, d.isoformat(), entries)
    truth = {
        "seed": opts.seed,
        "scale": opts.scale,
        "drops": [d.isoformat() for d in drops],
        "defect_rates": rates,
        "planted": [p.as_dict() for p in planted],
    }
    (out / GROUND_TRUTH_FILE).write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n",
                                         encoding="utf-8")
    return GenerateSummary(out=out, files=files, rows=totals, planted=planted)
