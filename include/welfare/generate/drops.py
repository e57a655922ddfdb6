"""Write the nightly drops of every source system, manifests last, and the ground truth beside them.

Drops: the first carries each registry whole and each increment's full history
(from October 2016); every later drop is one night. A drop written ``D=E`` is a
re-send: the source systems deliver again, byte for byte, the files of drop E
under date D. The BMN survey is an annual round, so only the first drop carries
the four BMN files; on the third drop each system also omits one extract
(msdhs media_works, cdd community_welfare_funds, lao budgets), as the contract
allows. File defects are planted in the later drops, so a rejected snapshot
has a previous state to keep.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import NamedTuple

from welfare import contract
from welfare.generate.defects import FILE_DEFECT_RULES, FILE_DEFECTS, ROW_DEFECTS, Planted, Planter, SchemaDrift, parse_defects
from welfare.generate.province import build_province
from welfare.generate.registry import build_registry
from welfare.generate.render import rng_for
from welfare.generate.sink import ExtractWriter, write_manifest
from welfare.generate.systems import Cdd, Lao, Msdhs, write_payments

DEFAULT_DROPS = (date(2021, 9, 27), date(2021, 9, 28), date(2021, 9, 29), date(2021, 9, 30))
# the command line's default: three nights, then the third one sent again
DEFAULT_DROP_SPEC = "2021-09-27,2021-09-28,2021-09-29,2021-09-30=2021-09-29"
GROUND_TRUTH_FILE = "ground_truth.json"
BMN = ("bmn_households", "bmn_members", "bmn_indicators")
OMITTED_ON_THIRD_DROP = {"msdhs": "media_works", "cdd": "community_welfare_funds", "lao": "budgets"}
# never given a file defect: the big first-drop-only survey, and the files whose rows carry semantic defects
NO_FILE_DEFECT = {*BMN, "target_persons", "allowance_payments"}


@dataclass
class GenerateOptions:
    out: Path
    scale: float = 0.01
    seed: int = 60
    drops: list[date] = field(default_factory=lambda: list(DEFAULT_DROPS))
    defects: str | None = "default"
    resends: dict[date, date] = field(default_factory=dict)  # drop date -> the earlier drop it re-sends


@dataclass
class GenerateSummary:
    out: Path
    files: int
    rows: dict[str, int]
    planted: list[Planted]


def parse_drops(spec: str) -> tuple[list[date], dict[date, date]]:
    """``2021-09-27,2021-09-28,2021-09-30=2021-09-28``: dates, and re-sends of an earlier drop."""
    drops, resends = [], {}
    for part in spec.split(","):
        d, _, of = part.strip().partition("=")
        day = date.fromisoformat(d)
        drops.append(day)
        if of:
            resends[day] = date.fromisoformat(of)
    drops.sort()
    for d, of in resends.items():
        if of >= d or of not in drops or of in resends:
            raise ValueError(f"drop {d} re-sends {of}: that must be an earlier drop that is not itself a re-send")
    return drops, resends


def omitted(system: str, name: str, k: int) -> bool:
    if k > 0 and name in BMN:
        return True
    return k == 2 and OMITTED_ON_THIRD_DROP.get(system) == name


class DropFile(NamedTuple):
    """One extract file of one generated drop."""

    drop: int      # index of the drop among the generated ones
    system: str
    extract: str


def plan_file_defects(rates: dict[str, float], n_drops: int, seed: int) -> dict[DropFile, str]:
    """The file defect of each file that gets one; each defect on at least one file when switched on."""
    rng = rng_for(seed, "file-defects")
    later = range(1, n_drops) if n_drops > 1 else range(0, 1)
    candidates = [DropFile(k, s, e) for k in later for s, sysdef in contract.systems().items()
                  for e in sysdef.extracts if e not in NO_FILE_DEFECT and not omitted(s, e, k)]
    plan: dict[DropFile, str] = {}
    for defect in FILE_DEFECTS:
        rate = rates.get(defect, 0)
        if rate <= 0:
            continue
        pool = [c for c in candidates if c not in plan and (defect != "wrong_encoding" or c.system == "cdd")]
        for c in rng.sample(pool, min(len(pool), max(1, round(rate * len(candidates))))):
            plan[c] = defect
    return plan


def generate(opts: GenerateOptions) -> GenerateSummary:
    drops = sorted(opts.drops)
    resends = dict(opts.resends)
    rates = parse_defects(opts.defects)
    made = [d for d in drops if d not in resends]  # the drops generated; re-sends are copies
    ords = [d.toordinal() for d in made]
    out = Path(opts.out)
    out.mkdir(parents=True, exist_ok=True)
    province = build_province(opts.seed, opts.scale, made[-1])
    registry = build_registry(province, ords, rates)
    file_plan = plan_file_defects(rates, len(made), opts.seed)
    row_rates = {d: r for d, r in rates.items() if d in ROW_DEFECTS}
    planted: list[Planted] = []
    totals: dict[str, int] = {}
    files = 0
    systems = {"msdhs": Msdhs(province, registry, ords), "cdd": Cdd(province, registry, ords),
               "lao": Lao(province, registry, ords)}
    for system, world in systems.items():
        writers = _SystemWriters(system, made, out, opts.seed, file_plan, row_rates, planted)
        for k in range(len(made)):
            world.write(k, writers.for_drop(k))
        if system == "lao":
            write_payments(province, registry, ords, [writers.open(k, "allowance_payments") for k in range(len(made))],
                           rates.get("duplicate_payment", 0))
        for k, d in enumerate(made):
            entries = []
            for w, defect in writers.opened[k]:
                entry = w.close()
                files += 1
                totals[f"{system}.{w.ext.name}"] = totals.get(f"{system}.{w.ext.name}", 0) + entry["rows"]
                entries.append(entry)
                if defect:
                    if defect == "truncated":  # cut after the manifest entry was taken
                        data = w.path.read_bytes()
                        w.path.write_bytes(data[: max(1, len(data) * 2 // 3)])
                    planted.append(Planted(system, d.isoformat(), w.ext.file, None, FILE_DEFECT_RULES[defect], defect))
            write_manifest(out / system / d.isoformat(), system, d.isoformat(), entries)

    for d, of in resends.items():  # byte-identical copies of an earlier drop, under a new date
        for system in systems:
            src, dst = out / system / of.isoformat(), out / system / d.isoformat()
            dst.mkdir(parents=True, exist_ok=True)
            manifest = json.loads((src / "_manifest.json").read_text(encoding="utf-8"))
            for f in manifest["files"]:
                shutil.copyfile(src / f["name"], dst / f["name"])
                files += 1
            # a re-send's manifest is the original's, byte for byte (its extract_date too): written last
            shutil.copyfile(src / "_manifest.json", dst / "_manifest.json")

    planted.sort(key=lambda p: (p.extract_date, p.system, p.file, p.row or 0, p.rule))
    truth = {
        "seed": opts.seed,
        "scale": opts.scale,
        "drops": [d.isoformat() for d in drops],
        "resends": {d.isoformat(): of.isoformat() for d, of in sorted(resends.items())},
        "defect_rates": rates,
        "planted": [p.as_dict() for p in planted],
    }
    (out / GROUND_TRUTH_FILE).write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return GenerateSummary(out=out, files=files, rows=totals, planted=planted)


class _SystemWriters:
    """The extract writers of one system across the generated drops, with their planted defects."""

    def __init__(self, system: str, made: list[date], out: Path, seed: int,
                 file_plan: dict[DropFile, str], row_rates: dict[str, float], planted: list[Planted]):
        self.system, self.made, self.out, self.seed = system, made, out, seed
        self.file_plan, self.row_rates, self.planted = file_plan, row_rates, planted
        self.opened: list[list[tuple[ExtractWriter, str | None]]] = [[] for _ in made]

    def for_drop(self, k: int):
        return lambda name, n=None: self.open(k, name, n)

    def open(self, k: int, name: str, n: int | None = None) -> ExtractWriter | None:
        """The writer of one extract of drop k (None when that drop omits it)."""
        if omitted(self.system, name, k):
            return None
        ext = contract.extract(self.system, name)
        ds = self.made[k].isoformat()
        defect = self.file_plan.get(DropFile(k, self.system, name))
        planter = None
        if defect is None and self.row_rates:
            planter = Planter(ext, self.row_rates, rng_for(self.seed, "rows", self.system, name, k), n)
        drift = None
        if defect == "schema_drift":
            r = rng_for(self.seed, "drift", self.system, name, k)
            col = r.choice([c.name for c in ext.columns if c.name not in ext.key] or list(ext.column_names))
            drift = SchemaDrift(r.choice(("add", "remove", "rename")), col)
        # a file rejected whole plants no row defects: its rows never reach validation
        w = ExtractWriter(ext, self.out / self.system / ds, self.system, ds, planter=planter,
                          planted=[] if defect else self.planted,
                          encoding="utf-8" if defect == "wrong_encoding" else None, drift=drift)
        self.opened[k].append((w, defect))
        return w
