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
# A region too long for one slide may fold a region nested in it into one
# line, named by a comment right after the region comment:
#
#   <!-- region: spoon2-echo/server.cpp#listen_on -->
#   <!-- fold: getaddrinfo: getaddrinfo, the address to listen on (a slide of its own) -->
#
# shows listen_on with the lines of its region getaddrinfo replaced by one
# line, "// … getaddrinfo, the address to listen on (a slide of its own)", at
# that region's indentation.
#
# A block must be whole code a learner can read on its own: its braces and
# parentheses balance, it ends at the end of a statement, and no break or
# continue in it jumps to a loop the slide does not show. What a fold hides
# must balance too. (The check reads C++ roughly: strings, characters and
# // comments are skipped; a /* comment */ over several lines is not.)
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
#
# The lessons' shared helpers (listen_on, send_all, connect_to) are copies,
# so each file stands alone; copies mode proves every copy is the same:
#
#   cmake -D MODE=copies [-D ROOT=DIR] -P slides/regions.cmake
#
# A helper is a function defined at column 0 ("TYPE name(" up to the first
# line that is exactly "}") in a lesson file: a .cpp or .hpp one folder below
# ROOT, but not in common/, tests/, slides/, cmake/ or a build folder. Every
# function but main defined under the same name in two or more lesson files
# must be the same, line for line (region markers aside); copies fails naming
# the files and the first line that differs.
cmake_minimum_required(VERSION 3.25)

if(NOT DEFINED MODE)
  set(MODE check)
endif()
if(NOT MODE MATCHES "^(check|update|copies)$")
  message(FATAL_ERROR "MODE must be check, update or copies, not '${MODE}'")
endif()
if(NOT DEFINED DECK AND NOT MODE STREQUAL "copies")
  message(FATAL_ERROR "usage: cmake -D MODE=check|update -D DECK=FILE.md [-D ROOT=DIR] -P regions.cmake\n"
                      "       cmake -D MODE=copies [-D ROOT=DIR] -P regions.cmake")
endif()
if(NOT DEFINED ROOT)
  get_filename_component(ROOT "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
endif()
if(DEFINED DECK)
  get_filename_component(DECK "${DECK}" ABSOLUTE)
endif()

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

# --- copies mode: every copy of a shared helper is the same ------------------
if(MODE STREQUAL "copies")
  file(GLOB lesson_files RELATIVE "${ROOT}" "${ROOT}/*/*.cpp" "${ROOT}/*/*.hpp")
  list(FILTER lesson_files EXCLUDE REGEX "^(common|tests|slides|cmake|build[^/]*|\\.[^/]*)/")
  list(SORT lesson_files)
  set(helper_names "")
  foreach(file IN LISTS lesson_files)
    read_lines("${ROOT}/${file}" lines)
    set(line_number 0)
    set(name "")
    foreach(line IN LISTS lines)
      math(EXPR line_number "${line_number} + 1")
      if(line MATCHES "^[A-Za-z_][^(${semicolon}=]*[ *&]([A-Za-z_][A-Za-z0-9_]*)\\(")
        set(starts "${CMAKE_MATCH_1}")  # (a failed MATCHES below would clear CMAKE_MATCH_1)
        if(NOT line MATCHES "${semicolon}[ \t]*$" AND NOT starts STREQUAL "main")
          set(name "${starts}")  # (a second start before a "}": the first was no definition)
          set(body "")
          set(numbers "")
        endif()
      endif()
      if(NOT name STREQUAL "")
        if(NOT line MATCHES "^[ \t]*// (region: [A-Za-z0-9_.-]+|endregion)[ \t]*$")
          list(APPEND body "${line}")
          list(APPEND numbers ${line_number})
        endif()
        if(line STREQUAL "}")
          string(REPLACE ";" "\n" copy_text "${body}")
          list(APPEND helper_names "${name}")
          list(APPEND copies_of_${name} "${file}")
          set("copy_${name}_${file}" "${body}")
          set("numbers_${name}_${file}" "${numbers}")
          set(name "")
        endif()
      endif()
    endforeach()
  endforeach()

  list(REMOVE_DUPLICATES helper_names)
  list(SORT helper_names)
  set(problems 0)
  set(shared "")
  foreach(name IN LISTS helper_names)
    list(LENGTH copies_of_${name} count)
    if(count LESS 2)
      continue()
    endif()
    list(JOIN copies_of_${name} ", " where)
    list(APPEND shared "${name} (${count}: ${where})")
    # The version most files hold is the one the others are told they differ from.
    set(best_file "")
    set(best_votes 0)
    foreach(file IN LISTS copies_of_${name})
      set(votes 0)
      foreach(other IN LISTS copies_of_${name})
        if("${copy_${name}_${file}}" STREQUAL "${copy_${name}_${other}}")
          math(EXPR votes "${votes} + 1")
        endif()
      endforeach()
      if(votes GREATER best_votes)
        set(best_file "${file}")
        set(best_votes ${votes})
      endif()
    endforeach()
    foreach(file IN LISTS copies_of_${name})
      if("${copy_${name}_${file}}" STREQUAL "${copy_${name}_${best_file}}")
        continue()
      endif()
      # The first line that differs (or where one copy ends first).
      set(ours "${copy_${name}_${file}}")
      set(theirs "${copy_${name}_${best_file}}")
      list(LENGTH ours our_length)
      list(LENGTH theirs their_length)
      set(at 0)
      while(at LESS our_length AND at LESS their_length)
        list(GET ours ${at} our_line)
        list(GET theirs ${at} their_line)
        if(NOT our_line STREQUAL their_line)
          break()
        endif()
        math(EXPR at "${at} + 1")
      endwhile()
      foreach(side our their)
        if(side STREQUAL "our")
          set(side_file "${file}")
          set(side_lines "${ours}")
          set(side_length ${our_length})
        else()
          set(side_file "${best_file}")
          set(side_lines "${theirs}")
          set(side_length ${their_length})
        endif()
        if(at LESS side_length)
          list(GET side_lines ${at} side_line)
          list(GET numbers_${name}_${side_file} ${at} side_number)
          unmask(side_line)
          set(${side}_where "${side_file}:${side_number}: ${side_line}")
        else()
          set(${side}_where "${side_file}: (the function ends before)")
        endif()
      endforeach()
      message("${name}: the copy in ${file} differs from the one in ${best_file} "
              "(${best_votes} of ${count} files):\n  ${our_where}\n  ${their_where}")
      math(EXPR problems "${problems} + 1")
    endforeach()
  endforeach()
  if(problems GREATER 0)
    message(FATAL_ERROR "${problems} copy(ies) of a shared helper differ: make every copy the same "
                        "(or, if they should differ, give them different names)")
  endif()
  list(JOIN shared "\n  " shared_list)
  message("every copy of a shared helper is the same:\n  ${shared_list}")
  return()
endif()

# region_text(FILE NAME VAR [FOLD TEXT]...): VAR = the region's lines,
# dedented, each ended by a newline, with each nested region FOLD replaced by
# one line "// … TEXT"; VAR_FOUND tells whether the region is there,
# VAR_FOLDED is what the folds hid (one list item each), and
# VAR_NOT_FOLDED names the folds not found inside the region.
function(region_text file name var)
  set(fold_names "")
  set(fold_texts "")
  set(fold_args ${ARGN})
  while(fold_args)
    list(POP_FRONT fold_args fold_name fold_text)
    list(APPEND fold_names "${fold_name}")
    list(APPEND fold_texts "${fold_text}")
  endwhile()
  read_lines("${file}" lines)
  set(depth 0)      # how many regions are open
  set(inside -1)    # the depth at which ours opened; -1: not (yet) in it
  set(folding -1)   # the depth at which the fold we are in opened; -1: none
  set(found FALSE)
  set(body "")
  set(folded "")    # one item per fold: its lines
  set(folds_found "")
  foreach(line IN LISTS lines)
    if(line MATCHES "^([ \t]*)// region: ([A-Za-z0-9_.-]+)[ \t]*$")
      set(marker_indent "${CMAKE_MATCH_1}")
      set(marker_name "${CMAKE_MATCH_2}")
      if(marker_name STREQUAL name)
        if(found)
          message(FATAL_ERROR "${file}: region '${name}' is there twice")
        endif()
        set(found TRUE)
        set(inside ${depth})
      elseif(NOT inside EQUAL -1 AND folding EQUAL -1)
        list(FIND fold_names "${marker_name}" fold_index)
        if(NOT fold_index EQUAL -1)
          list(GET fold_texts ${fold_index} fold_text)
          string(APPEND body "${marker_indent}// … ${fold_text}\n")
          set(folding ${depth})
          set(fold_body "")
          list(APPEND folds_found "${marker_name}")
        endif()
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
      if(depth EQUAL folding)
        set(folding -1)
        string(REPLACE ";" "" fold_body "${fold_body}")  # (never there: masked)
        list(APPEND folded "${fold_body}")
      endif()
    elseif(NOT folding EQUAL -1)
      string(APPEND fold_body "${line}\n")
    elseif(NOT inside EQUAL -1)
      string(APPEND body "${line}\n")
    endif()
  endforeach()
  set(not_folded "")
  foreach(fold_name IN LISTS fold_names)
    if(NOT fold_name IN_LIST folds_found)
      list(APPEND not_folded "${fold_name}")
    endif()
  endforeach()
  set(${var}_FOLDED "${folded}" PARENT_SCOPE)
  set(${var}_NOT_FOLDED "${not_folded}" PARENT_SCOPE)
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

# whole_code(TEXT JUMPS VAR): VAR = why TEXT is not whole code, or "" when
# it is: its braces and parentheses balance, it ends a statement, and (with
# JUMPS TRUE) every break and continue has its loop (or switch) in TEXT.
function(whole_code text check_jumps var)
  string(REGEX REPLACE "\n$" "" text "${text}")
  string(REPLACE "\n" ";" text_lines "${text}")
  set(open "")         # a stack of what each open brace opened: loop, switch, block
  set(parens 0)
  set(next_kind block)  # what the next brace opens: a loop after for/while/do
  set(last "")          # the last token
  foreach(line IN LISTS text_lines)
    set(code "${line}")
    # Strings and characters first (a "//" may be in one), then comments.
    string(REGEX REPLACE "\"([^\"${backslash}]|${backslash}.)*\"" "\"\"" code "${code}")
    string(REGEX REPLACE "'([^'${backslash}]|${backslash}.)*'" "''" code "${code}")
    string(REGEX REPLACE "/\\*([^*]|\\*+[^*/])*\\*+/" " " code "${code}")
    string(REGEX REPLACE "//.*$" "" code "${code}")
    string(REGEX REPLACE "^[ \t]*#.*$" "" code "${code}")  # the preprocessor
    string(REGEX MATCHALL "[{}()${semicolon}]|[A-Za-z_][A-Za-z0-9_]*" tokens "${code}")
    foreach(token IN LISTS tokens)
      if(token MATCHES "^(for|while|do)$")
        set(next_kind loop)
      elseif(token STREQUAL "switch")
        set(next_kind switch)
      elseif(token STREQUAL "(")
        math(EXPR parens "${parens} + 1")
      elseif(token STREQUAL ")")
        math(EXPR parens "${parens} - 1")
        if(parens LESS 0)
          set(${var} "a ')' closes what opened before it: ${line}" PARENT_SCOPE)
          return()
        endif()
      elseif(token STREQUAL "{" AND parens GREATER 0)  # a list, as in for (x : {a, b})
        list(APPEND open block)
      elseif(token STREQUAL "{")
        list(APPEND open ${next_kind})
        set(next_kind block)
      elseif(token STREQUAL "}")
        if(NOT open)
          set(${var} "a '}' closes a block opened before it: ${line}" PARENT_SCOPE)
          return()
        endif()
        list(POP_BACK open)
        if(parens EQUAL 0)
          set(next_kind block)
        endif()
      elseif(token STREQUAL "${semicolon}" AND parens EQUAL 0)
        set(next_kind block)  # (the end of a statement with no braces)
      elseif(check_jumps AND token MATCHES "^(break|continue)$")
        # Its loop is open in the text, or it is the body of a loop with no braces.
        if(NOT (next_kind STREQUAL "loop" OR "loop" IN_LIST open
                OR (token STREQUAL "break" AND "switch" IN_LIST open)))
          set(${var} "'${token}' leaves for a loop the slide does not show: ${line}" PARENT_SCOPE)
          return()
        endif()
      endif()
      set(last "${token}")
    endforeach()
  endforeach()
  list(LENGTH open braces)
  if(braces GREATER 0)
    set(${var} "it ends with ${braces} '{' not closed" PARENT_SCOPE)
  elseif(parens GREATER 0)
    set(${var} "it ends with ${parens} '(' not closed" PARENT_SCOPE)
  elseif(NOT last MATCHES "^(${semicolon}|}|)$")
    set(${var} "it ends in the middle of a statement (after '${last}')" PARENT_SCOPE)
  else()
    set(${var} "" PARENT_SCOPE)
  endif()
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
        region_text("${ROOT}/${file}" "${name}" wanted ${folds})
        if(NOT wanted_FOUND)
          message("${DECK}:${block_line}: no region '${name}' in ${file}")
          math(EXPR problems "${problems} + 1")
          set(wanted "${block}")  # nothing to put there
        else()
          foreach(fold IN LISTS wanted_NOT_FOLDED)
            message("${DECK}:${block_line}: no region '${fold}' inside ${file}#${name} to fold")
            math(EXPR problems "${problems} + 1")
          endforeach()
          # What the slide shows must read on its own; what it folds, balance.
          whole_code("${wanted}" TRUE why)
          set(what "${file}#${name}")
          foreach(hidden IN LISTS wanted_FOLDED)
            if(why STREQUAL "")
              whole_code("${hidden}" FALSE why)
              set(what "the fold in ${file}#${name}")
            endif()
          endforeach()
          if(NOT why STREQUAL "")
            unmask(why)
            message("${DECK}:${block_line}: ${what} is not whole code: ${why}\n"
                    "  (move its // region: or // endregion line to the end of a statement or block)")
            math(EXPR problems "${problems} + 1")
          endif()
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
    elseif(line MATCHES "^<!-- fold: ([A-Za-z0-9_.-]+): (.+[^ ]) -->[ \t]*$")
      list(APPEND folds "${CMAKE_MATCH_1}" "${CMAKE_MATCH_2}")
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
    set(folds "")  # NAME TEXT NAME TEXT...
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
