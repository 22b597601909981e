# What other build systems find after `cmake --install`: the pkg-config file
# accept4shim.pc and the CMake package (find_package(accept4shim CONFIG)).
# Both are relocatable: they name the prefix really installed to, not the
# one configured.

# pkg-config: written when installing, so that it names the prefix given to
# `cmake --install --prefix P`, not the one configured. libpath is the
# library's absolute installed path, for scripts and test suites that set
# LD_PRELOAD themselves; wrap_libs what a static program links with.
foreach(dir LIBDIR INCLUDEDIR BINDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(A4S_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(A4S_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
set(A4S_LIBRARY_FILE_NAME
    ${CMAKE_SHARED_LIBRARY_PREFIX}accept4shim${CMAKE_SHARED_LIBRARY_SUFFIX})
list(JOIN A4S_WRAP_LINK_OPTIONS " " A4S_PC_WRAP_OPTIONS)
set(A4S_PC_PREFIX "@prefix@") # kept for the second pass, at install time
configure_file(${PROJECT_SOURCE_DIR}/cmake/accept4shim.pc.in
               ${PROJECT_BINARY_DIR}/accept4shim.pc.in @ONLY)
# Written straight to where it is installed.
a4s_install_time_dir(a4s_pcdir ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
set(a4s_pc "${a4s_pcdir}/accept4shim.pc")
install(CODE "
  set(prefix \"\${CMAKE_INSTALL_PREFIX}\")
  message(STATUS \"Installing: ${a4s_pc}\")
  configure_file(\"${PROJECT_BINARY_DIR}/accept4shim.pc.in\" \"${a4s_pc}\" @ONLY)
  list(APPEND CMAKE_INSTALL_MANIFEST_FILES \"${a4s_pc}\")")

# The CMake package, in LIBDIR/cmake/accept4shim, where find_package looks
# under every prefix in CMAKE_PREFIX_PATH (and under /usr/lib/<multiarch>).
# configure_package_config_file makes the paths relative to the installed
# file, so a moved prefix still works.
include(CMakePackageConfigHelpers)
set(A4S_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/accept4shim)
set(A4S_PKGLIBDIR ${CMAKE_INSTALL_LIBDIR}/accept4shim)
configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/accept4shim-config.cmake.in
  ${PROJECT_BINARY_DIR}/cmake/accept4shim-config.cmake
  INSTALL_DESTINATION ${A4S_CMAKE_DIR}
  PATH_VARS A4S_PKGLIBDIR CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_BINDIR)
# 0.x: a minor version may change what the package gives.
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/cmake/accept4shim-config-version.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${PROJECT_BINARY_DIR}/cmake/accept4shim-config.cmake
  ${PROJECT_BINARY_DIR}/cmake/accept4shim-config-version.cmake
  DESTINATION ${A4S_CMAKE_DIR})
