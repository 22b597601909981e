# The accept4shim command (wrapper/), and where `cmake --install` puts it.
# (Its man pages: man.cmake; the pkg-config and CMake files: package.cmake.)
#
# The command finds the library next to itself in the build tree, and at
# the installed place relative to itself: BINDIR/../LIBDIR/accept4shim, so
# an installed prefix can be moved or staged with DESTDIR and still works.

set(A4S_INSTALL_PKGLIBDIR ${CMAKE_INSTALL_LIBDIR}/accept4shim)
if(IS_ABSOLUTE "${CMAKE_INSTALL_BINDIR}" OR IS_ABSOLUTE "${A4S_INSTALL_PKGLIBDIR}")
  set(A4S_WRAPPER_LIBRARY "${CMAKE_INSTALL_FULL_LIBDIR}/accept4shim/$<TARGET_FILE_NAME:accept4shim>")
else()
  file(RELATIVE_PATH A4S_WRAPPER_LIBDIR_REL
       "/prefix/${CMAKE_INSTALL_BINDIR}" "/prefix/${A4S_INSTALL_PKGLIBDIR}")
  set(A4S_WRAPPER_LIBRARY "${A4S_WRAPPER_LIBDIR_REL}/$<TARGET_FILE_NAME:accept4shim>")
endif()

# The executable is called accept4shim; the target cannot be, the library
# has that name.
add_executable(accept4shim_command
  wrapper/collect.c
  wrapper/main.c
  wrapper/library.c
  wrapper/target.c
  # The library's own parsers, so that the options accept what it accepts.
  shim/config.c
  shim/digits.c
  shim/errnames.c
  shim/text.c)
set_target_properties(accept4shim_command PROPERTIES OUTPUT_NAME accept4shim)
target_include_directories(accept4shim_command PRIVATE
  ${PROJECT_SOURCE_DIR}/wrapper ${PROJECT_SOURCE_DIR}/shim ${A4S_INCLUDE_DIR})
target_compile_options(accept4shim_command PRIVATE ${A4S_WARNINGS})
target_compile_definitions(accept4shim_command PRIVATE
  _GNU_SOURCE
  A4S_VERSION="${PROJECT_VERSION}"
  A4S_LIBRARY_NAME="$<TARGET_FILE_NAME:accept4shim>"
  A4S_INSTALLED_LIBRARY="${A4S_WRAPPER_LIBRARY}")
add_dependencies(accept4shim_command accept4shim)

install(TARGETS accept4shim_command RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
