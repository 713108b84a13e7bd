# tests/support/checks.sh — the shell tests' checks (workshop_test.sh,
# workshop_build_test.sh). Sourced, never run. Each failed check prints
# FAIL with what it saw, and counts in $failures.
# shellcheck shell=bash
failures=0
check() {  # check DESCRIPTION EXPECTED_EXIT COMMAND... ; output in $output
  local description="$1" expected="$2"
  shift 2
  output="$(timeout 300 "$@" 2>&1)"
  local code=$?
  if [ "$code" -ne "$expected" ]; then
    printf 'FAIL: %s: exit %s, expected %s\n%s\n' "$description" "$code" "$expected" "$output"
    failures=$((failures + 1))
  fi
}
contains() {  # contains DESCRIPTION TEXT: was TEXT in the last output?
  if ! grep -qF -- "$2" <<<"$output"; then
    printf 'FAIL: %s: no "%s" in:\n%s\n' "$1" "$2" "$output"
    failures=$((failures + 1))
  fi
}
lacks() {  # lacks DESCRIPTION TEXT: was TEXT kept out of the last output?
  if grep -qF -- "$2" <<<"$output"; then
    printf 'FAIL: %s: "%s" in:\n%s\n' "$1" "$2" "$output"
    failures=$((failures + 1))
  fi
}
