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
set -euo pipefail
# shellcheck source=tools/programs.sh
source "$(dirname "${BASH_SOURCE[0]}")/programs.sh"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec 3>&1
scratch="$(mktemp -d)"  # fifos, logs, a --root: gone when the tour step ends
trap 'end_every_program; rm -rf "$scratch"' EXIT

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
  say "  \$ $2 ${*:3}"
  "$program" "${@:3}" 2>&1 3>&- | show "$name"
}

# start NAME LESSON/PROGRAM ARGS...: in the background (its pid is then $!),
# all it prints into a new fifo $scratch/NAME.out, which the caller opens and
# reads: exec {server}<"$scratch/server.out".
start() {
  local name="$1" program
  program="$(built "$2")"
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

