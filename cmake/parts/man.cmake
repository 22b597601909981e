# The man pages, man/*.[1-9].in: hand-written roff whose placeholder strings
# (the version, the date, the installed paths) are filled in by
# cmake/scripts/man-pages.cmake. Written twice: into build/man when
# configuring, for the prefix configured, and again when installing, for
# the prefix really installed to (`cmake --install --prefix P`, or /usr in
# the .deb), so that FILES and the examples name the files as installed.
include(${PROJECT_SOURCE_DIR}/cmake/scripts/man-pages.cmake)

string(TIMESTAMP A4S_MAN_DATE "%Y-%m-%d" UTC) # SOURCE_DATE_EPOCH if set
# The values, each relative to the prefix unless configured absolute.
set(A4S_MAN_VALUES
  "a4s-version=${PROJECT_VERSION}"
  "a4s-date=${A4S_MAN_DATE}"
  "a4s-bindir=${CMAKE_INSTALL_BINDIR}"
  "a4s-libdir=${CMAKE_INSTALL_LIBDIR}"
  "a4s-pkglibdir=${CMAKE_INSTALL_LIBDIR}/accept4shim"
  "a4s-includedir=${CMAKE_INSTALL_INCLUDEDIR}"
  "a4s-cmakedir=${CMAKE_INSTALL_LIBDIR}/cmake/accept4shim")

a4s_write_man_pages(${PROJECT_SOURCE_DIR}/man ${PROJECT_BINARY_DIR}/man flat
                    ${CMAKE_INSTALL_PREFIX} ${A4S_MAN_VALUES})
file(GLOB a4s_man_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/man/*.[1-9].in)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/cmake/scripts/man-pages.cmake ${a4s_man_sources})

# At install time: the same, under the prefix installed to, written straight
# to where they are installed.
a4s_install_time_dir(a4s_mandir ${CMAKE_INSTALL_MANDIR})
install(CODE "
  include(\"${PROJECT_SOURCE_DIR}/cmake/scripts/man-pages.cmake\")
  a4s_write_man_pages(\"${PROJECT_SOURCE_DIR}/man\" \"${a4s_mandir}\" sections
                      \"\${CMAKE_INSTALL_PREFIX}\" \"${A4S_MAN_VALUES}\")")

# The library's functions have their own names in section 3 too.
foreach(fn accept4shim_version accept4shim_get_stats accept4shim_config accept4shim_errno_name)
  file(WRITE ${PROJECT_BINARY_DIR}/man/${fn}.3 ".so man3/libaccept4shim.3\n")
  install(FILES ${PROJECT_BINARY_DIR}/man/${fn}.3 DESTINATION ${CMAKE_INSTALL_MANDIR}/man3)
endforeach()
