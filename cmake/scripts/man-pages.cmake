# Writes the man pages of man/*.in with their placeholder strings filled in.
#
# Each page's source defines, near its top, roff strings that stand for what
# only an installation knows:
#   .ds a4s-version MAJOR.MINOR.PATCH
#   .ds a4s-pkglibdir PREFIX/LIBDIR/accept4shim
# and uses them as \*[a4s-version], \*[a4s-pkglibdir]. The source read as it
# is (man -l man/accept4shim.1.in) shows those words; a written page has each
# .ds line replaced by the value, so it names the files really installed.
#
# a4s_write_man_pages(SRC_DIR OUT_DIR LAYOUT PREFIX name=value...) writes
# every SRC_DIR/*.[1-9].in, the .in dropped, as OUT_DIR/PAGE (LAYOUT flat)
# or OUT_DIR/manN/PAGE (LAYOUT sections, as installed; each file is then
# also listed in the install manifest). A value whose name ends in "dir"
# and which is relative is put under PREFIX. Values are plain text; they
# are escaped for roff here.
function(a4s_write_man_pages src_dir out_dir layout prefix)
  file(GLOB pages ${src_dir}/*.[1-9].in)
  foreach(in IN LISTS pages)
    file(READ ${in} text)
    foreach(pair IN LISTS ARGN)
      string(REGEX MATCH "^([^=]+)=(.*)$" _ "${pair}")
      set(name ${CMAKE_MATCH_1})
      set(value ${CMAKE_MATCH_2})
      if(name MATCHES "dir$" AND NOT IS_ABSOLUTE "${value}")
        set(value "${prefix}/${value}")
      endif()
      string(REPLACE "\\" "\\e" value "${value}")
      string(REPLACE "-" "\\-" value "${value}")
      # A path may break after a slash (\: breaks without a hyphen), so
      # that a long prefix still fits the width of a terminal.
      if(name MATCHES "dir$")
        string(REPLACE "/" "/\\:" value "${value}")
      endif()
      # A replace expression reads backslashes itself: double them.
      string(REPLACE "\\" "\\\\" value "${value}")
      string(REGEX REPLACE "\n\\.ds ${name} [^\n]*" "\n.ds ${name} ${value}" text "${text}")
    endforeach()
    get_filename_component(page ${in} NAME)
    string(REGEX REPLACE "\\.in$" "" page ${page})
    set(dir ${out_dir})
    if(layout STREQUAL "sections")
      string(REGEX REPLACE ".*\\.([1-9])$" "man\\1" section ${page})
      set(dir ${out_dir}/${section})
      message(STATUS "Installing: ${dir}/${page}")
      list(APPEND CMAKE_INSTALL_MANIFEST_FILES ${dir}/${page})
    endif()
    file(WRITE ${dir}/${page}.new "${text}")
    # Rewritten only when changed, so that an install does not touch what
    # is already there.
    configure_file(${dir}/${page}.new ${dir}/${page} COPYONLY)
    file(REMOVE ${dir}/${page}.new)
  endforeach()
  set(CMAKE_INSTALL_MANIFEST_FILES "${CMAKE_INSTALL_MANIFEST_FILES}" PARENT_SCOPE)
endfunction()
