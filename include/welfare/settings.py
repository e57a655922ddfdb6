"""Where things live: the project's home for its embedded warehouse, Airflow and reports."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
DAGS_DIR = PROJECT_ROOT / "dags"
# Airflow's connection of each component role: welfare_loader (the ingest), welfare_transformer (dbt)
WAREHOUSE_CONN_IDS = {"loader": "welfare_loader", "transformer": "welfare_transformer"}
LOCAL_TZ = "Asia/Bangkok"


def whole_number(raw: object, what: str, unit: str, error: type[Exception] = ValueError, minimum: int = 1) -> int:
    """A setting that must be a whole number of ``unit`` of at least ``minimum``: ``error`` naming ``what``."""
    if isinstance(raw, bool):
        raise error(f"{what} must be a whole number of {unit}, not {raw!r}")
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise error(f"{what} must be a whole number of {unit}, not {raw!r}") from None
    if value < minimum:
        raise error(f"{what} must be at least {minimum}, not {value}")
    return value


def welfare_home() -> Path:
    """``$WELFARE_HOME``, default ``.local/`` in the checkout (git-ignored)."""
    return Path(os.environ.get("WELFARE_HOME") or PROJECT_ROOT / ".local").resolve()


def private_dir(path: Path) -> Path:
    """``path`` as a private folder of ours: created 0700, a wider mode narrowed, a link refused."""
    path = Path(path)
    if path.is_symlink():
        raise PermissionError(f"{path} is a symbolic link; the project's state folders must be real folders")
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = path.lstat()
    if st.st_uid == os.geteuid() and st.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def make_home_private() -> Path:
    """Everything the project writes under ``$WELFARE_HOME`` is private to its user: the home is 0700
    and this process (and what it starts: Airflow, dbt) creates files 0600 and folders 0700."""
    os.umask(0o077)
    return private_dir(welfare_home())


def quarantine_dir() -> Path:
    return welfare_home() / "quarantine"


def reports_dir() -> Path:
    return welfare_home() / "reports"


def data_docs_dir() -> Path:
    return welfare_home() / "data_docs"


def _dsn_value(v: str) -> str:
    return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass(frozen=True)
class PgTarget:
    """How to reach the warehouse database."""

    host: str
    port: int
    user: str
    database: str
    password: str = ""
    options: str = ""  # libpq options, e.g. the pseudonym key's session settings for dbt

    @property
    def uri(self) -> str:
        auth = quote(self.user) + (":" + quote(self.password) if self.password else "")
        return f"postgresql://{auth}@{self.host}:{self.port}/{self.database}"

    @property
    def dsn(self) -> str:
        parts = f"host={self.host} port={self.port} user={self.user} dbname={self.database}"
        if self.password:
            parts += " password=" + _dsn_value(self.password)
        if self.options:
            parts += " options=" + _dsn_value(self.options)
        return parts

    def __repr__(self) -> str:  # never a password or a key in a log line or a traceback
        return f"PgTarget(user={self.user!r}, host={self.host!r}, port={self.port}, database={self.database!r})"

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
            **({"PGOPTIONS": self.options} if self.options else {}),
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

