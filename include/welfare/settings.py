"""Where things live: the project's home for its embedded warehouse, Airflow and reports."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
DAGS_DIR = PROJECT_ROOT / "dags"
WAREHOUSE_CONN_ID = "welfare_warehouse"
LOCAL_TZ = "Asia/Bangkok"


def welfare_home() -> Path:
    """``$WELFARE_HOME``, default ``.local/`` in the checkout (git-ignored)."""
    return Path(os.environ.get("WELFARE_HOME") or PROJECT_ROOT / ".local").resolve()


def quarantine_dir() -> Path:
    return welfare_home() / "quarantine"


def reports_dir() -> Path:
    return welfare_home() / "reports"


def data_docs_dir() -> Path:
    return welfare_home() / "data_docs"


@dataclass(frozen=True)
class PgTarget:
    """How to reach the warehouse database."""

    host: str
    port: int
    user: str
    database: str
    password: str = ""

    @property
    def uri(self) -> str:
        auth = quote(self.user) + (":" + quote(self.password) if self.password else "")
        return f"postgresql://{auth}@{self.host}:{self.port}/{self.database}"

    @property
    def dsn(self) -> str:
        parts = f"host={self.host} port={self.port} user={self.user} dbname={self.database}"
        return parts + (f" password={self.password}" if self.password else "")

    @property
    def sqlalchemy_url(self) -> str:
        return self.uri.replace("postgresql://", "postgresql+psycopg2://", 1)

    def env(self) -> dict[str, str]:
        """Environment for dbt (profiles.yml reads these) and for Airflow's connection."""
        return {
            "WELFARE_PG_HOST": self.host,
            "WELFARE_PG_PORT": str(self.port),
            "WELFARE_PG_USER": self.user,
            "WELFARE_PG_PASSWORD": self.password,
            "WELFARE_PG_DATABASE": self.database,
            "AIRFLOW_CONN_" + WAREHOUSE_CONN_ID.upper(): self.uri,
        }

    @classmethod
    def from_uri(cls, uri: str) -> PgTarget:
        u = urlparse(uri)
        return cls(
            host=u.hostname or "127.0.0.1",
            port=u.port or 5432,
            user=unquote(u.username or "welfare"),
            password=unquote(u.password or ""),
            database=(u.path or "/welfare").lstrip("/") or "welfare",
        )

