"""The same DAGs on CeleryExecutor: Debian's redis-server as the broker, two Celery workers on this
machine, and a whole night through them (`welfare up --executor CeleryExecutor --workers 2`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

WELFARE = str(Path(sys.executable).with_name("welfare"))
NIGHT = "2024-03-01"


@pytest.mark.skipif(not (shutil.which("redis-server") or Path("/usr/bin/redis-server").exists()),
                    reason="redis-server is not installed: `make setup` installs it as root (apt-get install redis-server)")
def test_a_night_completes_on_two_celery_workers(tmp_path):
    from welfare.cli.live import ApiClient, LiveConfig

    home = tmp_path / "home"
    env = {**os.environ, "WELFARE_HOME": str(home), "WELFARE_DROP_POKE_SECONDS": "2",
           "WELFARE_NIGHT_POKE_SECONDS": "3", "WELFARE_RETRY_DELAY_SECONDS": "3",
           "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2", "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1"}
    env.pop("AIRFLOW_CONN_WELFARE_ALERTS", None)
    drops = home / "drops"
    subprocess.run([WELFARE, "generate", "--out", str(drops), "--scale", "0.002", "--seed", "11", "--drops", NIGHT,
                    "--defects", "none"], env=env, check=True, capture_output=True)
    up = subprocess.run([WELFARE, "up", "--executor", "CeleryExecutor", "--workers", "2", "--paused",
                         "--sources", str(drops), "--port", "18280"], env=env, capture_output=True, text=True,
                        timeout=600)
    try:
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        assert "CeleryExecutor, 2 Celery workers" in up.stdout
        cfg = LiveConfig(**json.loads((home / "airflow" / "live.json").read_text()))
        password = json.loads((home / "secrets" / "airflow-admin.json").read_text())["admin"]
        api = ApiClient(cfg.url, "admin", password)
        api.unpause([d for d in api.welfare_dags() if d != "welfare_retention"], stop_last_slot=True)
        run_id = api.trigger("welfare_nightly", logical_date=f"{NIGHT}T16:30:00Z")["dag_run_id"]
        final = api.wait_run("welfare_nightly", run_id, timeout_s=1200)
        assert final["state"] == "success"
        build = api.run("welfare_warehouse", run_id)
        assert build["state"] == "success"
        # both workers took tasks of the night from the Redis queue
        logs = home / "airflow" / "logs"
        for i in (1, 2):
            text = (logs / f"celery-worker-{i}.log").read_text(errors="replace")
            assert "execute_workload" in text and "succeeded" in text, f"worker {i} ran nothing"
        tis = api.task_instances("welfare_ingest_msdhs", run_id)
        assert {t["state"] for t in tis if t["task_id"].startswith("load_")} == {"success"}
        assert {t["queue"] for t in tis if t["task_id"].startswith("load_")} == {"default"}
    finally:
        subprocess.run([WELFARE, "down"], env=env, capture_output=True, timeout=120)
        subprocess.run([WELFARE, "warehouse", "stop"], env=env, capture_output=True, timeout=120)
