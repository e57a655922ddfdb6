"""The synthetic source systems: deterministic, contract-exact, honest about what they plant."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import date
from pathlib import Path

import pytest
from welfare import contract
from welfare.generate import GenerateOptions, generate
from welfare.thai import is_valid_national_id, parse_be_date

DROPS = [date(2021, 9, 28), date(2021, 9, 30)]


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    generate(GenerateOptions(out=out, scale=0.05, seed=11, drops=DROPS, defects="none"))
    return out


@pytest.fixture(scope="module")
def defective(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("defective")
    generate(GenerateOptions(out=out, scale=0.05, seed=11, drops=DROPS,
                             defects="national_id=0.02,be_year=0.02,date_invalid=0.02,area_code=0.02,required=0.02,enum=0.02"))
    return out


def test_same_seed_same_bytes_other_seed_differs(tmp_path, clean):
    again = tmp_path / "again"
    generate(GenerateOptions(out=again, scale=0.05, seed=11, drops=DROPS, defects="none"))
    assert tree_digest(again) == tree_digest(clean)
    other = tmp_path / "other"
    generate(GenerateOptions(out=other, scale=0.05, seed=12, drops=DROPS, defects="none"))
    assert tree_digest(other) != tree_digest(clean)


def read_rows(ext, path: Path) -> list[dict]:
    raw = path.read_bytes()
    if ext.encoding == "utf-8-sig":
        assert raw.startswith(b"\xef\xbb\xbf"), f"{path.name} must start with a UTF-8 BOM"
    text = raw.decode(ext.encoding)
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=ext.delimiter))
    assert rows[0] == [c.header for c in ext.columns], f"{path.name}: Thai header row as in the contract"
    return [dict(zip(ext.column_names, r, strict=True)) for r in rows[1:]]


def test_a_clean_province_parses_under_the_contract(clean):
    seen = 0
    for system in ("msdhs",):
        for folder in sorted((clean / system).iterdir()):
            manifest = json.loads((folder / "_manifest.json").read_text(encoding="utf-8"))
            assert manifest["system"] == system and manifest["extract_date"] == folder.name
            for entry in manifest["files"]:
                path = folder / entry["name"]
                assert hashlib.sha256(path.read_bytes()).hexdigest() == entry["sha256"]
                ext = contract.extract_by_file(system, entry["name"])
                rows = read_rows(ext, path)
                assert len(rows) == entry["rows"] and rows
                keys = [tuple(r[k] for k in ext.key) for r in rows]
                assert len(keys) == len(set(keys)), "keys are unique within a file"
                for r in rows:
                    seen += 1
                    for col in ext.columns:
                        v = r[col.name]
                        if col.required:
                            assert v != "", (path.name, col.name)
                        if not v:
                            continue
                        if col.type == "date":
                            parse_be_date(v)
                        elif col.type == "enum":
                            assert v in col.values, (path.name, col.name, v)
                        elif col.type == "bool":
                            assert v in ("Y", "N")
                        elif col.type == "int":
                            int(v)
                    if "national_id" in r:
                        assert is_valid_national_id(r["national_id"])
                        assert r["national_id"][1:3] == "60"  # registered in Nakhon Sawan
                    assert r["subdistrict_code"] in contract.subdistrict_codes()
    assert seen > 500


def test_ground_truth_lists_exactly_the_rows_that_differ_from_the_clean_province(clean, defective):
    truth = json.loads((defective / "ground_truth.json").read_text(encoding="utf-8"))
    planted = {(p["system"], p["extract_date"], p["file"], p["row"]): p for p in truth["planted"]}
    assert {p["defect"] for p in planted.values()} >= {"national_id", "area_code", "required", "enum",
                                                       "be_year", "date_invalid"}
    differing = set()
    for path in sorted(defective.rglob("*.csv")):
        rel = path.relative_to(defective)
        system, d, name = rel.parts
        ext = contract.extract_by_file(system, name)
        bad, good = read_rows(ext, path), read_rows(ext, clean / rel)
        assert len(bad) == len(good)
        differing |= {(system, d, name, i) for i, (b, g) in enumerate(zip(bad, good, strict=True), start=1)
                      if b != g}
    assert differing == set(planted)
    # the manifest still describes the delivered (defective) file, as a real export would
    for (system, d, name, _), _p in list(planted.items())[:5]:
        m = json.loads((defective / system / d / "_manifest.json").read_text())
        entry = next(e for e in m["files"] if e["name"] == name)
        assert entry["sha256"] == hashlib.sha256((defective / system / d / name).read_bytes()).hexdigest()


def test_ground_truth_is_written_beside_the_drops_not_inside(defective):
    assert (defective / "ground_truth.json").exists()
    assert not list(defective.glob("*/*/ground_truth.json"))
