# Installs the kiln build tree into a scratch prefix, then builds and runs a
# consumer project against it with find_package(kiln); then checks that a
# project can add_subdirectory() the source tree (configure only: building
# it would repeat the whole build).
#   cmake -DKILN_BUILD=... -DKILN_SOURCE=... -DWORK=... -P run.cmake
function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed: ${ARGV}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK})
set(consumer ${KILN_SOURCE}/test/install/consumer)
run(${CMAKE_COMMAND} --install ${KILN_BUILD} --prefix ${WORK}/prefix)
run(${CMAKE_COMMAND} -S ${consumer} -B ${WORK}/pkg -G Ninja -DCMAKE_PREFIX_PATH=${WORK}/prefix)
run(${CMAKE_COMMAND} --build ${WORK}/pkg)
run(${WORK}/pkg/consumer)
if(NOT last_output MATCHES "tensor\\(\\[ 2\\.,  5\\., 10\\.\\]\\)")
  message(FATAL_ERROR "unexpected consumer output: ${last_output}")
endif()
run(${CMAKE_COMMAND} -S ${consumer} -B ${WORK}/subdir -G Ninja -DKILN_SOURCE_DIR=${KILN_SOURCE})
message(STATUS "find_package(kiln) and add_subdirectory(kiln) both work")
