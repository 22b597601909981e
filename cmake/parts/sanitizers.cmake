# Sanitizer builds of the library and the tests, for tests/sanitizers (which
# configures build-asan and build-tsan trees with this option) or by hand:
#   cmake -S . -B build-asan -DACCEPT4SHIM_SANITIZE=address
#   cmake -S . -B build-tsan -DACCEPT4SHIM_SANITIZE=thread
# address: AddressSanitizer + UndefinedBehaviorSanitizer, every finding
# fatal. thread: ThreadSanitizer. Both the library and the programs are
# instrumented: a sanitizer's runtime must be in the process before the
# library (see the README, "Reliability", for the preload order).
set(ACCEPT4SHIM_SANITIZE "" CACHE STRING "Sanitizer build: address (ASan+UBSan), thread (TSan), or empty")
if(ACCEPT4SHIM_SANITIZE STREQUAL "address")
  set(a4s_sanitize_flags "-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer")
elseif(ACCEPT4SHIM_SANITIZE STREQUAL "thread")
  set(a4s_sanitize_flags "-fsanitize=thread -fno-omit-frame-pointer")
elseif(NOT ACCEPT4SHIM_SANITIZE STREQUAL "")
  message(FATAL_ERROR "ACCEPT4SHIM_SANITIZE: address, thread or empty, not ${ACCEPT4SHIM_SANITIZE}")
endif()
if(a4s_sanitize_flags)
  # Read when the build files are generated, so they reach the targets
  # defined before this file too.
  string(APPEND CMAKE_C_FLAGS " ${a4s_sanitize_flags}")
  string(APPEND CMAKE_EXE_LINKER_FLAGS " ${a4s_sanitize_flags}")
  string(APPEND CMAKE_SHARED_LINKER_FLAGS " ${a4s_sanitize_flags}")
endif()
if(a4s_sanitize_flags)
  # A sanitizer's runtime calls setrlimit while it starts (RLIMIT_CORE),
  # before it can run instrumented code: the library's setrlimit family
  # (rlimit.c) and the binding it goes through (bind_next.c) stay plain,
  # or every program of the build dies at start inside __tsan_func_entry.
  # For any other resource they only pass the call on; the RLIMIT_FSIZE
  # path (fsize.c) is instrumented and runs only once the program does.
  set_source_files_properties(shim/rlimit.c shim/bind_next.c
    PROPERTIES COMPILE_OPTIONS "-fno-sanitize=all")
endif()
