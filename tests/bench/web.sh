#!/usr/bin/env bash
# `./workshop bench web`: wrk against spoon4's server, poll_server and nginx
# (one worker, when installed), side by side; then poll_server holding
# thousands of idle connections. BENCH_WEB_SECONDS (a run, default 5),
# BENCH_WEB_CONNECTIONS (default 50), BENCH_WEB_ROUNDS (default 3),
# BENCH_WEB_IDLE (default 10000).
# shellcheck source=tests/bench/bench.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench.sh"
seconds="${BENCH_WEB_SECONDS:-5}" connections="${BENCH_WEB_CONNECTIONS:-50}"
rounds="${BENCH_WEB_ROUNDS:-3}" idle="${BENCH_WEB_IDLE:-10000}"
command -v wrk >/dev/null || die "wrk is missing (apt-get install wrk)"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true  # every idle connection is a descriptor, twice

# wrk_once CONNECTIONS SECONDS URL [wrk args]: one run; prints
# "requests/s mean-latency-ms p99-ms errors", or nothing when wrk could not run.
wrk_once() {
  local out
  out="$(wrk -t1 -c"$1" -d"$2s" --latency "${@:4}" "$3" 2>&1)" || return 0
  awk '
    function ms(value) {  # wrk writes 712.50us, 5.16ms, 1.20s, 2.00m
      if (value ~ /us$/) return value / 1000
      if (value ~ /ms$/) return value + 0
      if (value ~ /s$/) return value * 1000
      if (value ~ /m$/) return value * 60000
      return value + 0
    }
    $1 == "Latency" && mean == "" { mean = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /Socket errors:/ { for (i = 3; i <= NF; i += 2) errors += $(i + 1) }  # connect N, read N, ...
    /Non-2xx or 3xx responses:/ { errors += $NF }
    /^Requests\/sec:/ { rps = $2 }
    END { if (rps != "") printf "%.0f %.3f %.3f %d\n", rps, mean, p99, errors }' <<<"$out"
}

build/spoon4-webserver/server --port 0 >"$scratch/server.log" 2>&1 &
server_port=$(port_in "$scratch/server.log")
build/spoon4-webserver/poll_server --port 0 >"$scratch/poll.log" 2>&1 &
poll_port=$(port_in "$scratch/poll.log")
declare -A url=(
  ["server (Connection: close)"]="http://127.0.0.1:$server_port/"
  ["poll_server (keep-alive)"]="http://127.0.0.1:$poll_port/"
  ["poll_server (Connection: close)"]="http://127.0.0.1:$poll_port/"
)
rows=("server (Connection: close)" "poll_server (keep-alive)" "poll_server (Connection: close)")
if command -v nginx >/dev/null; then
  nginx_port=$(perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0")->sockport')
  cat >"$scratch/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $scratch/nginx.pid;
error_log $scratch/nginx.error.log;
events { worker_connections 20000; }
http {
  access_log off;
  default_type text/plain;
  server { listen 127.0.0.1:$nginx_port; location / { return 200 "Hello, World!"; } }
}
CONF
  nginx -p "$scratch" -c "$scratch/nginx.conf" &
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$nginx_port/" && break; sleep 0.05; done
  url["nginx, 1 worker (keep-alive)"]="http://127.0.0.1:$nginx_port/"
  url["nginx, 1 worker (Connection: close)"]="http://127.0.0.1:$nginx_port/"
  rows+=("nginx, 1 worker (keep-alive)" "nginx, 1 worker (Connection: close)")
fi

echo ""
echo "web: wrk, 1 thread, $connections connections, $seconds s a run, on loopback ($(nproc) cores);"
echo "     the best of $rounds interleaved runs each (other work on the machine makes single runs wobble)"
declare -A best=()  # row -> its best run's "requests/s mean p99 errors"
for _ in $(seq "$rounds"); do
  for row in "${rows[@]}"; do
    close=()
    [[ $row == *close* ]] && close=(-H "Connection: close")
    result=$(wrk_once "$connections" "$seconds" "${url[$row]}" "${close[@]}")
    previous="${best[$row]:-0}"
    if [ -n "$result" ] && [ "${result%% *}" -gt "${previous%% *}" ]; then best[$row]="$result"; fi
  done
done
stop_every_program

printf '| %-36s | %10s | %16s | %15s | %6s | %20s |\n' \
  "server" "requests/s" "latency mean, ms" "latency p99, ms" "errors" "vs nginx (same mode)"
printf '|%s|%s|%s|%s|%s|%s|\n' "--------------------------------------" "------------" \
  "------------------" "-----------------" "--------" "----------------------"
for row in "${rows[@]}"; do
  if [ -z "${best[$row]:-}" ]; then
    printf '| %-36s | %10s | %16s | %15s | %6s | %20s |\n' "$row" - - - - -
    continue
  fi
  read -r rps mean p99 errors <<<"${best[$row]}"
  nginx_row="nginx, 1 worker (keep-alive)"
  [[ $row == *close* ]] && nginx_row="nginx, 1 worker (Connection: close)"
  ratio=-
  [ -n "${best[$nginx_row]:-}" ] && ratio=$(awk -v a="$rps" -v b="${best[$nginx_row]%% *}" 'BEGIN { printf "%.2f", a / b }')
  printf '| %-36s | %10s | %16s | %15s | %6s | %20s |\n' "$row" "$rps" "$mean" "$p99" "$errors" "$ratio"
done
[ -n "${nginx_port:-}" ] || echo "(nginx is not installed: no comparison)"
echo "How to read this: \"vs nginx (same mode)\" is requests/s divided by nginx's with the same"
echo "connection mode (keep-alive, or Connection: close); errors counts wrk's socket errors and"
echo "non-2xx answers; a row of - is one wrk could not run. spoon4-webserver/README.md, \"The"
echo "numbers\", explains each row."

echo ""
echo "web: poll_server holding $idle idle connections (soft descriptor limit $(ulimit -n))"
build/spoon4-webserver/poll_server --port 0 --timeout 600 >"$scratch/idle.log" 2>&1 &
poll_pid=$!
port=$(port_in "$scratch/idle.log")
resident_kib() { awk '/VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
before=$(resident_kib "$poll_pid")
mkfifo "$scratch/hold"
perl -MIO::Socket::INET -e '
  my ($port, $n) = @ARGV; my @held; $| = 1;
  for (1 .. $n) {
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port) or die "connection $_: $!\n";
    push @held, $s;
  }
  print "ready\n"; <STDIN>;' "$port" "$idle" <"$scratch/hold" >"$scratch/hold.out" &
exec {hold}>"$scratch/hold"
for _ in $(seq 1200); do grep -q ready "$scratch/hold.out" 2>/dev/null && break; sleep 0.05; done
for _ in $(seq 200); do [ "$(grep -c connected "$scratch/idle.log")" -ge "$idle" ] && break; sleep 0.05; done
held=$(grep -c connected "$scratch/idle.log" || true)
holding=$(resident_kib "$poll_pid")
fresh=$(for _ in 1 2 3 4 5; do curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$port/"; done |
  awk 'NR == 1 || $1 < min { min = $1 } NR == 1 || $1 > max { max = $1 }
       END { printf "%.1f to %.1f", min * 1000, max * 1000 }')
exec {hold}>&-
printf '| %21s | %19s | %24s | %29s |\n' "idle connections held" "memory at start, MB" \
  "memory holding them, MB" "a fresh request meanwhile, ms"
printf '|%s|%s|%s|%s|\n' "-----------------------" "---------------------" "--------------------------" \
  "-------------------------------"
printf '| %21s | %19s | %24s | %29s |\n' "$held" "$(awk -v k="$before" 'BEGIN { printf "%.1f", k / 1024 }')" \
  "$(awk -v k="$holding" 'BEGIN { printf "%.1f", k / 1024 }')" "$fresh"
stop_every_program
echo "How to read this: memory is poll_server's resident set; a fresh request is curl's whole"
echo "time (best to worst of 5) while every idle connection stays open. spoon4-webserver/README.md,"
echo "\"The numbers\", gives the targets (under 64 MB, under 50 ms)."
