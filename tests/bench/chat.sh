#!/usr/bin/env bash
# `./workshop bench chat`: N clients in one spoon3-chat room, measured by
# build/tests/chat_bench (tests/bench/chat_bench.cpp), one row per N.
# BENCH_CHAT_CLIENTS: the room sizes (default "10 50 200"); BENCH_CHAT_LINES:
# lines sent in all (default 2000).
# shellcheck source=tests/bench/bench.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench.sh"
read -r -a room_sizes <<<"${BENCH_CHAT_CLIENTS:-10 50 200}"
lines="${BENCH_CHAT_LINES:-2000}"

build/spoon3-chat/server --port 0 --timeout 30 >"$scratch/server.log" 2>&1 &
port=$(port_in "$scratch/server.log")
echo ""
echo "chat: N clients send $lines lines in all, at once; each line goes to the N-1 others."
echo "Then latency: one line at a time, from its send to the last receiver."
build/tests/chat_bench --header
for clients in "${room_sizes[@]}"; do
  build/tests/chat_bench --port "$port" --clients "$clients" --lines "$lines" ||
    die "chat bench with $clients clients failed"
done
stop_every_program
echo "How to read this: lines delivered/s counts each line once per receiver. A latency near"
echo "40 ms is not a slow server: it is Nagle's algorithm meeting delayed ACKs, explained (with"
echo "its fix, TCP_NODELAY) in spoon3-chat/README.md, \"Numbers\"."
