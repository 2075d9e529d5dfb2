# The build enforces the layers: against the include directories its sources
# really get (build/layers/<layer>.include), every layer finds each header of
# its own and the lower layers, no header of a higher one, and a plain
# #include of the next higher layer's header fails with "No such file".
# Preprocessing only, so it takes a second or two.
#   cmake -DCXX=... -DLAYERS_DIR=build/layers -DWORK=... -P layers_enforced.cmake
file(REMOVE_RECURSE ${WORK})
file(MAKE_DIRECTORY ${WORK})
file(STRINGS ${LAYERS_DIR}/order.txt layers)

# Each layer's headers, less those a lower layer stages (include/kiln/ is
# frontend's as a whole, but its vocab headers are vocab's).
set(seen "")
foreach(layer IN LISTS layers)
  file(GLOB_RECURSE found FOLLOW_SYMLINKS LIST_DIRECTORIES false RELATIVE ${LAYERS_DIR}/${layer}
       ${LAYERS_DIR}/${layer}/*.h ${LAYERS_DIR}/${layer}/*.def)
  list(REMOVE_ITEM found ${seen})
  list(SORT found)
  set(headers_${layer} ${found})
  list(APPEND seen ${found})
endforeach()

set(failures "")
list(LENGTH layers count)
math(EXPR last "${count} - 1")
foreach(i RANGE ${last})
  list(GET layers ${i} layer)
  file(READ ${LAYERS_DIR}/${layer}.include dirs)
  set(flags -std=c++20 -E -o /dev/null)
  foreach(dir IN LISTS dirs)
    list(APPEND flags -I${dir})
  endforeach()

  set(sweep "")
  set(next "")
  foreach(j RANGE ${last})
    list(GET layers ${j} other)
    foreach(h IN LISTS headers_${other})
      if(j LESS_EQUAL i)
        string(APPEND sweep "#if !__has_include(\"${h}\")\n#error ${layer} cannot find ${h} (${other})\n#endif\n")
      else()
        string(APPEND sweep "#if __has_include(\"${h}\")\n#error ${layer} finds ${h} (${other}, a layer above)\n#endif\n")
        if(next STREQUAL "")
          set(next ${h})
        endif()
      endif()
    endforeach()
  endforeach()
  file(WRITE ${WORK}/${layer}_sweep.cpp "${sweep}")
  execute_process(COMMAND ${CXX} ${flags} ${WORK}/${layer}_sweep.cpp
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    list(APPEND failures "${layer}: ${err}")
  endif()

  if(NOT next STREQUAL "")
    file(WRITE ${WORK}/${layer}_upward.cpp "#include \"${next}\"\n")
    execute_process(COMMAND ${CXX} ${flags} ${WORK}/${layer}_upward.cpp
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    string(REPLACE "." "\\." pattern "${next}")
    if(rc EQUAL 0 OR NOT err MATCHES "${pattern}(: No such file or directory|' file not found)")
      list(APPEND failures "${layer}: #include \"${next}\" did not fail for want of the file (rc ${rc}): ${err}")
    else()
      message(STATUS "${layer}: #include \"${next}\" -> No such file or directory")
    endif()
  endif()
endforeach()

if(failures)
  list(JOIN failures "\n" failures)
  message(FATAL_ERROR "layers not enforced by the build:\n${failures}")
endif()
message(STATUS "the build enforces ${count} layers")
