# scripts/accept4shim-report (python3's standard library only) installs
# next to the wrapper, as P/bin/accept4shim-report: what reads the trace
# lives where what writes it does.
install(PROGRAMS ${PROJECT_SOURCE_DIR}/scripts/accept4shim-report
        DESTINATION ${CMAKE_INSTALL_BINDIR})
# The .deb (cmake/deb.cmake) depends on what runs it.
set_property(GLOBAL APPEND PROPERTY A4S_DEB_DEPENDS python3)
