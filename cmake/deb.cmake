# The Debian package: `cpack -G DEB` in the build tree makes
# accept4shim_<version>_<arch>.deb, everything `cmake --install` installs,
# under /usr: the library in /usr/lib/<multiarch>/accept4shim/ (the build's
# LIBDIR is multiarch whatever the prefix, see CMakeLists.txt).
# Included after every part, so that what they install and need is known.
set(CPACK_PACKAGE_NAME accept4shim)
set(CPACK_PACKAGE_VENDOR "accept4shim")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "consistent accept()/accept4() for unmodified programs, by LD_PRELOAD")
set(CPACK_PACKAGE_DESCRIPTION
    "libaccept4shim.so, preloaded into a dynamically linked program (or \
linked into a static one from libaccept4shim.a), takes over accept() and \
accept4(): accept4 emulated where the kernel or a sandbox lacks it, \
BSD-style inheritance of listener flags, retry of pending network errors, \
flags forced onto every accepted socket, and a trace of every call as text \
or JSON lines. The accept4shim command runs a program with it.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # accept4shim_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "accept4shim maintainers <accept4shim@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Depends: dpkg-shlibdeps reads what the ELF files need (the library and the
# command link only the C library: libc6, at the version of the newest
# symbol they use). A part that installs a script adds its interpreter:
#   set_property(GLOBAL APPEND PROPERTY A4S_DEB_DEPENDS python3)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
get_property(a4s_deb_depends GLOBAL PROPERTY A4S_DEB_DEPENDS)
list(REMOVE_DUPLICATES a4s_deb_depends)
list(JOIN a4s_deb_depends ", " CPACK_DEBIAN_PACKAGE_DEPENDS)
# Linking the archive or building against the header needs the C library's
# development files; preloading does not.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "libc6-dev")
include(CPack)
