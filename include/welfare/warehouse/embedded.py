"""The embedded warehouse: a PostgreSQL cluster the project initialises and runs itself.

It lives under ``$WELFARE_HOME/pg`` and is started from the PostgreSQL server
binaries on the machine. PostgreSQL refuses to run as root, so when we are
root the server runs as an unprivileged OS user (``postgres`` by default,
``$WELFARE_PG_OS_USER`` to choose another). Start and stop are idempotent.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from welfare.settings import PgTarget, welfare_home

SUPERUSER = "welfare"
DATABASE = "welfare"
INSTALL_HINT = (
    "No PostgreSQL server binaries (initdb, pg_ctl, postgres) were found on PATH, via "
    "`pg_config --bindir`, or under /usr/lib/postgresql/*/bin. Install the server, e.g. "
    "`apt-get install postgresql` (Debian/Ubuntu, version 15 or newer), or point "
    "WELFARE_PG_BINDIR at the folder that holds initdb and pg_ctl."
)


class WarehouseError(RuntimeError):
    pass


def find_bindir() -> Path:
    candidates: list[Path] = []
    if os.environ.get("WELFARE_PG_BINDIR"):
        candidates.append(Path(os.environ["WELFARE_PG_BINDIR"]))
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True)
            candidates.append(Path(out.stdout.strip()))
        except (subprocess.CalledProcessError, OSError):
            pass

    def version_key(p: str) -> float:
        try:
            return float(Path(p).parent.name)
        except ValueError:
            return 0.0

    candidates += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version_key, reverse=True)]
    for c in candidates:
        if (c / "initdb").exists() and (c / "pg_ctl").exists():
            return c
    raise WarehouseError(INSTALL_HINT)


@dataclass
class EmbeddedWarehouse:
    home: Path

    @classmethod
    def default(cls) -> EmbeddedWarehouse:
        return cls(welfare_home())

    # -- layout -------------------------------------------------------------
    @property
    def root(self) -> Path:
        return self.home / "pg"

    @property
    def server_root(self) -> Path:
        """Where the server's own files live: under the home, unless the server user cannot reach it.

        As root, a home inside a private folder (mode 0700, e.g. pytest's tmp dirs) is out of
        reach of the unprivileged server user; the cluster then lives in /var/tmp/welfare-pg/<id>,
        one per home, and the home keeps only warehouse.json pointing at it.
        """
        user = self._os_user()
        if user is None or self._reachable(self.root, user):
            return self.root
        return Path("/var/tmp/welfare-pg") / f"{zlib.crc32(str(self.home).encode()):08x}"

    @staticmethod
    def _reachable(path: Path, user: str) -> bool:
        pw = pwd.getpwnam(user)
        for parent in path.parents:
            if not parent.exists():
                continue
            st = parent.stat()
            if st.st_uid != pw.pw_uid and not st.st_mode & 0o001:
                return False
        return True

    @property
    def data_dir(self) -> Path:
        return self.server_root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.server_root / "run"

    @property
    def log_file(self) -> Path:
        return self.server_root / "postgres.log"

    @property
    def config_file(self) -> Path:
        return self.root / "warehouse.json"

    # -- identity -----------------------------------------------------------
    def _os_user(self) -> str | None:
        """The OS user to run the server as: None means 'ourselves' (not root)."""
        if os.geteuid() != 0:
            return None
        user = os.environ.get("WELFARE_PG_OS_USER", "postgres")
        try:
            pwd.getpwnam(user)
        except KeyError:
            raise WarehouseError(
                f"running as root, PostgreSQL must run as an unprivileged user, and user {user!r} "
                "does not exist: create it (`useradd --system postgres`) or set WELFARE_PG_OS_USER"
            ) from None
        return user

    def _run(self, args: list[str], check: bool = True, **kw) -> subprocess.CompletedProcess:
        user = self._os_user()
        cmd = (["runuser", "-u", user, "--"] + args) if user else args
        proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
        if check and proc.returncode != 0:
            raise WarehouseError(
                f"{' '.join(args[:2])} failed (exit {proc.returncode}): {proc.stderr.strip() or proc.stdout.strip()}"
                f"\nserver log: {self.log_file}"
            )
        return proc

    @property
    def port(self) -> int:
        if not self.config_file.exists():
            raise WarehouseError(f"warehouse not initialised under {self.root}: run `welfare warehouse start`")
        return int(json.loads(self.config_file.read_text())["port"])

    @property
    def target(self) -> PgTarget:
        return PgTarget(host="127.0.0.1", port=self.port, user=SUPERUSER, database=DATABASE)

    # -- lifecycle ----------------------------------------------------------
    def _choose_port(self) -> int:
        if os.environ.get("WELFARE_PG_PORT"):
            return int(os.environ["WELFARE_PG_PORT"])
        # Stable per home, so two checkouts on one machine do not collide.
        base = 54000 + zlib.crc32(str(self.home).encode()) % 1000
        for port in range(base, base + 200):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) != 0:
                    return port
        raise WarehouseError(f"no free TCP port found for the warehouse between {base} and {base + 200}")

    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists() and self.config_file.exists()

    def init(self) -> None:
        if self.initialised():
            return
        bindir = find_bindir()
        self.root.mkdir(parents=True, exist_ok=True)
        user = self._os_user()
        if not user:
            self.socket_dir.mkdir(parents=True, exist_ok=True)
        if user:
            self._grant_access(user)
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)  # a half-made cluster from an interrupted init
        self._run([str(bindir / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER, "-A", "trust",
                   "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions"])
        port = self._choose_port()
        conf = (
            "\n# --- welfare warehouse (embedded) ---\n"
            "listen_addresses = '127.0.0.1'\n"
            f"port = {port}\n"
            f"unix_socket_directories = '{self.socket_dir}'\n"
            "shared_buffers = 512MB\n"
            "work_mem = 256MB\n"  # few sessions, large joins: keep hashes and sorts in memory
            "maintenance_work_mem = 512MB\n"
            "max_wal_size = 4GB\n"
            # a single-node warehouse: rows written into a table created in the same transaction
            # (each load's raw partition) need no WAL; durability comes at commit (fsync)
            "wal_level = minimal\n"
            "max_wal_senders = 0\n"
            "checkpoint_timeout = 15min\n"
            "timezone = 'Asia/Bangkok'\n"
            "log_timezone = 'Asia/Bangkok'\n"
            "max_connections = 60\n"
        )
        with open(self.data_dir / "postgresql.conf", "a") as f:
            f.write(conf)
        self.config_file.write_text(json.dumps({"port": port, "bindir": str(bindir)}, indent=2) + "\n")

    def _grant_access(self, user: str) -> None:
        pw = pwd.getpwnam(user)
        sroot = self.server_root
        sroot.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        for p in (sroot, self.socket_dir):
            os.chown(p, pw.pw_uid, pw.pw_gid)
        if sroot != self.root:
            os.chmod(sroot.parent, 0o1777)

    def _bin(self, name: str) -> str:
        if self.config_file.exists():
            b = json.loads(self.config_file.read_text()).get("bindir")
            if b and (Path(b) / name).exists():
                return str(Path(b) / name)
        return str(find_bindir() / name)

    def running(self) -> bool:
        if not self.initialised():
            return False
        return self._run([self._bin("pg_ctl"), "status", "-D", str(self.data_dir)], check=False).returncode == 0

    def start(self) -> PgTarget:
        self.init()
        if not self.running():
            self._run([self._bin("pg_ctl"), "start", "-w", "-t", "60", "-D", str(self.data_dir),
                       "-l", str(self.log_file)])
        self._ensure_database()
        return self.target

    def stop(self) -> None:
        if self.running():
            self._run([self._bin("pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.data_dir)])

    def _ensure_database(self) -> None:
        import psycopg2

        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg2.connect(self.target.dsn.replace(f"dbname={DATABASE}", "dbname=postgres"))
                break
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("select 1 from pg_database where datname = %s", (DATABASE,))
                if cur.fetchone() is None:
                    cur.execute(f'create database "{DATABASE}"')
        finally:
            conn.close()

    def status(self) -> dict:
        info = {"home": str(self.home), "data_dir": str(self.data_dir), "initialised": self.initialised(),
                "running": self.running()}
        if self.initialised():
            info["uri"] = self.target.uri
        return info
