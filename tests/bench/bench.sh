# tests/bench/bench.sh — what the benchmarks share. Sourced, never run.
# shellcheck shell=bash
#
# Each benchmark (echo.sh, chat.sh, web.sh here; `./workshop bench` builds
# first, then runs them) starts the programs it measures from build/ on
# loopback, quietly, and prints a table of what it measured, then a line on
# how to read it. Helpers take arguments and print results.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
scratch="$(mktemp -d)"  # the programs' logs, fifos, nginx's config
trap 'end_every_program; rm -rf "$scratch"' EXIT

die() { printf 'error: %s\n' "$*" >&2; exit 1; }

port_in() {  # port_in LOG: waits for the first "port N" line in a program's LOG; prints N
  for _ in $(seq 200); do  # a bench may poll (10 s in all): its numbers decide nothing
    [[ $(grep -m1 -o 'port [0-9]\+' "$1" 2>/dev/null) =~ port\ ([0-9]+) ]] && { printf '%s\n' "${BASH_REMATCH[1]}"; return 0; }
    sleep 0.05
  done
  die "no 'port N' line in $1: $(head -3 "$1")"
}

stop_every_program() {  # Ctrl-C for every program still running; waits until they all end
  local pid
  for pid in $(jobs -p); do kill -INT "$pid" 2>/dev/null || true; done
  wait
}

end_every_program() {  # on the way out, even after an error: SIGTERM, which nothing ignores
  local pid
  for pid in $(jobs -p); do kill -TERM "$pid" 2>/dev/null || true; done
  wait
}
