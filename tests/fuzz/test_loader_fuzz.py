"""Property-based fuzzing of the real loader: small valid extract files from the generator, mangled
by composed Hypothesis mutations, each delivered as a fresh drop and carried through
``welfare.ingest.ingest_extract`` into a real PostgreSQL (its own database on the embedded cluster),
with real Great Expectations.

Whatever the bytes, the loader must account for the file: no exception escapes, the outcome is
loaded, rejected or resent, exactly one audit row says so with rows that add up, a loaded file's
quarantine and raw partition hold the rows it claims, and no national id or name of the file
leaks into a reason, a quarantine message, a kept ``.reason.txt`` or a log record.

``WELFARE_FUZZ_EXAMPLES`` sets the number of cases (``make fuzz`` runs 1000; ``make test`` the
small default).
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import hashlib
import io
import json
import logging
import os
import random
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from warehouse_helpers import fresh_database
from welfare import contract, ingest
from welfare.generate import GenerateOptions, generate
from welfare.generate.sink import write_manifest
from welfare.warehouse.sql import connect

EXAMPLES = int(os.environ.get("WELFARE_FUZZ_EXAMPLES", "25"))
SEED_DROP = date(2021, 9, 27)
SEED_RECORDS = 8
FIRST_CASE_DATE = date(2001, 1, 1)  # one extract date per case, far from any date the other tests use
DATABASE = "loader_fuzz"
EXTRACTS = [(s, n) for s, sysdef in contract.systems().items() for n in sysdef.extracts]
PY_CODEC = {"utf-8-sig": "utf-8", "utf-8": "utf-8", "cp874": "cp874"}  # the BOM is handled by hand
BOM = "\ufeff"
PERSONAL_MIN_LEN = 5
NAME_COLUMNS = ("first_name", "last_name")

TRIED = {"cases": 0}  # the cases run in this session, reported at the end of the module


# ---------------------------------------------------------------- seed files and the database
@dataclasses.dataclass(frozen=True, repr=False)
class Seed:
    system: str
    name: str
    ext: contract.Extract
    data: bytes
    personal: tuple[str, ...]  # national ids and names of the file, each at least PERSONAL_MIN_LEN long

    def __repr__(self) -> str:
        return f"<seed {self.system}/{self.ext.file}: {len(self.data)} bytes>"


class Seeds(dict):
    def __repr__(self) -> str:  # Hypothesis prints the fixtures of a failing case: keep them short
        return f"<{len(self)} seed files>"


def _personal_values(ext: contract.Extract, data: bytes) -> tuple[str, ...]:
    cols = set(ext.national_id_columns)
    if not cols:
        return ()
    cols |= {c for c in NAME_COLUMNS if c in ext.column_names}
    values: set[str] = set()
    if ext.format == "jsonl":
        records = [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]
    else:
        text = data.decode(PY_CODEC[ext.encoding]).lstrip(BOM)
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=ext.delimiter)
        header = [ext.header_map[label] for label in next(reader)]
        records = [dict(zip(header, row, strict=True)) for row in reader]
    for rec in records:
        values.update(str(rec[c]) for c in cols if rec.get(c) is not None)
    return tuple(sorted(v for v in values if len(v) >= PERSONAL_MIN_LEN))


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> Seeds:
    """Header and first records of every extract of the first drop of a tiny clean province."""
    out = tmp_path_factory.mktemp("fuzz_province")
    generate(GenerateOptions(out=out, scale=0.001, seed=60, drops=[SEED_DROP], defects="none"))
    found = Seeds()
    for system, name in EXTRACTS:
        ext = contract.extract(system, name)
        records = _records(ext, (out / system / SEED_DROP.isoformat() / ext.file).read_bytes())
        keep = SEED_RECORDS + (1 if ext.format == "csv" else 0)
        assert len(records) >= keep, f"{ext.file}: the generator wrote only {len(records)} records"
        data = b"".join(records[:keep])
        found[(system, name)] = Seed(system, name, ext, data, _personal_values(ext, data))
    return found


@pytest.fixture(scope="module")
def fuzz_db(warehouse):
    """A database of its own on the embedded cluster, bootstrapped: the fuzz cases touch no other test's data."""
    return fresh_database(warehouse, DATABASE)


@pytest.fixture(scope="module", autouse=True)
def report_case_count(request):
    yield
    capman = request.config.pluginmanager.getplugin("capturemanager")
    with capman.global_and_fixture_disabled():
        print(f"\nloader fuzz: {TRIED['cases']} cases tried (WELFARE_FUZZ_EXAMPLES={EXAMPLES})")


# ---------------------------------------------------------------- mutations
# Each mutation is a tuple (kind, *params) drawn by Hypothesis; positions are taken modulo the size of
# the file as it is when the mutation applies, so that any composition is meaningful.
def _keep_bytes(exc):
    """Encoding: a byte that did not decode goes back as it was, a character the codec lacks as '?'."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    chunk = exc.object[exc.start:exc.end]
    if all("\udc80" <= ch <= "\udcff" for ch in chunk):
        return bytes(ord(ch) - 0xDC00 for ch in chunk), exc.end
    return "?" * len(chunk), exc.end


codecs.register_error("fuzz_keep_bytes", _keep_bytes)


def _text(ext, data: bytes) -> tuple[str, bool]:
    """The file as text in its contract's encoding (undecodable bytes kept), and whether it had a BOM."""
    text = data.decode(PY_CODEC[ext.encoding], errors="surrogateescape")
    return (text[1:], True) if text.startswith(BOM) else (text, False)


def _bytes(ext, text: str, bom: bool) -> bytes:
    return ((BOM if bom else "") + text).encode(PY_CODEC[ext.encoding], errors="fuzz_keep_bytes")


def _lines(data):
    """Lines split at LF only (bytes or text), each keeping its line end."""
    nl = b"\n" if isinstance(data, bytes) else "\n"
    parts = data.split(nl)
    return [part + nl for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _records(ext, data):
    """A CSV file's records (a quoted field may hold a line break), the header first; a JSON lines
    file's lines. Each keeps its line end."""
    lines = _lines(data)
    if ext.format != "csv":
        return lines
    quote = b'"' if isinstance(data, bytes) else '"'
    out, pending = [], None
    for line in lines:
        pending = line if pending is None else pending + line
        if pending.count(quote) % 2 == 0:
            out.append(pending)
            pending = None
    return out + ([pending] if pending is not None else [])


def _split_eol(line: str) -> tuple[str, str]:
    body = line.rstrip("\r\n")
    return body, line[len(body):]


def _map_csv_fields(ext, data: bytes, fn, rows: set[int] | None = None) -> bytes:
    """Apply ``fn(record_no, fields) -> fields`` to the records of a CSV file (record 0 is the header)."""
    text, bom = _text(ext, data)
    out = []
    for i, line in enumerate(_records(ext, text)):
        body, eol = _split_eol(line)
        if rows is None or i in rows:
            try:
                fields = next(csv.reader(io.StringIO(body, newline=""), delimiter=ext.delimiter), [])
            except csv.Error:
                out.append(line)
                continue
            buf = io.StringIO()
            # the line end a source writes (it also makes the writer quote a field holding a line break)
            csv.writer(buf, delimiter=ext.delimiter, lineterminator="\r\n").writerow(fn(i, fields))
            body = buf.getvalue()[:-2]
        out.append(body + eol)
    return _bytes(ext, "".join(out), bom)


def _map_json_records(ext, data: bytes, fn, rows: set[int] | None = None) -> bytes:
    """Apply ``fn(line_no, dict) -> str`` (the new line body) to the JSON object lines of a file."""
    text, bom = _text(ext, data)
    out = []
    for i, line in enumerate(_lines(text)):
        body, eol = _split_eol(line)
        if rows is None or i in rows:
            try:
                doc = json.loads(body)
            except (ValueError, RecursionError):
                doc = None
            if isinstance(doc, dict):
                body = fn(i, doc)
        out.append(body + eol)
    return _bytes(ext, "".join(out), bom)


def _data_line(ext, data: bytes, k: int) -> int:
    """The number of a record (not the CSV header), chosen by ``k``."""
    n = len(_records(ext, data))
    first = 1 if ext.format == "csv" else 0
    return first + k % max(1, n - first)


def _set_field(ext, data: bytes, row: int, col: int, value) -> bytes:
    """Replace one value: a CSV field (as text) or a JSON key's value (any JSON value)."""
    line = _data_line(ext, data, row)
    if ext.format == "csv":
        def put(_, fields):
            if fields:
                fields[col % len(fields)] = value if isinstance(value, str) else json.dumps(value)
            return fields
        return _map_csv_fields(ext, data, put, rows={line})

    def put_json(_, doc):
        key = ext.column_names[col % len(ext.column_names)]
        doc[key] = value
        return "{" + ", ".join(json.dumps(k, ensure_ascii=False) + ": "
                               + (v if isinstance(v, RawJson) else json.dumps(v, ensure_ascii=False))
                               for k, v in doc.items()) + "}"
    return _map_json_records(ext, data, put_json, rows={line})


class RawJson(str):
    """JSON text spliced in as is (a nesting too deep for ``json.dumps`` to write)."""


def nested(depth: int, kind: str) -> RawJson:
    if kind == "list":
        return RawJson("[" * depth + "]" * depth)
    return RawJson('{"a":' * depth + "1" + "}" * depth)


def apply(ext, data: bytes, mutation: tuple) -> bytes:
    kind, *p = mutation
    lines = _lines(data)
    eol = b"\r\n" if ext.format == "csv" else b"\n"
    if kind == "truncate":
        return data[: p[0] % (len(data) + 1)]
    if kind == "insert_bytes":
        pos = p[0] % (len(data) + 1)
        return data[:pos] + p[1] + data[pos:]
    if kind == "delete_range":
        start = p[0] % (len(data) + 1)
        return data[:start] + data[start + p[1]:]
    if kind == "reencode":
        target, lossy = p
        text, _ = _text(ext, data)
        prefix, codec = (BOM, "utf-8") if target == "utf-8-sig" else ("", target)
        try:
            return (prefix + text).encode(codec)
        except UnicodeError:  # bytes that did not decode, or characters the codec lacks
            return (prefix + text).encode(codec, errors="replace") if lossy else data
    if kind == "duplicate_line":
        if not lines:
            return data
        i = p[0] % len(lines)
        line = lines[i] if lines[i].endswith(b"\n") else lines[i] + eol
        return b"".join(lines[:i] + [line] * (p[1] + 1) + lines[i + 1:])
    if kind == "shuffle_lines":
        seed, with_header = p
        head = [] if with_header or ext.format == "jsonl" else lines[:1]
        body = lines[len(head):]
        if body and not body[-1].endswith(b"\n"):
            body[-1] += eol
        random.Random(seed).shuffle(body)
        return b"".join(head + body)
    if kind == "drop_column":
        n = p[0]
        if ext.format == "csv":
            return _map_csv_fields(ext, data, lambda _, f: f[: n % len(f)] + f[n % len(f) + 1:] if f else f)
        key = ext.column_names[n % len(ext.column_names)]
        return _map_json_records(ext, data, lambda _, d: json.dumps({k: v for k, v in d.items() if k != key},
                                                                    ensure_ascii=False))
    if kind == "rename_column":
        n, new = p
        if ext.format == "csv":
            def rename(_, f):
                if f:
                    f[n % len(f)] = new
                return f
            return _map_csv_fields(ext, data, rename, rows={0})
        key = ext.column_names[n % len(ext.column_names)]
        return _map_json_records(ext, data, lambda _, d: json.dumps(
            {(new if k == key else k): v for k, v in d.items()}, ensure_ascii=False))
    if kind == "control_chars":
        char, positions = p
        for k in positions:
            pos = k % (len(data) + 1)
            data = data[:pos] + char + data[pos:]
        return data
    if kind == "huge_field":
        row, col, size = p
        return _set_field(ext, data, row, col, "x" * size)
    if kind == "nested_json":
        row, col, depth, shape = p
        return _set_field(ext, data, row, col, nested(depth, shape))
    if kind == "list_of_objects":
        row, col, in_list_column = p
        lists = [i for i, c in enumerate(ext.columns) if c.type == "list"]
        if in_list_column and lists:
            col = lists[col % len(lists)]
        return _set_field(ext, data, row, col, [{"code": "600101"}, {"nested": [1, {"a": None}]}])
    if kind == "not_json_line":
        pos, junk = p
        i = pos % (len(lines) + 1)
        if i and not lines[i - 1].endswith(b"\n"):
            lines[i - 1] += b"\n"
        return b"".join(lines[:i] + [junk + b"\n"] + lines[i:])
    raise AssertionError(f"unknown mutation {kind}")


offsets = st.integers(min_value=0, max_value=1 << 20)
MUTATIONS = st.one_of(
    st.tuples(st.just("truncate"), offsets),
    st.tuples(st.just("insert_bytes"), offsets, st.binary(min_size=1, max_size=16)),
    st.tuples(st.just("delete_range"), offsets, st.integers(1, 400)),
    st.tuples(st.just("reencode"), st.sampled_from(["cp874", "utf-8", "utf-8-sig", "latin-1"]), st.booleans()),
    st.tuples(st.just("duplicate_line"), offsets, st.integers(1, 3)),
    st.tuples(st.just("shuffle_lines"), st.integers(0, 1 << 16), st.booleans()),
    st.tuples(st.just("drop_column"), st.integers(0, 20)),
    st.tuples(st.just("rename_column"), st.integers(0, 20),
              st.sampled_from(["เลขบัตร", "national_id ", "NATIONAL_ID", "extra_col", ""]) | st.text(max_size=12)),
    st.tuples(st.just("control_chars"), st.sampled_from([b"\x00", b"\r"]), st.lists(offsets, min_size=1, max_size=5)),
    st.tuples(st.just("huge_field"), offsets, st.integers(0, 20), st.integers(2 << 20, 3 << 20)),
    st.tuples(st.just("nested_json"), offsets, st.integers(0, 20), st.sampled_from([64, 2000, 50_000]),
              st.sampled_from(["list", "object"])),
    st.tuples(st.just("list_of_objects"), offsets, st.integers(0, 20), st.booleans()),
    st.tuples(st.just("not_json_line"), offsets,
              st.sampled_from([b"{not json", b"[1, 2", b"null", b'"text"', b"42", b'{"a": }']) | st.binary(max_size=20)),
)
# Mostly a manifest that tells the truth about the mutated bytes; sometimes one that does not.
MANIFESTS = st.one_of(
    st.just(("consistent",)), st.just(("consistent",)), st.just(("consistent",)), st.just(("consistent",)),
    st.tuples(st.just("rows_off"), st.sampled_from([1, -1, 2, -2, 3, -3])),
    st.tuples(st.just("sha_random"), st.binary(min_size=32, max_size=32)),
    st.just(("sha_of_seed",)),
    st.just(("rows_not_a_number",)),
    st.just(("rows_missing",)),
)


def records_believed(ext, data: bytes) -> int:
    if ext.format == "jsonl":
        return sum(1 for line in _lines(data) if line.strip())
    return max(0, sum(1 for record in _records(ext, data) if record.strip(b"\r\n")) - 1)


def manifest_entry(ext, seed: Seed, data: bytes, how: tuple) -> dict:
    entry = {"name": ext.file, "rows": records_believed(ext, data), "sha256": hashlib.sha256(data).hexdigest()}
    kind = how[0]
    if kind == "rows_off":
        entry["rows"] = entry["rows"] + how[1] if entry["rows"] + how[1] >= 0 else entry["rows"] - how[1]
    elif kind == "sha_random":
        entry["sha256"] = how[1].hex()
    elif kind == "sha_of_seed":
        entry["sha256"] = hashlib.sha256(seed.data).hexdigest()
    elif kind == "rows_not_a_number":
        entry["rows"] = f"{entry['rows']} records"
    elif kind == "rows_missing":
        del entry["rows"]
    return entry


# ---------------------------------------------------------------- the properties
class Recorder(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record):
        try:
            self.messages.append(f"{record.name}: {record.getMessage()}")
        except Exception as exc:  # a record whose arguments do not format still counts as a record
            self.messages.append(f"{record.name}: {record.msg!r} {exc!r}")


def rows(target, sql, params=None):
    with connect(target.dsn) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def leaks(personal: tuple[str, ...], text: str | None) -> list[str]:
    return [v for v in personal if text and v in text]


def run_case(target, sources: Path, seed: Seed, data: bytes, how: tuple, day: date) -> None:
    system, name, ext = seed.system, seed.name, seed.ext
    folder = ingest.drop_folder(sources, system, day)
    folder.mkdir(parents=True)
    (folder / ext.file).write_bytes(data)
    entry = manifest_entry(ext, seed, data, how)
    write_manifest(folder, system, day.isoformat(), [{"rows": None, **entry}])
    if "rows" not in entry:  # write_manifest wants every key: take it out again
        manifest = json.loads((folder / ingest.MANIFEST).read_text(encoding="utf-8"))
        del manifest["files"][0]["rows"]
        (folder / ingest.MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n",
                                              encoding="utf-8")

    recorder = Recorder()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(recorder)
    root.setLevel(logging.DEBUG)
    try:
        # (a) no exception escapes: one that does fails the case with its own traceback
        res = ingest.ingest_extract(target, sources, system, name, day)
    finally:
        root.removeHandler(recorder)
        root.setLevel(old_level)

    # (b) the file is accounted for
    assert res.status in ("loaded", "rejected", "resent"), f"status {res.status!r}: {res.reason}"
    # (c) one audit row, the same outcome, rows that add up
    audit = rows(target, "select status, rows_in, rows_loaded, rows_quarantined, rows_rejected, rows_resent, reason, "
                         "kept_at from audit.file_audit where system = %s and extract = %s and extract_date = %s",
                 (system, name, day))
    assert len(audit) == 1, f"{len(audit)} audit rows for a {res.status} file: {audit}"
    status, a_in, a_loaded, a_quar, a_rej, a_resent, a_reason, kept_at = audit[0]
    assert status == res.status, (status, res.status)
    assert res.rows_in == res.rows_loaded + res.rows_quarantined + res.rows_rejected + res.rows_resent, res
    assert a_in == a_loaded + a_quar + a_rej + a_resent, audit[0]
    # (d) a loaded file's quarantine and raw partition hold what it claims
    messages: list[str] = []
    if res.status == "loaded":
        ((n_quar,),) = rows(target, "select count(*) from audit.quarantine where load_id = %s", (res.load_id,))
        ((n_raw,),) = rows(target, f"select count(*) from raw.{system}__{name} where _load_id = %s", (res.load_id,))
        assert (n_quar, n_raw) == (res.rows_quarantined, res.rows_loaded), (n_quar, n_raw, res)
        for message, msgs in rows(target, "select message, messages from audit.quarantine where load_id = %s",
                                  (res.load_id,)):
            messages += [message or "", *(msgs or [])]
    # (e) no national id or name of the file in what a person or a log reads
    kept_reason = None
    if res.status == "rejected" and kept_at and Path(kept_at + ".reason.txt").exists():
        kept_reason = Path(kept_at + ".reason.txt").read_text(encoding="utf-8", errors="replace")
    places = {"result reason": res.reason, "audit reason": a_reason, "kept .reason.txt": kept_reason,
              **{f"quarantine message {i}": m for i, m in enumerate(messages)},
              **{f"log record {i}": m for i, m in enumerate(recorder.messages)}}
    leaked = {where: found for where, text in places.items() if (found := leaks(seed.personal, text))}
    assert not leaked, "personal data leaked: " + "; ".join(
        f"{where}: {found} in {places[where][:300]!r}" for where, found in leaked.items())


def test_every_seed_file_loads_clean(fuzz_db, seeds, tmp_path):
    """The harness itself: each unmutated seed file, with a true manifest, loads whole."""
    for n, seed in enumerate(seeds.values()):
        day = FIRST_CASE_DATE - timedelta(days=1 + n)
        run_case(fuzz_db, tmp_path, seed, seed.data, ("consistent",), day)
        ((status, quarantined),) = rows(fuzz_db, "select status, rows_quarantined from audit.file_audit "
                                                 "where system = %s and extract = %s and extract_date = %s",
                                        (seed.system, seed.name, day))
        assert (status, quarantined) == ("loaded", 0), (seed.ext.file, status, quarantined)


@st.composite
def cases(draw):
    system, name = draw(st.sampled_from(EXTRACTS))
    mutations = draw(st.lists(MUTATIONS, min_size=0, max_size=3))
    how = draw(MANIFESTS)
    return system, name, mutations, how


@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=cases())
def test_the_loader_accounts_for_any_file(fuzz_db, seeds, tmp_path_factory, case):
    system, name, mutations, how = case
    seed = seeds[(system, name)]
    data = seed.data
    for m in mutations:
        data = apply(seed.ext, data, m)
    TRIED["cases"] += 1
    n = TRIED["cases"]
    sources = tmp_path_factory.mktemp(f"fuzz_case_{n}")
    run_case(fuzz_db, sources, seed, data, how, FIRST_CASE_DATE + timedelta(days=n))
    shutil.rmtree(sources)  # a failing case keeps its drop for a look
