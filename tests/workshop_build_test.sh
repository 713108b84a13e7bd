#!/usr/bin/env bash
# A failed build stops every verb (the contract's "workshop script" section):
# in a scratch copy of this checkout, build spoon2-echo/echo_server once, so a
# binary from before the edit exists; then put a compile error into its
# source, as a learner's typo would, and show that `run`, `tour` and `test`
# each print the compiler's errors, then `error: build failed`, exit 1, and
# never start the old binary. Run by CTest (label workshop) from the
# repository root.
set -uo pipefail
root="$(pwd)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
# shellcheck source=tests/support/checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/support/checks.sh"
ends_with_build_failed() {  # ends_with_build_failed DESCRIPTION: the compiler's errors, then ours
  contains "$1 shows the compiler's errors" "echo_server.cpp:1:"
  if [[ $(tail -1 <<<"$output") != "error: build failed"* ]]; then
    printf 'FAIL: %s: the last line is not "error: build failed ...":\n%s\n' "$1" "$output"
    failures=$((failures + 1))
  fi
}

# The checkout as it is on disk (what git tracks, and new files not ignored),
# without any build tree.
git -C "$root" ls-files -z --cached --others --exclude-standard |
  tar -C "$root" --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -C "$scratch" -xf - ||
  { echo "FAIL: could not copy the checkout into $scratch"; exit 1; }
cd "$scratch" || exit 1

check "a first run" 0 ./workshop run spoon2-echo/echo_server --help
contains "a first run runs the program" "usage: echo_server"
contains "a first build says it is building, and how long it takes" "for the first time: about"
check "a second run" 0 ./workshop run spoon2-echo/echo_server --help
lacks "a later build is quiet" "for the first time"

sed -i '1i this line is not C++ // a learner'"'"'s typo' spoon2-echo/echo_server.cpp

check "run after a broken edit" 1 ./workshop run spoon2-echo/echo_server --help
ends_with_build_failed "run after a broken edit"
lacks "run never starts the old binary" "usage: echo_server"

check "the tour after a broken edit" 1 ./workshop tour
ends_with_build_failed "the tour after a broken edit"
lacks "the tour never starts" "The tour:"
lacks "the tour never starts the old binary" "echo server listening"

check "test after a broken edit" 1 ./workshop test
ends_with_build_failed "test after a broken edit"
lacks "test never runs the tests" "tests passed"
lacks "test never starts CTest" "Test project"

[ "$failures" -eq 0 ] && echo "workshop: a failed build stops run, tour and test"
exit "$((failures > 0))"
