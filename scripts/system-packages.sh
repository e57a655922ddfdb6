#!/usr/bin/env bash
# The Debian packages the project uses beside the PostgreSQL server, installed when missing.
# As root (CI, a fresh machine) they are installed with apt-get; otherwise this says what to install
# and the project carries on without them where it can (without pgaudit, the access audit of human
# roles falls back to PostgreSQL's own statement log).
set -u

pg_bindir() {
  if [ -n "${WELFARE_PG_BINDIR:-}" ]; then echo "$WELFARE_PG_BINDIR"; return; fi
  if command -v pg_config >/dev/null 2>&1; then pg_config --bindir; return; fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

missing=()
bindir="$(pg_bindir)"
if [ -n "$bindir" ] && [ -x "$bindir/postgres" ]; then
  major="$("$bindir/postgres" --version | sed -E 's/.* ([0-9]+)(\.[0-9]+)*.*/\1/')"
  libdir="$(dirname "$bindir")/lib"
  [ -e "$libdir/pgaudit.so" ] || missing+=("postgresql-${major}-pgaudit")
fi

[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "system-packages: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "${missing[@]}" >/dev/null; } \
    || echo "system-packages: could not install ${missing[*]}; the project runs without them" >&2
else
  echo "system-packages: not installed: ${missing[*]} (as root: apt-get install ${missing[*]});" \
       "the project runs without them (the access audit then uses PostgreSQL's statement log)" >&2
fi
exit 0
