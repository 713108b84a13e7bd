#!/usr/bin/env bash
# Spoon 4's step of `./workshop tour` (which builds first): the talk's web
# server, then poll_server, epoll_server and async_server, then the two clients
# (client, curl_client). Each request's answer is shown after the server's own
# lines about it, which are read up to the line that ends that request.
# Helpers: ../tools/tour.sh.
# shellcheck source=tools/tour.sh
source "$(dirname "${BASH_SOURCE[0]}")/../tools/tour.sh"

say ""
say "==> Spoon 4: the talk's web server (port 8888 in the talk; any free port here), one client"
say "    at a time. It prints what the client sends — the talk's \"what your browser sends?\""
start server spoon4-webserver/server --port 0 --timeout 1
exec {server}<"$scratch/server.out"
port=$(port_of server "$server")
say "  curl asks for / and shows the whole response: status line, fields, empty line, body:"
curl -s -i "http://127.0.0.1:$port/" 2>&1 | tr -d '\r' >"$scratch/answer"
show_until server "$server" " 200 OK"
show curl <"$scratch/answer"
say "  Bytes that are not HTTP get 400 Bad Request, and the server goes on:"
printf 'hello, server\r\n' | nc -N -w 5 127.0.0.1 "$port" 2>&1 | tr -d '\r' | head -1 >"$scratch/answer"
show_until server "$server" " 400 Bad Request"
show nc <"$scratch/answer"
stop_every_program
show server <&"$server"  # its last lines
exec {server}<&-

say ""
say "==> Spoon 4, next step: poll_server — one thread, non-blocking sockets, one poll() for all."
say "    The talk's \"look into selectors\": keep-alive, pipelining, files with --root"
mkdir -p "$scratch/www/docs"
printf '<h1>Hello from --root</h1>\n' >"$scratch/www/index.html"
printf 'secret\n' >"$scratch/secret.txt"
start server spoon4-webserver/poll_server --port 0 --root "$scratch/www" --timeout 1
exec {server}<"$scratch/server.out"
port=$(port_of server "$server")
say "  Two requests in one send (pipelined), answered in order on one connection:"
printf 'GET / HTTP/1.1\r\nHost: tour\r\n\r\nHEAD /docs/none.txt HTTP/1.1\r\nHost: tour\r\nConnection: close\r\n\r\n' |
  nc -N -w 5 127.0.0.1 "$port" 2>&1 | tr -d '\r' | grep -v '^Date:' >"$scratch/answer"
show_until server "$server" " closed"
show nc <"$scratch/answer"
say "  A path that tries to climb out of --root (../secret.txt, percent-encoded) finds nothing:"
curl -s --path-as-is -o /dev/null -w 'GET /%%2e%%2e/secret.txt -> %{http_code}\n' \
  "http://127.0.0.1:$port/%2e%2e/secret.txt" >"$scratch/answer"
show_until server "$server" " closed"
show curl <"$scratch/answer"
stop_every_program
show server <&"$server"
exec {server}<&-

say ""
say "==> Spoon 4, epoll_server: poll_server with poll() replaced by epoll (Linux's). Each socket is"
say "    registered once, and epoll_wait() returns only the ready ones: idle clients cost nothing"
if [ -x build/spoon4-webserver/epoll_server ]; then
  start server spoon4-webserver/epoll_server --port 0 --timeout 5
  exec {server}<"$scratch/server.out"
  port=$(port_of server "$server")
  say "  500 idle connections held open (bash's /dev/tcp), then one fresh GET:"
  idle=()
  for _ in $(seq 500); do
    exec {fd}<>"/dev/tcp/127.0.0.1/$port"
    idle+=("$fd")
  done
  curl -s -o /dev/null -w 'GET / -> %{http_code}, answered in %{time_total} s\n' \
    "http://127.0.0.1:$port/" >"$scratch/answer"
  connected=0
  while IFS= read -r -t 10 line <&"$server"; do  # 500 "connected" lines: counted, not shown
    [[ $line == *" connected" ]] && connected=$((connected + 1))
    [[ $line == *" GET / -> 200 OK" ]] && break
  done
  printf '    %-8s| (%s lines "... connected": the 500, and curl), then: %s\n' server "$connected" "$line" >&3
  show curl <"$scratch/answer"
  for fd in "${idle[@]}"; do exec {fd}>&-; done
  stop_every_program
  tail -n 1 <&"$server" | show server
  exec {server}<&-
else
  say "  (not built here: <sys/epoll.h> is Linux's)"
fi

say ""
say "==> Spoon 4, async_server: each client one C++20 coroutine, reading top to bottom like server;"
say "    where it would block it says co_await, and a poll() loop resumes whoever is ready"
start server spoon4-webserver/async_server --port 0 --timeout 1
exec {server}<"$scratch/server.out"
port=$(port_of server "$server")
say "  One client sends half a request and says no more; its coroutine waits at its co_await."
exec {half}<>"/dev/tcp/127.0.0.1/$port"
printf 'GET / HTTP/1.1\r\nHo' >&"$half"
show_until server "$server" " connected"
say "  Meanwhile curl is served at once:"
curl -s -w '  (%{http_code})\n' "http://127.0.0.1:$port/" >"$scratch/answer"
show_until server "$server" " closed"
show curl <"$scratch/answer"
say "  After --timeout (1 s) the half request's coroutine wakes to its deadline and answers 408:"
timeout 5 head -n 1 <&"$half" | tr -d '\r' >"$scratch/answer"
show_until server "$server" " -> 408"
show client <"$scratch/answer"
exec {half}>&-

say ""
say "==> Spoon 4, the other side: client — HTTP by hand. One GET with Connection: close, then"
say "    the status line, the fields, and the body (ended by Content-Length, by chunks, or the close)"
start server spoon4-webserver/poll_server --port 0 --root "$scratch/www" --timeout 1
exec {server}<"$scratch/server.out"
port=$(port_of server "$server")
say "  \$ spoon4-webserver/client --include http://127.0.0.1:$port/"
"$(built spoon4-webserver/client)" --include "http://127.0.0.1:$port/" 2>&1 | tr -d '\r' >"$scratch/answer"
show_until server "$server" " closed"  # Connection: close — the server closed at once
show client <"$scratch/answer"
say "  A port nobody listens on: the contract's error line, and exit 1:"
run client spoon4-webserver/client http://127.0.0.1:1/ || say "    (exit $?)"
if [ -x build/spoon4-webserver/curl_client ]; then
  say "  The talk's Tip, \"just use the requests library\": curl_client, the same with libcurl:"
  say "  \$ spoon4-webserver/curl_client http://127.0.0.1:$port/"
  "$(built spoon4-webserver/curl_client)" "http://127.0.0.1:$port/" 2>&1 | tr -d '\r' >"$scratch/answer"
  show_until server "$server" " closed"
  show libcurl <"$scratch/answer"
else
  say "  (curl_client is not built here: no libcurl; apt-get install libcurl4-openssl-dev)"
fi
stop_every_program
show server <&"$server"
exec {server}<&-
