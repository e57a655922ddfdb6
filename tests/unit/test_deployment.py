"""docker-compose.yml stays a valid, complete description of the deployment (no Docker engine here)."""

import yaml
from welfare.settings import PROJECT_ROOT


def test_compose_file_describes_the_deployment():
    doc = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text())
    services = doc["services"]
    assert {"airflow-db", "warehouse-db", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
            "metabase"} <= set(services)
    for name, svc in services.items():
        assert "image" in svc or "build" in svc, name
        for dep in (svc.get("depends_on") or {}):
            assert dep in services, (name, dep)
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)  # bind to loopback only
    env = services["airflow-scheduler"]["environment"]
    assert env["AIRFLOW_CONN_WELFARE_WAREHOUSE"].startswith("postgresql://")
    for volume in {v.split(":")[0] for s in services.values() for v in s.get("volumes", [])}:
        assert volume.startswith("./") or volume in doc["volumes"], volume


def test_env_example_has_no_real_secrets():
    text = (PROJECT_ROOT / ".env.example").read_text()
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            value = line.split("=", 1)[1]
            assert value in ("", "change-me") or value.startswith("change-me"), line
