#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: starts a throwaway PostgreSQL cluster (installing Debian's
# postgresql package when it is missing) and finds Chromium (installing Debian's chromium package when it is missing),
# then vet, gofmt and every Go test against SQLite and PostgreSQL, and the browser tests in headless Chromium.
# With CI=true a PostgreSQL that cannot be had fails the run instead of skipping its tests.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '== %s\n' "$*" >&2; }

pg_bin() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return 0; }
  done
  return 1
}

start_postgres() {
  local bin
  if ! bin=$(pg_bin); then
    log "PostgreSQL server not found: installing Debian's postgresql package"
    if [ "$(id -u)" = 0 ]; then
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) || true
    else
      (sudo -n apt-get update -qq && sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) || true
    fi
    bin=$(pg_bin) || return 1
  fi
  PGTMP=$(mktemp -d /tmp/sirec-pg.XXXXXX)
  local port=$(( 20000 + RANDOM % 20000 ))
  local run=()
  if [ "$(id -u)" = 0 ]; then
    # The server refuses to run as root: run it as the postgres system user (made by the package) or nobody.
    local user=postgres
    id -u postgres >/dev/null 2>&1 || user=nobody
    chown "$user" "$PGTMP"
    run=(runuser -u "$user" --)
  fi
  "${run[@]}" "$bin/initdb" -D "$PGTMP/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$PGTMP/initdb.log" 2>&1 \
    || "${run[@]}" "$bin/initdb" -D "$PGTMP/data" -U postgres --auth=trust -E UTF8 --locale=C >"$PGTMP/initdb.log" 2>&1 \
    || { cat "$PGTMP/initdb.log" >&2; return 1; }
  "${run[@]}" "$bin/pg_ctl" -D "$PGTMP/data" -l "$PGTMP/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $PGTMP -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null \
    || { cat "$PGTMP/server.log" >&2; return 1; }
  PG_STOP=("${run[@]}" "$bin/pg_ctl" -D "$PGTMP/data" -m immediate stop)
  export SIREC_TEST_PG="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
  log "throwaway PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
}

cleanup() {
  if [ -n "${MOTO_PID:-}" ]; then kill "$MOTO_PID" >/dev/null 2>&1 || true; wait "$MOTO_PID" 2>/dev/null || true; fi
  [ -n "${MOTO_LOG:-}" ] && rm -f "$MOTO_LOG"
  if [ -n "${PG_STOP:-}" ]; then "${PG_STOP[@]}" >/dev/null 2>&1 || true; fi
  [ -n "${PGTMP:-}" ] && rm -rf "$PGTMP"
}
trap cleanup EXIT

if [ -z "${SIREC_TEST_PG:-}" ]; then
  if ! start_postgres; then
    if [ "${CI:-}" = true ]; then
      log "FAIL: PostgreSQL is required in CI (CI=true) and could not be installed or started"
      exit 1
    fi
    log "PostgreSQL unavailable: its tests will be skipped (set CI=true to make this a failure)"
  fi
fi

# An S3-compatible object store for the backup tests (internal/custody): moto's standalone server on 127.0.0.1,
# with dummy credentials; nothing leaves the machine. Without it those tests skip, or fail with CI=true.
moto_bin() {
  local b
  for b in "$(command -v moto_server 2>/dev/null)" "$HOME/.pyenv/shims/moto_server" /root/.pyenv/shims/moto_server /usr/local/bin/moto_server; do
    [ -n "$b" ] && [ -x "$b" ] && { echo "$b"; return 0; }
  done
  return 1
}

start_moto() {
  local bin port i
  bin=$(moto_bin) || return 1
  port=$(( 40000 + RANDOM % 20000 ))
  MOTO_LOG=$(mktemp /tmp/sirec-moto.XXXXXX)
  "$bin" -H 127.0.0.1 -p "$port" >"$MOTO_LOG" 2>&1 &
  MOTO_PID=$!
  for i in $(seq 1 60); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      export SIREC_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
      export AWS_ACCESS_KEY_ID=sirec-test AWS_SECRET_ACCESS_KEY=sirec-test-secret AWS_EC2_METADATA_DISABLED=true
      log "S3-compatible test server (moto) on 127.0.0.1:$port"
      return 0
    fi
    kill -0 "$MOTO_PID" 2>/dev/null || break
    sleep 0.5
  done
  cat "$MOTO_LOG" >&2
  return 1
}

if [ -z "${SIREC_TEST_S3_ENDPOINT:-}" ]; then
  if ! start_moto; then
    if [ "${CI:-}" = true ]; then
      log "FAIL: an S3-compatible server (moto_server) is required in CI (CI=true) and could not be started"
      exit 1
    fi
    log "moto_server unavailable: the S3 backup tests will be skipped (set CI=true to make this a failure)"
  fi
fi

# Chromium for the browser tests (internal/web): Debian's chromium package, with a CJK font so that screenshots of
# the Chinese pages are legible. Without it those tests skip, or fail with CI=true.
if [ -z "${SIREC_TEST_CHROMIUM:-}" ]; then
  if [ ! -x /usr/bin/chromium ]; then
    log "Chromium not found: installing Debian's chromium package"
    if [ "$(id -u)" = 0 ]; then
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null) || true
    else
      (sudo -n apt-get update -qq && sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-zenhei >/dev/null) || true
    fi
  fi
  if [ -x /usr/bin/chromium ]; then
    export SIREC_TEST_CHROMIUM=/usr/bin/chromium
    log "Chromium: $("$SIREC_TEST_CHROMIUM" --version 2>/dev/null || echo "$SIREC_TEST_CHROMIUM")"
  elif [ "${CI:-}" = true ]; then
    log "FAIL: Chromium is required in CI (CI=true) and could not be installed"
    exit 1
  else
    log "Chromium unavailable: the browser tests will be skipped (set CI=true to make this a failure)"
  fi
fi

# pdftotext (Debian's poppler-utils) reads back the statements and certificates the tests print, and the fonts
# they are printed with: Debian's fonts-droid-fallback (a TrueType CJK font) and fonts-dejavu-core (digits and
# Latin letters). Without them those tests skip, or fail with CI=true.
pdf_tools_ok() {
  command -v pdftotext >/dev/null 2>&1 && [ -f /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf ] \
    && [ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]
}
if ! pdf_tools_ok; then
  log "pdftotext or the PDF fonts not found: installing Debian's poppler-utils, fonts-droid-fallback and fonts-dejavu-core"
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils fonts-droid-fallback fonts-dejavu-core >/dev/null) || true
  else
    (sudo -n apt-get update -qq && sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq poppler-utils fonts-droid-fallback fonts-dejavu-core >/dev/null) || true
  fi
fi
if pdf_tools_ok; then
  log "PDF checks: $(pdftotext -v 2>&1 | head -1)"
elif [ "${CI:-}" = true ]; then
  log "FAIL: pdftotext and the PDF fonts are required in CI (CI=true) and could not be installed"
  exit 1
else
  log "pdftotext or the PDF fonts unavailable: the PDF text checks will be skipped (set CI=true to make this a failure)"
fi

log "go vet"
go vet ./...
log "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  printf 'gofmt would change:\n%s\n' "$unformatted" >&2
  exit 1
fi
log "go test"
go test -count=1 -timeout 30m "$@" ./...
