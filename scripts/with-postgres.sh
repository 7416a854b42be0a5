#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL server: `bash scripts/with-postgres.sh CMD [ARG...]`.
#
#   1. installs PostgreSQL from Debian's packages when no initdb is found (non-interactive, idempotent;
#      through `sudo -n` when not root);
#   2. as root, creates the unprivileged user `thpg` when missing (PostgreSQL refuses to run as root); otherwise
#      the cluster runs as the current user;
#   3. `initdb`s a cluster in a new temporary directory, starts it on a free port of 127.0.0.1 only (its Unix
#      socket in that directory), with a random password (SCRAM) for TCP, and creates the database `th`;
#   4. runs CMD as the current user with TH_POSTGRES_URL=postgres://USER:PASSWORD@127.0.0.1:PORT/th?sslmode=disable;
#   5. stops the server and removes the directory when CMD ends, also when it fails or the script is interrupted;
#      a watchdog (a detached subshell polling the script's pid) stops the server with `pg_ctl -m immediate` and
#      removes the directory within ~1 s when the script itself is killed with SIGKILL and cannot clean up.
# The script exits with CMD's status. Works the same in CI and on a developer's machine.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 CMD [ARG...]" >&2; exit 2; }

sudo=""
[ "$(id -u)" = 0 ] || sudo="sudo -n"

find_bin() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

bin=$(find_bin || true)
if [ -z "$bin" ]; then
    echo "with-postgres: installing postgresql from Debian's packages" >&2
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq </dev/null
    $sudo apt-get install -y -qq --no-install-recommends postgresql </dev/null
    bin=$(find_bin) || { echo "with-postgres: no initdb after installing postgresql" >&2; exit 1; }
fi

if [ "$(id -u)" = 0 ]; then
    pg_user=thpg
    id -u "$pg_user" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$pg_user"
    as_pg() { runuser -u "$pg_user" -- "$@"; }
else
    pg_user=$(id -un)
    as_pg() { "$@"; }
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/th-postgres.XXXXXX")
data="$work/data"
log="$work/server.log"
started=""
cleanup() {
    local status=$?
    if [ -n "$started" ]; then
        as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 \
            || as_pg "$bin/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
# A reader of our output that went away (`… | head`) must not kill the script before it stops the server.
trap '' PIPE

chmod 700 "$work"
[ "$(id -u)" != 0 ] || chown "$pg_user" "$work"

password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$password" >"$work/pwfile"
[ "$(id -u)" != 0 ] || chown "$pg_user" "$work/pwfile"
as_pg "$bin/initdb" -D "$data" -U "$pg_user" --pwfile="$work/pwfile" --auth-local=trust --auth-host=scram-sha-256 \
    -E UTF8 --locale=C.UTF-8 >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log" >&2; exit 1; }
rm -f "$work/pwfile"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
started=yes
as_pg "$bin/pg_ctl" -D "$data" -l "$log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $work -c max_connections=200" start >/dev/null \
    || { cat "$log" >&2; exit 1; }
# SIGKILL skips the traps above: a watchdog outside the script's process group (so that a kill of the group
# does not take it too) waits for the script to be gone, then stops the server and removes the directory. When
# the script cleans up itself, the watchdog finds the directory gone and only exits.
script_pid=$$
setsid bash -c '
    script_pid=$1 work=$2 data=$3 ctl=$4 user=$5
    as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi; }
    while kill -0 "$script_pid" 2>/dev/null; do sleep 0.5; done
    [ -d "$data" ] || exit 0
    as_pg "$ctl" -D "$data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
    rm -rf "$work"
' with-postgres-watchdog "$script_pid" "$work" "$data" "$bin/pg_ctl" "$pg_user" </dev/null >/dev/null 2>&1 &
as_pg "$bin/createdb" -h "$work" -p "$port" -U "$pg_user" th

export TH_POSTGRES_URL="postgres://$pg_user:$password@127.0.0.1:$port/th?sslmode=disable"
echo "with-postgres: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port, database th, user $pg_user" >&2
set +e
"$@"
status=$?
set -e
exit "$status"
