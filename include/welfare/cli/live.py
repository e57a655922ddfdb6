"""A live local Airflow: `welfare up`, `welfare status`, `welfare down`.

The api-server, scheduler, dag-processor and triggerer run in the background, with LocalExecutor
(or CeleryExecutor with a local Redis and Celery workers). Airflow's metadata is in the embedded
PostgreSQL: its own database ``airflow`` and role ``welfare_airflow``, never the warehouse's roles.
The UI serves 127.0.0.1 only, behind a login: user ``admin``, its password generated once into
``$WELFARE_HOME/secrets/airflow-admin.json`` (0600) and printed once, at the first `up`.

State lives under ``$WELFARE_HOME/airflow``: ``live.json`` (port, executor, sources), one pid file and
one log file per component under ``run/`` and ``logs/``.
"""

from __future__ import annotations

import json
import os
import secrets as pysecrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from welfare.settings import welfare_home

ADMIN = "admin"
METADATA_ROLE = "welfare_airflow"
METADATA_DB = "airflow"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
HEALTH_KEYS = {"scheduler": "scheduler", "triggerer": "triggerer", "dag-processor": "dag_processor"}
DEFAULT_PORT = 8080


class LiveError(Exception):
    pass


def airflow_home() -> Path:
    return welfare_home() / "airflow"


def state_file() -> Path:
    return airflow_home() / "live.json"


def run_dir() -> Path:
    from welfare.settings import private_dir

    return private_dir(airflow_home() / "run")


def component_log(name: str) -> Path:
    from welfare.settings import private_dir

    return private_dir(airflow_home() / "logs") / f"{name}.log"


def admin_password_file() -> Path:
    from welfare.warehouse.secrets import secrets_dir

    return secrets_dir() / "airflow-admin.json"


def _secret(name: str, make) -> str:
    from welfare.warehouse import secrets

    return secrets._read_or_create(secrets.secrets_dir() / name, make)


def admin_password(create: bool = True) -> tuple[str, bool]:
    """The UI admin's password and whether it was made just now (SimpleAuthManager's JSON file)."""
    from welfare.warehouse import secrets

    path = admin_password_file()
    if path.exists():
        return json.loads(path.read_text())[ADMIN], False
    if not create:
        raise LiveError(f"no admin password yet ({path}): run `welfare up`")
    password = pysecrets.token_urlsafe(18)
    secrets.write_secret(path, json.dumps({ADMIN: password}))
    return password, True


def _free_port(preferred: int, taken: set[int] = frozenset()) -> int:
    for port in [preferred, *range(preferred + 1, preferred + 200)]:
        if port in taken:
            continue
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise LiveError(f"no free port from {preferred}")


def metadata_uri() -> str:
    """Airflow's metadata database in the embedded cluster (made once, with its own role)."""
    from welfare.warehouse import connections, secrets
    from welfare.warehouse.sql import connect, q

    admin = connections.admin_target()
    password = secrets.password("airflow")
    with connect(admin.dsn) as conn:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("select 1 from pg_roles where rolname = %s", (METADATA_ROLE,))
            verb = "alter" if cur.fetchone() else "create"
            cur.execute(f"{verb} role {q(METADATA_ROLE)} login password %s", (password,))
            cur.execute("select 1 from pg_database where datname = %s", (METADATA_DB,))
            if not cur.fetchone():
                cur.execute(f"create database {q(METADATA_DB)} owner {q(METADATA_ROLE)}")
            cur.execute(f"revoke all on database {q(METADATA_DB)} from public")
    from urllib.parse import quote

    return (f"postgresql+psycopg2://{METADATA_ROLE}:{quote(password, safe='')}@{admin.host}:{admin.port}/"
            f"{METADATA_DB}")


@dataclass
class LiveConfig:
    port: int
    executor: str = "LocalExecutor"
    sources: str = ""
    workers: int = 0
    redis_port: int | None = None
    # the workers' and the triggerer's log servers (token-checked; Airflow binds them to every
    # interface) and the scheduler's health check (127.0.0.1): free ports, so two homes can run
    worker_log_port: int = 8793
    trigger_log_port: int = 8794
    health_port: int = 8974

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def read_config() -> LiveConfig | None:
    try:
        return LiveConfig(**json.loads(state_file().read_text()))
    except (OSError, ValueError, TypeError):
        return None


def live_env(cfg: LiveConfig) -> dict[str, str]:
    """runner.airflow_env, pointed at the metadata database, the executor and the api-server."""
    from cryptography.fernet import Fernet

    from welfare.cli import runner

    env = runner.airflow_env(Path(cfg.sources) if cfg.sources else None)
    env.update({
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_uri(),
        "AIRFLOW__CORE__EXECUTOR": cfg.executor,
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(admin_password_file()),
        "AIRFLOW__CORE__FERNET_KEY": _secret("airflow-fernet.key", lambda: Fernet.generate_key().decode()),
        "AIRFLOW__API_AUTH__JWT_SECRET": _secret("airflow-jwt.secret", lambda: pysecrets.token_urlsafe(48)),
        "AIRFLOW__API__SECRET_KEY": _secret("airflow-api.secret", lambda: pysecrets.token_urlsafe(48)),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(cfg.port),
        "AIRFLOW__API__BASE_URL": cfg.url,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{cfg.url}/execution/",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__PARALLELISM": os.environ.get("AIRFLOW__CORE__PARALLELISM", "4"),
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": os.environ.get("AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG", "2"),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": os.environ.get("AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL", "60"),
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "127.0.0.1",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(cfg.health_port),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(cfg.worker_log_port),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(cfg.trigger_log_port),
        "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
        # the warehouse DAG's task per dbt node (welfare.orchestration.dbt_nodes), in the triggerer; 0: none
        "WELFARE_DBT_NODE_TASKS": os.environ.get("WELFARE_DBT_NODE_TASKS", "1"),
        "WELFARE_DEADLINE_ALERTS": os.environ.get("WELFARE_DEADLINE_ALERTS", "on"),
        # a night's default retry delay: minutes (the interactive `welfare run` shortens it)
        "WELFARE_RETRY_DELAY_SECONDS": os.environ.get("WELFARE_RETRY_DELAY_SECONDS", "300"),
    })
    if cfg.executor == "CeleryExecutor":
        env.update({
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{cfg.redis_port}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace(
                "postgresql+psycopg2", "postgresql"),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": os.environ.get("AIRFLOW__CELERY__WORKER_CONCURRENCY", "2"),
        })
    return env


def _pid_file(name: str) -> Path:
    return run_dir() / f"{name}.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_components() -> dict[str, int]:
    out = {}
    for p in sorted(run_dir().glob("*.pid")):
        try:
            pid = int(p.read_text().strip())
        except ValueError:
            continue
        if _alive(pid):
            out[p.stem] = pid
    return out


def _spawn(name: str, argv: list[str], env: dict[str, str]) -> int:
    log = open(component_log(name), "ab")
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, cwd=str(airflow_home()))
    log.close()
    _pid_file(name).write_text(f"{proc.pid}\n")
    return proc.pid


def migrate(env: dict[str, str]) -> None:
    from welfare.cli import runner

    proc = subprocess.run([runner.airflow_bin(), "db", "migrate"], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise LiveError("airflow db migrate failed:\n" + proc.stdout[-3000:] + proc.stderr[-3000:])


def write_dbt_node_list(env: dict[str, str]) -> None:
    """`dbt parse`, then the node list the warehouse DAG mirrors (one task per model, seed and snapshot)."""
    import sys

    from welfare.orchestration import dbt_nodes, tasks
    from welfare.settings import DBT_PROJECT_DIR
    from welfare.warehouse import connections

    dbt_env = tasks.dbt_env(connections.role_target("transformer"))
    dbt = Path(sys.executable).with_name("dbt")
    proc = subprocess.run([str(dbt) if dbt.exists() else "dbt", "parse"], cwd=DBT_PROJECT_DIR, env=dbt_env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise LiveError("dbt parse failed:\n" + proc.stdout[-3000:] + proc.stderr[-3000:])
    dbt_nodes.write_node_list(Path(dbt_env["DBT_TARGET_PATH"]) / "manifest.json")


def start_redis(port: int) -> int:
    import shutil

    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(server).exists():
        raise LiveError("CeleryExecutor needs Redis: install Debian's redis-server (apt-get install redis-server; "
                        "`make setup` does it as root)")
    data = run_dir() / "redis"
    data.mkdir(exist_ok=True, mode=0o700)
    return _spawn("redis", [server, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(data),
                            "--save", "", "--appendonly", "no", "--protected-mode", "yes"], dict(os.environ))


def up(port: int | None = None, sources: str | None = None, executor: str = "LocalExecutor", workers: int = 0,
       timeout_s: float = 240.0, unpause: bool = True, echo=print) -> LiveConfig:
    """Start every component in the background and return once the api-server says all are healthy."""
    from welfare.cli import runner
    from welfare.warehouse import connections

    if running_components():
        raise LiveError("Airflow is already running here: `welfare status`, or `welfare down` first")
    connections.setup()
    src = sources or os.environ.get("WELFARE_SOURCES") or str(welfare_home() / "drops")
    Path(src).mkdir(parents=True, exist_ok=True)
    old = read_config()
    cfg = LiveConfig(port=_free_port(port or (old.port if old else DEFAULT_PORT)), executor=executor,
                     sources=str(Path(src).resolve()), workers=workers if executor == "CeleryExecutor" else 0)
    taken = {cfg.port}
    for attr, preferred in (("worker_log_port", 8793), ("trigger_log_port", 8794), ("health_port", 8974)):
        p = _free_port(preferred, taken)
        setattr(cfg, attr, p)
        taken.add(p)
    if executor == "CeleryExecutor":
        cfg.redis_port = _free_port(6379, taken)
    airflow_home().mkdir(parents=True, exist_ok=True)
    state_file().write_text(json.dumps(cfg.__dict__, indent=2) + "\n")
    password, new = admin_password()
    env = live_env(cfg)
    migrate(env)
    write_dbt_node_list(env)
    if cfg.redis_port:
        start_redis(cfg.redis_port)
    airflow = runner.airflow_bin()
    for name in COMPONENTS:
        _spawn(name, [airflow, name], env)
    for i in range(cfg.workers):
        _spawn(f"celery-worker-{i + 1}", [airflow, "celery", "worker", "--concurrency",
                                          env["AIRFLOW__CELERY__WORKER_CONCURRENCY"], "--celery-hostname",
                                          f"worker{i + 1}@%h"], env)
    try:
        wait_healthy(cfg, timeout_s)
        if unpause:
            client = ApiClient(cfg.url, ADMIN, password)
            wait_dags_parsed(client, timeout_s)
            for dag_id in client.welfare_dags():
                client.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    except BaseException:
        down()
        raise
    echo(f"Airflow is up: {cfg.url} ({cfg.executor}{f', {cfg.workers} Celery workers' if cfg.workers else ''}); "
         f"drops are watched under {cfg.sources}")
    if new:
        echo(f"  login: {ADMIN} / {password}   (shown once; kept in {admin_password_file()}, mode 0600)")
    else:
        echo(f"  login: {ADMIN}; the password is in {admin_password_file()}")
    echo(f"  logs: {airflow_home() / 'logs'};  stop: welfare down")
    return cfg


def health(cfg: LiveConfig) -> dict:
    with urllib.request.urlopen(f"{cfg.url}/api/v2/monitor/health", timeout=5) as r:
        return json.loads(r.read())


def unhealthy(cfg: LiveConfig, info: dict) -> list[str]:
    bad = []
    if (info.get("metadatabase") or {}).get("status") != "healthy":
        bad.append("metadatabase")
    for name, key in HEALTH_KEYS.items():
        if (info.get(key) or {}).get("status") != "healthy":
            bad.append(name)
    return bad


def wait_healthy(cfg: LiveConfig, timeout_s: float) -> dict:
    deadline = time.monotonic() + timeout_s
    last: object = "no answer"
    while time.monotonic() < deadline:
        dead = [n for n in COMPONENTS if n not in running_components()]
        if dead:
            raise LiveError(f"{', '.join(dead)} exited at start: see {component_log(dead[0])}")
        try:
            info = health(cfg)
            last = unhealthy(cfg, info)
            if not last:
                return info
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last = exc
        time.sleep(2)
    raise LiveError(f"Airflow did not become healthy in {timeout_s:.0f}s ({last}); logs under {airflow_home() / 'logs'}")


def wait_dags_parsed(client: ApiClient, timeout_s: float) -> None:
    from welfare.settings import DAGS_DIR

    want = len(list(Path(DAGS_DIR).glob("*.py")))
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if len(client.welfare_dags()) >= want:
            return
        time.sleep(2)
    raise LiveError(f"the dag-processor did not parse the {want} DAG files in {timeout_s:.0f}s; "
                    f"see {component_log('dag-processor')}")


def down(timeout_s: float = 30.0, echo=None) -> list[str]:
    """Stop every component (SIGTERM to its process group, SIGKILL after ``timeout_s``)."""
    procs = running_components()
    for pid in procs.values():
        try:
            os.killpg(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            pass
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(_alive(p) for p in procs.values()):
        time.sleep(0.5)
    for pid in procs.values():
        if _alive(pid):
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    for p in run_dir().glob("*.pid"):
        p.unlink(missing_ok=True)
    if echo:
        echo(f"stopped: {', '.join(procs) or 'nothing was running'}")
    return list(procs)


def status() -> dict:
    cfg = read_config()
    procs = running_components()
    out: dict = {"running": procs, "url": cfg.url if cfg else None, "executor": cfg.executor if cfg else None,
                 "sources": cfg.sources if cfg else None}
    if cfg and procs:
        try:
            info = health(cfg)
            out["health"] = {k: (v or {}).get("status") for k, v in info.items() if isinstance(v, dict)}
            out["unhealthy"] = unhealthy(cfg, info)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            out["health"] = f"no answer from the api-server: {exc}"
            out["unhealthy"] = ["api-server"]
    return out


class ApiClient:
    """Airflow's REST API (v2) as the admin: what the tests and `welfare status` read run states from."""

    def __init__(self, url: str, user: str = ADMIN, password: str | None = None):
        self.url = url.rstrip("/")
        self.user, self.password = user, password if password is not None else admin_password(create=False)[0]
        self._token: str | None = None

    @classmethod
    def local(cls) -> ApiClient:
        cfg = read_config()
        if cfg is None:
            raise LiveError("Airflow is not set up here: `welfare up`")
        return cls(cfg.url)

    def token(self) -> str:
        if self._token is None:
            body = json.dumps({"username": self.user, "password": self.password}).encode()
            req = urllib.request.Request(f"{self.url}/auth/token", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=30) as r:
                self._token = json.loads(r.read())["access_token"]
        return self._token

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"{self.url}{path}", data=data, method=method,
                                     headers={"Authorization": f"Bearer {self.token()}",
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                raw = r.read()
        except urllib.error.HTTPError as exc:
            raise LiveError(f"{method} {path}: HTTP {exc.code}: {exc.read()[:500]!r}") from None
        return json.loads(raw) if raw else {}

    def welfare_dags(self) -> list[str]:
        out = self.request("GET", "/api/v2/dags?limit=100&tags=welfare")
        return sorted(d["dag_id"] for d in out.get("dags", []))

    def unpause(self, dag_ids: list[str], stop_last_slot: bool = False, timeout_s: float = 120.0) -> list[str]:
        """Unpause; with ``stop_last_slot``, the run Airflow starts at once for a scheduled DAG's last slot (its
        catchup=False behaviour) is marked failed as soon as it appears: a replay or a test that brings its own
        nights does not want last night's chain besides. Returns the runs so stopped.

        The scheduled DAGs are unpaused first and the others only once that run is stopped, with every run
        it had already triggered in them (they carry its run id) failed while they are still paused: a
        night's ingest left waiting for a drop that never comes would hold its DAG (max_active_runs=1)."""
        from urllib.parse import quote

        def patch_run(dag_id: str, run_id: str) -> None:
            self.request("PATCH", f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}", {"state": "failed"})

        scheduled = [d for d in dag_ids if self.request("GET", f"/api/v2/dags/{d}").get("timetable_summary")
                     not in (None, "None", "Never")] if stop_last_slot else []
        others = [d for d in dag_ids if d not in scheduled]
        before = {d: {r["dag_run_id"] for r in self.runs(d)} for d in scheduled}
        for dag_id in scheduled:
            self.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
        stopped: list[tuple[str, str]] = []
        deadline, waiting = time.monotonic() + timeout_s, [d for d in scheduled if self._slot_due(d)]
        while waiting and time.monotonic() < deadline:
            for dag_id in list(waiting):
                for r in self.runs(dag_id):
                    if r["dag_run_id"] not in before[dag_id] and r["run_type"] == "scheduled":
                        patch_run(dag_id, r["dag_run_id"])
                        stopped.append((dag_id, r["dag_run_id"]))
                        waiting.remove(dag_id)
                        break
            time.sleep(1)
        # its tasks end (failed or skipped) before what they triggered is swept
        for dag_id, run_id in stopped:
            self._wait_tasks_ended(dag_id, run_id, deadline=time.monotonic() + timeout_s)
        stopped_ids = {run_id for _, run_id in stopped}
        for dag_id in others:
            for r in self.runs(dag_id):
                if r["dag_run_id"] in stopped_ids and r["state"] not in ("success", "failed"):
                    patch_run(dag_id, r["dag_run_id"])
            self.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
        return sorted(stopped_ids)

    def _slot_due(self, dag_id: str) -> bool:
        """Whether the scheduler is about to create a run of the DAG: its next run is due now. Not so when that
        slot's run exists already (a second `welfare up` on the same metadata), so nothing is waited for."""
        from datetime import UTC, datetime, timedelta

        after = self.request("GET", f"/api/v2/dags/{dag_id}").get("next_dagrun_run_after")
        if not after:
            return True  # not computed yet: wait for the run, as when it is due
        return datetime.fromisoformat(after.replace("Z", "+00:00")) <= datetime.now(UTC) + timedelta(seconds=5)

    def _wait_tasks_ended(self, dag_id: str, run_id: str, deadline: float) -> None:
        ended = {"success", "failed", "skipped", "upstream_failed", "removed", None}
        while time.monotonic() < deadline:
            if {t["state"] for t in self.task_instances(dag_id, run_id)} <= ended:
                return
            time.sleep(1)

    def trigger(self, dag_id: str, logical_date: str | None = None, conf: dict | None = None,
                run_id: str | None = None) -> dict:
        body: dict = {"logical_date": logical_date, "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        return self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)

    def runs(self, dag_id: str) -> list[dict]:
        return self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100&order_by=-start_date").get("dag_runs", [])

    def run(self, dag_id: str, run_id: str) -> dict:
        from urllib.parse import quote

        return self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        from urllib.parse import quote

        # the API serves at most 100 a page (api.maximum_page_limit): a warehouse run has more, its dbt tasks
        found: list[dict] = []
        while True:
            out = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances"
                                      f"?limit=100&offset={len(found)}&order_by=id")
            page = out.get("task_instances", [])
            found += page
            if not page or len(found) >= out.get("total_entries", 0):
                return found

    def wait_run(self, dag_id: str, run_id: str, timeout_s: float = 900.0, poll_s: float = 3.0) -> dict:
        deadline = time.monotonic() + timeout_s
        while True:
            run = self.run(dag_id, run_id)
            if run["state"] in ("success", "failed"):
                return run
            if time.monotonic() >= deadline:
                raise LiveError(f"{dag_id} {run_id} still {run['state']} after {timeout_s:.0f}s")
            time.sleep(poll_s)


def screenshot_run(out: Path, dag_id: str = "welfare_nightly", run_id: str | None = None,
                   timeout_s: float = 90.0) -> tuple[Path, str]:
    """A picture of a DAG run in the live UI, as a person sees it: Chromium logs in through the login form
    with the admin's password, opens the run (the latest when ``run_id`` is None) and waits until its
    state shows. Returns the PNG's path and the run's id."""
    from urllib.parse import quote

    from welfare.browser import Browser, BrowserError

    cfg = read_config()
    if cfg is None or not running_components():
        raise LiveError("Airflow is not running here: `welfare up` first")
    client = ApiClient(cfg.url)
    if run_id is None:
        runs = [r for r in client.runs(dag_id) if r.get("end_date")]
        if not runs:
            raise LiveError(f"{dag_id} has no finished run to show")
        run_id = runs[0]["dag_run_id"]
    state = client.run(dag_id, run_id)["state"]
    page = f"{cfg.url}/dags/{dag_id}/runs/{quote(run_id, safe='')}"
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with Browser(width=1600, height=1000, timeout_s=timeout_s) as b:
            b.goto(f"{cfg.url}/auth/login/?next={quote(page, safe='')}")
            b.wait_for("document.querySelector('input[name=username]')", timeout_s=timeout_s)
            b.fill("input[name=username]", ADMIN)
            b.fill("input[name=password]", client.password)
            b.click("button[type=submit]")
            b.wait_for(f"location.pathname.includes('/dags/{dag_id}/runs/')", timeout_s=timeout_s)
            # the run's header and its grid have loaded when the run's state and a task id are on the page
            b.wait_for(f"document.body.innerText.toLowerCase().includes({json.dumps(state)})"
                       f" && !document.querySelector('.chakra-spinner')", timeout_s=timeout_s)
            time.sleep(1.0)  # the grid's bars animate in
            b.screenshot(out, full_page=False)
    except BrowserError as exc:
        raise LiveError(f"the UI could not be pictured: {exc}") from None
    return out, run_id
