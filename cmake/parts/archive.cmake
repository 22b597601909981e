# libaccept4shim.a: the library for programs that link it in rather than
# preload it, statically linked ones above all (no dynamic linker runs in
# them, so LD_PRELOAD cannot). The program is linked with -Wl,--wrap=NAME for
# each name below, so that its calls go to __wrap_NAME (ours) and the C
# library's functions are named __real_NAME (see shim/bind.h). The
# variables, behaviour and trace are the preloaded library's: the same
# objects, with the binding that --wrap gives.
#
# The names the archive takes over, one per line, the same as the preloaded
# library exports (shim/exports.map; tests/library/check_shape.sh holds the
# two lists and shim/bind.h's to each other): each is renamed to
# __wrap_NAME in the archive and becomes -Wl,--wrap=NAME in the link options
# that accept4shim::wrap (in-tree and installed) and accept4shim.pc carry.
# accept and accept4 are required; a program linked with those two alone
# (as the SPEC's line reads) links and gets the calls' behaviour, the fork
# window for fork() only and the size limit learnt once a second
# (shim/bind_stubs.c). vfork is assembly: no __real_vfork.
set(A4S_WRAPPED_FUNCTIONS
  accept
  accept4
  posix_spawn
  posix_spawnp
  vfork
  _Fork
  setrlimit
  setrlimit64
  prlimit
  prlimit64
  ulimit
)
# vfork's assembly is written for these two (shim/vfork.c); elsewhere the
# C library's vfork stays, unwrapped.
if(NOT CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64|aarch64|arm64)$")
  list(REMOVE_ITEM A4S_WRAPPED_FUNCTIONS vfork)
endif()
# Taken over by the preloaded library alone (shim/numbers.c, for the
# listener cache: shim/listeners.h), never wrapped in the archive.
set(A4S_PRELOAD_ONLY_FUNCTIONS close close_range closefrom dup2 dup3 listen)

set(A4S_WRAP_LINK_OPTIONS "")
set(a4s_renames "")
foreach(fn IN LISTS A4S_WRAPPED_FUNCTIONS)
  list(APPEND A4S_WRAP_LINK_OPTIONS "-Wl,--wrap=${fn}")
  list(APPEND a4s_renames --redefine-sym "${fn}=__wrap_${fn}")
endforeach()
# A dynamically linked program with the archive in it may still be run with
# the library preloaded: exported, the program's accept4shim_get_stats is
# what a global lookup finds, so the preloaded copy stands aside
# (shim/copies.c) and the program's own copy, whose counters it reads, does
# the work. Without it the work is still done once, by the preloaded copy,
# but the program reads the counters of the copy standing aside. Nothing in
# a static program (GNU ld 2.35 or later, gold, lld).
list(APPEND A4S_WRAP_LINK_OPTIONS "-Wl,--export-dynamic-symbol=accept4shim_get_stats")

a4s_library_objects(a4s_bind_wrap shim/bind_wrap.c)
# The stand-ins for an optional name left unwrapped: a member of its own
# (shim/bind_stubs.c says why), not partially linked with the rest.
a4s_library_objects(a4s_bind_stubs shim/bind_stubs.c)

# One object, not one per source file: the linker takes from an archive only
# the members that resolve a reference, and some of ours are reached by
# nothing but a constructor or destructor (the exit summary). Partially
# linked (cc -r) into one, every part comes with the first call. Then our
# hidden names are made local, so that they cannot clash with the program's
# own, and the entry points renamed to what --wrap calls.
set(a4s_archive ${PROJECT_BINARY_DIR}/libaccept4shim.a)
set(a4s_archive_object ${PROJECT_BINARY_DIR}/CMakeFiles/accept4shim-archive.o)
set(a4s_archive_stubs ${PROJECT_BINARY_DIR}/CMakeFiles/accept4shim-archive-stubs.o)
set(a4s_archive_objects
  $<TARGET_OBJECTS:a4s_entry> $<TARGET_OBJECTS:a4s_takeover> $<TARGET_OBJECTS:a4s_core>
  $<TARGET_OBJECTS:a4s_bind_wrap>)
add_custom_command(OUTPUT ${a4s_archive}
  COMMAND ${CMAKE_C_COMPILER} -r -nostdlib -o ${a4s_archive_object} ${a4s_archive_objects}
  COMMAND ${CMAKE_OBJCOPY} --localize-hidden ${a4s_renames} ${a4s_archive_object}
  COMMAND ${CMAKE_COMMAND} -E copy $<TARGET_OBJECTS:a4s_bind_stubs> ${a4s_archive_stubs}
  COMMAND ${CMAKE_OBJCOPY} --localize-hidden ${a4s_archive_stubs}
  COMMAND ${CMAKE_COMMAND} -E rm -f ${a4s_archive}
  COMMAND ${CMAKE_AR} qc ${a4s_archive} ${a4s_archive_object} ${a4s_archive_stubs}
  COMMAND ${CMAKE_RANLIB} ${a4s_archive}
  DEPENDS ${a4s_archive_objects} $<TARGET_OBJECTS:a4s_bind_stubs>
  COMMENT "Linking the archive libaccept4shim.a"
  COMMAND_EXPAND_LISTS
  VERBATIM)
add_custom_target(accept4shim_archive ALL DEPENDS ${a4s_archive})
add_dependencies(accept4shim_archive a4s_entry a4s_takeover a4s_core a4s_bind_wrap
                 a4s_bind_stubs)

# In the tree, the same target name a consumer gets from find_package
# (cmake/accept4shim-config.cmake.in). A target that links it must also
# add_dependencies(... accept4shim_archive): an imported library is not
# built by the tree that uses it.
add_library(accept4shim::wrap STATIC IMPORTED GLOBAL)
set_target_properties(accept4shim::wrap PROPERTIES
  IMPORTED_LOCATION ${a4s_archive}
  INTERFACE_INCLUDE_DIRECTORIES ${A4S_INCLUDE_DIR}
  INTERFACE_LINK_OPTIONS "${A4S_WRAP_LINK_OPTIONS}")

install(FILES ${a4s_archive} DESTINATION ${CMAKE_INSTALL_LIBDIR}/accept4shim)
