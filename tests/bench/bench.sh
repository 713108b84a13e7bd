# tests/bench/bench.sh — what the benchmarks share. Sourced, never run.
# shellcheck shell=bash
#
# Each benchmark (echo.sh, chat.sh, web.sh here; `./workshop bench` builds
# first, then runs them) starts the programs it measures from build/ on
# loopback, quietly, and prints a table of what it measured, then a line on
# how to read it. Helpers take arguments and print results.
set -euo pipefail
# shellcheck source=tools/programs.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../tools/programs.sh"
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

