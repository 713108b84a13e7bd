# Cross-compiling for Windows with MinGW-w64 (Debian: g++-mingw-w64-x86-64-posix),
# running the results under Wine. Used by the `windows` preset.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

# The -posix flavour: std::thread and std::mutex need its threading model.
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)

# Look for headers and libraries in the MinGW root only: never let Linux's
# /usr/include or /usr/lib into a Windows build.
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Static: a program that needs libstdc++'s DLLs and cannot find them under
# Wine exits silently with code 53.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")

# GCC 12's libstdc++ makes -Wrestrict warn about std::string concatenation
# that is correct (GCC bug 105329); with warnings as errors in CI, silence it.
set(CMAKE_CXX_FLAGS_INIT "-Wno-restrict")

# CTest (and gtest_discover_tests) run every .exe through Wine.
find_program(SPOON_WINE NAMES wine wine64 REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${SPOON_WINE})
