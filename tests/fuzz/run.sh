#!/usr/bin/env bash
# tests/fuzz/run.sh [SECONDS] — builds the libFuzzer targets with clang
# (-fsanitize=fuzzer,address,undefined) into build-fuzz/, then runs each for
# SECONDS (default 60), starting from the seeds in tests/fuzz/corpus/NAME and
# what earlier runs found (build-fuzz/corpus/NAME). Exit 1 on any finding:
# the input that broke it is kept as build-fuzz/NAME-crash-*, and the log
# says what broke. `./workshop fuzz [SECONDS]` and .ci/run call this.
#
#   http_parse  http::parse: no crash; a complete request's views inside its
#               input; a request cut off after its head parses the same
#   find_file   poll_server's find_file against a root with a secret next to
#               it and symlinks pointing out: reading the secret is a crash
#   pipelined   poll_server's answers: a stream cut anywhere is answered
#               byte for byte as the stream whole
#   irc_lines   the bot's read_line, message_checker and ping_checker: the
#               same lines however the stream is cut; none too long or
#               holding "\r\n"; a PING answered with exactly one line
#   stream_readings  the dashboard's parse_reading, count_sequence and
#               detect_events on any datagrams: no crash, finite values,
#               every numbered reading new, late or a duplicate
#
# The targets that fuzz a lesson's own functions compile the lesson file
# whole with its main renamed (-Dmain=lesson_main): the lesson stays one
# standalone file, and the fuzzer tests its code, not a copy.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
seconds="${1:-60}"
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "error: SECONDS must be a whole number above 0, not '$seconds'" >&2; exit 2; }
out=build-fuzz
mkdir -p "$out"

targets=(http_parse find_file pipelined irc_lines stream_readings)
declare -A lesson=([http_parse]="" [find_file]=spoon4-webserver/poll_server.cpp
  [pipelined]=spoon4-webserver/poll_server.cpp [irc_lines]=spoon1-irc/bot.cpp
  [stream_readings]=extras-udp-stream/dashboard.cpp)
declare -A max_len=([http_parse]=10000 [find_file]=4096 [pipelined]=10000 [irc_lines]=16384
  [stream_readings]=4096)

for name in "${targets[@]}"; do  # build what changed
  source="tests/fuzz/$name.cpp"
  inputs=("$source" common/*.hpp spoon4-webserver/*.hpp ${lesson[$name]})
  newer=""
  for input in "${inputs[@]}"; do [ "$input" -nt "$out/$name" ] && newer=yes; done
  [ -x "$out/$name" ] && [ -z "$newer" ] && continue
  echo "==> building $out/$name"
  define=()
  [ -n "${lesson[$name]}" ] && define=(-Dmain=lesson_main)
  clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    "${define[@]}" -I. "$source" -lfmt -o "$out/$name" || { echo "error: building $name failed" >&2; exit 1; }
done

status=0
for name in "${targets[@]}"; do
  mkdir -p "$out/corpus/$name"
  log="$out/$name.log"
  # -timeout: an input slower than 10 s is a finding too (a hang).
  if (cd "$out" && ASAN_OPTIONS=detect_leaks=1 "./$name" -max_total_time="$seconds" \
      -max_len="${max_len[$name]}" -timeout=10 -artifact_prefix="$name-" -print_final_stats=1 \
      "corpus/$name" "../tests/fuzz/corpus/$name") >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    echo "fuzz $name: $runs executions in ${seconds} s, no finding; corpus $(ls "$out/corpus/$name" | wc -l) inputs (seeds: $(ls "tests/fuzz/corpus/$name" | wc -l))"
  else
    status=1
    echo "fuzz $name: FINDING (see $log; the input is $out/$name-crash-* or -timeout-*)" >&2
    grep -E 'ERROR|SUMMARY|deadly' "$log" | head -5 >&2 || true
  fi
done
exit "$status"
