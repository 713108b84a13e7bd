# tools/programs.sh — stopping the programs a script started in the
# background: shared by the tour (tools/tour.sh) and the benches
# (tests/bench/bench.sh). Sourced, never run.
# shellcheck shell=bash

stop_every_program() {  # Ctrl-C for everything still running in the background; waits until it all ends
  local pid
  for pid in $(jobs -p); do kill -INT "$pid" 2>/dev/null || true; done
  wait
}

end_every_program() {  # on the way out, even after an error: SIGTERM, which nothing ignores
  local pid
  for pid in $(jobs -p); do kill -TERM "$pid" 2>/dev/null || true; done
  wait
}
