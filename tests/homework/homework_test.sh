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
#   start     ./workshop start: copies a starter (into DIR, as seen from
#             where it runs, or homework/LESSON/), refuses to overwrite a
#             learner's edit, and the loop it prints works: its build line
#             builds the copy, its check fails it at the first stage.
#
# A row whose program the checker has no stages for yet is skipped with its
# reason ("waits: ..."); when no row at all could be checked, the test exits
# 77 (CTest: skipped).
set -uo pipefail
# shellcheck source=tests/support/checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/checks.sh"
part="${1:-}"
build="${2:-build}"
waiting=()
first="" output="" checked=0  # set by run_checker
checks_run=0  # rows (or, for start, checks) actually checked

# The starters and the stage each must fail first.
# A program the checker has no stages for yet is skipped, and says so; "-":
# its stages have no names yet.
#   LESSON/PROGRAM              first stage   note
starters="
spoon2-echo/server            prints_port   -
spoon2-echo/echo_server       prints_port   -
spoon3-chat/server            prints_port   -
spoon1-irc/bot                registers     -
spoon4-webserver/server       prints_port   -
spoon4-webserver/poll_server  prints_port   -
extras-resolve/resolve        resolves_localhost_to_its_ipv4_address -
"

# The broken variants: which program's stages each is checked against, the
# stage it must fail at (and pass every one before), and — the answer key —
# its bug. "-": that program's stages have no names yet.
#   LESSON/broken/NAME                 program      stage                            bug
broken="
spoon2-echo/broken/echo_server_1      echo_server  echoes_until_the_client_closes   one recv taken as the whole message
spoon2-echo/broken/echo_server_2      echo_server  survives_a_client_that_resets    no SIGPIPE guard, and a failed send is tried again: the retry after a reset kills it
spoon2-echo/broken/echo_client_1      echo_client  half_closes_at_end_of_input      no half-close: the server never hears the end
spoon3-chat/broken/server_1           server       a_line_split_over_many_sends     no line framing: one recv taken as one line
spoon3-chat/broken/server_2           server       a_client_that_never_reads_stalls_no_one  a blocking broadcast
spoon1-irc/broken/bot_1               bot          pong_only_to_a_ping_command      PING found anywhere in the line
spoon1-irc/broken/bot_2               bot          a_line_split_over_many_reads     one recv taken as one line
spoon4-webserver/broken/server_1      server       sends_content_length             no Content-Length
spoon4-webserver/broken/poll_server_1 poll_server  root_keeps_files_outside_out     a .. escape out of --root
extras-resolve/broken/resolve_1       resolve      prints_every_address_once        IPv4 only, as gethostbyname was (caught where localhost is ::1 too, as on Debian)
"

fail() {
  printf 'FAIL: %s\n' "$*"
  failures=$((failures + 1))
}

# The checker is each lesson's test binary in checker mode (what ./workshop
# check runs, tests/support/checker_main.cpp): this build tree's, so the asan
# and tsan trees check their own builds, and nothing is rebuilt under CTest.
suite_of() {  # suite_of LESSON: its test binary
  case "$1" in
    spoon1-irc) echo "$build/tests/spoon1_irc_test" ;;
    spoon2-echo) echo "$build/tests/spoon2_echo_test" ;;
    spoon3-chat) echo "$build/tests/spoon3_chat_test" ;;
    spoon4-webserver) echo "$build/tests/spoon4_webserver_test" ;;
    extras-resolve) echo "$build/tests/extras_resolve_test" ;;
  esac
}

# run_checker PROGRAM STAGE COMMAND...: the checker, up to STAGE ("-": all),
# against COMMAND. Sets $first to the first stage that failed, "none", or
# "no-stages" when the checker has no stages for PROGRAM yet; its output is
# in $output, its exit code in $checked.
run_checker() {
  local program="$1" stage="$2"
  shift 2
  local only=()
  [ "$stage" != - ] && only=("SPOON_CHECK_STAGE=$stage")
  local suite
  suite="$(suite_of "${program%/*}")"
  if [ ! -x "$suite" ]; then
    first=not-built output="no $suite: build the tests first" checked=127
    return
  fi
  output="$(env SPOON_CHECK_PROGRAM="$program" "${only[@]}" timeout 120 "$suite" -- "$@" 2>&1)"
  checked=$?
  if [ "$checked" -eq 2 ] && grep -qF "no stages for $program yet" <<<"$output"; then
    first=no-stages
    return
  fi
  first="$(sed -n 's/^FAIL  *\([a-z0-9_]*\).*/\1/p' <<<"$output" | head -1)"
  first="${first:-none}"
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
  local program stage note file listed=()
  while read -r program stage note; do
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
    if [ "$stage" = - ]; then
      waiting+=("$program: the starter at the first stage (${note#waits: })")
      continue
    fi
    run_checker "$program" - "$built"
    if [ "$first" = no-stages ]; then
      waiting+=("$program: the starter at '$stage' (the checker has no stages for it yet)")
    elif [ "$first" != "$stage" ]; then
      fail "the checker failed starter $program at '$first', not at its first stage '$stage':
$output"
    elif [ "$checked" -ne 1 ]; then
      fail "the checker exited $checked on starter $program, not 1"
    fi
  done <<<"$starters"
  for file in */starter/*.cpp; do
    # (a here-string, not a pipe: under pipefail, grep -q leaving early can fail the printf)
    grep -qxF -- "$file" <<<"$(printf '%s\n' "${listed[@]}")" || fail "$file is not in this test's table of starters"
  done
}

test_broken() {
  local variant program stage bug listed=()
  while read -r variant program stage bug; do
    [ -n "$variant" ] || continue
    local lesson="${variant%%/*}" built="$build/tests/homework/broken/${variant%%/*}/${variant##*/}"
    listed+=("$variant.cpp")
    [ -f "$variant.cpp" ] || { fail "no $variant.cpp"; continue; }
    [ -x "$built" ] || { fail "$variant.cpp was not built (no $built)"; continue; }
    if [ "$stage" = - ]; then
      waiting+=("$variant: ($lesson/$program's stages are not named yet)")
      continue
    fi
    # A stage can leave a race open (survives_a_client_that_resets: the reset
    # may land after the echo went), so a variant passing it is tried again,
    # three times in all; failing anywhere else fails at once.
    local tries=0
    while run_checker "$lesson/$program" "$stage" "$built" &&
      [ "$first" = none ] && [ $((tries += 1)) -lt 3 ]; do :; done
    if [ "$first" = no-stages ]; then
      waiting+=("$variant: must fail at '$stage' (the checker has no stages for $lesson/$program yet)")
      continue
    fi
    checks_run=$((checks_run + 1))
    if [ "$first" != "$stage" ]; then
      fail "$variant ($bug) failed at '$first', not at '$stage':
$output"
    elif [ "$(grep -c '^PASS ' <<<"$output")" -eq 0 ] && [ "$stage" != prints_port ]; then
      fail "$variant passed no stage before '$stage':
$output"
    fi
  done <<<"$broken"
  for file in */broken/*.cpp; do
    grep -qxF -- "$file" <<<"$(printf '%s\n' "${listed[@]}")" || fail "$file is not in this test's table of broken variants"
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
  printf '// my work\n' >>"$dir/server.cpp"
  cp "$dir/server.cpp" "$scratch/edited.cpp"
  check "start over an edited file" 1 ./workshop start spoon4-webserver/server "$dir"
  contains "start over an edited file names it" "error: $dir/server.cpp: already there and not the starter"
  cmp -s "$scratch/edited.cpp" "$dir/server.cpp" || fail "start overwrote the learner's edited file"

  # A folder given relative to where the learner stands, not to the repository.
  local repository="$PWD"
  cd "$scratch" || exit 1
  check "start into a relative folder" 0 "$repository/workshop" start spoon2-echo/echo_server mine
  cd "$repository" || exit 1
  contains "start names a relative folder as given" "(cd mine && g++ -std=c++20 echo_server.cpp -o echo_server -lfmt -pthread)"
  contains "start names the workshop from there" "$repository/workshop check spoon2-echo/echo_server -- ./mine/echo_server"
  [ -f "$scratch/mine/echo_server.cpp" ] || fail "start did not fill the relative folder from where it was run"
  [ -e "$repository/mine" ] && fail "start made the relative folder inside the repository"

  # The loop, end to end: the printed line builds the starter, and the
  # printed check fails it at the first stage (in the default build tree,
  # which ./workshop check uses).
  if ! (cd "$scratch/mine" && g++ -std=c++20 echo_server.cpp -o echo_server -lfmt -pthread) >"$scratch/build.log" 2>&1; then
    fail "the printed build line did not build the starter:
$(cat "$scratch/build.log")"
  elif [ "$(cd "$build" && pwd)" = "$repository/build" ]; then
    cd "$scratch" || exit 1
    check "check of the fresh starter" 1 "$repository/workshop" check spoon2-echo/echo_server -- ./mine/echo_server
    cd "$repository" || exit 1
    contains "check of the fresh starter fails at the first stage" "FAIL  prints_port"
  fi

  # The default folder is homework/LESSON/ in the repository (git-ignored):
  # tried in a scratch copy of the front door, so a real learner's is untouched.
  local copy="$scratch/repository"
  mkdir -p "$copy"
  cp -r workshop common spoon2-echo .gitignore "$copy/"
  cd "$copy" || exit 1
  check "start into the default folder" 0 ./workshop start spoon2-echo/echo_server
  cd "$repository" || exit 1
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
