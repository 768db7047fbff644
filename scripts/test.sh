#!/usr/bin/env bash
# Sets up what the tests need (Redis and PostgreSQL on this machine), then
# runs the format check, clippy with -D warnings, and every test.
# Usage: ./scripts/test.sh            (CI runs exactly this via .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

wait_for() { # wait_for SECONDS CMD...
  local n=$1; shift
  for _ in $(seq "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  return 1
}

redis_up() {
  if command -v redis-cli >/dev/null; then redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG
  else (exec 3<>/dev/tcp/127.0.0.1/6379 && printf 'PING\r\n' >&3 && head -c 5 <&3 | grep -q PONG) 2>/dev/null; fi
}

ensure_redis() {
  redis_up && { log "redis: running"; return; }
  if ! command -v redis-server >/dev/null; then
    log "redis: installing redis-server"
    apt_install redis-server || die "Redis is not running and could not be installed; install redis-server or start it on 127.0.0.1:6379"
  fi
  log "redis: starting"
  mkdir -p /tmp/geogame-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp/geogame-redis --logfile /tmp/geogame-redis/redis.log
  wait_for 20 redis_up || die "redis did not come up on 127.0.0.1:6379"
}

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }

ensure_postgres() {
  if command -v pg_isready >/dev/null && pg_up; then log "postgres: running"; return; fi
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    log "postgres: installing postgresql"
    apt_install postgresql || die "PostgreSQL is not running and could not be installed; install postgresql or start it on 127.0.0.1:5432"
    # Tests connect over TCP without a password, as on the dev machines.
    for hba in /etc/postgresql/*/main/pg_hba.conf; do
      as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    done
  fi
  log "postgres: starting"
  local ver; ver=$(ls /etc/postgresql | sort -V | tail -n 1)
  as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  wait_for 30 pg_up || die "postgres did not come up on 127.0.0.1:5432"
}

# The browser tests drive Debian's Chromium with playwright-core (npm).
ensure_browser() {
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    log "node: installing nodejs and npm"
    apt_install nodejs npm || die "Node.js 20+ and npm are needed for the SDK and browser tests; install them"
  fi
  local major; major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" -ge 20 ] || die "Node.js $major is too old: the SDK and browser tests need 20 or newer"
  if [ ! -x /usr/bin/chromium ]; then
    log "chromium: installing"
    apt_install chromium || die "Chromium is needed for the browser tests: apt-get install -y chromium"
  fi
  if ! command -v openssl >/dev/null; then
    log "openssl: installing (the SDK's TLS test makes its certificate with it)"
    apt_install openssl || die "openssl is needed for the SDK's TLS test: apt-get install -y openssl"
  fi
  log "npm ci (clients/: playwright-core)"
  (cd clients && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in clients/ failed"
}

ensure_redis
ensure_postgres
ensure_browser
export GEOGAME_TEST_REDIS_URL="${GEOGAME_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
export GEOGAME_TEST_DATABASE_URL="${GEOGAME_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
psql "$GEOGAME_TEST_DATABASE_URL" -qAtc 'select 1' >/dev/null 2>&1 \
  || die "cannot connect to $GEOGAME_TEST_DATABASE_URL without a password (trust auth for 127.0.0.1 is required)"

log "deployment artefacts (kustomize overlays, HAProxy config)"
./scripts/check-deploy.sh

command -v cargo >/dev/null || die "cargo is not installed (https://rustup.rs)"
log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
log "cargo test"
cargo test --workspace --locked
log "SDK and browser tests (node --test, Chromium)"
# `cargo test` has just built the binary (its integration tests run it);
# a plain `cargo build` would build it again with other features, minutes
# of CI for nothing.
bin="${CARGO_TARGET_DIR:-$PWD/target}/debug/geogame"
[ -x "$bin" ] || cargo build --locked -p geogame --bin geogame
GEOGAME_BIN="$bin" \
  node --experimental-websocket --test --test-concurrency=1 \
  clients/js/test/*.test.mjs clients/web/test/*.test.mjs
