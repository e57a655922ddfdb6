#!/usr/bin/env bash
# The Debian packages the project uses beside the PostgreSQL server, installed when missing.
# As root (CI, a fresh machine) they are installed with apt-get; otherwise this says what to install
# and the project carries on without them where it can:
#   postgresql-<major>-pgaudit  the access audit of human roles (without it: PostgreSQL's statement log)
#   docker-compose              Debian's compose 1.29, which checks docker-compose.yml (`config`; no
#                               Docker engine is needed; without it the test checks the file structurally)
#   redis-server                a real Redis (the Celery broker of the deployment) for the tests that need one
#   chromium, fonts-thai-tlwg   a real headless browser, and Thai fonts for what it draws: the UI screenshots
#                               and the browser tests (without them those tests are skipped)
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
command -v docker-compose >/dev/null 2>&1 || missing+=("docker-compose")
command -v redis-server >/dev/null 2>&1 || missing+=("redis-server")
command -v chromium >/dev/null 2>&1 || missing+=("chromium")
[ -d /usr/share/fonts/truetype/tlwg ] || missing+=("fonts-thai-tlwg")

[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "system-packages: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "${missing[@]}" >/dev/null; } \
    || echo "system-packages: could not install ${missing[*]}; the project runs without them" >&2
else
  echo "system-packages: not installed: ${missing[*]} (as root: apt-get install ${missing[*]});" \
       "the project runs without them (the access audit then uses PostgreSQL's statement log," \
       "docker-compose.yml is checked structurally only, and tests that need Redis or a browser are skipped)" >&2
fi
exit 0
