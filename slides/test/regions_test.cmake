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
    if (buffer[0] == '\\') continue;
    // endregion
  }
  // endregion
}
// endregion
]==])
set(loop_block [==[
for (int i = 0; i < 3; ++i) {
  char buffer[4] = {'\\', '\n', ';', ']'};

  if (buffer[0] == '\\') continue;
}
]==])
set(whole_block [==[
int main() {
  for (int i = 0; i < 3; ++i) {
    char buffer[4] = {'\\', '\n', ';', ']'};

    if (buffer[0] == '\\') continue;
  }
}
]==])
set(inner_block [==[
if (buffer[0] == '\\') continue;
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

if(failures GREATER 0)
  message(FATAL_ERROR "${failures} failure(s)")
endif()
message("regions tool: all checks passed")
