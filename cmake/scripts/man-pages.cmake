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
# a4s_write_man_pages(SRC_DIR OUT_DIR PREFIX name=value...) writes every
# SRC_DIR/*.[1-9].in as OUT_DIR/* (the .in dropped). A value whose name ends
# in "dir" and which is relative is put under PREFIX. Values are plain text;
# they are escaped for roff here.
function(a4s_write_man_pages src_dir out_dir prefix)
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
    file(WRITE ${out_dir}/${page}.new "${text}")
    # Rewritten only when changed, so that an install does not touch what
    # is already there.
    configure_file(${out_dir}/${page}.new ${out_dir}/${page} COPYONLY)
    file(REMOVE ${out_dir}/${page}.new)
  endforeach()
endfunction()
