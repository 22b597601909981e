# The accept4shim command (wrapper/), its man pages and pkg-config file, and
# where `cmake --install` puts them.
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
  wrapper/main.c
  wrapper/library.c
  wrapper/target.c
  # The library's own parsers, so that the options accept what it accepts.
  shim/config.c
  shim/errnames.c
  shim/text.c)
set_target_properties(accept4shim_command PROPERTIES OUTPUT_NAME accept4shim)
target_include_directories(accept4shim_command PRIVATE
  ${PROJECT_SOURCE_DIR}/wrapper ${PROJECT_SOURCE_DIR}/shim ${PROJECT_SOURCE_DIR}/include)
target_compile_options(accept4shim_command PRIVATE ${A4S_WARNINGS})
target_compile_definitions(accept4shim_command PRIVATE
  _GNU_SOURCE
  A4S_VERSION="${PROJECT_VERSION}"
  A4S_LIBRARY_NAME="$<TARGET_FILE_NAME:accept4shim>"
  A4S_INSTALLED_LIBRARY="${A4S_WRAPPER_LIBRARY}")
add_dependencies(accept4shim_command accept4shim)

install(TARGETS accept4shim_command RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# Man pages: hand-written roff, the version and date filled in here.
string(TIMESTAMP A4S_MAN_DATE "%Y-%m-%d" UTC)
foreach(page accept4shim.1 libaccept4shim.3)
  configure_file(${PROJECT_SOURCE_DIR}/man/${page}.in ${PROJECT_BINARY_DIR}/man/${page} @ONLY)
  string(REGEX REPLACE ".*\\.([0-9])$" "\\1" section ${page})
  install(FILES ${PROJECT_BINARY_DIR}/man/${page}
          DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()
# The library's functions have their own names in section 3 too.
foreach(fn accept4shim_version accept4shim_get_stats accept4shim_config accept4shim_errno_name)
  file(WRITE ${PROJECT_BINARY_DIR}/man/${fn}.3 ".so man3/libaccept4shim.3\n")
  install(FILES ${PROJECT_BINARY_DIR}/man/${fn}.3 DESTINATION ${CMAKE_INSTALL_MANDIR}/man3)
endforeach()

# pkg-config: written when installing, so that it names the prefix given to
# `cmake --install --prefix P`, not the one configured. libpath is the
# library's absolute installed path, for scripts and test suites that set
# LD_PRELOAD themselves.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(A4S_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  set(A4S_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(A4S_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(A4S_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_BINDIR}")
  set(A4S_PC_BINDIR "${CMAKE_INSTALL_BINDIR}")
else()
  set(A4S_PC_BINDIR "\${prefix}/${CMAKE_INSTALL_BINDIR}")
endif()
set(A4S_LIBRARY_FILE_NAME
    ${CMAKE_SHARED_LIBRARY_PREFIX}accept4shim${CMAKE_SHARED_LIBRARY_SUFFIX})
set(A4S_PC_PREFIX "@prefix@") # kept for the second pass, at install time
configure_file(${PROJECT_SOURCE_DIR}/cmake/accept4shim.pc.in
               ${PROJECT_BINARY_DIR}/accept4shim.pc.in @ONLY)
install(CODE "
  set(prefix \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${PROJECT_BINARY_DIR}/accept4shim.pc.in\"
                 \"${PROJECT_BINARY_DIR}/pkgconfig/accept4shim.pc\" @ONLY)")
install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/accept4shim.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
