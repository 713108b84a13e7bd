#!/usr/bin/env bash
# `./workshop bench stream`: the sensor's stream over UDP and over TCP, through
# a wire that loses one packet (tests/bench/stream_bench.cpp: a tun device in a
# network namespace of its own, Linux, as root). What the one loss costs the
# readings behind it is extras-udp-stream/README.md's "Why UDP, measured".
# BENCH_STREAM_DELAYS: the wire's one-way delays, in ms (default "0,10,50,100").
# shellcheck source=tests/bench/bench.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench.sh"

echo ""
echo "stream: 150 readings at 50/s, reading 100's packet lost once, over UDP and over TCP"
if [ "$(uname -s)" != Linux ] || [ "$(id -u)" -ne 0 ] || [ ! -e /dev/net/tun ]; then
  echo "(skipped: it needs Linux, root and /dev/net/tun, for a private network namespace and a tun device)"
  exit 0
fi
build/tests/stream_bench --delays "${BENCH_STREAM_DELAYS:-0,10,50,100}"
echo "How to read this: over UDP the lost reading is simply missing, and the next one comes on"
echo "time. TCP sends it again, and holds back every reading behind it until the copy has arrived:"
echo "about one round trip (twice the delay) plus the time to notice. A late reading is worthless."
