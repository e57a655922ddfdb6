"""docker-compose.yml stays a valid, complete and PDPA-hardened description of the deployment.

There is no Docker engine here, so the compose file is parsed with PyYAML and checked structurally;
its `${VAR:?message}` interpolation is evaluated by the small evaluator below (`docker compose
config` is run as well when a docker CLI exists).
"""

import importlib
import os
import re
import shutil
import subprocess
import tomllib
from urllib.parse import urlparse

import pytest
import yaml
from welfare.settings import PROJECT_ROOT

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
SUPERUSERS = {"welfare", "postgres"}
# every secret the deployment has; each must be a required `${VAR:?...}` of compose and in .env.example
SECRETS = {
    "POSTGRES_PASSWORD", "AIRFLOW_DB_PASSWORD", "AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY", "AIRFLOW_ADMIN_PASSWORD", "WELFARE_LOADER_PASSWORD", "WELFARE_TRANSFORMER_PASSWORD",
    "WELFARE_BI_READER_PASSWORD", "WELFARE_ANALYST_PASSWORD", "WELFARE_AUDITOR_PASSWORD", "WELFARE_PSEUDONYM_KEY",
    "METABASE_DB_PASSWORD", "MB_ENCRYPTION_SECRET_KEY", "METABASE_ADMIN_PASSWORD",
}
AIRFLOW_COMPONENTS = ("airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor")
SECRET_NAME = re.compile(r"PASSWORD|PASS$|SECRET|KEY|FERNET|TOKEN")
URI_NAME = re.compile(r"URI|CONN|URL|DSN")
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
    return {name: f"v{i}x{name.lower()}" for i, name in enumerate(env_example())}


@pytest.fixture(scope="module")
def doc():
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(doc):
    return doc["services"]


def test_compose_file_describes_the_deployment(doc, services):
    assert {"airflow-db", "warehouse-db", "warehouse-setup", "airflow-init", "airflow-apiserver", "airflow-scheduler",
            "airflow-dag-processor", "metabase", "metabase-db", "metabase-setup"} <= set(services)
    for name, svc in services.items():
        assert "image" in svc or "build" in svc, name
        for dep in (svc.get("depends_on") or {}):
            assert dep in services, (name, dep)
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)  # bind to loopback only
        assert "env_file" not in svc, f"{name} would get every secret of .env: name the ones it needs"
    env = environment(services["airflow-scheduler"])
    assert env["AIRFLOW_CONN_WELFARE_LOADER"].startswith("postgresql://")
    assert env["AIRFLOW_CONN_WELFARE_TRANSFORMER"].startswith("postgresql://")
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
            if SECRET_NAME.search(name) or name in SECRETS:
                assert m.group("op") == ":?" and m.group("arg").strip(), \
                    f"{'.'.join(path)}: {m.group(0)} must be ${{{name}:?message}} (no default, fails when unset)"
                required.add(name)
    assert SECRETS <= required, f"not required by compose: {sorted(SECRETS - required)}"
    for name, svc in services.items():
        for key, value in environment(svc).items():
            if SECRET_NAME.search(key):
                # a secret's value is one required reference, nothing literal around it
                assert REQUIRED_REF.fullmatch(value), (name, key, value)
            if URI_NAME.search(key) and "://" in value:
                u = urlparse(value)
                if u.username:  # credentials in a URI: the password is a required reference
                    password = value.split("://", 1)[1].rsplit("@", 1)[0].split(":", 1)
                    assert len(password) == 2 and REQUIRED_REF.fullmatch(password[1]), (name, key, value)


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
    with pytest.raises(Unset):  # .env.example as it is, every value empty
        for value in strings:
            interpolate(value, example)


def _has_docker_compose() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _has_docker_compose(), reason="no docker CLI with the compose plugin on this machine")
def test_docker_compose_config_fails_when_a_secret_is_unset(tmp_path):
    def config(env: dict[str, str]) -> subprocess.CompletedProcess:
        env_file = tmp_path / "env"
        env_file.write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        clean = {k: v for k, v in os.environ.items() if k not in env}
        return subprocess.run(["docker", "compose", "-f", str(COMPOSE), "--env-file", str(env_file), "config", "-q"],
                              capture_output=True, text=True, env=clean, cwd=PROJECT_ROOT)

    assert config(filled_env()).returncode == 0
    result = config({k: v for k, v in filled_env().items() if k != "WELFARE_PSEUDONYM_KEY"})
    assert result.returncode != 0 and "WELFARE_PSEUDONYM_KEY" in result.stderr


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


def test_env_example_documents_every_secret_with_an_empty_value(services):
    example = env_example()
    referenced = {m.group("name") for _, value in walk(services) for m in REF.finditer(value) if m.group("name")}
    assert referenced <= set(example), f"compose variables missing from .env.example: {sorted(referenced - set(example))}"
    assert set(example) <= referenced, f".env.example variables compose does not use: {sorted(set(example) - referenced)}"
    for name, (value, comments) in example.items():
        assert value == "", f"{name} has a value in .env.example; it must be empty"
        assert comments, f"{name} has no comment saying what it is"
    for name in SECRETS:
        how = " ".join(example[name][1])
        if name == "AIRFLOW__CORE__FERNET_KEY":
            assert "Fernet.generate_key()" in how, name
        else:
            assert 'python -c "import secrets; print(secrets.token_' in how, f"{name}: say how to generate it"
    assert "token_hex(32)" in " ".join(example["WELFARE_PSEUDONYM_KEY"][1])  # 64 hex digits


def test_airflow_uses_the_fab_auth_manager(services):
    for name in AIRFLOW_COMPONENTS:
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
    """(service, variable, parsed URI) of every connection URI after interpolation."""
    for name, svc in services.items():
        for key, value in environment(svc).items():
            value = interpolate(value, env)
            if "://" in value and value.split("://")[0].startswith("postgres"):
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
        uri = seen[("airflow-scheduler", f"AIRFLOW_CONN_WELFARE_{role.upper()}")]
        assert (uri.username, uri.password, uri.hostname, uri.port, uri.path) == (
            f"welfare_{role}", env[f"WELFARE_{role.upper()}_PASSWORD"], "warehouse-db", 5432, "/welfare")
    for name in ("airflow-init", "airflow-apiserver", "airflow-dag-processor"):  # they run no task
        assert not any(k.startswith("AIRFLOW_CONN_WELFARE") for k in environment(services[name])), name
        assert "WELFARE_PSEUDONYM_KEY" not in environment(services[name]), name
    for name in ("metabase", "metabase-db", "airflow-db"):
        assert environment(services[name]).get("POSTGRES_USER", environment(services[name]).get("MB_DB_USER")) \
            not in SUPERUSERS, name
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
    for name in AIRFLOW_COMPONENTS:
        assert services[name]["depends_on"]["warehouse-setup"] == {"condition": "service_completed_successfully"}, name
    for name in AIRFLOW_COMPONENTS[1:]:
        assert services[name]["depends_on"]["airflow-init"] == {"condition": "service_completed_successfully"}, name


def test_warehouse_postgres_uses_scram(services):
    for name in ("warehouse-db", "airflow-db", "metabase-db"):
        env = environment(services[name])
        assert REQUIRED_REF.fullmatch(env["POSTGRES_PASSWORD"]), name
        assert "--auth-host=scram-sha-256" in env["POSTGRES_INITDB_ARGS"].split(), name
        assert "--auth-local=scram-sha-256" in env["POSTGRES_INITDB_ARGS"].split(), name
        assert env.get("POSTGRES_HOST_AUTH_METHOD", "scram-sha-256") not in ("trust", "md5", "password"), name
    assert environment(services["warehouse-db"])["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")


def test_sources_root_is_configuration_mounted_read_only(services):
    scheduler = services["airflow-scheduler"]
    root = environment(scheduler)["WELFARE_SOURCES"]
    assert root == "/opt/welfare/drops"
    assert f"./drops:{root}:ro" in scheduler["volumes"]
    for name, svc in services.items():
        for volume in svc.get("volumes", []):
            if volume.startswith("./drops"):
                assert volume.endswith(":ro"), (name, volume)


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
