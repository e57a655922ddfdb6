"""The package's rooms import one way, the generator shares nothing with the loader's checking, and
the DAG files only call the factory. Read from the source with `ast` (imports inside functions too)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "include" / "welfare"
# A room may import rooms of its own rank or lower; settings is the foundation every room may use.
RANKS = {"settings": -1, "contract": 0, "browser": 0, "warehouse": 1, "validation": 2, "ingest": 3, "retention": 3,
         "orchestration": 4, "export": 4, "cli": 5}
ROOMS = {*RANKS, "generate"}


def _room_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "welfare":
        return None
    return parts[1] if len(parts) > 1 else ""


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every welfare import in the file, wherever it stands."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "welfare":  # from welfare import contract, ...
                found += [(node.lineno, f"welfare.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, node.module))
    return [(line, m) for line, m in found if m == "welfare" or m.startswith("welfare.")]


def violations(package: Path) -> list[str]:
    out = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package)
        room = rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 or rel.stem == "settings" else ""
        for line, module in _imports(path):
            target = _room_of(module)
            where = f"{rel}:{line} imports {module}"
            if target not in ROOMS:
                out.append(f"{where}: not a room of the package")
            elif room == "":
                out.append(f"{where}: the package root imports no room")
            elif target == room:
                continue
            elif room == "generate":
                if target not in ("contract", "settings"):
                    out.append(f"{where}: the generator may use only the contract")
            elif target == "generate":
                if room != "cli":
                    out.append(f"{where}: only the cli may use the generator")
            elif RANKS[target] > RANKS[room]:
                out.append(f"{where}: {target} is above {room}")
    return out


def test_every_module_is_in_a_room():
    loose = [p.name for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "settings")]
    assert not loose, loose
    for room in ROOMS - {"settings"}:
        init = PACKAGE / room / "__init__.py"
        assert init.exists(), room
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8")))
        assert doc and len(doc) > 150, f"{room}/__init__.py must say the room's job in a paragraph"


def test_rooms_import_one_way():
    assert violations(PACKAGE) == []


@pytest.mark.parametrize(("room", "bad", "why"), [
    ("generate", "from welfare.validation import rules", "the generator may use only the contract"),
    ("contract", "from welfare.ingest import load", "ingest is above contract"),
    ("validation", "from welfare import generate", "only the cli may use the generator"),
])
def test_the_graph_check_catches_a_wrong_import(tmp_path, room, bad, why):
    """The check itself can fail: a copy of the package with one wrong import (inside a function)."""
    import shutil

    copy = tmp_path / "welfare"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.yml", "*.csv", "*.md", "*.sql"))
    target = copy / room / "__init__.py"
    target.write_text(target.read_text(encoding="utf-8") + f"\n\ndef _oops():\n    {bad}\n", encoding="utf-8")
    found = violations(copy)
    assert len(found) == 1 and why in found[0], found


def test_dag_files_only_call_the_factory():
    dags = sorted((ROOT / "dags").glob("*.py"))
    assert len(dags) == 6  # three ingests, the warehouse, the nightly chain, the retention
    for path in dags:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        body = tree.body
        assert ast.get_docstring(tree), f"{path.name}: the docstring is the DAG's runbook"
        # Airflow's DAG discovery (safe mode) reads only files that say both words
        text = path.read_text(encoding="utf-8").lower()
        assert "airflow" in text and "dag" in text, f"{path.name}: the dag-processor would skip it"
        rest = body[1:]
        imports = [n for n in rest if isinstance(n, ast.ImportFrom)]
        assigns = [n for n in rest if isinstance(n, ast.Assign)]
        assert len(imports) + len(assigns) == len(rest), f"{path.name}: only imports and the dag assignment"
        assert all(n.module == "welfare.orchestration.dags" for n in imports), path.name
        assert len(assigns) == 1 and [t.id for t in assigns[0].targets] == ["dag"], path.name
        call = assigns[0].value
        assert isinstance(call, ast.Call) and isinstance(call.func, ast.Name), path.name
        assert call.func.id in {a.name for n in imports for a in n.names}, path.name
