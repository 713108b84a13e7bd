#!/usr/bin/env bash
# `./workshop bench echo`: MiB through echo_client → echo_server → back, timed.
# BENCH_ECHO_MIB: the sizes, in MiB (default "16 64 256").
# shellcheck source=tests/bench/bench.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench.sh"
read -r -a sizes <<<"${BENCH_ECHO_MIB:-16 64 256}"

build/spoon2-echo/echo_server --port 0 >"$scratch/server.log" 2>&1 &
port=$(port_in "$scratch/server.log")
echo ""
echo "echo: bytes through echo_client → echo_server → echo_client, on loopback, one connection"
printf '| %10s | %10s | %10s |\n' "MiB" "seconds" "MiB/s"
printf '|%s|%s|%s|\n' "------------" "------------" "------------"
for mib in "${sizes[@]}"; do
  start=$(date +%s.%N)
  head -c "$((mib << 20))" /dev/zero | build/spoon2-echo/echo_client --port "$port" | wc -c >/dev/null
  end=$(date +%s.%N)
  awk -v mib="$mib" -v start="$start" -v end="$end" \
    'BEGIN { printf "| %10d | %10.3f | %10.0f |\n", mib, end - start, mib / (end - start) }'
done
stop_every_program
echo "How to read this: MiB/s is what one connection carries there and back at once (echo_client"
echo "sends on one thread while it reads on the other); spoon2-echo/README.md, \"Why echo_client"
echo "has two threads\", says why it must."
