# The trace ring (shim/ring.c: the host's side, written into by the library)
# and accept4shim-collector (collector/: the reader, formatting with the
# library's own formatter and writing where ACCEPT4SHIM_LOG would).
#
# The ring's host side is part of the library's objects (hidden, like all
# of them) so that the library and the unit tests build it under the
# library's rules; docs/collector.md says what wires it into the trace.
target_sources(a4s_core PRIVATE
  ${PROJECT_SOURCE_DIR}/shim/ring.c
  ${PROJECT_SOURCE_DIR}/shim/ringlink.c
  ${PROJECT_SOURCE_DIR}/shim/ringrec.c)

# The library's pieces the collector runs: the record and summary
# formatters (one formatter for both, so the bytes are the same), the
# option parsers the variables use, the ring, and the destination code
# that opens a trace file safely and says what goes wrong. Not a4s_core: that would
# bring the library's loader (a constructor reading ACCEPT4SHIM_*) into the
# collector.
set(A4S_COLLECTOR_SHIM
  shim/addrfmt.c
  shim/complain.c # the library's words for what goes wrong with a destination
  shim/config.c
  shim/dest.c     # a4s_expand_path, for %p
  shim/fdplace.c
  shim/fsize.c    # RLIMIT_FSIZE as sinkwrite.c must respect it
  shim/ident.c
  shim/safeopen.c # a trace file opened as the library opens it
  shim/sinkwrite.c
  shim/digits.c
  shim/errnames.c
  shim/flags.c
  shim/memo.c
  shim/record.c
  shim/ring.c
  shim/ringlink.c
  shim/ringrec.c
  shim/self.c
  shim/serial.c
  shim/summaryfmt.c
  shim/text.c
  shim/timecache.c
  shim/timefmt.c)
list(TRANSFORM A4S_COLLECTOR_SHIM PREPEND ${PROJECT_SOURCE_DIR}/)

# The collector's own parts, without main(), so that tests link them.
add_library(a4s_collector_parts OBJECT
  collector/busguard.c
  collector/destination.c
  collector/hosts.c
  collector/journald.c
  collector/listener.c
  collector/options.c
  collector/output.c
  collector/ringread.c)
target_include_directories(a4s_collector_parts PUBLIC
  ${PROJECT_SOURCE_DIR}/collector ${PROJECT_SOURCE_DIR}/shim ${A4S_INCLUDE_DIR})
target_compile_options(a4s_collector_parts PRIVATE ${A4S_WARNINGS})
target_compile_definitions(a4s_collector_parts PUBLIC _GNU_SOURCE)
target_compile_definitions(a4s_collector_parts PRIVATE A4S_VERSION="${PROJECT_VERSION}")

# The formatter and ring pieces, compiled for the collector.
add_library(a4s_collector_shim OBJECT ${A4S_COLLECTOR_SHIM})
target_include_directories(a4s_collector_shim PUBLIC ${PROJECT_SOURCE_DIR}/shim ${A4S_INCLUDE_DIR})
target_compile_options(a4s_collector_shim PRIVATE ${A4S_WARNINGS})
target_compile_definitions(a4s_collector_shim PUBLIC _GNU_SOURCE)

# build/accept4shim-collector, installed next to the wrapper.
add_executable(accept4shim_collector collector/main.c
  $<TARGET_OBJECTS:a4s_collector_parts> $<TARGET_OBJECTS:a4s_collector_shim>)
set_target_properties(accept4shim_collector PROPERTIES OUTPUT_NAME accept4shim-collector)
target_include_directories(accept4shim_collector PRIVATE
  ${PROJECT_SOURCE_DIR}/collector ${PROJECT_SOURCE_DIR}/shim ${A4S_INCLUDE_DIR})
target_compile_options(accept4shim_collector PRIVATE ${A4S_WARNINGS})
target_compile_definitions(accept4shim_collector PRIVATE _GNU_SOURCE)
install(TARGETS accept4shim_collector RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
