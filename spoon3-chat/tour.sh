#!/usr/bin/env bash
# Spoon 3's step of `./workshop tour` (which builds first): one chat server,
# three clients typing into it. Each program's output is read here, in the
# order things happen: start, expect a line, type a line. Helpers:
# ../tools/tour.sh.
# shellcheck source=tools/tour.sh
source "$(dirname "${BASH_SOURCE[0]}")/../tools/tour.sh"

say ""
say "==> Spoon 3: the terminal chat — a thread per client; each line goes to everyone else"
start server spoon3-chat/server --port 0
server_pid=$!
exec {server}<"$scratch/server.out"
port=$(port_of server "$server")
say "  Three clients join (the talk's server called listen(4): a queue, not a cap on the room):"
start_typed alice spoon3-chat/client --port "$port"
exec {alice_in}>"$scratch/alice.in" {alice}<"$scratch/alice.out"
show_until alice "$alice" "Connected to chat!"
show_until server "$server" "Got connection from"
start_typed bob spoon3-chat/client --port "$port"
exec {bob_in}>"$scratch/bob.in" {bob}<"$scratch/bob.out"
show_until bob "$bob" "Connected to chat!"
show_until server "$server" "Got connection from"
start_typed carol spoon3-chat/client --port "$port"
exec {carol_in}>"$scratch/carol.in" {carol}<"$scratch/carol.out"
show_until carol "$carol" "Connected to chat!"
show_until server "$server" "Got connection from"

say "  Each client types a line (>); the server logs it and sends it to the two others:"
types alice "$alice_in" "Hi all, this is Alice"
show_until server "$server" "Hi all"
show_until bob "$bob" "Hi all"
show_until carol "$carol" "Hi all"
types bob "$bob_in" "Hello Alice! Bob here."
show_until server "$server" "Bob here"
show_until alice "$alice" "Bob here"
show_until carol "$carol" "Bob here"

say "  Carol types quit; Bob ends his input (Ctrl-D); the server removes them:"
types carol "$carol_in" "quit"
show_until server "$server" "left"
exec {bob_in}>&-
show_until server "$server" "left"
types alice "$alice_in" "Anyone still here?"
show_until server "$server" "Anyone"

say "  Nobody else is left to hear Alice. Ctrl-C stops the server: it hangs up on Alice,"
say "  joins every thread and exits 0; Alice's client says the server went away."
kill -INT "$server_pid"
show_until server "$server" "server stopped"
show_until alice "$alice" "server closed"
exec {alice_in}>&- {carol_in}>&-
wait
