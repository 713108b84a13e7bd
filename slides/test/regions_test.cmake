# slides/test/regions_test.cmake — the region tool tried on a small lesson of
# its own, where every way a deck can drift is made on purpose.
#
#   cmake -D WORK=DIR -P slides/test/regions_test.cmake    (CTest: slides.regions_tool)
cmake_minimum_required(VERSION 3.25)
get_filename_component(tool "${CMAKE_CURRENT_LIST_DIR}/../regions.cmake" ABSOLUTE)
if(NOT DEFINED WORK)
  message(FATAL_ERROR "usage: cmake -D WORK=DIR -P regions_test.cmake")
endif()
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/lesson")

# A lesson with everything CMake lists trip on: ; [ ] \ and blank lines, and
# a region inside another.
file(WRITE "${WORK}/lesson/demo.cpp" [==[
// region: whole
int main() {
  // region: loop
  for (int i = 0; i < 3; ++i) {
    char buffer[4] = {'\\', '\n', ';', ']'};

    // region: inner
    if (buffer[0] == '\\') buffer[1] = '[';
    // endregion
  }
  // endregion
}
// endregion
]==])
set(loop_block [==[
for (int i = 0; i < 3; ++i) {
  char buffer[4] = {'\\', '\n', ';', ']'};

  if (buffer[0] == '\\') buffer[1] = '[';
}
]==])
set(whole_block [==[
int main() {
  for (int i = 0; i < 3; ++i) {
    char buffer[4] = {'\\', '\n', ';', ']'};

    if (buffer[0] == '\\') buffer[1] = '[';
  }
}
]==])
set(inner_block [==[
if (buffer[0] == '\\') buffer[1] = '[';
]==])

set(failures 0)
# deck(NAME TEXT): a deck file of that text.
function(deck name text)
  file(WRITE "${WORK}/${name}.md" "${text}")
endfunction()
# run(MODE DECK EXPECTED_EXIT EXPECTED_OUTPUT_REGEX DESCRIPTION)
function(run mode name expected regex description)
  execute_process(COMMAND "${CMAKE_COMMAND}" -D MODE=${mode} -D "DECK=${WORK}/${name}.md"
                          -D "ROOT=${WORK}" -P "${tool}"
                  RESULT_VARIABLE code OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(code EQUAL 0)
    set(code 0)
  else()
    set(code 1)
  endif()
  if(NOT code EQUAL expected OR NOT output MATCHES "${regex}")
    message("FAIL: ${description}: exit ${code} (expected ${expected}), output:\n${output}")
    math(EXPR failures "${failures} + 1")
    set(failures ${failures} PARENT_SCOPE)
  else()
    message("ok: ${description}")
  endif()
endfunction()

file(WRITE "${WORK}/tests/demo_test.cpp" "TEST(Demo, Works) {}\n")
set(good "# A deck\n\nProven by [`Demo.Works`](../tests/demo_test.cpp).\n\n<!-- region: lesson/demo.cpp#loop -->\n```cpp\n${loop_block}```\n\nText.\n\n<!-- region: lesson/demo.cpp#whole -->\n```cpp\n${whole_block}```\n\n<!-- region: lesson/demo.cpp#inner -->\n\n```cpp\n${inner_block}```\n")
deck(good "${good}")
run(check good 0 "all 3 code blocks .* the 1 tests named" "a deck that matches its regions passes")

string(REPLACE "Demo.Works" "Demo.Fails" no_test "${good}")
deck(no_test "${no_test}")
run(check no_test 1 "no test Demo.Fails in tests/demo_test.cpp" "a test named on a slide must be there")

string(REPLACE "i < 3" "i < 4" drifted "${good}")
deck(drifted "${drifted}")
run(check drifted 1 "differs from lesson/demo.cpp#loop" "one changed line fails, naming the region")

string(REPLACE "#inner" "#outer" missing "${good}")
deck(missing "${missing}")
run(check missing 1 "no region 'outer' in lesson/demo.cpp" "a region that is not there fails")

deck(pending "<!-- region: later/server.cpp#broadcast -->\n```cpp\n// pending: later/server.cpp has not landed yet\n```\n")
run(check pending 0 "pending .*later/server.cpp" "a block of a file not landed yet is skipped")

deck(pending_landed "<!-- region: lesson/demo.cpp#loop -->\n```cpp\n// pending: lesson/demo.cpp has not landed yet\n```\n")
run(check pending_landed 1 "differs from lesson/demo.cpp#loop" "a pending block whose file has landed fails")

deck(no_block "<!-- region: lesson/demo.cpp#loop -->\nJust text.\n")
run(check no_block 1 "must be followed by a code block" "a region comment without its block fails")

deck(unclosed "<!-- region: lesson/demo.cpp#loop -->\n```cpp\nint x;\n")
run(check unclosed 1 "not closed" "an unclosed block fails")

run(update drifted 0 "updated lesson/demo.cpp#loop" "update rewrites a drifted block")
run(check drifted 0 "all 3 code blocks" "after the update, the check passes")
file(READ "${WORK}/drifted.md" rewritten)
if(NOT rewritten STREQUAL good)
  message("FAIL: the updated deck is not byte for byte the good one:\n${rewritten}")
  math(EXPR failures "${failures} + 1")
endif()

run(update missing 1 "not rewritten" "update refuses a deck naming a missing region")

# A fold: a nested region shown as one line, at its indentation.
set(folded_block [==[
int main() {
  for (int i = 0; i < 3; ++i) {
    char buffer[4] = {'\\', '\n', ';', ']'};

    // … the inner part; it may say [this]
  }
}
]==])
deck(folded "<!-- region: lesson/demo.cpp#whole -->\n<!-- fold: inner: the inner part; it may say [this] -->\n```cpp\n${folded_block}```\n")
run(check folded 0 "all 1 code blocks" "a fold shows the nested region as one line")
string(REPLACE "// … the inner" "// … an inner" folded_drifted "<!-- region: lesson/demo.cpp#whole -->\n<!-- fold: inner: the inner part; it may say [this] -->\n```cpp\n${folded_block}```\n")
deck(folded_drifted "${folded_drifted}")
run(check folded_drifted 1 "differs from lesson/demo.cpp#whole" "a fold's line is checked like the rest")
deck(fold_missing "<!-- region: lesson/demo.cpp#whole -->\n<!-- fold: outer: nothing -->\n```cpp\n${whole_block}```\n")
run(check fold_missing 1 "no region 'outer' inside lesson/demo.cpp#whole to fold" "a fold of a region not inside fails")

# Whole code: each way a region can cut a slide mid-block, on a lesson of its own.
# cut(NAME CODE EXPECTED_EXIT REGEX DESCRIPTION): region "cut" of lesson/NAME.cpp
# shown in a deck (after an update, so only the whole-code check can fail).
function(cut name code expected regex description)
  file(WRITE "${WORK}/lesson/${name}.cpp" "${code}")
  file(WRITE "${WORK}/${name}.md" "<!-- region: lesson/${name}.cpp#cut -->\n${ARGN}```cpp\n```\n")
  run(update ${name} ${expected} "${regex}" "${description}")
  set(failures ${failures} PARENT_SCOPE)
endfunction()
cut(ends_in_if [==[
int main(int argc) {
  // region: cut
  int n = 0;
  if (argc > 1) {
    n = 1;
    // endregion
  }
  return n;
}
]==] 1 "cut is not whole code: it ends with 1 '\\{' not closed" "a region ending inside an if fails")
cut(starts_in_block [==[
int main(int argc) {
  int n = 0;
  if (argc > 1) {
    // region: cut
    n = 1;
  }
  return n;
  // endregion
}
]==] 1 "a '}' closes a block opened before it" "a region starting inside a block fails")
cut(outer_continue [==[
int main(int argc) {
  for (int i = 0; i < argc; ++i) {
    // region: cut
    if (i == 1) continue;
    argc -= 1;
    // endregion
  }
}
]==] 1 "'continue' leaves for a loop the slide does not show: if \\(i == 1\\) continue;" "a continue of a loop the slide does not show fails")
cut(outer_break [==[
int main(int argc) {
  while (true) {
    // region: cut
    if (argc > 1) {
      break;
    }
    // endregion
  }
}
]==] 1 "'break' leaves for a loop" "a break out of the region, even inside an if, fails")
cut(mid_statement [==[
int main(int argc) {
  // region: cut
  const int n = argc +
  // endregion
                1;
  return n;
}
]==] 1 "ends in the middle of a statement" "a region ending mid-statement fails")
cut(fold_unbalanced [==[
int main(int argc) {
  // region: cut
  if (argc > 2) {
    argc -= 2;
    // region: half
  } else {
    // endregion
    argc -= 1;
  }
  // endregion
}
]==] 1 "the fold in lesson/fold_unbalanced.cpp#cut is not whole code" "a fold that does not balance fails"
    "<!-- fold: half: the half -->\n")
cut(whole [==[
int main(int argc) {
  // region: cut
  const char* brace = "{ // not a comment";  /* } */
  const char quote = '"';
  for (const int n : {1, 2}) argc += n;
  while (argc > 10) if (argc % 7 == 0) break;  // a loop with no braces
  for (int i = 0; i < argc; ++i) {
    switch (i) {
      case 1: break;
      default: continue;
    }
  }
  do {
    --argc;
  } while (argc > 100);
  auto count = [&] { return brace[0] + quote; };
  // endregion
  return count();
}
]==] 0 "1 code blocks from the lessons" "strings, characters, comments, lists, loops and switches in a whole region pass")
cut(fold_hides_the_jump [==[
int main(int argc) {
  // region: cut
  while (argc > 0) {
    // region: rest
    if (argc > 2) continue;
    // endregion
    argc -= 1;
  }
  // endregion
}
]==] 0 "1 code blocks" "a fold inside the loop it jumps to passes" "<!-- fold: rest: the rest -->\n")

# Copies mode: every copy of a shared helper, in every lesson, the same.
set(copies "${WORK}/copies")
# lesson(FILE TEXT): a lesson file of that text under the copies tree.
function(lesson file text)
  file(WRITE "${copies}/${file}" "${text}")
endfunction()
# copies(EXPECTED_EXIT REGEX DESCRIPTION): copies mode over that tree.
function(copies expected regex description)
  execute_process(COMMAND "${CMAKE_COMMAND}" -D MODE=copies -D "ROOT=${copies}" -P "${tool}"
                  RESULT_VARIABLE code OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(NOT code EQUAL 0)
    set(code 1)
  endif()
  if(NOT code EQUAL expected OR NOT output MATCHES "${regex}")
    message("FAIL: ${description}: exit ${code} (expected ${expected}), output:\n${output}")
    math(EXPR failures "${failures} + 1")
    set(failures ${failures} PARENT_SCOPE)
  else()
    message("ok: ${description}")
  endif()
endfunction()
set(helper [==[
// Sends it all; false on an error.
bool send_all(int s, const char* data, int size) {
  while (size > 0) {
    const int sent = send(s, data, size, 0);  // [a comment; with \ in it]
    if (sent <= 0) return false;
    data += sent;
    size -= sent;
  }
  return true;
}
]==])
file(REMOVE_RECURSE "${copies}")
lesson(one/a.cpp "bool send_all(int s, const char* data, int size);\n\n${helper}\nint main() { return 1; }\n")
string(REPLACE "  while" "  // region: loop\n  while" marked "${helper}")
string(REPLACE "  return true;" "  // endregion\n  return true;" marked "${marked}")
lesson(one/b.cpp "${marked}\nint main() {\n  return 2;\n}\n")
lesson(two/c.cpp "${helper}")
string(REPLACE "sent <= 0" "sent < 0" broken "${helper}")
lesson(tests/helper_test.cpp "${broken}")   # not a lesson: never compared
lesson(common/net.hpp "${broken}")
copies(0 "send_all \\(3: one/a.cpp, one/b.cpp, two/c.cpp\\)"
       "copies of a helper that are the same pass, region markers and main aside")

lesson(two/c.cpp "${broken}")
copies(1 "send_all: the copy in two/c.cpp differs from the one in one/a.cpp \\(2 of 3 files\\):\n  two/c.cpp:5:     if \\(sent < 0\\) return false;\n  one/a.cpp:7:     if \\(sent <= 0\\) return false;"
       "a copy that differs fails, naming both files and the first line that differs")

string(REPLACE "  return true;\n" "" shorter "${helper}")
lesson(two/c.cpp "${shorter}")
copies(1 "two/c.cpp:9: }\n  one/a.cpp:11:   return true;" "a copy with a line fewer fails")

lesson(two/c.cpp "${helper}")
lesson(two/d.cpp "static int count(int n) {\n  return n;\n}\n")
lesson(one/e.cpp "static int count(int n) {\n  return n + 1;\n}\n")
copies(1 "count: the copy in two/d.cpp differs from the one in one/e.cpp"
       "any function defined in two lessons under one name is a shared helper")

if(failures GREATER 0)
  message(FATAL_ERROR "${failures} failure(s)")
endif()
message("regions tool: all checks passed")
