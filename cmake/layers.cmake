# kiln's layers (cmake/layers.txt) as one OBJECT library each. Every layer's
# headers are staged at configure time as symlinks in build/layers/<layer>/,
# the layer's only include directory; a layer links the one below it, so it
# sees its own headers and those of every lower layer, and an include of a
# higher layer's header fails to compile ("No such file or directory").
#   kiln_layer(<layer> [TARGET <name>] <sources>...)  the layer's library
#   kiln_link_layers(<library>)  chains the layers, puts their objects in <library>
set(KILN_LAYERS_FILE ${CMAKE_CURRENT_LIST_DIR}/layers.txt)
set(KILN_LAYERS_STAGE ${PROJECT_BINARY_DIR}/layers)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${KILN_LAYERS_FILE})

set(KILN_LAYERS "")
file(STRINGS ${KILN_LAYERS_FILE} _kiln_layer_lines)
foreach(_line IN LISTS _kiln_layer_lines)
  string(STRIP "${_line}" _line)
  if(_line STREQUAL "" OR _line MATCHES "^#")
    continue()
  endif()
  string(REGEX REPLACE "[ \t]+" ";" _fields "${_line}")
  list(POP_FRONT _fields _layer)
  list(APPEND KILN_LAYERS ${_layer})
  set(KILN_LAYER_PATHS_${_layer} ${_fields})
endforeach()

# The layer owning a repository-relative path: its longest matching entry.
function(kiln_layer_of path out)
  set(best "")
  set(best_len 0)
  foreach(layer IN LISTS KILN_LAYERS)
    foreach(entry IN LISTS KILN_LAYER_PATHS_${layer})
      string(LENGTH "${entry}" len)
      if(entry MATCHES "/$")
        string(FIND "${path}" "${entry}" at)
        set(hit 0)
        if(at EQUAL 0)
          set(hit 1)
        endif()
      elseif(path STREQUAL entry)
        set(hit 1)
      else()
        set(hit 0)
      endif()
      if(hit AND len GREATER best_len)
        set(best ${layer})
        set(best_len ${len})
      endif()
    endforeach()
  endforeach()
  set(${out} "${best}" PARENT_SCOPE)
endfunction()

# Stage each layer's headers under the name they are included by: the path
# less its include/ or lib/ root ("kiln/error.h", "graph/", "runtime/").
file(REMOVE_RECURSE ${KILN_LAYERS_STAGE})  # symlinks only; never follows them
foreach(_layer IN LISTS KILN_LAYERS)
  file(MAKE_DIRECTORY ${KILN_LAYERS_STAGE}/${_layer})
  foreach(_entry IN LISTS KILN_LAYER_PATHS_${_layer})
    if(NOT _entry MATCHES "/$" AND NOT _entry MATCHES "\\.(h|def)$")
      continue()  # a source file, nothing to include
    endif()
    string(REGEX REPLACE "/$" "" _entry "${_entry}")
    string(REGEX REPLACE "^(include|lib)/" "" _name "${_entry}")
    get_filename_component(_parent ${KILN_LAYERS_STAGE}/${_layer}/${_name} DIRECTORY)
    file(MAKE_DIRECTORY ${_parent})
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/${_entry} ${KILN_LAYERS_STAGE}/${_layer}/${_name} SYMBOLIC)
  endforeach()
endforeach()
set_property(GLOBAL PROPERTY KILN_LAYER_SOURCES "")

function(kiln_layer layer)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "TARGET" "")
  if(NOT layer IN_LIST KILN_LAYERS)
    message(FATAL_ERROR "kiln_layer: '${layer}' is not a layer of ${KILN_LAYERS_FILE}")
  endif()
  set(target kiln_${layer})
  if(arg_TARGET)
    set(target ${arg_TARGET})
  endif()
  # A source listed under the wrong layer would be checked against the wrong
  # include directories; generated files (in the build tree) are exempt.
  foreach(src IN LISTS arg_UNPARSED_ARGUMENTS)
    get_filename_component(abs ${src} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    string(FIND "${abs}" "${PROJECT_BINARY_DIR}/" in_build)
    if(in_build EQUAL 0)
      continue()
    endif()
    file(RELATIVE_PATH rel ${PROJECT_SOURCE_DIR} ${abs})
    kiln_layer_of(${rel} owner)
    if(NOT owner STREQUAL layer)
      message(FATAL_ERROR "${rel} belongs to layer '${owner}' (${KILN_LAYERS_FILE}), "
                          "but is listed in ${target} (layer '${layer}')")
    endif()
    set_property(GLOBAL APPEND PROPERTY KILN_LAYER_SOURCES "${layer} ${rel}")
  endforeach()
  add_library(${target} OBJECT ${arg_UNPARSED_ARGUMENTS})
  target_include_directories(${target} PUBLIC ${KILN_LAYERS_STAGE}/${layer})
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON CXX_VISIBILITY_PRESET default)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter)
  target_link_libraries(${target} PRIVATE fmt::fmt)
  set_property(GLOBAL PROPERTY KILN_LAYER_TARGET_${layer} ${target})
endfunction()

function(kiln_link_layers library)
  set(below "")
  set(order "")
  foreach(layer IN LISTS KILN_LAYERS)
    get_property(target GLOBAL PROPERTY KILN_LAYER_TARGET_${layer})
    if(NOT target)
      message(FATAL_ERROR "layer '${layer}' of ${KILN_LAYERS_FILE} has no kiln_layer() library")
    endif()
    # Only the layer directly below: everything lower comes with it.
    if(below)
      target_link_libraries(${target} PUBLIC ${below})
    endif()
    target_sources(${library} PRIVATE $<TARGET_OBJECTS:${target}>)
    # What test/layers_enforced.cmake compiles against: the include
    # directories each layer's sources really get.
    file(GENERATE OUTPUT ${KILN_LAYERS_STAGE}/${layer}.include
         CONTENT "$<TARGET_PROPERTY:${target},INCLUDE_DIRECTORIES>")
    string(APPEND order "${layer}\n")
    set(below ${target})
  endforeach()
  set_target_properties(${library} PROPERTIES LINKER_LANGUAGE CXX)
  file(WRITE ${KILN_LAYERS_STAGE}/order.txt "${order}")
  # Every compiled source and its layer, for scripts/check_layers.py --sources.
  get_property(sources GLOBAL PROPERTY KILN_LAYER_SOURCES)
  list(JOIN sources "\n" sources)
  file(WRITE ${KILN_LAYERS_STAGE}/sources.txt "${sources}\n")
endfunction()
