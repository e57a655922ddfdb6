"""The embedded warehouse: a PostgreSQL cluster the project initialises and runs itself.

It lives under ``$WELFARE_HOME/pg`` and is started from the PostgreSQL server
binaries on the machine. PostgreSQL refuses to run as root, so when we are
root the server runs as an unprivileged OS user (``postgres`` by default,
``$WELFARE_PG_OS_USER`` to choose another). Start and stop are idempotent.

Every connection authenticates (``scram-sha-256``; ``pg_hba.conf`` has no ``trust`` line and no
replication line). The superuser's generated password is in ``$WELFARE_HOME/secrets`` (0600) and
only the set-up uses it (:mod:`welfare.warehouse.roles` creates the roles everything else logs in
as). The socket folder and the data folder are private to the server's user. The server writes its
log (and, where pgaudit is installed, the access audit of human roles) as JSON lines under the data
folder's ``log/``, one file a day, kept 7 days; ``welfare access-log`` copies what matters into
``$WELFARE_HOME/access``.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import stat
import subprocess
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from welfare.settings import PgTarget, private_dir, welfare_home
from welfare.warehouse import secrets

SUPERUSER = "welfare"
DATABASE = "welfare"
FALLBACK_ROOT = Path("/var/tmp/welfare-pg")
HBA = """# welfare warehouse (embedded): every connection authenticates with a password (SCRAM); no trust,
# no replication. Written by welfare.warehouse.embedded; rewritten at every start.
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  scram-sha-256
host    all       all   127.0.0.1/32   scram-sha-256
host    all       all   ::1/128        scram-sha-256
"""
AUDIT_CONF = "welfare-audit.conf"
# Authentication, and the server's log as JSON lines, a day a file, private (0600), kept a week: the
# access audit of human roles is copied out of it into $WELFARE_HOME by `welfare access-log`.
SERVER_LOG_CONF = (
    "unix_socket_permissions = 0700\n"
    "password_encryption = 'scram-sha-256'\n"
    "logging_collector = on\n"
    "log_destination = 'jsonlog'\n"
    "log_directory = 'log'\n"
    "log_filename = 'postgresql-%a.log'\n"
    "log_file_mode = 0600\n"
    "log_rotation_age = 1d\n"
    "log_rotation_size = 0\n"
    "log_truncate_on_rotation = on\n"
    "log_min_error_statement = panic\n"  # a failing statement's text may quote personal data
    f"include_if_exists = '{AUDIT_CONF}'\n"
)
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
        return FALLBACK_ROOT / f"{zlib.crc32(str(self.home).encode()):08x}"

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
        """The superuser: for the set-up (roles, schemas, grants) and tests only."""
        return PgTarget(host="127.0.0.1", port=self.port, user=SUPERUSER, database=DATABASE,
                        password=secrets.password("superuser", self.home))

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
        private_dir(self.home)
        private_dir(self.root)
        user = self._os_user()
        if user:
            self._grant_access(user)
        else:
            private_dir(self.socket_dir)
        if self.data_dir.exists():
            shutil.rmtree(self.data_dir)  # a half-made cluster from an interrupted init
        pwfile = self.server_root / ".initdb-password"
        self._write_for_server(pwfile, secrets.password("superuser", self.home))
        try:
            self._run([str(bindir / "initdb"), "-D", str(self.data_dir), "-U", SUPERUSER,
                       "--auth=scram-sha-256", f"--pwfile={pwfile}",
                       "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions"])
        finally:
            pwfile.unlink(missing_ok=True)
        port = self._choose_port()
        conf = (
            "\n# --- welfare warehouse (embedded) ---\n"
            "listen_addresses = '127.0.0.1'\n"
            f"port = {port}\n"
            f"unix_socket_directories = '{self.socket_dir}'\n"
            + SERVER_LOG_CONF +
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
            "max_connections = 100\n"
        )
        self._append_for_server(self.data_dir / "postgresql.conf", conf)
        self._write_for_server(self.data_dir / "pg_hba.conf", HBA)
        self._write_for_server(self.data_dir / AUDIT_CONF, audit_settings(str(bindir / "postgres")))
        fd = os.open(self.config_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps({"port": port, "bindir": str(bindir)}, indent=2) + "\n")

    # -- files the server reads -----------------------------------------------
    def _write_for_server(self, path: Path, text: str) -> None:
        """A file 0600 owned by the server's user (ourselves, or the unprivileged user as root)."""
        path.unlink(missing_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        user = self._os_user()
        if user:
            pw = pwd.getpwnam(user)
            os.chown(path, pw.pw_uid, pw.pw_gid, follow_symlinks=False)

    def _append_for_server(self, path: Path, text: str) -> None:
        with open(path, "a") as f:
            f.write(text)

    def _harden(self) -> str | None:
        """Bring a cluster up to the project's rules; returns "restart", "reload" or None.

        Our pg_hba.conf (a running cluster made before authentication was required gets its
        superuser's password set first, over its old trust lines), the audit settings for what this
        machine's server can load, the logging settings an older postgresql.conf lacks.
        """
        action = None
        conf = self.data_dir / "postgresql.conf"
        if AUDIT_CONF not in conf.read_text():
            self._append_for_server(conf, "\n# --- welfare warehouse: added to an older cluster ---\n" + SERVER_LOG_CONF)
            action = "restart"
        audit = self.data_dir / AUDIT_CONF
        wanted = audit_settings(self._bin("postgres"))
        if not audit.exists() or audit.read_text() != wanted:
            self._write_for_server(audit, wanted)
            action = "restart"
        hba = self.data_dir / "pg_hba.conf"
        if hba.read_text() != HBA:
            if "trust" in hba.read_text() and self.running():
                self._set_superuser_password_over_trust()
            self._write_for_server(hba, HBA)
            action = action or "reload"
        return action

    def _set_superuser_password_over_trust(self) -> None:
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user=SUPERUSER, dbname="postgres")
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("set password_encryption = 'scram-sha-256'")
                cur.execute(f"alter role {SUPERUSER} password %s", (secrets.password("superuser", self.home),))
        finally:
            conn.close()

    def _grant_access(self, user: str) -> None:
        """The server's folders, owned by the server's user and private (0700), made without following a
        link: under /var/tmp (world-writable) anyone could have planted one where we are going."""
        pw = pwd.getpwnam(user)
        sroot = self.server_root
        if sroot != self.root:
            _safe_dir(FALLBACK_ROOT, 0, 0o711)  # root's, traversable, not listable, not writable by others
        else:
            sroot.mkdir(parents=True, exist_ok=True)
        _safe_dir(sroot, pw.pw_uid, 0o700)
        _safe_dir(self.socket_dir, pw.pw_uid, 0o700)

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
        ctl = [self._bin("pg_ctl"), "-D", str(self.data_dir)]
        if not self.running():
            self._run([*ctl, "start", "-w", "-t", "60", "-l", str(self.log_file)])
        action = self._harden()
        if action == "restart":
            self._run([*ctl, "restart", "-w", "-t", "60", "-m", "fast", "-l", str(self.log_file)])
        elif action == "reload":
            self._run([*ctl, "reload"])
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

    @property
    def server_log_dir(self) -> Path:
        return self.data_dir / "log"

    def status(self) -> dict:
        info = {"home": str(self.home), "data_dir": str(self.data_dir), "initialised": self.initialised(),
                "running": self.running()}
        if self.initialised():
            info["uri"] = f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{DATABASE}"
            info["secrets"] = str(secrets.secrets_dir(self.home))
        return info


def pgaudit_available(postgres_bin: str) -> bool:
    """Whether this server can load pgaudit (Debian: postgresql-<major>-pgaudit)."""
    try:
        out = subprocess.run([str(Path(postgres_bin).with_name("pg_config")), "--pkglibdir"], capture_output=True,
                             text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        out = ""
    libdirs = [Path(out)] if out else []
    libdirs.append(Path(postgres_bin).resolve().parents[1] / "lib")
    return any((d / "pgaudit.so").exists() for d in libdirs)


def audit_settings(postgres_bin: str) -> str:
    """The server settings of the access audit: pgaudit preloaded where it is installed (the roles it
    audits get ``pgaudit.log = 'read'`` from :mod:`welfare.warehouse.roles`); without it those roles
    get PostgreSQL's own ``log_statement``."""
    if pgaudit_available(postgres_bin):
        return ("# pgaudit: session audit of the human roles (set per role by the set-up)\n"
                "shared_preload_libraries = 'pgaudit'\n"
                "pgaudit.log_catalog = off\n"
                "pgaudit.log_relation = on\n"
                "pgaudit.log_parameter = off\n")
    return "# pgaudit is not installed: the human roles' statements are logged by log_statement instead\n"


def _safe_dir(path: Path, uid: int, mode: int) -> None:
    """``path`` as a real folder (never a link), owned by ``uid`` with exactly ``mode``.

    Made with mkdir where missing; where it exists it must be a folder that is not a link and that
    belongs to ``uid`` or root (an older layout), or nothing is changed and the start fails.
    """
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise WarehouseError(f"{path} exists and is not a folder (a link or a file): refusing to use it; "
                             "remove it if it is not yours")
    if st.st_uid not in (uid, 0):
        raise WarehouseError(f"{path} belongs to uid {st.st_uid}, not to the server's user: refusing to use it")
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        os.fchown(fd, uid, -1 if uid == 0 else pwd.getpwuid(uid).pw_gid)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
