#!/usr/bin/env bash
# `./workshop bench web`: spoon4's server, poll_server, epoll_server and
# async_server beside nginx (one worker), in one run. First wrk against each
# (keep-alive, then Connection: close; the server's CPU per request read from /proc);
# then each holding 10,000 idle keep-alive connections (build/tests/idle_bench,
# tests/bench/idle_bench.cpp) while fresh GETs are timed and its memory is read;
# then issue 15's targets, met or not. BENCH_WEB_SECONDS (a wrk run, default 1),
# BENCH_WEB_CONNECTIONS (wrk's, default 50), BENCH_WEB_ROUNDS (default 6),
# BENCH_WEB_IDLE (default 10000), BENCH_WEB_FRESH (fresh GETs timed, default 200).
# shellcheck source=tests/bench/bench.sh
source "$(dirname "${BASH_SOURCE[0]}")/bench.sh"
seconds="${BENCH_WEB_SECONDS:-1}" connections="${BENCH_WEB_CONNECTIONS:-50}"
rounds="${BENCH_WEB_ROUNDS:-6}" idle="${BENCH_WEB_IDLE:-10000}" fresh="${BENCH_WEB_FRESH:-200}"
command -v wrk >/dev/null || die "wrk is missing (apt-get install wrk)"
# Every idle connection is a descriptor in the server and one in idle_bench.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$((idle + 100))" ]; then
  echo "(the descriptor limit is $(ulimit -n): holding $((idle = $(ulimit -n) - 100)) idle connections, not ${BENCH_WEB_IDLE:-10000})"
fi

# --- the servers ---------------------------------------------------------------

spoon4=(server poll_server epoll_server async_server)  # the lesson's order
declare -A why_not=()  # a server not built -> why
for name in "${spoon4[@]}"; do
  [ -x "build/spoon4-webserver/$name" ] && continue
  if [ "$name" = epoll_server ] && [ "$(uname -s)" != Linux ]; then
    why_not[$name]="Linux only (epoll is Linux's)"
  elif [ ! -f "spoon4-webserver/$name.cpp" ]; then
    why_not[$name]="not on this branch yet"
  else
    why_not[$name]="not built (build/spoon4-webserver/$name is missing)"
  fi
done
command -v nginx >/dev/null || why_not[nginx]="not installed (apt-get install nginx-light)"
names=("${spoon4[@]}" nginx)

free_port() { perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0")->sockport'; }

# start NAME: starts one server in the background, on a free loopback port; then
# port_of NAME waits until it answers and prints that port. Ours get --timeout 600,
# so that idle connections stay, and their log goes to /dev/null: nginx's access
# log is off, and a log file's write() on every turn of the loop (3 for a fresh
# GET, 6-16 us each here) would time the file system, not the server.
start() {
  local port
  port=$(free_port)
  printf '%s\n' "$port" >"$scratch/$1.port"
  if [ "$1" = nginx ]; then
    # One worker, no access log, the same body as ours; idle connections and
    # keep-alive requests without nginx's limits (75 s, 1000 a connection), as ours.
    cat >"$scratch/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $scratch/nginx.pid;
error_log $scratch/nginx.error.log;
events { worker_connections $((idle + 1000)); }
http {
  access_log off;
  default_type text/plain;
  keepalive_timeout 600s;
  keepalive_requests 100000000;
  server { listen 127.0.0.1:$port; location / { return 200 "Hello, World!"; } }
}
CONF
    nginx -p "$scratch" -c "$scratch/nginx.conf" >"$scratch/nginx.log" 2>&1 &
  else
    build/spoon4-webserver/"$1" --port "$port" --host 127.0.0.1 --timeout 600 >/dev/null 2>"$scratch/$1.log" &
  fi
}

port_of() {  # port_of NAME: waits until the server started last as NAME answers; prints its port
  local port
  port=$(cat "$scratch/$1.port")
  for _ in $(seq 200); do  # a bench may poll (10 s in all): its numbers decide nothing
    curl -s -o /dev/null "http://127.0.0.1:$port/" && { printf '%s\n' "$port"; return 0; }
    sleep 0.05
  done
  die "$1 does not answer on port $port: $(head -3 "$scratch/$1.log")"
}

resident_mb() {  # resident_mb PID: its resident memory (RSS), in MB
  ps -o rss= -p "$1" | awk '{ printf "%.1f", $1 / 1024 }'
}

# --- wrk: keep-alive and Connection: close --------------------------------------

# wrk_once CONNECTIONS SECONDS URL [wrk args]: one run; prints "requests/s
# mean-latency-ms p99-ms errors requests", or nothing when wrk could not run.
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
    / requests in / { requests = $1 }
    /^Requests\/sec:/ { rps = $2 }
    END { if (rps != "") printf "%.0f %.3f %.3f %d %d\n", rps, mean, p99, errors, requests }' <<<"$out"
}

# cpu_ticks PID: the CPU time PID has used so far (user + system), in clock ticks;
# empty where there is no /proc (macOS).
cpu_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || true; }

declare -A wrk_port=() wrk_pid=() best=()  # best: "NAME MODE" -> its best run's wrk_once line
declare -A ticks=() served=()  # "NAME MODE" -> the server's CPU ticks, and requests, over every run
running=()  # the servers measured, in the table's order
for name in "${names[@]}"; do
  [ -n "${why_not[$name]:-}" ] && continue
  start "$name"
  wrk_pid[$name]=$!
  wrk_port[$name]=$(port_of "$name")
  [ "$name" = nginx ] && wrk_pid[$name]=$(pgrep -P "${wrk_pid[$name]}" | head -1)  # its worker does the work
  running+=("$name")
done
echo ""
echo "web: wrk, 1 thread, $connections connections, $seconds s a run, on loopback ($(nproc) cores), the"
echo "     best of $rounds interleaved runs each (other work on the machine makes single runs wobble)"
for _ in $(seq "$rounds"); do
  for name in "${running[@]}"; do
    for mode in keep-alive close; do
      # server answers one request a connection and closes: its keep-alive run would be its close run.
      [ "$name" = server ] && [ "$mode" = keep-alive ] && continue
      close=()
      [ "$mode" = close ] && close=(-H "Connection: close")
      before=$(cpu_ticks "${wrk_pid[$name]}")
      result=$(wrk_once "$connections" "$seconds" "http://127.0.0.1:${wrk_port[$name]}/" "${close[@]}")
      after=$(cpu_ticks "${wrk_pid[$name]}")
      if [ -n "$result" ] && [ -n "$before" ] && [ -n "$after" ]; then
        ticks[$name $mode]=$((${ticks[$name $mode]:-0} + after - before))
        served[$name $mode]=$((${served[$name $mode]:-0} + ${result##* }))
      fi
      previous="${best[$name $mode]:-0}"
      if [ -n "$result" ] && [ "${result%% *}" -gt "${previous%% *}" ]; then best[$name $mode]="$result"; fi
    done
  done
done
stop_every_program

# --- 10,000 idle connections: a fresh GET meanwhile, and memory --------------------

# Each server anew, so that its memory is that of the idle connections, not of wrk's runs.
declare -A median=() p99=() memory=() start_memory=() held=()
echo "web: then each server anew, holding $idle idle keep-alive connections while $fresh fresh GETs are timed"
for name in "${running[@]}"; do
  [ "$name" = server ] && continue  # one client at a time: it would serve the first and leave the rest waiting
  start "$name"
  pid=$!
  port=$(port_of "$name")
  [ "$name" = nginx ] && pid=$(pgrep -P "$pid" | head -1)  # the worker holds the connections, not the master
  start_memory[$name]=$(resident_mb "$pid")
  coproc IDLE { build/tests/idle_bench --port "$port" --idle "$idle" --fresh "$fresh"; }
  holder=$IDLE_PID  # (coproc sets IDLE_PID, and unsets it when idle_bench ends)
  read -r -t 120 -u "${IDLE[0]}" _ "held[$name]" || die "idle_bench against $name: no 'held' line"
  read -r -t 120 -u "${IDLE[0]}" _ _ _ "median[$name]" _ "p99[$name]" || die "idle_bench against $name: no 'fresh' line"
  memory[$name]=$(resident_mb "$pid")
  input="${IDLE[1]}"
  exec {input}>&-  # idle_bench's input ends: it closes every connection and ends
  wait "$holder"
  stop_every_program
done

# --- the table -------------------------------------------------------------------

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "-"; else printf "%.2f\n", a / b }'; }
rps() { local r="${best[$1]:-}"; printf '%s\n' "${r%% *}"; }
# cpu_per_request "NAME MODE": the server's CPU time per request over all its runs, in microseconds.
tick_us=$((1000000 / $(getconf CLK_TCK 2>/dev/null || echo 100)))
cpu_per_request() {
  awk -v t="${ticks[$1]:-}" -v n="${served[$1]:-}" -v us="$tick_us" \
    'BEGIN { if (t == "" || n == "" || n == 0) print "-"; else printf "%.1f\n", t * us / n }'
}
row() { printf '| %-12s | %16s | %8s | %10s | %11s | %8s | %16s | %8s | %8s | %11s | %14s |\n' "$@"; }
echo ""
row server "keep-alive req/s" "vs nginx" "CPU us/req" "close req/s" "vs nginx" "fresh GET median" "p99" "vs nginx" \
  "MB at start" "MB, $idle idle"
printf '|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n' "--------------" "-----------------:" "---------:" "-----------:" \
  "------------:" "---------:" "-----------------:" "---------:" "---------:" "------------:" "---------------:"
for name in "${names[@]}"; do
  if [ -n "${why_not[$name]:-}" ]; then
    row "$name" "not built" - - - - - - - - -
    continue
  fi
  keep="$(rps "$name keep-alive")"
  [ "$name" = server ] && keep="n/a"
  closed="$(rps "$name close")"
  cpu="$(cpu_per_request "$name keep-alive")"
  [ "$name" = server ] && cpu="n/a"
  row "$name" "${keep:--}" "$(ratio "$(rps "$name keep-alive")" "$(rps "nginx keep-alive")")" "$cpu" \
    "${closed:--}" "$(ratio "$closed" "$(rps "nginx close")")" \
    "${median[$name]:-n/a}" "${p99[$name]:-n/a}" "$(ratio "${median[$name]:-}" "${median[nginx]:-}")" \
    "${start_memory[$name]:-n/a}" "${memory[$name]:-n/a}"
done
for name in "${names[@]}"; do
  [ -n "${why_not[$name]:-}" ] && echo "($name: ${why_not[$name]})"
  for mode in keep-alive close; do
    read -r _ mean worst errors _ <<<"${best[$name $mode]:-- - - 0}"
    [ "$errors" -gt 0 ] && echo "($name, $mode: wrk counted $errors errors in its best run; latency mean $mean ms, p99 $worst ms)"
  done
  if [ -n "${held[$name]:-}" ] && [ "${held[$name]}" != "$idle" ]; then echo "($name held ${held[$name]} of $idle)"; fi
done
echo "How to read this: requests/s are wrk's (more is better), keep-alive (many requests a"
echo "connection) and Connection: close (a handshake each); \"vs nginx\" divides by nginx's in this"
echo "run, same column. CPU us/req is the server's own CPU time per keep-alive request over all its"
echo "runs: when wrk or the rest of the machine is the bottleneck, requests/s come out close or"
echo "scrambled, and this still tells the servers apart. A fresh GET (ms, less is better) is connect,"
echo "GET, the whole answer, close, timed $fresh times on new connections while $idle idle ones stay"
echo "open. Memory is the server's resident set (nginx: its worker's), at start and while holding"
echo "them. server serves one client at a time: no keep-alive, no idle hold (n/a)."
echo "spoon4-webserver/README.md, \"The numbers\", explains each row."

# --- issue 15's targets ------------------------------------------------------------

# target SERVER TEXT VALUE UNIT CONDITION: one row, "met" when VALUE makes the awk
# CONDITION on `value` true; "not measured" when a server was not built.
target() {
  local shown=- verdict="not measured"
  if [ -n "$3" ] && [ "$3" != - ]; then
    shown="$3$4"
    verdict=$(awk -v value="$3" "BEGIN { print ($5) ? \"met\" : \"MISSED\" }")
  fi
  printf '| %-13s | %-42s | %11s | %-12s |\n' "$1" "$2" "$shown" "$verdict"
}
echo ""
echo "Issue 15's targets, in this run:"
printf '| %-13s | %-42s | %11s | %-12s |\n' server target "this run" ""
printf '|%s|%s|%s|%s|\n' "---------------" "--------------------------------------------" "------------:" "--------------"
target epoll_server "fresh GET median at most twice nginx's" "$(ratio "${median[epoll_server]:-}" "${median[nginx]:-}")" " x" 'value <= 2'
target epoll_server "memory holding $idle idle under 64 MB" "${memory[epoll_server]:--}" " MB" 'value < 64'
target epoll_server "keep-alive requests/s at least nginx's" \
  "$(ratio "$(rps "epoll_server keep-alive")" "$(rps "nginx keep-alive")")" " x" 'value >= 1.0'
target async_server "keep-alive requests/s, 0.9 of poll's" \
  "$(ratio "$(rps "async_server keep-alive")" "$(rps "poll_server keep-alive")")" " x" 'value >= 0.9'
target poll_server "keep-alive requests/s at least nginx's" \
  "$(ratio "$(rps "poll_server keep-alive")" "$(rps "nginx keep-alive")")" " x" 'value >= 1.0'
target poll_server "memory holding $idle idle under 64 MB" "${memory[poll_server]:--}" " MB" 'value < 64'
target poll_server "fresh GET median under 50 ms" "${median[poll_server]:--}" " ms" 'value < 50'
cpu_ratio() {  # cpu_ratio A B: A's CPU time per keep-alive request over B's, as "N x", or "-"
  local r
  r=$(ratio "$(cpu_per_request "$1 keep-alive" | tr -d -)" "$(cpu_per_request "$2 keep-alive" | tr -d -)")
  [ "$r" = - ] && echo "-" || echo "$r x"
}
echo "(The steadier measure, CPU time per keep-alive request, less is better: epoll_server / nginx"
echo "$(cpu_ratio epoll_server nginx), async_server / poll_server $(cpu_ratio async_server poll_server), poll_server / nginx $(cpu_ratio poll_server nginx).)"
echo "How to read this: \"x\" is times the other server's number in this run. poll_server's targets are"
echo "the ones it met before issue 15 (its README). The bench decides nothing: a missed target is a"
echo "finding to explain, not a failure; one run on a busy machine can miss by a few percent, so run two."
