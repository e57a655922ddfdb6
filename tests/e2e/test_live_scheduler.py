"""The nights as the live scheduler runs them: `welfare up`, then Airflow's scheduler, dag-processor,
triggerer and executor do everything; run states are read through Airflow's REST API and the
warehouse is read directly.

One Airflow home for the module, over the end-to-end province's drops (content_hashes.E2E_PROVINCE:
three nights, then a fourth that re-sends the third), in this order:
- a backfill (`airflow backfill create`) of welfare_nightly over the first three nights, one build a
  night, on LocalExecutor;
- a late fourth drop: the sensors defer (no worker held), the drop arrives, the night completes, and
  the published marts are those `welfare run` gives over the same drops (the recorded content hashes);
- the same home brought up again on CeleryExecutor (Redis, two Celery workers) for a night with a
  missing system: its sensor times out naming it, the build runs on what is current and says so, the
  failure alert reaches a webhook receiver on 127.0.0.1, and both workers ran tasks of the night.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from content_hashes import E2E_PROVINCE, RECORD, content_hashes

pytestmark = pytest.mark.e2e

WELFARE = str(Path(sys.executable).with_name("welfare"))
NIGHTS = ["2021-09-27", "2021-09-28", "2021-09-29"]
LATE_NIGHT, MISSING_NIGHT = NIGHTS[-1], "2021-09-30"  # the drops' fourth night re-sends the third
DROP_WAIT_S = 30
HAS_REDIS = bool(shutil.which("redis-server") or Path("/usr/bin/redis-server").exists())


class Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Receiver.received.append(json.loads(body or b"{}"))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


class Live:
    def __init__(self, home: Path, env: dict, gen: Path, drops: Path):
        self.home, self.env, self.gen, self.drops = home, env, gen, drops
        self.up_output = ""

    def connect(self) -> None:
        from welfare.cli.live import ApiClient, LiveConfig

        self.cfg = LiveConfig(**json.loads((self.home / "airflow" / "live.json").read_text()))
        password = json.loads((self.home / "secrets" / "airflow-admin.json").read_text())["admin"]
        self.api = ApiClient(self.cfg.url, "admin", password)

    def up(self, *args: str) -> subprocess.CompletedProcess:
        """`welfare up` (paused), then the DAGs unpaused with last night's slot stopped: the nights are the test's."""
        proc = subprocess.run([WELFARE, "up", "--paused", "--sources", str(self.drops), "--port", "18180", *args],
                              env=self.env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        self.connect()
        self.api.unpause([d for d in self.api.welfare_dags() if d != "welfare_retention"], stop_last_slot=True)
        return proc

    def welfare(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([WELFARE, *args], env=self.env, capture_output=True, text=True, timeout=1800)
        if check:
            assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return proc

    def deliver(self, system: str, night: str, like: str | None = None) -> None:
        """A drop arrives as the source systems deliver it: files first, the manifest last."""
        src = self.gen / system / (like or night)
        dst = self.drops / system / night
        dst.mkdir(parents=True, exist_ok=True)
        for f in sorted(src.iterdir()):
            if f.name != "_manifest.json":
                shutil.copyfile(f, dst / f.name)
        shutil.copyfile(src / "_manifest.json", dst / "_manifest.json.part")
        os.replace(dst / "_manifest.json.part", dst / "_manifest.json")

    def superuser_dsn(self) -> str:
        from welfare.warehouse.embedded import EmbeddedWarehouse

        return EmbeddedWarehouse(self.home).target.dsn

    def query(self, sql: str, params=()) -> list[tuple]:
        import psycopg2

        with psycopg2.connect(self.superuser_dsn()) as conn, conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    def children(self, nightly_run_id: str) -> dict[str, dict]:
        """The runs the nightly chain triggered (they carry its run id)."""
        out = {}
        for dag_id in ("welfare_ingest_msdhs", "welfare_ingest_cdd", "welfare_ingest_lao", "welfare_warehouse"):
            runs = [r for r in self.api.runs(dag_id) if r["dag_run_id"] == nightly_run_id]
            if runs:
                out[dag_id] = runs[0]
        return out

    def states(self, dag_id: str, run_id: str) -> dict[str, str]:
        return {t["task_id"]: t["state"] for t in self.api.task_instances(dag_id, run_id)}

    def task_log(self, dag_id: str, run_id: str, task_id: str) -> str:
        folder = self.home / "airflow" / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
        return "\n".join(p.read_text(errors="replace") for p in sorted(folder.glob("*.log*")))

    def nightly_runs(self) -> list[dict]:
        return self.api.runs("welfare_nightly")

    def wait(self, predicate, timeout_s: float, what: str, poll_s: float = 3.0):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = predicate()
            if got:
                return got
            time.sleep(poll_s)
        raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    home = tmp_path_factory.mktemp("live_home")
    gen, drops = home / "generated", home / "drops"
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {**os.environ, "WELFARE_HOME": str(home), "WELFARE_PSEUDONYM_KEY": E2E_PROVINCE["pseudonym_key"],
           "WELFARE_DROP_WAIT_SECONDS": str(DROP_WAIT_S), "WELFARE_DROP_POKE_SECONDS": "2",
           "WELFARE_NIGHT_POKE_SECONDS": "3", "WELFARE_RETRY_DELAY_SECONDS": "3",
           "AIRFLOW_CONN_WELFARE_ALERTS": f"http://127.0.0.1:{server.server_port}/alerts",
           "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2", "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2"}
    subprocess.run([WELFARE, "generate", "--out", str(gen), "--scale", str(E2E_PROVINCE["scale"]),
                    "--seed", str(E2E_PROVINCE["seed"]), "--drops", E2E_PROVINCE["drops"]],
                   env=env, check=True, capture_output=True)
    drops.mkdir()
    obj = Live(home, env, gen, drops)
    try:
        obj.up_output = obj.up().stdout
        yield obj
    finally:
        subprocess.run([WELFARE, "down"], env=env, capture_output=True, timeout=120)
        subprocess.run([WELFARE, "warehouse", "stop"], env=env, capture_output=True, timeout=120)
        server.shutdown()


def test_up_serves_127_0_0_1_behind_a_login_and_reports_healthy(live):
    import urllib.error
    import urllib.request

    password_file = live.home / "secrets" / "airflow-admin.json"
    assert password_file.stat().st_mode & 0o777 == 0o600
    password = json.loads(password_file.read_text())["admin"]
    assert f"admin / {password}" in live.up_output and live.cfg.url in live.up_output  # printed once, at the first up
    with pytest.raises(urllib.error.HTTPError) as denied:
        urllib.request.urlopen(f"{live.cfg.url}/api/v2/dags", timeout=10)
    assert denied.value.code in (401, 403)
    status = json.loads(live.welfare("status").stdout)
    assert not status["unhealthy"] and set(status["running"]) >= {"api-server", "scheduler", "dag-processor",
                                                                   "triggerer"}
    # the metadata is in the embedded PostgreSQL, in a database of its own, owned by Airflow's own role
    owner = live.query("select pg_get_userbyid(datdba) from pg_database where datname = 'airflow'")
    assert owner == [("welfare_airflow",)]
    # and the warehouse database holds no Airflow table
    assert live.query("select count(*) from information_schema.tables where table_name = 'dag_run'") == [(0,)]


def test_a_backfill_of_three_nights_waits_for_a_late_drop_and_ends_where_welfare_run_ends(live):
    """Three consecutive nights, backfilled; the third night's drop comes late: its sensors defer (no
    worker held) until it arrives, and the night completes. One build a night, after its ingests, and
    the published marts are those `welfare run` gives over the same drops (tests/e2e/content_hashes.json,
    recorded from `welfare run`; the fourth drop it also ran re-sends the third and changes nothing)."""
    for night in NIGHTS[:-1]:
        for system in ("msdhs", "cdd", "lao"):
            live.deliver(system, night)
    live.welfare("airflow", "backfill", "create", "--dag-id", "welfare_nightly",
                 "--from-date", f"{NIGHTS[0]}T00:00:00+07:00", "--to-date", f"{NIGHTS[-1]}T23:59:00+07:00",
                 "--max-active-runs", "1")

    def late_night_waiting():
        runs = [r for r in live.nightly_runs() if r["run_type"] == "backfill" and r["logical_date"][:10] == LATE_NIGHT]
        if not runs:
            return None
        run_id = runs[0]["dag_run_id"]
        kids = live.children(run_id)
        return run_id if (kids.keys() >= {"welfare_ingest_msdhs", "welfare_ingest_cdd", "welfare_ingest_lao"} and all(
            live.states(f"welfare_ingest_{s}", run_id).get("wait_for_drop") == "deferred"
            for s in ("msdhs", "cdd", "lao"))) else None

    late_run = live.wait(late_night_waiting, timeout_s=600, what="the late night's three sensors deferred", poll_s=1)
    # while deferred, no worker runs a task of the night
    running = live.api.request("GET", "/api/v2/dags/~/dagRuns/~/taskInstances?state=running&limit=50")
    assert running["total_entries"] == 0
    for system in ("msdhs", "cdd", "lao"):  # the drop arrives late
        live.deliver(system, LATE_NIGHT)
    runs = live.wait(lambda: (lambda rs: rs if len(rs) == len(NIGHTS) and all(r["state"] in ("success", "failed")
                                                                             for r in rs) else None)(
        [r for r in live.nightly_runs() if r["run_type"] == "backfill"]),
        timeout_s=420, what="the backfilled nights")
    by_night = {r["logical_date"][:10]: r for r in runs}
    assert sorted(by_night) == NIGHTS
    assert by_night[LATE_NIGHT]["dag_run_id"] == late_run and by_night[LATE_NIGHT]["state"] == "success"
    for r in runs:
        kids = live.children(r["dag_run_id"])
        # one build a night, after the night's three ingests
        assert set(kids) == {"welfare_ingest_msdhs", "welfare_ingest_cdd", "welfare_ingest_lao", "welfare_warehouse"}
        assert kids["welfare_warehouse"]["state"] == "success", r["dag_run_id"]
        last_ingest_end = max(kids[d]["end_date"] for d in kids if d.startswith("welfare_ingest"))
        assert kids["welfare_warehouse"]["start_date"] >= last_ingest_end
    assert all(k["state"] == "success" for k in live.children(late_run).values())
    # the build, visible: a task per dbt model, seed and snapshot, each green with its node's log
    nodes = json.loads((live.home / "dbt" / "nodes.json").read_text())
    mirrors = {t: s for t, s in live.states("welfare_warehouse", late_run).items() if t.startswith("dbt.")}
    assert len(mirrors) == len(nodes) > 50 and set(mirrors.values()) == {"success"}
    kpi_log = live.task_log("welfare_warehouse", late_run, "dbt.kpi_values")
    assert "model.welfare.kpi_values: SUCCESS" in kpi_log and "START sql table model" in kpi_log
    assert "kpi_values" in live.task_log("welfare_warehouse", late_run, "dbt_build")  # dbt's output, streamed
    published = live.query("select run_id from audit.warehouse_publish order by published_at")
    assert [r for (r,) in published] == [by_night[n]["dag_run_id"] for n in NIGHTS]
    # the nights loaded in order, each under its own drop date
    assert [d for (d,) in live.query("select distinct extract_date::text from audit.file_audit order by 1")] == NIGHTS
    recorded = json.loads(RECORD.read_text())
    now = content_hashes(live.superuser_dsn())
    assert {k: v for k, v in now.items() if k in recorded} == recorded
    assert set(now) == set(recorded)


@pytest.mark.skipif(not shutil.which("chromium"), reason="chromium is not installed: `make setup` installs it as "
                                                           "root (apt-get install chromium fonts-thai-tlwg)")
def test_the_ui_shows_the_completed_night_to_a_browser_that_logged_in(live):
    night = next(r for r in live.nightly_runs() if r["logical_date"].startswith(LATE_NIGHT))
    assert night["state"] == "success"
    out = live.home / "screenshots" / "nightly-run.png"
    proc = live.welfare("screenshot", "--run", night["dag_run_id"], "--out", str(out))
    assert night["dag_run_id"] in proc.stdout
    png = out.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (1600, 1000)
    # a wrong password does not get past the login form
    from welfare.browser import Browser

    with Browser() as b:
        b.goto(f"{live.cfg.url}/auth/login/")
        b.wait_for("document.querySelector('input[name=username]')")
        b.fill("input[name=username]", "admin")
        b.fill("input[name=password]", "not-the-password")
        b.click("button[type=submit]")
        b.wait_for("document.body.innerText.toLowerCase().match(/invalid|incorrect|error|wrong/)", timeout_s=20)
        assert "/auth/login" in b.evaluate("location.pathname")
    print(f"screenshot of the completed night: {out}")


@pytest.mark.skipif(not HAS_REDIS, reason="redis-server is not installed: `make setup` installs it as root "
                                          "(apt-get install redis-server)")
def test_on_two_celery_workers_a_missing_system_times_out_by_name_and_the_build_runs_on_what_is_current(live):
    # the same home, the same metadata and warehouse: now on CeleryExecutor with Redis and two workers
    live.welfare("down")
    up = live.up("--executor", "CeleryExecutor", "--workers", "2")
    assert "CeleryExecutor, 2 Celery workers" in up.stdout
    assert set(json.loads(live.welfare("status").stdout)["running"]) >= {"redis", "celery-worker-1",
                                                                          "celery-worker-2", "triggerer"}
    Receiver.received.clear()
    for system in ("msdhs", "cdd"):  # the fourth night (a re-send of the third), without lao's
        live.deliver(system, MISSING_NIGHT)
    run_id = live.api.trigger("welfare_nightly", logical_date=f"{MISSING_NIGHT}T16:30:00Z")["dag_run_id"]
    final = live.api.wait_run("welfare_nightly", run_id, timeout_s=420 + DROP_WAIT_S)
    assert final["state"] == "failed"  # the night is not whole, and says so
    kids = live.children(run_id)
    assert kids["welfare_ingest_lao"]["state"] == "failed"
    assert kids["welfare_ingest_msdhs"]["state"] == kids["welfare_ingest_cdd"]["state"] == "success"
    assert kids["welfare_warehouse"]["state"] == "success"
    sensor_log = live.task_log("welfare_ingest_lao", run_id, "wait_for_drop")
    assert f"no complete lao drop for {MISSING_NIGHT}" in sensor_log
    plan_log = live.task_log("welfare_warehouse", run_id, "plan")
    assert "WITHOUT this night's drop of lao" in plan_log
    # built on what was current, and published; re-sends change nothing
    assert live.query("select run_id from audit.warehouse_publish order by published_at desc limit 1") == [(run_id,)]
    recorded = json.loads(RECORD.read_text())
    assert {k: v for k, v in content_hashes(live.superuser_dsn()).items() if k in recorded} == recorded
    # the failure alert reached the webhook receiver, naming the DAG, the task and the reason
    alerts = live.wait(lambda: [a for a in Receiver.received if "wait_for_drop" in json.dumps(a)], timeout_s=60,
                       what="the failure alert", poll_s=1)
    text = json.dumps(alerts[0])
    assert "welfare_ingest_lao" in text and MISSING_NIGHT in text
    # both workers took tasks of the night from the Redis queue
    logs = live.home / "airflow" / "logs"
    for i in (1, 2):
        text = (logs / f"celery-worker-{i}.log").read_text(errors="replace")
        assert "execute_workload" in text and "succeeded" in text, f"worker {i} ran nothing"
