"""Drops: ``<sources>/<system>/<YYYY-MM-DD>/`` folders and their ``_manifest.json``, written last.

A manifest is checked before any file it lists is read (``read_manifest``): a JSON object, at most
``MAX_MANIFEST_BYTES``, its ``files`` a list of objects each with a unique ``name``, a whole
non-negative ``rows`` and a 64-hex ``sha256``, and an ``extract_date`` that is a date. A drop folder
is used only if it is a real directory inside the sources root (``drop_folder_checked``). Folders
that are not named as a date are reported (``odd_folders``), never silently skipped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import stat
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from welfare import contract
from welfare.ingest.outcome import FileRejected

log = logging.getLogger(__name__)

MANIFEST = "_manifest.json"
MAX_MANIFEST_BYTES = 1 << 20
_SHA = re.compile(r"^[0-9a-f]{64}$")
_DATE_LIKE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})$")


def drop_folder(sources: Path, system: str, extract_date: date) -> Path:
    return Path(sources) / system / extract_date.isoformat()


def drop_complete(sources: Path, system: str, extract_date: date) -> bool:
    return (drop_folder(sources, system, extract_date) / MANIFEST).exists()


def drop_folder_checked(sources: Path, system: str, extract_date: date) -> Path:
    """The drop folder, if it is a real directory inside the sources root (not a link out of it)."""
    folder = drop_folder(sources, system, extract_date)
    for p in (folder.parent, folder):
        try:
            mode = os.lstat(p).st_mode
        except FileNotFoundError:
            raise FileRejected("manifest", f"{system}/{extract_date}: the drop folder does not exist") from None
        if not stat.S_ISDIR(mode):
            raise FileRejected("not_a_regular_file", f"{system}/{p.name} is not a directory (a link or a special "
                               "file): the drop is not read")
    root = os.path.realpath(sources)
    if os.path.commonpath([root, os.path.realpath(folder)]) != root:
        raise FileRejected("not_a_regular_file", f"{system}/{extract_date}: the drop folder lies outside the "
                           "sources root: it is not read")
    return folder


@dataclass(frozen=True)
class Manifest:
    system: str | None
    extract_date: date | None
    entries: dict[str, dict]  # file name -> {"name", "rows", "sha256"}
    fingerprint: str  # identifies the delivery: its extract date and each file's name and sha256

    def entry(self, name: str) -> dict | None:
        return self.entries.get(name)


def _entry_problem(i: int, e) -> str | None:
    if not isinstance(e, dict):
        return f"entry {i + 1} of 'files' is not an object"
    name, rows, sha = e.get("name"), e.get("rows"), e.get("sha256")
    if not isinstance(name, str) or not name or "/" in name or name.startswith("."):
        return f"entry {i + 1} of 'files' has no usable 'name'"
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
        return f"entry {i + 1} ({name}): 'rows' must be a whole number of at least 0"
    if not isinstance(sha, str) or not _SHA.match(sha):
        return f"entry {i + 1} ({name}): 'sha256' must be 64 lower-case hex digits"
    return None


def read_manifest(folder: Path) -> Manifest:
    """The drop's manifest, checked; FileRejected('manifest') with what is wrong otherwise."""
    from welfare.ingest.readers import open_regular

    path = folder / MANIFEST
    where = f"{folder.parent.name}/{folder.name}/{MANIFEST}"
    try:
        with open_regular(path) as f:
            data = f.read(MAX_MANIFEST_BYTES + 1)
    except FileNotFoundError:
        raise FileRejected("manifest", f"{where}: the drop has no manifest") from None
    except OSError as exc:
        raise FileRejected("manifest", f"{where}: cannot be read ({exc.strerror})") from exc
    if len(data) > MAX_MANIFEST_BYTES:
        raise FileRejected("manifest", f"{where}: larger than {MAX_MANIFEST_BYTES:,} bytes")
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise FileRejected("manifest", f"{where}: not valid UTF-8 JSON") from None
    if not isinstance(doc, dict):
        raise FileRejected("manifest", f"{where}: must be a JSON object, not a {type(doc).__name__}")
    files = doc.get("files")
    if not isinstance(files, list):
        raise FileRejected("manifest", f"{where}: has no 'files' list")
    entries: dict[str, dict] = {}
    for i, e in enumerate(files):
        problem = _entry_problem(i, e)
        if problem:
            raise FileRejected("manifest", f"{where}: {problem}")
        if e["name"] in entries:
            raise FileRejected("manifest", f"{where}: {e['name']} is listed twice")
        entries[e["name"]] = {"name": e["name"], "rows": e["rows"], "sha256": e["sha256"]}
    extract_date = doc.get("extract_date")
    if extract_date is not None:
        try:
            extract_date = date.fromisoformat(extract_date) if isinstance(extract_date, str) else None
        except ValueError:
            extract_date = None
        if extract_date is None:
            raise FileRejected("manifest", f"{where}: 'extract_date' is not a date (YYYY-MM-DD)")
    system = doc.get("system") if isinstance(doc.get("system"), str) else None
    identity = {"extract_date": extract_date.isoformat() if extract_date else None,
                "files": sorted([e["name"], e["sha256"]] for e in entries.values())}
    fingerprint = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    return Manifest(system, extract_date, entries, fingerprint)


def unexpected_files(folder: Path, manifest: Manifest) -> list[str]:
    """Names in the drop folder that the manifest does not list (reported, never loaded)."""
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    return [n for n in names if n != MANIFEST and n not in manifest.entries]


def parse_folder_date(name: str) -> date | None:
    try:
        return date.fromisoformat(name) if len(name) == 10 else None
    except ValueError:
        return None


def odd_folders(sources: Path, system: str) -> list[str]:
    """Entries of a system's folder that are not drop folders named YYYY-MM-DD."""
    root = Path(sources) / system
    try:
        names = sorted(os.listdir(root))
    except OSError:
        return []
    return [n for n in names if parse_folder_date(n) is None or not stat.S_ISDIR(os.lstat(root / n).st_mode)]


def misnamed_drop(sources: Path, system: str, extract_date: date) -> str | None:
    """A folder that looks like this date's drop but is not named YYYY-MM-DD (``20210928``)."""
    for name in odd_folders(sources, system):
        m = _DATE_LIKE.match(name)
        if m and (int(m[1]), int(m[2]), int(m[3])) == (extract_date.year, extract_date.month, extract_date.day):
            return name
    return None


def complete_drop_dates(sources: Path) -> dict[date, list[str]]:
    """Every extract date with at least one complete drop, and the systems that dropped. Folders not
    named as a date are logged as a warning (``odd_folders``)."""
    found: dict[date, list[str]] = {}
    for system in contract.systems():
        root = Path(sources) / system
        if not root.is_dir():
            continue
        odd = odd_folders(sources, system)
        if odd:
            log.warning("%s: %d folder(s) not named YYYY-MM-DD are not drops and are not read: %s", system,
                        len(odd), ", ".join(odd[:10]))
        for folder in sorted(root.iterdir()):
            d = parse_folder_date(folder.name)
            if d is not None and folder.name not in odd and (folder / MANIFEST).exists():
                found.setdefault(d, []).append(system)
    return dict(sorted(found.items()))
