#!/usr/bin/env bash
# Spoon 2's step of `./workshop tour` (which builds first): the first server
# and client, the echo pair, UDP beside TCP. Each server's lines are shown
# live, beside its client's. Helpers: ../tools/tour.sh.
# shellcheck source=tools/tour.sh
source "$(dirname "${BASH_SOURCE[0]}")/../tools/tour.sh"

say ""
say "==> Spoon 2: the first server and client (the talk uses port 12345; the tour asks"
say "    for any free port with --port 0, and reads it from the server's 'port N' line)"
start server spoon2-echo/server --port 0 --log "$scratch/file.txt"
exec {server}<"$scratch/server.out"
port=$(port_of server "$server")
show_the_rest server "$server"
say "  The server waits in accept(). The client connects; the server thanks it and closes."
run client spoon2-echo/client --port "$port" </dev/null
run client spoon2-echo/client --host ::1 --port "$port" </dev/null
stop_every_program
say "  The log file, as the talk's print(..., file=open('file.txt', 'a')) wrote it:"
show file.txt <"$scratch/file.txt"

say ""
say "==> Spoon 2: the 'with' echo server — every byte back until the client closes its side"
start server spoon2-echo/echo_server --port 0
exec {server}<"$scratch/server.out"
port=$(port_of server "$server")
show_the_rest server "$server"
say "  The client sends its input, half-closes (shutdown), and prints the echo:"
printf 'Hello, sockets!\nThere is no EOT on a socket: the end is a close.\n' |
  run client spoon2-echo/echo_client --port "$port"
stop_every_program

say ""
say "==> Spoon 2: UDP beside TCP — datagrams, no connection, boundaries kept"
start server spoon2-echo/udp_server --port 0
exec {server}<"$scratch/server.out"
port=$(port_of server "$server")
show_the_rest server "$server"
printf 'one datagram\nanother one\n' | run client spoon2-echo/udp_client --port "$port"
stop_every_program
