#!/usr/bin/env bash
# tests/copy_out.sh — the README's promise, checked: copy one program's .cpp,
# the common/ folder and its lesson's own headers into an empty folder, and
#     g++ -std=c++20 FILE.cpp -lfmt -pthread
# builds it there, with no -I and no other file (curl_client adds -lcurl).
# Every program, one at a time; each built program must then answer --help. Run by .ci/run (too slow for the
# default test suite: a full compile per program). Give LESSON/PROGRAM names
# to check only those.
#
# The warning flags are added after the line (COPY_OUT_FLAGS to change them):
# they can only make a build fail, so a build that passes with them passes
# with the bare line too.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
flags="${COPY_OUT_FLAGS--Wall -Wextra -Wpedantic -Werror}"
unset CPATH CPLUS_INCLUDE_PATH  # no include path from outside: the folder alone
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

failed=()
count=0
for cmakelists in */CMakeLists.txt; do
  lesson=$(dirname "$cmakelists")
  for program in $(sed -n 's/^[[:space:]]*add_lesson_program(\([a-z_0-9]*\)).*/\1/p' "$cmakelists"); do
    if (($# > 0)) && [[ " $* " != *" $lesson/$program "* ]]; then continue; fi
    count=$((count + 1))
    folder="$work/$lesson-$program"
    mkdir -p "$folder"
    cp "$lesson/$program.cpp" "$folder/"
    cp -r common "$folder/"
    for header in "$lesson"/*.hpp; do
      if [[ -e $header ]]; then cp "$header" "$folder/"; fi
    done
    libraries=""
    [[ $program == curl_client ]] && libraries="-lcurl"  # the one program with a library of its own
    # shellcheck disable=SC2086  # $flags and $libraries are lists of flags
    if ! (cd "$folder" && g++ -std=c++20 "$program.cpp" -lfmt -pthread $libraries $flags) \
        >"$folder/build.log" 2>&1; then
      echo "copy-out: FAIL $lesson/$program: 'g++ -std=c++20 $program.cpp -lfmt -pthread${libraries:+ $libraries}' in a folder with $program.cpp, common/ and $lesson's headers:" >&2
      sed 's/^/    /' "$folder/build.log" >&2
      failed+=("$lesson/$program")
      continue
    fi
    if ! (cd "$folder" && ./a.out --help) >/dev/null 2>"$folder/run.log"; then
      echo "copy-out: FAIL $lesson/$program: built, but './a.out --help' did not exit 0:" >&2
      sed 's/^/    /' "$folder/run.log" >&2
      failed+=("$lesson/$program")
      continue
    fi
    echo "copy-out: ok   $lesson/$program"
  done
done

if ((count == 0)); then
  echo "copy-out: error: no programs found (add_lesson_program in */CMakeLists.txt)" >&2
  exit 1
fi
if ((${#failed[@]} > 0)); then
  echo "copy-out: error: ${#failed[@]} of $count programs do not build copied out: ${failed[*]}" >&2
  exit 1
fi
echo "copy-out: all $count programs build copied out, each with one line"
