#!/usr/bin/env bash
# `./workshop bench chat`: spoon3-chat/server beside the talk's threaded Python
# server (tests/bench/talk_chat_server.py), a normal room and a fault room,
# measured by build/tests/chat_bench (tests/bench/chat_bench.cpp), which starts
# both servers itself. BENCH_CHAT_CLIENTS (default 50), BENCH_CHAT_LINES (lines
# per client, default 1000), BENCH_CHAT_TIMEOUT (the servers' --timeout, default 5).
# shellcheck source=tests/bench/bench.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench.sh"

echo ""
build/tests/chat_bench --server build/spoon3-chat/server --anchor tests/bench/talk_chat_server.py \
  --clients "${BENCH_CHAT_CLIENTS:-50}" --lines "${BENCH_CHAT_LINES:-1000}" \
  --timeout "${BENCH_CHAT_TIMEOUT:-5}" || die "the chat bench failed"
echo "How to read this: lines/s counts each line once per receiver; \"× anchor\" is against the"
echo "talk's Python server in the same run and mode; a longest gap near --timeout means the room"
echo "stood still for one client. Explained in spoon3-chat/README.md, \"Numbers\"."
