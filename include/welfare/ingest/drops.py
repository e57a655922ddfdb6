"""Drops: ``<sources>/<system>/<YYYY-MM-DD>/`` folders and their ``_manifest.json``, written last."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from welfare import contract
from welfare.ingest.outcome import FileRejected

MANIFEST = "_manifest.json"


def drop_folder(sources: Path, system: str, extract_date: date) -> Path:
    return Path(sources) / system / extract_date.isoformat()


def drop_complete(sources: Path, system: str, extract_date: date) -> bool:
    return (drop_folder(sources, system, extract_date) / MANIFEST).exists()


def read_manifest(folder: Path) -> dict:
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise FileRejected("manifest", f"{path}: cannot read the manifest: {exc}") from exc
    if not isinstance(manifest.get("files"), list):
        raise FileRejected("manifest", f"{path}: manifest has no 'files' list")
    return manifest


def complete_drop_dates(sources: Path) -> dict[date, list[str]]:
    """Every extract date with at least one complete drop, and the systems that dropped."""
    found: dict[date, list[str]] = {}
    for system in contract.systems():
        root = Path(sources) / system
        if not root.is_dir():
            continue
        for folder in sorted(root.iterdir()):
            try:
                d = date.fromisoformat(folder.name)
            except ValueError:
                continue
            if (folder / MANIFEST).exists():
                found.setdefault(d, []).append(system)
    return dict(sorted(found.items()))
