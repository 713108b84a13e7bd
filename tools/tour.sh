# tools/tour.sh — what every lesson's tour.sh shares. Sourced, never run.
# shellcheck shell=bash
#
# A lesson's tour.sh starts that lesson's programs from build/ on loopback and
# shows what each side prints, indented under its name:
#
#     server  | socket is listening on port 35713     a line the program printed
#     alice   > Hi all, this is Alice                  a line typed into it
#
# What the learner sees goes to file descriptor 3, the transcript (opened on
# stdout below), so a helper's stdout is free for its result, as in
# port=$(port_of server "$server"). Helpers take what they need as arguments
# and print what they find; none sets a variable for its caller (the one they
# share, $scratch, is set here once). They wait on events (a line, an exit)
# with a 10 s deadline, never on a sleep.
#
# With ./workshop tour --wire (SPOON_TOUR_WIRE=1), each port a step uses is
# also captured on loopback with tcpdump, from the moment the port is known
# (port_of, or a --port N given to a program), and when the step ends
# (stop_every_program, or the script's end) its packets are shown under "wire".
set -euo pipefail
# shellcheck source=tools/programs.sh
source "$(dirname "${BASH_SOURCE[0]}")/programs.sh"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec 3>&1
scratch="$(mktemp -d)"  # fifos, logs, a --root: gone when the tour step ends
on_exit() {  # every program ended; after a step that went well, its packets (--wire)
  local status=$?
  end_every_program
  [ "$status" -ne 0 ] || show_the_wire
  end_the_captures
  rm -rf "$scratch"
}
trap on_exit EXIT

say() { printf '%s\n' "$*" >&3; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

show() {  # show NAME: stdin's lines, as they come, indented under NAME
  local line
  while IFS= read -r line || [ -n "$line" ]; do printf '    %-8s| %s\n' "$1" "$line" >&3; done
}

built() {  # built LESSON/PROGRAM: the path of the program, or why it cannot run
  [ -x "build/$1" ] || die "build/$1 is not built (./workshop tour builds it first)"
  printf '%s\n' "build/$1"
}

run() {  # run NAME LESSON/PROGRAM ARGS...: in the foreground (stdin: what it reads); its exit code
  local name="$1" program
  program="$(built "$2")"
  capture_the_port_of "${@:3}"
  say "  \$ $2 ${*:3}"
  "$program" "${@:3}" 2>&1 3>&- | show "$name"
}

# start NAME LESSON/PROGRAM ARGS...: in the background (its pid is then $!),
# all it prints into a new fifo $scratch/NAME.out, which the caller opens and
# reads: exec {server}<"$scratch/server.out".
start() {
  local name="$1" program
  program="$(built "$2")"
  capture_the_port_of "${@:3}"
  rm -f "$scratch/$name.out"
  mkfifo "$scratch/$name.out"
  say "  \$ $2 ${*:3}"
  "$program" "${@:3}" </dev/null >"$scratch/$name.out" 2>&1 3>&- &
}

# start_typed NAME LESSON/PROGRAM ARGS...: as start, and what it reads comes
# from the fifo $scratch/NAME.in. Open that first (the program opens its input
# before its output): exec {alice_in}>"$scratch/alice.in" {alice}<"$scratch/alice.out".
start_typed() {
  local name="$1" program
  program="$(built "$2")"
  capture_the_port_of "${@:3}"
  rm -f "$scratch/$name.in" "$scratch/$name.out"
  mkfifo "$scratch/$name.in" "$scratch/$name.out"
  say "  \$ $2 ${*:3}"
  "$program" "${@:3}" <"$scratch/$name.in" >"$scratch/$name.out" 2>&1 3>&- &
}

show_until() {  # show_until NAME FD TEXT: NAME's lines from FD, up to one holding TEXT
  local line
  while IFS= read -r -t 10 line <&"$2"; do
    printf '    %-8s| %s\n' "$1" "$line" >&3
    [[ $line == *"$3"* ]] && return 0
  done
  die "$1 did not say '$3'"
}

port_of() {  # port_of NAME FD: shows NAME's lines from FD up to its "port N"; prints N
  local line
  while IFS= read -r -t 10 line <&"$2"; do
    printf '    %-8s| %s\n' "$1" "$line" >&3
    if [[ $line =~ port\ ([0-9]+) ]]; then
      capture "${BASH_REMATCH[1]}"
      printf '%s\n' "${BASH_REMATCH[1]}"
      return 0
    fi
  done
  die "$1 did not say which port it listens on"
}

show_the_rest() {  # show_the_rest NAME FD: NAME's further lines from FD, live (FD is then closed here)
  local fd="$2"
  trap '' INT  # the reader is deaf to stop_every_program's Ctrl-C: it ends with NAME's output
  show "$1" <&"$fd" &
  trap - INT
  exec {fd}<&-
}

types() {  # types NAME FD LINE: NAME types LINE (and Enter) into FD
  printf '    %-8s> %s\n' "$1" "$3" >&3
  printf '%s\n' "$3" >&"$2"
}


# --- ./workshop tour --wire: each step's packets, captured on loopback --------
#
# A capture is tcpdump, filtered to one port (and the ICMP errors about it),
# writing $scratch/wire/PORT.pcap. Helpers may run in a subshell
# (port=$(port_of ...), a pipeline), so what a capture needs later is kept in
# files there, and tcpdump reports to the fifo $scratch/wire/says, which this
# shell holds open: its "listening on" line when its filter is in place, and a
# line for the step's last datagram, a marker sent to a port of its own
# (PORT.marker), once every packet before it is written.
wire_interface=lo
[ "$(uname -s)" = Linux ] || wire_interface=lo0  # the BSDs' and macOS's loopback
if [ "${SPOON_TOUR_WIRE:-}" = 1 ]; then
  mkdir "$scratch/wire"
  mkfifo "$scratch/wire/says"
  exec {wire_says}<>"$scratch/wire/says"  # read and write: opening never blocks, and it never ends
fi

capture() {  # capture PORT: from now on, the step's packets to and from PORT are recorded
  [ "${SPOON_TOUR_WIRE:-}" = 1 ] || return 0
  local port="$1" marker line tcpdump as=()
  [ -e "$scratch/wire/$port.marker" ] && return 0  # captured already
  tcpdump="$(command -v tcpdump || echo /usr/sbin/tcpdump)"
  marker=$((20000 + (port + 7919) % 40000))
  printf '%s\n' "$marker" >"$scratch/wire/$port.marker"
  [ "$(id -u)" -eq 0 ] && as=(-Z root)  # root's tcpdump would become user tcpdump, locked out of $scratch
  # --immediate-mode: each packet as it comes (not a buffer-full later); -U:
  # written at once; -s 1024: the start of each packet is all we show (a
  # small snapshot also keeps the kernel's ring from overflowing); --print:
  # a line per packet too, for the marker's (-l: each at once).
  # (bash -c writes tcpdump's own pid, then becomes tcpdump: $! would be grep's.)
  bash -c 'printf "%s\n" "$$" >"$0"; exec "$@"' "$scratch/wire/$port.pid" \
    "$tcpdump" "${as[@]}" -i "$wire_interface" --immediate-mode -U -s 1024 -B 4096 -n -q -l --print \
    -w "$scratch/wire/$port.pcap" "port $port or udp port $marker or icmp or icmp6" 2>&1 3>&- </dev/null |
    grep --line-buffered -e 'listening on' -e "\.$marker: " >&"$wire_says" 3>&- &
  disown  # not one of the step's programs: stop_every_program leaves it to end_the_capture
  while IFS= read -r -t 10 line <&"$wire_says"; do
    [[ $line == *"listening on"* ]] && return 0
  done
  die "tcpdump did not start capturing port $port"
}

capture_the_port_of() {  # capture_the_port_of ARGS...: a program's --port N, captured (N=0: once it says)
  while [ $# -gt 0 ]; do
    if [ "$1" = --port ] && [ $# -ge 2 ] && [ "$2" != 0 ]; then capture "$2"; fi
    shift
  done
}

end_the_capture() {  # end_the_capture PORT: the marker, and once tcpdump has written it, tcpdump stops
  local port="$1" marker line
  marker="$(cat "$scratch/wire/$port.marker")"
  printf 'end of the step\n' >"/dev/udp/127.0.0.1/$marker" 2>/dev/null || true
  while IFS= read -r -t 10 line <&"$wire_says"; do
    [[ $line == *".$marker: "* ]] && break
  done
  kill -INT "$(cat "$scratch/wire/$port.pid")" 2>/dev/null || true
}

show_the_wire() {  # the packets of every port captured in this step, then ready for the next step
  [ "${SPOON_TOUR_WIRE:-}" = 1 ] || return 0
  local marker port pcap
  for marker in "$scratch/wire/"*.marker; do
    [ -e "$marker" ] || continue
    port="$(basename "$marker" .marker)"
    pcap="$scratch/wire/$port.pcap"
    end_the_capture "$port"
    say "  On the wire (tcpdump -i $wire_interface port $port), each packet, in time order:"
    "$(built tests/wire_events)" --times "$pcap" "$port" | show wire
    rm -f "$pcap" "$scratch/wire/$port.pid" "$scratch/wire/$port.marker"
  done
}

end_the_captures() {  # on the way out: every tcpdump still running
  [ "${SPOON_TOUR_WIRE:-}" = 1 ] || return 0
  local pid
  for pid in "$scratch/wire/"*.pid; do
    if [ -e "$pid" ]; then kill -TERM "$(cat "$pid")" 2>/dev/null || true; fi
  done
}

# The tour's stop_every_program (tools/programs.sh's, then the step's packets).
stop_every_program() {  # Ctrl-C for everything still running in the background; waits until it all ends
  local pid
  for pid in $(jobs -p); do kill -INT "$pid" 2>/dev/null || true; done
  wait
  show_the_wire
}
