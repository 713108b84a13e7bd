# slides/regions.cmake — the deck's code blocks are the lessons' own code.
#
# In the deck, a code block that comes from a lesson follows a comment naming
# its region, FILE#NAME with FILE relative to the repository root:
#
#   <!-- region: spoon2-echo/server.cpp#accept-loop -->
#   ```cpp
#   ...the lines between the markers, as they are in the file...
#   ```
#
# In the lesson file, the region is the lines between two comment lines:
#
#   // region: accept-loop
#   ...
#   // endregion
#
# (Regions may nest; marker lines never show in a block. The block is the
# region dedented by its smallest indentation.)
#
#   cmake -D MODE=check  -D DECK=slides/sockets-spoon-feeding.md -P slides/regions.cmake
#   cmake -D MODE=update -D DECK=slides/sockets-spoon-feeding.md -P slides/regions.cmake
#
# check fails (exit 1) when a block differs from its region, or a region is
# missing; update rewrites the deck's blocks from the sources. A block whose
# file has not landed yet holds one line, "// pending: FILE has not landed
# yet", and passes as long as FILE does not exist. ROOT (default: the folder
# above this script's) is where FILE paths start.
#
# A slide names the test that proves it as a link, [`Suite.Name`](../tests/FILE.cpp);
# check fails when FILE has no TEST(Suite, Name) (or TEST_F, TEST_P).
cmake_minimum_required(VERSION 3.25)

if(NOT DEFINED MODE)
  set(MODE check)
endif()
if(NOT MODE MATCHES "^(check|update)$")
  message(FATAL_ERROR "MODE must be check or update, not '${MODE}'")
endif()
if(NOT DEFINED DECK)
  message(FATAL_ERROR "usage: cmake -D MODE=check|update -D DECK=FILE.md [-D ROOT=DIR] -P regions.cmake")
endif()
if(NOT DEFINED ROOT)
  get_filename_component(ROOT "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
endif()
get_filename_component(DECK "${DECK}" ABSOLUTE)

# CMake lists split on ';' and group on '[' ']', and '\' escapes; C++ is full
# of all four. Each becomes a control character while we work on lines, and
# comes back when we write.
string(ASCII 1 semicolon)
string(ASCII 2 open_bracket)
string(ASCII 3 close_bracket)
string(ASCII 4 backslash)

# read_lines(FILE VAR): VAR = the file's lines, masked, as a CMake list.
function(read_lines file var)
  file(READ "${file}" text)
  string(REPLACE "\r" "" text "${text}")
  string(REPLACE "\\" "${backslash}" text "${text}")
  string(REPLACE ";" "${semicolon}" text "${text}")
  string(REPLACE "[" "${open_bracket}" text "${text}")
  string(REPLACE "]" "${close_bracket}" text "${text}")
  string(REGEX REPLACE "\n$" "" text "${text}")  # the last line's end is no new line
  string(REPLACE "\n" ";" text "${text}")
  set(${var} "${text}" PARENT_SCOPE)
endfunction()

# unmask(VAR): the real characters back.
function(unmask var)
  set(text "${${var}}")
  string(REPLACE "${semicolon}" ";" text "${text}")
  string(REPLACE "${open_bracket}" "[" text "${text}")
  string(REPLACE "${close_bracket}" "]" text "${text}")
  string(REPLACE "${backslash}" "\\" text "${text}")
  set(${var} "${text}" PARENT_SCOPE)
endfunction()

# region_text(FILE NAME VAR): VAR = the region's lines, dedented, each ended
# by a newline; VAR_FOUND tells whether the region is there.
function(region_text file name var)
  read_lines("${file}" lines)
  set(depth 0)      # how many regions are open
  set(inside -1)    # the depth at which ours opened; -1: not (yet) in it
  set(found FALSE)
  set(body "")
  foreach(line IN LISTS lines)
    if(line MATCHES "^[ \t]*// region: ([A-Za-z0-9_.-]+)[ \t]*$")
      if(CMAKE_MATCH_1 STREQUAL name)
        if(found)
          message(FATAL_ERROR "${file}: region '${name}' is there twice")
        endif()
        set(found TRUE)
        set(inside ${depth})
      endif()
      math(EXPR depth "${depth} + 1")
    elseif(line MATCHES "^[ \t]*// endregion[ \t]*$")
      if(depth EQUAL 0)
        message(FATAL_ERROR "${file}: an endregion without its region")
      endif()
      math(EXPR depth "${depth} - 1")
      if(depth EQUAL inside)
        set(inside -1)
      endif()
    elseif(NOT inside EQUAL -1)
      string(APPEND body "${line}\n")
    endif()
  endforeach()
  if(NOT depth EQUAL 0)
    message(FATAL_ERROR "${file}: a region without its endregion")
  endif()

  # Dedent: strip the smallest indentation of the non-blank lines.
  string(REGEX REPLACE "\n$" "" body "${body}")
  string(REPLACE "\n" ";" body_lines "${body}")
  set(indent 1000)
  foreach(line IN LISTS body_lines)
    if(line MATCHES "[^ ]")
      string(REGEX MATCH "^ +" spaces "${line}")
      string(LENGTH "${spaces}" width)
      if(width LESS indent)
        set(indent ${width})
      endif()
    endif()
  endforeach()
  set(text "")
  foreach(line IN LISTS body_lines)
    string(LENGTH "${line}" width)
    if(width GREATER_EQUAL indent)
      string(SUBSTRING "${line}" ${indent} -1 line)
    else()
      set(line "")
    endif()
    string(APPEND text "${line}\n")
  endforeach()
  set(${var} "${text}" PARENT_SCOPE)
  set(${var}_FOUND ${found} PARENT_SCOPE)
endfunction()

read_lines("${DECK}" deck)
set(out "")          # the deck as update mode writes it
set(problems 0)
set(blocks 0)
set(tests_named 0)
set(pending_files "")
set(state text)      # text, want-fence (after a region comment), block
set(line_number 0)
foreach(line IN LISTS deck)
  math(EXPR line_number "${line_number} + 1")
  if(state STREQUAL "block")
    if(line MATCHES "^```[ \t]*$")  # the block's end: compare, then keep or replace
      math(EXPR blocks "${blocks} + 1")
      if(NOT EXISTS "${ROOT}/${file}")
        set(wanted "// pending: ${file} has not landed yet\n")
        list(APPEND pending_files "${file}")
      else()
        region_text("${ROOT}/${file}" "${name}" wanted)
        if(NOT wanted_FOUND)
          message("${DECK}:${block_line}: no region '${name}' in ${file}")
          math(EXPR problems "${problems} + 1")
          set(wanted "${block}")  # nothing to put there
        endif()
      endif()
      if(NOT block STREQUAL wanted)
        if(MODE STREQUAL "check")
          set(shown_block "${block}")
          set(shown_wanted "${wanted}")
          unmask(shown_block)
          unmask(shown_wanted)
          message("${DECK}:${block_line}: the block differs from ${file}#${name}\n"
                  "--- in the deck:\n${shown_block}--- in ${file}:\n${shown_wanted}---")
          math(EXPR problems "${problems} + 1")
        else()
          message("updated ${file}#${name} (line ${block_line})")
        endif()
      endif()
      string(APPEND out "${wanted}${line}\n")
      set(state text)
    else()
      string(APPEND block "${line}\n")
    endif()
    continue()
  endif()

  string(APPEND out "${line}\n")
  if(state STREQUAL "want-fence")
    if(line MATCHES "^```")
      set(state block)
      set(block "")
      set(block_line ${line_number})
      continue()
    elseif(line MATCHES "[^ \t]")
      message("${DECK}:${line_number}: a region comment must be followed by a code block")
      math(EXPR problems "${problems} + 1")
      set(state text)
    endif()
  endif()
  # A test named on a slide, [`Suite.Name`](../tests/FILE.cpp), must be in that file.
  string(REGEX MATCHALL "${open_bracket}`[A-Za-z0-9_]+\\.[A-Za-z0-9_]+`${close_bracket}\\(\\.\\./tests/[A-Za-z0-9_.]+\\)"
         tests "${line}")
  foreach(test IN LISTS tests)
    string(REGEX MATCH "`([A-Za-z0-9_]+)\\.([A-Za-z0-9_]+)`.*\\(\\.\\./(tests/[A-Za-z0-9_.]+)\\)" _ "${test}")
    set(suite "${CMAKE_MATCH_1}")
    set(test_name "${CMAKE_MATCH_2}")
    set(test_file "${CMAKE_MATCH_3}")
    set(where -1)
    if(EXISTS "${ROOT}/${test_file}")
      file(READ "${ROOT}/${test_file}" test_source)
      string(FIND "${test_source}" "(${suite}, ${test_name})" where)
    endif()
    if(where EQUAL -1)
      message("${DECK}:${line_number}: no test ${suite}.${test_name} in ${test_file}")
      math(EXPR problems "${problems} + 1")
    else()
      math(EXPR tests_named "${tests_named} + 1")
    endif()
  endforeach()
  if(line MATCHES "^<!-- region: ([^#]+)#([A-Za-z0-9_.-]+) -->[ \t]*$")
    set(file "${CMAKE_MATCH_1}")
    set(name "${CMAKE_MATCH_2}")
    set(state want-fence)
  endif()
endforeach()
if(NOT state STREQUAL "text")
  message("${DECK}: the last region's code block is not closed")
  math(EXPR problems "${problems} + 1")
endif()

if(pending_files)
  list(REMOVE_DUPLICATES pending_files)
  list(JOIN pending_files ", " pending_list)
  message("pending (not landed yet, skipped): ${pending_list}")
endif()
if(MODE STREQUAL "update")
  if(problems GREATER 0)
    message(FATAL_ERROR "${problems} problem(s): the deck was not rewritten")
  endif()
  unmask(out)
  file(READ "${DECK}" before)
  if(NOT out STREQUAL before)
    file(WRITE "${DECK}" "${out}")
  endif()
  message("${DECK}: ${blocks} code blocks from the lessons")
elseif(problems GREATER 0)
  message(FATAL_ERROR "${problems} problem(s) in ${blocks} code blocks: run\n"
                      "  cmake -D MODE=update -D DECK=${DECK} -P ${CMAKE_CURRENT_LIST_FILE}\n"
                      "to copy the lessons' code into the deck")
else()
  message("${DECK}: all ${blocks} code blocks are the lessons' code; the ${tests_named} tests named are there")
endif()
