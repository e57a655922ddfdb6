"""Kill the load in the middle of publishing: nothing of the file is visible, and the retry ends
exactly as an undisturbed load would."""

from __future__ import annotations

import random
import threading
import time
from datetime import date, timedelta

from generate_helpers import encode_extract, national_id, write_drop
from welfare import contract, ingest
from welfare.warehouse.sql import connect

from .test_ingest_formats import q

D = date(2021, 9, 30)
N = 150_000


def big_volunteers() -> bytes:
    ext = contract.extract("msdhs", "volunteers")
    rng = random.Random(1)
    rows = [{"volunteer_id": f"V{i:07d}", "national_id": national_id(rng, "6001"), "subdistrict_code": "600101",
             "registered_on": date(2015, 1, 1) + timedelta(days=i % 2000)} for i in range(N)]
    rows[10]["national_id"] = rows[10]["national_id"][:12] + str((int(rows[10]["national_id"][12]) + 1) % 10)
    return encode_extract(ext, rows)


def kill_when(target, pattern: str, stop: threading.Event, killed: list) -> None:
    with connect(target.dsn, autocommit=True) as conn, conn.cursor() as cur:
        while not stop.is_set():
            cur.execute("select pid from pg_stat_activity where query ilike %s and pid <> pg_backend_pid() "
                        "and state = 'active'", (pattern,))
            pids = [p for (p,) in cur.fetchall()]
            if pids:
                cur.execute("select pg_terminate_backend(%s)", (pids[0],))
                killed.append(pids[0])
                return
            time.sleep(0.005)


def test_a_load_killed_mid_publish_leaves_nothing_and_the_retry_completes(warehouse, tmp_path):
    write_drop(tmp_path, "msdhs", D, {"volunteers.csv": big_volunteers()})
    ledger_before = q(warehouse, "select count(*) from audit.load_ledger")[0][0]
    raw_before = q(warehouse, "select count(*) from raw.msdhs__volunteers")[0][0]
    quarantine_before = q(warehouse, "select count(*) from audit.quarantine")[0][0]

    stop, killed, errors = threading.Event(), [], []
    killer = threading.Thread(target=kill_when, args=(warehouse, "%copy raw.msdhs__volunteers%", stop, killed))
    killer.start()
    try:
        ingest.ingest_extract(warehouse, tmp_path, "msdhs", "volunteers", D, threshold=1.0)
    except Exception as exc:  # the backend was terminated under the load
        errors.append(exc)
    finally:
        stop.set()
        killer.join()
    assert killed, "the publish statement was never seen running"
    assert errors, "the load did not notice its backend was terminated"
    assert q(warehouse, "select count(*) from audit.load_ledger")[0][0] == ledger_before
    assert q(warehouse, "select count(*) from raw.msdhs__volunteers")[0][0] == raw_before
    assert q(warehouse, "select count(*) from audit.quarantine")[0][0] == quarantine_before

    res = ingest.ingest_extract(warehouse, tmp_path, "msdhs", "volunteers", D, threshold=1.0)
    assert (res.status, res.rows_in, res.rows_loaded, res.rows_quarantined) == ("loaded", N, N - 1, 1)
    assert q(warehouse, "select count(*) from raw.msdhs__volunteers where _load_id = %s", (res.load_id,))[0][0] == N - 1
    assert q(warehouse, "select count(*) from pg_tables where schemaname = 'landing'")[0][0] == 0  # cleaned up
