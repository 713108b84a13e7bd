#!/usr/bin/env bash
# The front door, held to the contract's "workshop script" section: run from
# the repository root by CTest (label workshop), in the default build tree.
set -uo pipefail
# shellcheck source=tests/support/checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/support/checks.sh"

check "--help" 0 ./workshop --help
contains "--help names every verb" "./workshop tour"
check "no verb" 2 ./workshop
contains "no verb says so" "error: which verb?"
check "test --preset without a name" 2 ./workshop test --preset
contains "test --preset without a name" "error: --preset needs a name"
check "test with an unknown preset" 2 ./workshop test --preset nosuch
contains "an unknown preset is named, before any build" "error: no preset 'nosuch'"
lacks "an unknown preset builds nothing" "building"
check "fuzz with a bad number of seconds" 2 ./workshop fuzz abc
contains "fuzz with a bad number of seconds" "error: fuzz takes a whole number of seconds"
check "an unknown verb" 2 ./workshop no-such-verb
contains "an unknown verb" "error: unknown verb 'no-such-verb'"
check "run without a program" 2 ./workshop run
check "run of a program that does not exist" 2 ./workshop run spoon2-echo/nothing
contains "run of a program that does not exist" "error: no program 'spoon2-echo/nothing'"
check "run of a bare program name" 2 ./workshop run echo_server
contains "run of a bare program name suggests its lesson" "did you mean spoon2-echo/echo_server?"
check "run of a name three lessons have" 2 ./workshop run server
contains "run of a name three lessons have lists them" "  spoon4-webserver/server"
check "run of a name no lesson has" 2 ./workshop run nothing
contains "run of a name no lesson has lists every program" "  extras-resolve/resolve"
check "run of a source file" 0 ./workshop run spoon2-echo/echo_server.cpp --help
contains "run of a source file runs its program" "usage: echo_server"
check "run passes its arguments on" 0 ./workshop run spoon2-echo/server --help
contains "run passes its arguments on" "usage: server"
check "run passes the exit code back" 2 ./workshop run spoon2-echo/client --port 99999
check "check without a program" 2 ./workshop check
contains "check without a program says how" "error: check needs a program"
check "check of a program that does not exist" 2 ./workshop check spoon2-echo/nothing
contains "check of a program that does not exist lists the lesson's" "  spoon2-echo/echo_server"
check "check with an unknown option" 2 ./workshop check spoon2-echo/echo_server --bogus
contains "check with an unknown option names it" "error: unknown option '--bogus'"
check "check with -- and no command" 2 ./workshop check spoon2-echo/echo_server --
contains "check with -- and no command says what goes there" "error: -- needs the command"
check "check with --stage and no name" 2 ./workshop check spoon2-echo/echo_server --stage
check "check of a stage that does not exist" 2 ./workshop check spoon2-echo/echo_server --stage nope
contains "check of a stage that does not exist lists the stages" "  echoes_until_the_client_closes"
check "check of our own build, up to a stage" 0 ./workshop check spoon2-echo/echo_server --stage echoes_a_line
contains "check prints each stage" "PASS  echoes_a_line"
lacks "check stops after --stage" "echoes_until_the_client_closes"
check "check of a command" 1 ./workshop check spoon2-echo/echo_server --stage prints_port -- false
contains "check of a command that prints no port fails the first stage" "FAIL  prints_port"

check "the tour" 0 ./workshop tour
contains "the tour starts a real IRC server" "(a real IRC server, on 127.0.0.1 port "
contains "the tour's bot joins after the welcome" "bot     | >> JOIN #spoon"
contains "the tour's bot answers in the channel" "alice   | << :spoonbot!~spoonbot@127.0.0.1 PRIVMSG #spoon :Hello, alice!"
contains "the tour's bot answers in private" "alice   | << :spoonbot!~spoonbot@127.0.0.1 PRIVMSG alice :Hello, alice!"
contains "the tour's bot says QUIT on Ctrl-C" "bot     | >> QUIT :Bye"
contains "the tour shows the bot's log" "irc.log | :alice!~alice@127.0.0.1 PRIVMSG #spoon :!hello"
contains "the tour starts the first server" "socket is listening on port"
contains "the tour shows the thanks" "client  | Thank you for connecting"
contains "the tour shows the log file" "file.txt| Got connection from 127.0.0.1:"
contains "the tour shows IPv6" "Got connection from [::1]:"
contains "the tour echoes" "client  | There is no EOT on a socket: the end is a close."
contains "the tour shows UDP" "client  | another one"
contains "the tour stops its servers" "udp echo server stopped"
contains "the tour resolves localhost" "resolve | localhost -> 127.0.0.1"
contains "the tour shows the address families" "resolve |   AF_INET6 ::1"
contains "the tour resolves backwards" "resolve | 127.0.0.1 -> localhost"
contains "the tour shows the web's port" "resolve | http -> 80/tcp"
contains "the tour shows a name that does not resolve" "resolve | error: cannot resolve '::1': "
contains "the tour shows the web server" "Serving HTTP on port"
contains "the tour shows what curl sends" "server  | User-Agent: curl/"
contains "the tour shows the hello" "curl    | Hello, World!"
contains "the tour shows a 400" "nc      | HTTP/1.1 400 Bad Request"
contains "the tour shows pipelining" "nc      | <h1>Hello from --root</h1>"
contains "the tour shows an escape refused" "GET /%2e%2e/secret.txt -> 404"
contains "the tour's epoll_server answers with 500 idle" "curl    | GET / -> 200, answered in"
contains "the tour's async_server serves one while another waits" "curl    | Hello, World!  (200)"
contains "the tour's async_server times out a half request" "client  | HTTP/1.1 408 Request Timeout"
contains "the tour's client asks the server to close" "client  | Connection: close"
contains "the tour's client shows a refused port" "client  | error: cannot connect to 127.0.0.1:1: "
contains "the tour's curl_client gets the same page" "libcurl | <h1>Hello from --root</h1>"
contains "the tour's chat: three clients join" "carol   | Connected to chat!"
contains "the tour's chat: a typed line" "alice   > Hi all, this is Alice"
contains "the tour's chat: the server logs it" "server  | 127.0.0.1:"
contains "the tour's chat: the others hear it" "bob     | From 127.0.0.1:"
contains "the tour's chat: quit removes a client" ": left"
contains "the tour's chat: the stop hangs up on everyone" "server stopping"
contains "the tour ends by pointing at the homework" "./workshop start spoon2-echo/echo_server"

contains "the tour streams the phone's readings" "phone   | sent "
contains "the tour's dashboard names a tilt" "pc      | event: tilt right"
contains "the tour's dashboard names a shake" "pc      | event: shake"
contains "the tour's dashboard counts the stream" "pc      | received "

lacks "the plain tour shows no packets" "wire    |"

# The tour with its packets: as root (CI), each step's capture; without the
# right to capture, one line and the plain tour.
if [ "$(id -u)" -eq 0 ]; then
  check "the tour with its packets" 0 ./workshop tour --wire spoon2-echo
  contains "the wire shows the handshake" "wire    | +0.000 client → server  SYN"
  contains "the wire shows the thanks" 'server → client  24 bytes "Thank you for connecting"'
  contains "the wire shows the half-close" "client → server  FIN"
  contains "the wire shows the datagrams" 'client → server  UDP 12 bytes "one datagram"'
  contains "the wire names its capture" "On the wire (tcpdump -i lo port "
  if command -v setpriv >/dev/null; then
    check "the tour with its packets, without the right to capture" 0 \
      setpriv --bounding-set -net_raw ./workshop tour --wire extras-resolve
    contains "without the right to capture, it says so" "No packets: capturing packets needs root or CAP_NET_RAW"
    contains "without the right to capture, the plain tour" "resolve | localhost -> 127.0.0.1"
  fi
fi

check "a tour of one lesson" 0 ./workshop tour extras-resolve
contains "a tour of one lesson shows it" "resolve | localhost -> 127.0.0.1"
lacks "a tour of one lesson shows no other" "==> Spoon"
check "a tour of no such lesson" 2 ./workshop tour nothing
contains "a tour of no such lesson names the lessons" "there are: spoon1-irc spoon2-echo"

BENCH_ECHO_MIB=1 check "a small bench" 0 ./workshop bench echo
contains "the bench prints a table" "|          1 |"
contains "the bench says its numbers are this machine's" "belong to this machine"
contains "the echo bench says how to read it" "spoon2-echo/README.md"
BENCH_CHAT_CLIENTS=2 BENCH_CHAT_LINES=30 BENCH_CHAT_TIMEOUT=0.5 check "a small chat bench" 0 ./workshop bench chat
contains "the chat bench prints our server's fault run" "| spoon3-chat/server       | fault  |"
contains "the chat bench prints the Python anchor" "| the talk's Python, fixed | normal |"
contains "the chat bench names the README section" 'spoon3-chat/README.md, "Numbers"'
BENCH_STREAM_DELAYS=0 check "a small stream bench" 0 ./workshop bench stream
contains "the stream bench runs, or says why it cannot" "stream: 150 readings at 50/s"
check "an unknown bench" 2 ./workshop bench nothing
contains "an unknown bench names the web bench" "there are: echo, chat, web"
check "slides with an unknown option" 2 ./workshop slides --nothing
contains "slides with an unknown option" "error: unknown option '--nothing'"

[ "$failures" -eq 0 ] && echo "workshop: all checks passed"
exit "$((failures > 0))"
