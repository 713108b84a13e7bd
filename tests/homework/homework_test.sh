#!/usr/bin/env bash
# tests/homework/homework_test.sh PART BUILD_DIR — the homework, held to its
# promises (CTest, label homework; run from the repository root).
#
#   starters  Each main program's starter (LESSON/starter/PROGRAM.cpp) was
#             built copied out (tests/homework/CMakeLists.txt: the file,
#             common/ and its lesson's headers alone in a folder) and runs;
#             its diff against the lesson touches only hunks that say TODO,
#             so filled in like the lesson it is the lesson, which passes
#             every stage; and the checker fails it at the first stage.
#   broken    Each broken-on-purpose variant (LESSON/broken/NAME.cpp) fails
#             the checker at the stage its bug breaks, and passes every stage
#             before it. The table below is the answer key.
#   start     ./workshop start: copies a starter, refuses to overwrite a
#             learner's edit, and its build line builds the copy.
#
# A row whose checker stages have not landed yet is skipped with its reason;
# when nothing else failed, the test exits 77 (CTest: skipped) to say so.
set -uo pipefail
# shellcheck source=tests/support/checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/checks.sh"
part="${1:-}"
build="${2:-build}"
waiting=()
checks_run=0  # rows (or, for start, checks) actually checked

# The starters and the stage each must fail first.
#   LESSON/PROGRAM            first stage   checker
starters="
spoon2-echo/server          prints_port   wired
spoon2-echo/echo_server     prints_port   wired
spoon3-chat/server          prints_port   wired
spoon1-irc/bot              registers     waits: spoon1-irc/bot's stages come later
spoon4-webserver/server     prints_port   waits: spoon4-webserver/server's stages come later
spoon4-webserver/poll_server prints_port  waits: spoon4-webserver/poll_server's stages come later
extras-resolve/resolve      -             waits: extras-resolve/resolve's stages are not named yet
"

# The broken variants: which program's stages each is checked against, the
# stage it must fail at, and (the answer key) its bug.
#   LESSON/broken/NAME        program      stage                            checker  bug
broken="
spoon2-echo/broken/echo_server_1  echo_server  echoes_until_the_client_closes  wired  one recv taken as the whole message
spoon2-echo/broken/echo_server_2  echo_server  survives_a_client_that_resets   wired  no SIGPIPE guard: a send to a reset client kills it
spoon2-echo/broken/echo_client_1  echo_client  half_closes_at_end_of_input     wired  no half-close: the server never hears the end
spoon3-chat/broken/server_1       server       a_line_split_over_many_sends    wired  no line framing: one recv taken as one line
spoon3-chat/broken/server_2       server       a_client_that_never_reads_stalls_no_one  wired  a blocking broadcast
spoon1-irc/broken/bot_1           bot          pong_only_to_a_ping_command     waits  PING found anywhere in the line
spoon1-irc/broken/bot_2           bot          a_line_split_over_many_reads    waits  one recv taken as one line
spoon4-webserver/broken/server_1  server       sends_content_length            waits  no Content-Length
spoon4-webserver/broken/poll_server_1 poll_server root_keeps_files_outside_out waits  a .. escape out of --root
extras-resolve/broken/resolve_1   resolve      -                               waits  IPv4 only, as gethostbyname was
"

fail() {
  printf 'FAIL: %s\n' "$*"
  failures=$((failures + 1))
}

# checker_ready: has ./workshop a check verb yet?
checker_ready() { grep -q '^  *check)' workshop || grep -q 'verb_check' workshop; }

# first_failing_stage PROGRAM STAGE COMMAND...: runs the checker up to STAGE
# ("-": all) against COMMAND; prints the first stage that failed (or "none"),
# after any stage that passed before it (as "passed NAME"). Output in $output.
first_failing_stage() {
  local program="$1" stage="$2"
  shift 2
  local only=()
  [ "$stage" != - ] && only=(--stage "$stage")
  output="$(timeout 120 ./workshop check "$program" "${only[@]}" -- "$@" 2>&1)"
  checked=$?
  local first
  first="$(sed -n 's/^FAIL  *\([a-z0-9_]*\).*/\1/p' <<<"$output" | head -1)"
  echo "${first:-none}"
}

# Each hunk of `diff -U0 LESSON STARTER` must say TODO on its starter side.
hunks_without_todo() {  # hunks_without_todo LESSON_FILE STARTER_FILE: prints the bad hunks' headers
  diff -U0 "$1" "$2" | awk '
    /^@@/ { if (header != "" && !todo) print header; header = $0; todo = 0; next }
    /^\+\+\+/ { next }
    /^\+/ && /TODO/ { todo = 1 }
    END { if (header != "" && !todo) print header }'
}

test_starters() {
  local program stage checker file listed=()
  while read -r program stage checker; do
    [ -n "$program" ] || continue
    local lesson="${program%/*}" name="${program#*/}"
    file="$lesson/starter/$name.cpp"
    listed+=("$file")
    checks_run=$((checks_run + 1))
    [ -f "$file" ] || { fail "$program has no starter $file"; continue; }
    local built="$build/tests/homework/starter/$program"
    # Built copied out by CMake; it must run (its --help, the contract's first promise).
    if [ ! -x "$built" ]; then
      fail "$file was not built copied out (no $built)"
    elif ! "$built" --help >/dev/null 2>&1; then
      fail "$built --help did not exit 0"
    fi
    # Only TODO hunks: the lesson minus its calls, nothing else changed.
    local bad
    bad="$(hunks_without_todo "$lesson/$name.cpp" "$file")"
    [ -z "$bad" ] || fail "$file differs from $lesson/$name.cpp in hunks that say no TODO: $bad"
    grep -q 'TODO' "$file" || fail "$file has no TODO"
    # The checker fails it at the first stage.
    if [[ $checker != wired ]]; then
      waiting+=("$program: the starter at the first stage (${checker#waits: })")
    elif ! checker_ready; then
      waiting+=("$program: the starter at the first stage (no ./workshop check yet)")
    else
      local first
      first="$(first_failing_stage "$program" - "$built")"
      [ "$first" = "$stage" ] || fail "the checker failed starter $program at '$first', not at its first stage '$stage':
$output"
      [ "$checked" -eq 1 ] || fail "the checker exited $checked on starter $program, not 1"
    fi
  done <<<"$starters"
  for file in */starter/*.cpp; do
    printf '%s\n' "${listed[@]}" | grep -qxF "$file" || fail "$file is not in this test's table of starters"
  done
}

test_broken() {
  local variant program stage checker bug listed=()
  while read -r variant program stage checker bug; do
    [ -n "$variant" ] || continue
    local lesson="${variant%%/*}" built="$build/tests/homework/broken/${variant%%/*}/${variant##*/}"
    listed+=("$variant.cpp")
    [ -f "$variant.cpp" ] || { fail "no $variant.cpp"; continue; }
    [ -x "$built" ] || { fail "$variant.cpp was not built (no $built)"; continue; }
    if [[ $checker != wired ]]; then
      waiting+=("$variant: must fail at '$stage' ($lesson/$program's stages come later)")
      continue
    fi
    if ! checker_ready; then
      waiting+=("$variant: must fail at '$stage' (no ./workshop check yet)")
      continue
    fi
    local first
    checks_run=$((checks_run + 1))
    first="$(first_failing_stage "$lesson/$program" "$stage" "$built")"
    if [ "$first" != "$stage" ]; then
      fail "$variant ($bug) failed at '$first', not at '$stage':
$output"
    elif [ "$(grep -c '^PASS ' <<<"$output")" -eq 0 ] && [ "$stage" != prints_port ]; then
      fail "$variant passed no stage before '$stage':
$output"
    fi
  done <<<"$broken"
  for file in */broken/*.cpp; do
    printf '%s\n' "${listed[@]}" | grep -qxF "$file" || fail "$file is not in this test's table of broken variants"
  done
}

test_start() {
  local scratch
  scratch="$(mktemp -d)"
  # shellcheck disable=SC2064  # expand now: the folder is known now
  trap "rm -rf '$scratch'" EXIT
  check "start without a program" 2 ./workshop start
  contains "start without a program says what it takes" "error: start takes a program"
  check "start with three words" 2 ./workshop start spoon2-echo/echo_server a b
  check "start with an option" 2 ./workshop start --force spoon2-echo/echo_server
  contains "start with an option names it" "error: unknown option '--force'"
  check "start of a program without a starter" 2 ./workshop start spoon2-echo/client "$scratch/no"
  contains "start of a program without a starter lists the starters" "  spoon2-echo/echo_server"
  [ ! -e "$scratch/no" ] || fail "start of a program without a starter made its folder"

  local dir="$scratch/web"
  check "start a starter" 0 ./workshop start spoon4-webserver/server "$dir"
  contains "start prints the build line" "(cd $dir && g++ -std=c++20 server.cpp -o server -lfmt -pthread)"
  contains "start prints the check command" "./workshop check spoon4-webserver/server -- $dir/server"
  cmp -s spoon4-webserver/starter/server.cpp "$dir/server.cpp" || fail "start did not copy the starter as server.cpp"
  cmp -s common/net.hpp "$dir/common/net.hpp" || fail "start did not copy common/"
  cmp -s spoon4-webserver/http.hpp "$dir/http.hpp" || fail "start did not copy the lesson's header"
  check "start again, nothing edited" 0 ./workshop start spoon4-webserver/server "$dir"
  # The line it printed builds the copy, and what it built is the starter: it runs.
  if ! (cd "$dir" && g++ -std=c++20 server.cpp -o server -lfmt -pthread) >"$scratch/build.log" 2>&1; then
    fail "the printed build line did not build the copy:
$(cat "$scratch/build.log")"
  elif ! "$dir/server" --help >/dev/null; then
    fail "the starter built by the printed line does not answer --help"
  fi
  printf '// my work\n' >>"$dir/server.cpp"
  cp "$dir/server.cpp" "$scratch/edited.cpp"
  check "start over an edited file" 1 ./workshop start spoon4-webserver/server "$dir"
  contains "start over an edited file names it" "error: $dir/server.cpp: already there and not the starter"
  cmp -s "$scratch/edited.cpp" "$dir/server.cpp" || fail "start overwrote the learner's edited file"

  # The default folder is homework/LESSON/ in the repository (git-ignored):
  # tried in a scratch copy of the front door, so a real learner's is untouched.
  local copy="$scratch/repository"
  mkdir -p "$copy"
  cp -r workshop common spoon2-echo .gitignore "$copy/"
  check "start into the default folder" 0 "$copy/workshop" start spoon2-echo/echo_server
  contains "start into the default folder says where" "./workshop check spoon2-echo/echo_server -- ./homework/spoon2-echo/echo_server"
  [ -f "$copy/homework/spoon2-echo/echo_server.cpp" ] || fail "start did not fill homework/spoon2-echo/"
  if git -C "$copy" init -q 2>/dev/null && [ -n "$(git -C "$copy" status --porcelain --untracked-files=all homework)" ]; then
    fail "git does not ignore homework/"
  fi
}

case "$part" in
  starters) test_starters ;;
  broken) test_broken ;;
  start) test_start; checks_run=1 ;;
  *) echo "usage: tests/homework/homework_test.sh starters|broken|start [BUILD_DIR]" >&2; exit 2 ;;
esac

for line in "${waiting[@]}"; do printf 'waits: %s\n' "$line"; done
if [ "$failures" -gt 0 ]; then
  echo "homework $part: $failures failed"
  exit 1
fi
if [ "${#waiting[@]}" -gt 0 ]; then
  echo "homework $part: $checks_run checked and passed; ${#waiting[@]} wait for the checker's stages"
  [ "$checks_run" -eq 0 ] && exit 77  # nothing this part promises could be checked yet
  exit 0
fi
echo "homework $part: all $checks_run passed"
