"""Secrets the project generates and keeps outside git and outside the warehouse.

Every secret is read from the environment first (a deployment's secret store fills it: see
``.env.example``), else from a file under ``$WELFARE_HOME/secrets/`` that the set-up generated:
the folder is 0700, each file 0600 and written once (``O_EXCL``), never logged.

- ``<role>.password``: the password of each warehouse login role (and of the cluster's superuser,
  which only the set-up uses);
- ``pseudonym.key``: the HMAC-SHA-256 key of ``person_key`` (32 random bytes, hex). It never enters
  the warehouse: dbt's sessions get it as a session setting (see :func:`pseudonym_session_options`).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from welfare.settings import private_dir, welfare_home

KEY_ENV = "WELFARE_PSEUDONYM_KEY"
KEY_FILE = "pseudonym.key"
_HEX_KEY = re.compile(r"^[0-9a-f]{64}$")


class SecretError(RuntimeError):
    pass


def secrets_dir(home: Path | None = None) -> Path:
    return private_dir((home or welfare_home()) / "secrets")


def _env_name(name: str) -> str:
    return "WELFARE_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper() + "_PASSWORD"


def write_secret(path: Path, value: str) -> None:
    """Write a secret file 0600, replacing any before it (the old one is unlinked first)."""
    private_dir(path.parent)
    tmp = path.with_name(path.name + ".new")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    os.replace(tmp, path)


def _read_or_create(path: Path, make) -> str:
    if path.is_symlink():
        raise SecretError(f"{path} is a symbolic link; a secret file must be a regular file")
    if not path.exists():
        write_secret(path, make())
    st = path.stat()
    if st.st_mode & 0o077:
        os.chmod(path, 0o600)
    return path.read_text().strip()


def password(name: str, home: Path | None = None) -> str:
    """The password of login role ``name``: ``$WELFARE_<NAME>_PASSWORD``, else generated once."""
    env = os.environ.get(_env_name(name))
    if env:
        return env
    return _read_or_create(secrets_dir(home) / f"{name}.password", lambda: secrets.token_urlsafe(32))


def pseudonym_key() -> bytes:
    """The 32-byte HMAC key of person_key: ``$WELFARE_PSEUDONYM_KEY`` (64 hex), else the key file."""
    value = os.environ.get(KEY_ENV) or _read_or_create(secrets_dir() / KEY_FILE, lambda: secrets.token_hex(32))
    value = value.strip().lower()
    if not _HEX_KEY.match(value):
        raise SecretError(f"the pseudonym key ({KEY_ENV} or {secrets_dir() / KEY_FILE}) must be 64 hex digits "
                          "(32 random bytes): generate one with `python -c 'import secrets; print(secrets.token_hex(32))'`")
    return bytes.fromhex(value)


def rotate_pseudonym_key() -> None:
    """A new key file (the old key is gone). A key given by the environment is rotated where it is kept."""
    if os.environ.get(KEY_ENV):
        raise SecretError(f"the pseudonym key comes from {KEY_ENV}: rotate it in the secret store that sets it, "
                          "then run `welfare rotate-key --rebuild-only`")
    write_secret(secrets_dir() / KEY_FILE, secrets.token_hex(32))


def person_key(national_id: str, key: bytes | None = None) -> str:
    """What the warehouse computes as person_key: HMAC-SHA-256 of the id under the key, hex."""
    return hmac.new(key or pseudonym_key(), national_id.encode("utf-8"), hashlib.sha256).hexdigest()


def pseudonym_session_options(key: bytes | None = None) -> str:
    """libpq ``options`` that hand a session the key as HMAC's inner and outer padded keys.

    HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)) for a key of 64 bytes or fewer, so the warehouse
    computes it with its built-in sha256() from these two session settings alone; the key is
    in no table, no compiled SQL and no log, and a session without them cannot compute a key.
    """
    k = (key or pseudonym_key()).ljust(64, b"\0")
    ipad = bytes(b ^ 0x36 for b in k).hex()
    opad = bytes(b ^ 0x5C for b in k).hex()
    return f"-c welfare.pseudonym_ipad={ipad} -c welfare.pseudonym_opad={opad}"
