"""docker-compose.yml stays a valid, complete and PDPA-hardened description of the deployment.

There is no Docker engine here, so nothing is started. Two checks stand in:
- `docker-compose config` (Debian's compose 1.29, installed by scripts/system-packages.sh; or `docker
  compose`) whenever it is on PATH: the file's schema, its YAML anchors and merges, and every
  `${VAR:?message}` interpolation, with a complete dummy .env, with each secret unset or empty, and
  with the named worker that docs/deployment.md shows. 1.29 accepts the whole file; the one thing of
  the newer compose specification it rejects, the top-level `name:`, is left out (the project's name
  is COMPOSE_PROJECT_NAME in .env).
- Structural tests on the file parsed with PyYAML, for what compose does not check: which service
  gets which secret, volume and healthcheck, the Celery wiring, and the scripts of the one-shots.
  Two of those run for real: the metadata DB's init script against a real PostgreSQL, and the Redis
  command (its password on stdin, its healthcheck) against a real redis-server. The Celery worker's
  healthcheck command (`celery inspect ping`) and the Airflow images are not run: that needs the
  engine.
"""

import importlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from welfare.settings import PROJECT_ROOT

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
DEPLOYMENT_DOC = PROJECT_ROOT / "docs" / "deployment.md"
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
CELERY_APP = "airflow.providers.celery.executors.celery_executor.app"
IMAGE = "nakhonsawan-welfare-airflow:0.1.0"
SUPERUSERS = {"welfare", "postgres"}
# every secret the deployment has; each must be a required `${VAR:?...}` of compose and in .env.example
SECRETS = {
    "POSTGRES_PASSWORD", "METADATA_POSTGRES_PASSWORD", "AIRFLOW_DB_PASSWORD", "REDIS_PASSWORD",
    "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "AIRFLOW_ADMIN_PASSWORD",
    "WELFARE_LOADER_PASSWORD", "WELFARE_TRANSFORMER_PASSWORD", "WELFARE_BI_READER_PASSWORD", "WELFARE_ANALYST_PASSWORD",
    "WELFARE_AUDITOR_PASSWORD", "WELFARE_PSEUDONYM_KEY", "METABASE_DB_PASSWORD", "MB_ENCRYPTION_SECRET_KEY",
    "METABASE_ADMIN_PASSWORD",
}
# The only variables with a default, and that default. The alerts connection may hold an SMTP password,
# but it is optional by design: empty means each alert is an ERROR line in the log; never a literal URI.
OPTIONAL = {"AIRFLOW_UID": "50000", "AIRFLOW_CONN_WELFARE_ALERTS": ""}
# .env settings of compose itself, not referenced in the file (1.29 has no top-level `name:`)
COMPOSE_SETTINGS = {"COMPOSE_PROJECT_NAME": "nakhonsawan-welfare"}
AIRFLOW_SERVICES = ("airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer", "airflow-worker")
LONG_RUNNING_AIRFLOW = AIRFLOW_SERVICES[1:]
ONE_SHOTS = ("metadata-db-init", "warehouse-setup", "airflow-init", "metabase-setup")
TASK_SECRETS = ("AIRFLOW_CONN_WELFARE_LOADER", "AIRFLOW_CONN_WELFARE_TRANSFORMER", "WELFARE_PSEUDONYM_KEY")
SECRET_NAME = re.compile(r"PASSWORD|PASS$|SECRET|KEY|FERNET|TOKEN|AUTH$")
URI_NAME = re.compile(r"URI|CONN|URL|DSN|BACKEND")
# compose's interpolation: $$ (a literal $), ${VAR}, ${VAR:?msg}, ${VAR?msg}, ${VAR:-x}, ${VAR-x}, $VAR
REF = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[?\-+])(?P<arg>[^}]*))?\}"
                 r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)")
REQUIRED_REF = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]+\}")


class Unset(Exception):
    pass


def interpolate(value: str, env: dict[str, str]) -> str:
    """What compose makes of a string: `${VAR:?msg}` raises Unset when VAR is unset or empty."""

    def one(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group("name") or m.group("bare")
        op, arg, val = m.group("op"), m.group("arg"), env.get(name)
        if op in (":?", "?") and (val is None or (op == ":?" and val == "")):
            raise Unset(f"{name}: {arg}")
        if op in (":-", "-") and (val is None or (op == ":-" and val == "")):
            return arg
        return val or ""

    return REF.sub(one, value)


def walk(node, path=()):
    """Every string of the document, with its path."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from walk(v, (*path, str(k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, (*path, str(i)))
    elif isinstance(node, str):
        yield path, node


def environment(svc: dict) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def mounts(svc: dict) -> dict[str, tuple[str, str]]:
    """A service's volumes: container path -> (source, mode)."""
    out = {}
    for spec in svc.get("volumes", []):
        source, target, *mode = spec.split(":")
        out[target] = (source, mode[0] if mode else "rw")
    return out


def userinfo(uri: str) -> tuple[str, str] | None:
    """(user, password) of a URI as written (its password may be a `${VAR:?msg}`), None without '@'."""
    rest = uri.split("://", 1)[1]
    if "@" not in rest:
        return None
    user, _, password = rest.rsplit("@", 1)[0].partition(":")
    return user, password


def env_example() -> dict[str, tuple[str, list[str]]]:
    """.env.example: name -> (value, the comment lines just above it)."""
    out, comments = {}, []
    for line in (PROJECT_ROOT / ".env.example").read_text().splitlines():
        if line.startswith("#"):
            comments.append(line)
        elif "=" in line:
            name, value = line.split("=", 1)
            out[name.strip()] = (value, comments)
            comments = []
        else:
            comments = []
    return out


def filled_env() -> dict[str, str]:
    """Every variable .env.example names, given a distinct value (as a filled-in .env would)."""
    env = {name: f"v{i}x{name.lower()}" for i, name in enumerate(env_example())}
    env.update(AIRFLOW_UID="4242", COMPOSE_PROJECT_NAME="welfare-test",
               AIRFLOW_CONN_WELFARE_ALERTS="smtp://alerts:v99xalerts@mail.example:587")
    return env


@pytest.fixture(scope="module")
def doc():
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(doc):
    return doc["services"]


def test_compose_file_describes_the_deployment(doc, services):
    assert {"metadata-db", "metadata-db-init", "redis", "warehouse-db", "warehouse-setup", *AIRFLOW_SERVICES,
            "metabase", "metabase-setup"} <= set(services)
    assert "name" not in doc, "compose 1.29 rejects a top-level name: set COMPOSE_PROJECT_NAME in .env"
    for name, svc in services.items():
        assert "image" in svc or "build" in svc, name
        for dep in (svc.get("depends_on") or {}):
            assert dep in services, (name, dep)
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)  # bind to loopback only
        assert "env_file" not in svc, f"{name} would get every secret of .env: name the ones it needs"
        assert "container_name" not in svc, f"{name}: a fixed container name stops --scale and a second project"
    for volume in {v.split(":")[0] for s in services.values() for v in s.get("volumes", [])}:
        assert volume.startswith("./") or volume in doc["volumes"], volume


def test_every_secret_is_required_and_has_no_default(services):
    text = COMPOSE.read_text()
    assert "change-me" not in text.lower()
    required = set()
    for path, value in walk(services):
        for m in REF.finditer(value):
            name = m.group("name") or m.group("bare")
            if name is None:
                continue  # $$
            if name in OPTIONAL:
                assert m.group("op") == ":-" and m.group("arg") == OPTIONAL[name], (".".join(path), m.group(0))
                continue
            assert m.group("op") == ":?" and m.group("arg").strip(), \
                f"{'.'.join(path)}: {m.group(0)} must be ${{{name}:?message}} (no default, fails when unset)"
            required.add(name)
    assert SECRETS <= required, f"not required by compose: {sorted(SECRETS - required)}"
    for name, svc in services.items():
        for key, value in environment(svc).items():
            if key in OPTIONAL:
                assert value == f"${{{key}:-{OPTIONAL[key]}}}", (name, key, value)
            elif SECRET_NAME.search(key):
                # a secret's value is one required reference, nothing literal around it
                assert REQUIRED_REF.fullmatch(value), (name, key, value)
            if URI_NAME.search(key) and "://" in value and (info := userinfo(value)):
                # credentials in a URI (a Redis URI has a password only): the password is a required reference
                assert REQUIRED_REF.fullmatch(info[1]), (name, key, value)


def test_compose_config_fails_when_any_secret_is_unset(services):
    strings = [value for _, value in walk(services)]
    full = filled_env()
    assert SECRETS <= set(full), f".env.example lacks {sorted(SECRETS - set(full))}"
    for value in strings:
        interpolate(value, full)  # a complete .env interpolates
    example = {name: value for name, (value, _) in env_example().items()}
    for secret in sorted(SECRETS):
        for env in ({k: v for k, v in full.items() if k != secret}, dict(full, **{secret: ""})):
            with pytest.raises(Unset, match=secret):
                for value in strings:
                    interpolate(value, env)
    with pytest.raises(Unset):  # .env.example as it is, every secret empty
        for value in strings:
            interpolate(value, example)


# ---------------------------------------------------------------- docker-compose config (1.29 here)
def _compose_cli() -> list[str] | None:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    return None


COMPOSE_CLI = _compose_cli()
needs_compose = pytest.mark.skipif(COMPOSE_CLI is None, reason="no docker-compose (Debian: apt-get install "
                                   "docker-compose; scripts/system-packages.sh does it as root) nor docker compose")


def compose_config(tmp_path: Path, env: dict[str, str], *args: str, compose_file: Path = COMPOSE):
    """`docker-compose config` of the file with `env` as its .env and nothing from this process's
    environment but PATH (so no exported variable fills a gap)."""
    env_file = tmp_path / "env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
    clean = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    return subprocess.run([*COMPOSE_CLI, "--project-directory", str(PROJECT_ROOT), "--env-file", str(env_file),
                           "-f", str(compose_file), "config", *args],
                          capture_output=True, text=True, env=clean, cwd=PROJECT_ROOT)


@needs_compose
def test_docker_compose_accepts_the_file_and_resolves_it(tmp_path, services):
    env = filled_env()
    quiet = compose_config(tmp_path, env, "-q")
    assert quiet.returncode == 0, quiet.stderr
    result = compose_config(tmp_path, env)
    assert result.returncode == 0, result.stderr
    resolved = yaml.safe_load(result.stdout)["services"]
    assert set(resolved) == set(services)
    for name in LONG_RUNNING_AIRFLOW:
        assert resolved[name]["user"] == "4242:0", name
        assert resolved[name]["depends_on"]["airflow-init"] == {"condition": "service_completed_successfully"}, name
    assert resolved["airflow-init"]["user"] == "0:0"
    assert resolved["airflow-init"]["environment"]["AIRFLOW_UID"] == "4242"
    worker = resolved["airflow-worker"]["environment"]
    assert worker["AIRFLOW__CELERY__BROKER_URL"] == f"redis://:{env['REDIS_PASSWORD']}@redis:6379/0"
    assert worker["AIRFLOW_CONN_WELFARE_ALERTS"] == env["AIRFLOW_CONN_WELFARE_ALERTS"]

    defaults = compose_config(tmp_path, dict(env, AIRFLOW_UID="", AIRFLOW_CONN_WELFARE_ALERTS=""))
    assert defaults.returncode == 0, defaults.stderr
    resolved = yaml.safe_load(defaults.stdout)["services"]
    assert {resolved[name]["user"] for name in LONG_RUNNING_AIRFLOW} == {"50000:0"}
    assert not resolved["airflow-worker"]["environment"]["AIRFLOW_CONN_WELFARE_ALERTS"]


@needs_compose
def test_docker_compose_refuses_the_file_when_a_secret_is_unset_or_empty(tmp_path):
    for secret in sorted(SECRETS):
        for env in ({k: v for k, v in filled_env().items() if k != secret}, dict(filled_env(), **{secret: ""})):
            result = compose_config(tmp_path, env, "-q")
            assert result.returncode != 0 and secret in result.stderr, (secret, result.stderr)


def named_worker_snippet() -> str:
    blocks = re.findall(r"```yaml\n(.*?)```", DEPLOYMENT_DOC.read_text(), re.S)
    snippets = [b for b in blocks if "<<: *airflow-worker" in b]
    assert len(snippets) == 1, "docs/deployment.md shows one named worker"
    return snippets[0]


def with_named_worker() -> str:
    text = COMPOSE.read_text()
    assert text.count("\nvolumes:\n") == 1
    return text.replace("\nvolumes:\n", "\n" + named_worker_snippet() + "\nvolumes:\n")


def test_a_named_worker_as_the_docs_show_it_is_a_worker_with_its_own_queue():
    services = yaml.safe_load(with_named_worker())["services"]
    (name,) = set(services) - set(yaml.safe_load(COMPOSE.read_text())["services"])
    worker, base = services[name], services["airflow-worker"]
    assert {k: v for k, v in worker.items() if k != "command"} == {k: v for k, v in base.items() if k != "command"}
    assert worker["command"].startswith("celery worker --queues ") and worker["command"] != base["command"]


@needs_compose
def test_docker_compose_accepts_the_named_worker_of_the_docs(tmp_path):
    extended = tmp_path / "docker-compose.yml"
    extended.write_text(with_named_worker())
    result = compose_config(tmp_path, filled_env(), "-q", compose_file=extended)
    assert result.returncode == 0, result.stderr


# ---------------------------------------------------------------- the files beside the compose file
def _dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern that matches the path or one of its parent folders wins."""

    def regex(pattern: str) -> re.Pattern:
        out = ""
        for part in re.split(r"(\*\*/|\*\*|\*|\?)", pattern.strip("/")):
            out += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(part, re.escape(part))
        return re.compile(out)

    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for p in patterns:
        negate = p.startswith("!")
        if any(regex(p.lstrip("!")).fullmatch(c) for c in candidates):
            ignored = not negate
    return ignored


def test_secrets_and_drops_are_ignored_by_git_and_docker():
    for path in (".env", ".env.production", "drops/", "drops/msdhs/2021-09-28/persons.csv", ".local/secrets/x"):
        result = subprocess.run(["git", "check-ignore", "--no-index", "-q", path], cwd=PROJECT_ROOT)
        assert result.returncode == 0, f"{path} is not git-ignored"
    kept = subprocess.run(["git", "check-ignore", "--no-index", "-q", ".env.example"], cwd=PROJECT_ROOT)
    assert kept.returncode == 1, ".env.example must stay in git"

    patterns = [line.strip() for line in (PROJECT_ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    for path in (".env", ".env.production", "drops", "drops/msdhs/2021-09-28/persons.csv", ".local/secrets/x",
                 ".venv/bin/python", ".git/config", "__pycache__/x.pyc", "include/welfare/__pycache__/x.pyc"):
        assert _dockerignored(path, patterns), f"{path} would be copied into the image"
    for path in ("include/welfare/settings.py", "dags/warehouse.py", "uv.lock", "pyproject.toml"):
        assert not _dockerignored(path, patterns), f"{path} is needed by the image build"

    # the ignores matter because the image copies the whole context
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert re.search(r"^COPY\b.*\s\.\s+/opt/welfare\s*$", dockerfile, re.M)


def test_env_example_documents_every_variable_with_an_empty_value(services):
    example = env_example()
    referenced = {m.group("name") for _, value in walk(services) for m in REF.finditer(value) if m.group("name")}
    assert referenced <= set(example), f"compose variables missing from .env.example: {sorted(referenced - set(example))}"
    unused = set(example) - referenced - set(COMPOSE_SETTINGS)
    assert not unused, f".env.example variables compose does not use: {sorted(unused)}"
    for name, (value, comments) in example.items():
        assert value == COMPOSE_SETTINGS.get(name, ""), f"{name} has a value in .env.example; it must be empty"
        assert comments, f"{name} has no comment saying what it is"
    for name in SECRETS:
        how = " ".join(example[name][1])
        if name == "AIRFLOW__CORE__FERNET_KEY":
            assert "Fernet.generate_key()" in how, name
        else:
            assert 'python -c "import secrets; print(secrets.token_' in how, f"{name}: say how to generate it"
    assert "token_hex(32)" in " ".join(example["WELFARE_PSEUDONYM_KEY"][1])  # 64 hex digits
    alerts = " ".join(example["AIRFLOW_CONN_WELFARE_ALERTS"][1])
    assert "smtp://" in alerts and "https://" in alerts and "Empty" in alerts


# ---------------------------------------------------------------- Airflow: common anchor, UID, healthchecks
def test_airflow_services_share_the_common_anchor(doc, services):
    text = COMPOSE.read_text()
    assert re.search(r"^x-airflow-common: &airflow-common$", text, re.M)
    common = doc["x-airflow-common"]
    for name in AIRFLOW_SERVICES:
        block = re.search(rf"^  {re.escape(name)}:.*?\n((?:    .*\n|\n)+)", text, re.M).group(1)
        assert re.search(r"^    <<: \*airflow-(common|worker)$", block, re.M), f"{name} is not built on the anchor"
        svc = services[name]
        assert (svc["image"], svc["build"]) == (common["image"], common["build"]) == (IMAGE, "."), name
        env = environment(svc)
        for key, value in environment(common).items():
            assert env.get(key) == value, (name, key)


def test_airflow_runs_as_airflow_uid_and_the_init_gives_it_the_volumes(services):
    for name in LONG_RUNNING_AIRFLOW:
        assert services[name]["user"] == "${AIRFLOW_UID:-50000}:0", name
    init = services["airflow-init"]
    assert init["user"] == "0:0" and init["restart"] == "no"
    assert environment(init)["AIRFLOW_UID"] == "${AIRFLOW_UID:-50000}"
    script = " ".join(str(c) for c in init["command"])
    home = environment(init)["WELFARE_HOME"]
    assert f'chown -R "$${{AIRFLOW_UID}}:0" {home}' in script  # $$: the container's variable, not compose's
    assert set(mounts(init)) >= {home, f"{home}/airflow/logs"}
    assert set(script.split("chmod 0700", 1)[1].split("\n")[0].split()) == {home, f"{home}/airflow", f"{home}/airflow/logs"}
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert f"install -d -m 0700 {home} {home}/airflow {home}/airflow/logs" in dockerfile


def test_airflow_init_script_runs(services, tmp_path):
    """The init's script itself, with `airflow` and `chown` shimmed (they record their arguments) and
    /opt/welfare mapped to this checkout and a temporary home: the real `dbt parse` and node list."""
    from welfare.settings import DBT_PROJECT_DIR

    init, env = services["airflow-init"], filled_env()
    home, shims, calls = tmp_path / "home", tmp_path / "bin", tmp_path / "calls"
    shims.mkdir()
    for tool in ("airflow", "chown"):
        (shims / tool).write_text(f'#!/bin/sh\necho "{tool} $*" >> {calls}\n')
        (shims / tool).chmod(0o700)
    container_env = {k: interpolate(v, env) for k, v in environment(init).items()}
    script = interpolate(init["command"][2], env)
    script = script.replace("/opt/welfare/dbt_project", str(DBT_PROJECT_DIR)).replace("/opt/welfare/home", str(home))
    result = subprocess.run(init["command"][:2] + [script], capture_output=True, text=True, timeout=300,
                            env={**container_env, "WELFARE_HOME": str(home), "HOME": str(tmp_path),
                                 "AIRFLOW_HOME": str(tmp_path / "airflow"),
                                 "PATH": f"{shims}:{Path(sys.executable).parent}:{os.environ['PATH']}"})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    recorded = calls.read_text().splitlines()
    user, password = env["AIRFLOW_ADMIN_USERNAME"], env["AIRFLOW_ADMIN_PASSWORD"]
    assert recorded[0] == "airflow db migrate"
    assert recorded[1].startswith(f"airflow users create --role Admin --username {user} --password {password} ")
    assert recorded[2] == f"airflow users reset-password --username {user} --password {password}"
    assert recorded[3] == f"chown -R {env['AIRFLOW_UID']}:0 {home}"
    nodes = json.loads((home / "dbt" / "nodes.json").read_text())
    assert any(n["resource_type"] == "model" for n in nodes)
    for path in (home, home / "airflow", home / "airflow" / "logs"):
        assert path.stat().st_mode & 0o777 == 0o700, path


def test_every_long_running_service_has_a_healthcheck_and_every_wait_a_condition(services):
    for name, svc in services.items():
        if name in ONE_SHOTS:
            assert svc.get("restart") == "no", f"{name} is a one-shot: it must not restart"
            continue
        check = svc.get("healthcheck")
        assert check and check["test"][0] in ("CMD", "CMD-SHELL") and len(check["test"]) > 1, name
        assert {"interval", "retries"} <= set(check), name
        assert svc.get("restart") == "always", name
    for name, svc in services.items():
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert isinstance(cond, dict), f"{name} -> {dep}: a condition, not a bare name"
            if dep in ONE_SHOTS:
                assert cond == {"condition": "service_completed_successfully"}, (name, dep)
            else:
                assert cond == {"condition": "service_healthy"}, (name, dep)
    for name in AIRFLOW_SERVICES:
        deps = services[name]["depends_on"]
        for dep in ("metadata-db", "redis"):
            assert deps[dep] == {"condition": "service_healthy"}, (name, dep)
        for dep in ("metadata-db-init", "warehouse-setup"):
            assert deps[dep] == {"condition": "service_completed_successfully"}, (name, dep)
    for name in LONG_RUNNING_AIRFLOW:
        assert services[name]["depends_on"]["airflow-init"] == {"condition": "service_completed_successfully"}, name
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"] == {"condition": "service_healthy"}


def test_each_airflow_healthcheck_asks_its_own_component(services):
    def check(name: str) -> str:
        return " ".join(services[name]["healthcheck"]["test"][1:])

    assert "http://localhost:8080/api/v2/monitor/health" in check("airflow-apiserver")
    assert "http://localhost:8974/health" in check("airflow-scheduler")
    assert environment(services["airflow-scheduler"])["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "True"
    assert check("airflow-dag-processor") == "airflow jobs check --job-type DagProcessorJob --local"
    assert check("airflow-triggerer") == "airflow jobs check --job-type TriggererJob --local"
    worker = interpolate(check("airflow-worker"), {})
    assert worker == f'celery --app {CELERY_APP} inspect ping -d "celery@${{HOSTNAME}}"'
    assert "curl --fail" in check("metabase") and "pg_isready" in check("metadata-db")


# ---------------------------------------------------------------- Celery
def test_celery_executor_with_redis_and_results_in_the_metadata_db(services):
    env = filled_env()
    for name in AIRFLOW_SERVICES:
        assert environment(services[name])["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
    common = environment(services["airflow-scheduler"])
    broker = urlparse(interpolate(common["AIRFLOW__CELERY__BROKER_URL"], env))
    assert (broker.scheme, broker.hostname, broker.port, broker.path) == ("redis", "redis", 6379, "/0")
    assert broker.password == env["REDIS_PASSWORD"]
    backend = urlparse(interpolate(common["AIRFLOW__CELERY__RESULT_BACKEND"], env))
    metadata = urlparse(interpolate(common["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], env))
    assert backend.scheme == "db+postgresql" and metadata.scheme == "postgresql+psycopg2"
    assert (backend.username, backend.password, backend.hostname, backend.port, backend.path) == (
        metadata.username, metadata.password, metadata.hostname, metadata.port, metadata.path) == (
        "airflow", env["AIRFLOW_DB_PASSWORD"], "metadata-db", 5432, "/airflow")

    redis = services["redis"]
    assert redis["image"].startswith("redis:7.2")
    assert " ".join(redis["healthcheck"]["test"][1:]) == "redis-cli ping | grep -q PONG"
    assert environment(redis)["REDISCLI_AUTH"] == environment(redis)["REDIS_PASSWORD"]
    assert "ports" not in redis  # the broker is reached inside the compose network only

    worker = services["airflow-worker"]
    queues = re.fullmatch(r"celery worker --queues (\S+)", worker["command"]).group(1).split(",")
    assert common["AIRFLOW__OPERATORS__DEFAULT_QUEUE"] in queues
    assert "ports" not in worker and "hostname" not in worker  # so `--scale airflow-worker=N` works
    assert environment(worker)["DUMB_INIT_SETSID"] == "0"  # warm shutdown: running tasks finish first


def test_the_image_has_the_celery_executor(tmp_path):
    deps = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = [d for d in deps if d.startswith("apache-airflow-providers-celery")]
    assert len(pins) == 1 and re.fullmatch(r"apache-airflow-providers-celery==\d+\.\d+\.\d+", pins[0]), pins
    version = pins[0].split("==")[1]
    assert f'name = "apache-airflow-providers-celery"\nversion = "{version}"' in (PROJECT_ROOT / "uv.lock").read_text()
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    assert "uv export --frozen" in dockerfile and "import airflow.providers.celery.executors.celery_executor" in dockerfile
    # what the scheduler loads and the worker's healthcheck names, in the environment of the same lock
    module, attr = CELERY_APP.rsplit(".", 1)
    probe = subprocess.run([sys.executable, "-c", f"import {module} as m, redis; print(type(m.{attr}).__name__)"],
                           capture_output=True, text=True, timeout=300,
                           env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "AIRFLOW_HOME": str(tmp_path)})
    assert probe.returncode == 0 and probe.stdout.strip().endswith("Celery"), probe.stderr[-2000:]


# ---------------------------------------------------------------- the databases
def test_the_warehouse_is_a_postgres_of_its_own(services):
    env = filled_env()
    wh, meta = services["warehouse-db"], services["metadata-db"]
    assert wh["image"].startswith("postgres:") and meta["image"].startswith("postgres:")
    assert mounts(wh)["/var/lib/postgresql/data"][0] != mounts(meta)["/var/lib/postgresql/data"][0]
    assert environment(wh)["POSTGRES_PASSWORD"] != environment(meta)["POSTGRES_PASSWORD"]
    worker = environment(services["airflow-worker"])
    for key in ("AIRFLOW_CONN_WELFARE_LOADER", "AIRFLOW_CONN_WELFARE_TRANSFORMER"):
        assert urlparse(interpolate(worker[key], env)).hostname == "warehouse-db", key
    assert urlparse(interpolate(worker["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], env)).hostname == "metadata-db"
    assert environment(services["metabase"])["MB_DB_HOST"] == "metadata-db"
    assert environment(services["metadata-db-init"])["PGHOST"] == "metadata-db"


def test_metadata_db_init_creates_both_databases_and_their_roles(services):
    init = services["metadata-db-init"]
    env = environment(init)
    assert init["image"] == services["metadata-db"]["image"]
    assert env["PGPASSWORD"] == environment(services["metadata-db"])["POSTGRES_PASSWORD"]
    assert env["PGUSER"] == environment(services["metadata-db"])["POSTGRES_USER"] == "postgres"
    script = init["command"][0]
    assert "ON_ERROR_STOP=1" in script
    airflow = urlparse(interpolate(environment(services["airflow-scheduler"])["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"],
                                   filled_env()))
    metabase = environment(services["metabase"])
    # each role: its password from the variable its client uses, and a database of its own
    for role, database, password_ref in (("airflow", airflow.path.lstrip("/"), "${AIRFLOW_DB_PASSWORD:?"),
                                         (metabase["MB_DB_USER"], metabase["MB_DB_DBNAME"], "${METABASE_DB_PASSWORD:?")):
        variable = password_ref[2:-2]
        assert env[variable].startswith(password_ref), role
        assert f"\\getenv {role}_password {variable}" in script, role
        assert f"create role {role}'" in script and f"password :'{role}_password'" in script, role
        assert f"create database {database} owner {role}'" in script, role
        assert f"revoke all on database {database} from public" in script, role
    assert metabase["MB_DB_PASS"].startswith("${METABASE_DB_PASSWORD:?")
    assert services["metabase"]["depends_on"]["metadata-db-init"] == {"condition": "service_completed_successfully"}


def test_metadata_db_init_script_runs_on_a_real_postgres_twice(services, warehouse):
    """The script itself (after compose's interpolation) against the test cluster: both roles log in
    to their own database only, and a second run (new passwords) succeeds and sets them anew."""
    import psycopg2
    from welfare.warehouse.embedded import find_bindir

    init = services["metadata-db-init"]
    conn_env = {"PATH": f"{find_bindir()}:{os.environ['PATH']}", "PGHOST": warehouse.host,
                "PGPORT": str(warehouse.port), "PGUSER": warehouse.user, "PGPASSWORD": warehouse.password,
                "PGDATABASE": "postgres"}

    def run(passwords: dict[str, str]) -> None:
        script = interpolate(init["command"][0], passwords)
        result = subprocess.run([*init["entrypoint"], script], capture_output=True, text=True, timeout=120,
                                env={**conn_env, **{k: interpolate(v, passwords) for k, v in environment(init).items()
                                                    if not k.startswith("PG")}})
        assert result.returncode == 0, result.stderr

    def login(role: str, database: str, password: str):
        return psycopg2.connect(host=warehouse.host, port=warehouse.port, user=role, password=password,
                                dbname=database, connect_timeout=10)

    admin = psycopg2.connect(warehouse.dsn.replace(f"dbname={warehouse.database}", "dbname=postgres"))
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute("select rolname from pg_roles where rolname in ('airflow', 'metabase')")
            assert not cur.fetchall(), "the test cluster already has roles airflow/metabase"
        first = {"AIRFLOW_DB_PASSWORD": "first-airflow", "METABASE_DB_PASSWORD": "first-metabase"}
        second = {"AIRFLOW_DB_PASSWORD": "second-'airflow", "METABASE_DB_PASSWORD": "second-metabase"}
        run(first)
        run(second)
        for role, pw in (("airflow", second["AIRFLOW_DB_PASSWORD"]), ("metabase", second["METABASE_DB_PASSWORD"])):
            with login(role, role, pw) as conn, conn.cursor() as cur:
                cur.execute("select current_user, (select pg_get_userbyid(datdba) from pg_database"
                            " where datname = current_database()), has_schema_privilege('public', 'create')")
                assert cur.fetchone() == (role, role, True)
            conn.close()
            with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
                login(role, role, first[f"{role.upper()}_DB_PASSWORD"])
        with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
            login("metabase", "airflow", second["METABASE_DB_PASSWORD"])
        with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
            login("airflow", "metabase", second["AIRFLOW_DB_PASSWORD"])
    finally:
        with admin.cursor() as cur:
            for name in ("airflow", "metabase"):
                cur.execute(f"drop database if exists {name} with (force)")
                cur.execute(f"drop role if exists {name}")
        admin.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(shutil.which("redis-server") is None or shutil.which("redis-cli") is None,
                    reason="no redis-server (Debian: apt-get install redis-server; scripts/system-packages.sh)")
def test_redis_reads_its_password_from_stdin_and_its_healthcheck_needs_it(services, tmp_path):
    """The redis service's own command line and healthcheck, with the image's entrypoint and
    redis-cli shimmed to a private port: the broker URL authenticates, the password is in no
    command line, and the healthcheck fails without it (redis-cli exits 0 on NOAUTH)."""
    import redis as redis_client

    svc, env = services["redis"], filled_env()
    port, bindir, data = _free_port(), tmp_path / "bin", tmp_path / "data"
    bindir.mkdir()
    data.mkdir()
    shims = {"docker-entrypoint.sh": f'exec "$@" --port {port} --bind 127.0.0.1 --dir {data} --save ""\n',
             "redis-cli": f'exec {shutil.which("redis-cli")} -p {port} "$@"\n'}
    for name, body in shims.items():
        (bindir / name).write_text("#!/bin/sh\n" + body)
        (bindir / name).chmod(0o700)
    container_env = {k: interpolate(v, env) for k, v in environment(svc).items()}
    path = {"PATH": f"{bindir}:{os.environ['PATH']}"}
    server = subprocess.Popen([*svc["entrypoint"], *(interpolate(c, env) for c in svc["command"])],
                              env={**container_env, **path}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    health = " ".join(svc["healthcheck"]["test"][1:])
    try:
        broker = interpolate(environment(services["airflow-worker"])["AIRFLOW__CELERY__BROKER_URL"], env)
        client = redis_client.Redis.from_url(broker.replace("@redis:6379/", f"@127.0.0.1:{port}/"))
        for _ in range(100):
            try:
                assert client.ping()
                break
            except redis_client.ConnectionError:
                time.sleep(0.1)
        assert client.ping()
        with pytest.raises(redis_client.AuthenticationError):
            redis_client.Redis(host="127.0.0.1", port=port).ping()
        pid = client.info("server")["process_id"]
        assert env["REDIS_PASSWORD"].encode() not in Path(f"/proc/{pid}/cmdline").read_bytes()
        assert subprocess.run(["sh", "-c", health], env={**container_env, **path}).returncode == 0
        assert subprocess.run(["sh", "-c", health], env=path).returncode != 0
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


# ---------------------------------------------------------------- who gets what
def test_airflow_uses_the_fab_auth_manager(services):
    for name in AIRFLOW_SERVICES:
        assert environment(services[name])["AIRFLOW__CORE__AUTH_MANAGER"] == FAB_AUTH_MANAGER, name
    module, cls = FAB_AUTH_MANAGER.rsplit(".", 1)
    assert getattr(importlib.import_module(module), cls).__name__ == cls  # the venv has the provider
    deps = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = [d for d in deps if d.startswith("apache-airflow-providers-fab")]
    assert len(pins) == 1 and re.fullmatch(r"apache-airflow-providers-fab==\d+\.\d+\.\d+", pins[0]), pins
    version = pins[0].split("==")[1]
    assert f'name = "apache-airflow-providers-fab"\nversion = "{version}"' in (PROJECT_ROOT / "uv.lock").read_text()
    init = " ".join(str(c) for c in services["airflow-init"]["command"])
    assert "airflow db migrate" in init and "users create --role Admin" in init
    assert "$${AIRFLOW_ADMIN_PASSWORD}" in init and "$${AIRFLOW_ADMIN_USERNAME}" in init
    assert REQUIRED_REF.fullmatch(environment(services["airflow-init"])["AIRFLOW_ADMIN_PASSWORD"])
    assert REQUIRED_REF.fullmatch(environment(services["airflow-init"])["AIRFLOW_ADMIN_USERNAME"])


def _uris(services, env):
    """(service, variable, parsed URI) of every PostgreSQL connection URI after interpolation."""
    for name, svc in services.items():
        for key, value in environment(svc).items():
            value = interpolate(value, env)
            if "://" in value and "postgres" in value.split("://")[0]:
                yield name, key, urlparse(value)


def test_no_component_connects_as_the_superuser(services):
    env = filled_env()
    superuser = environment(services["warehouse-db"])["POSTGRES_USER"]
    assert superuser in SUPERUSERS
    seen = {}
    for name, key, uri in _uris(services, env):
        seen[(name, key)] = uri
        if key == "WELFARE_ADMIN_URI":
            assert name == "warehouse-setup", f"only the set-up has the superuser, not {name}"
            assert uri.username == superuser and uri.password == env["POSTGRES_PASSWORD"]
            continue
        assert uri.username not in SUPERUSERS, (name, key, uri.username)
    assert not any(k == "AIRFLOW_CONN_WELFARE_WAREHOUSE" for _, k in seen)
    for role in ("loader", "transformer"):
        uri = seen[("airflow-worker", f"AIRFLOW_CONN_WELFARE_{role.upper()}")]
        assert (uri.username, uri.password, uri.hostname, uri.port, uri.path) == (
            f"welfare_{role}", env[f"WELFARE_{role.upper()}_PASSWORD"], "warehouse-db", 5432, "/welfare")
    # CeleryExecutor: only the workers run tasks, so only they hold the warehouse roles and the key
    for name in AIRFLOW_SERVICES:
        has = {k for k in TASK_SECRETS if k in environment(services[name])}
        assert has == (set(TASK_SECRETS) if name == "airflow-worker" else set()), (name, has)
    for name in ("airflow-init", "airflow-apiserver", "airflow-scheduler"):  # they run no task and no callback
        assert not any(k.startswith("AIRFLOW_CONN_") for k in environment(services[name])), name
    for name in ("airflow-worker", "airflow-dag-processor", "airflow-triggerer"):
        assert environment(services[name])["AIRFLOW_CONN_WELFARE_ALERTS"] == "${AIRFLOW_CONN_WELFARE_ALERTS:-}", name
    # the metadata server's superuser: its init alone
    holders = {name for name, svc in services.items()
               if any("METADATA_POSTGRES_PASSWORD" in v for v in environment(svc).values())}
    assert holders == {"metadata-db", "metadata-db-init"}
    assert environment(services["metabase"])["MB_DB_USER"] not in SUPERUSERS
    assert environment(services["metabase"])["MB_DB_HOST"] != "warehouse-db"


def test_warehouse_setup_runs_once_as_superuser_and_components_wait_for_it(services):
    setup = services["warehouse-setup"]
    assert [*setup["entrypoint"], *setup["command"]] == ["welfare", "warehouse", "setup"]
    assert setup.get("restart") == "no"
    env = environment(setup)
    for name in ("WELFARE_ADMIN_URI", "WELFARE_LOADER_PASSWORD", "WELFARE_TRANSFORMER_PASSWORD",
                 "WELFARE_BI_READER_PASSWORD", "WELFARE_ANALYST_PASSWORD", "WELFARE_AUDITOR_PASSWORD",
                 "WELFARE_PSEUDONYM_KEY"):
        assert name in env, name
        assert REQUIRED_REF.search(env[name]), name
    assert env["WELFARE_ADMIN_URI"].startswith("postgresql://postgres:${POSTGRES_PASSWORD:?")
    assert setup["depends_on"]["warehouse-db"]["condition"] == "service_healthy"
    for name in (*AIRFLOW_SERVICES, "metabase"):
        assert services[name]["depends_on"]["warehouse-setup"] == {"condition": "service_completed_successfully"}, name


def test_postgres_servers_use_scram(services):
    for name in ("warehouse-db", "metadata-db"):
        env = environment(services[name])
        assert REQUIRED_REF.fullmatch(env["POSTGRES_PASSWORD"]), name
        assert "--auth-host=scram-sha-256" in env["POSTGRES_INITDB_ARGS"].split(), name
        assert "--auth-local=scram-sha-256" in env["POSTGRES_INITDB_ARGS"].split(), name
        assert env.get("POSTGRES_HOST_AUTH_METHOD", "scram-sha-256") not in ("trust", "md5", "password"), name
    assert environment(services["warehouse-db"])["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert environment(services["metadata-db"])["POSTGRES_PASSWORD"].startswith("${METADATA_POSTGRES_PASSWORD:?")


def test_the_shared_volumes_are_mounted_where_the_dags_look(services):
    env = environment(services["airflow-worker"])
    sources, home, logs = env["WELFARE_SOURCES"], env["WELFARE_HOME"], env["AIRFLOW__LOGGING__BASE_LOG_FOLDER"]
    assert (sources, home) == ("/opt/welfare/drops", "/opt/welfare/home")
    assert logs == f"{home}/airflow/logs"  # where the retention purge looks for the task logs
    assert env["AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FILE_PERMISSIONS"] == "0o600"
    expected = {  # service -> {path: (source, mode)}
        "airflow-worker": {sources: ("./drops", "ro"), home: ("welfare-home", "rw"), logs: ("airflow-logs", "rw")},
        "airflow-scheduler": {sources: ("./drops", "ro"), home: ("welfare-home", "ro"), logs: ("airflow-logs", "rw")},
        "airflow-triggerer": {sources: ("./drops", "ro"), home: ("welfare-home", "ro"), logs: ("airflow-logs", "rw")},
        "airflow-dag-processor": {home: ("welfare-home", "ro"), logs: ("airflow-logs", "rw")},
        # the API server reads the task logs and nothing else of $WELFARE_HOME (rejected files hold personal data)
        "airflow-apiserver": {logs: ("airflow-logs", "rw")},
        "airflow-init": {home: ("welfare-home", "rw"), logs: ("airflow-logs", "rw")},
    }
    for name, want in expected.items():
        assert mounts(services[name]) == want, name
        assert environment(services[name])["WELFARE_SOURCES"] == sources, name  # configuration, never a trigger's
        assert environment(services[name])["WELFARE_HOME"] == home, name
    for name, svc in services.items():
        for target, (source, mode) in mounts(svc).items():
            if source == "./drops":
                assert mode == "ro", (name, target)
            if source in ("welfare-home", "airflow-logs"):
                assert name in expected, f"{name} mounts {source}"


def test_bi_tool_reads_the_warehouse_as_bi_reader(services):
    metabase = environment(services["metabase"])
    assert metabase["MB_ENCRYPTION_SECRET_KEY"].startswith("${MB_ENCRYPTION_SECRET_KEY:?")
    assert metabase["MB_DB_PASS"].startswith("${METABASE_DB_PASSWORD:?")
    setup = services["metabase-setup"]
    env = environment(setup)
    assert env["WAREHOUSE_USER"] == "welfare_bi_reader"
    assert env["WAREHOUSE_PASSWORD"].startswith("${WELFARE_BI_READER_PASSWORD:?")
    assert env["WAREHOUSE_HOST"] == "warehouse-db"
    script = "\n".join(setup["command"])
    compile(script, "metabase-setup", "exec")  # the inline script is valid Python
    for used in ('env["WAREHOUSE_USER"]', 'env["WAREHOUSE_PASSWORD"]', "/api/database"):
        assert used in script, used
    assert setup["depends_on"]["metabase"]["condition"] == "service_healthy"


def test_system_packages_installs_docker_compose_and_redis_when_missing():
    script = (PROJECT_ROOT / "scripts" / "system-packages.sh").read_text()
    for package, command in (("docker-compose", "docker-compose"), ("redis-server", "redis-server")):
        assert f'command -v {command} >/dev/null 2>&1 || missing+=("{package}")' in script, package
    assert subprocess.run(["bash", "-n", str(PROJECT_ROOT / "scripts" / "system-packages.sh")]).returncode == 0
