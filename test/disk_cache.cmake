# Runs the demo twice over a fresh kernel disk cache: the first run compiles
# and stores, the second loads everything and compiles nothing.
#   cmake -DDEMO=... -DDIR=... -P disk_cache.cmake
file(REMOVE_RECURSE ${DIR})
foreach(run first second)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env KILN_DEBUG=1 KILN_CACHE_DIR=${DIR} ${DEMO}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err_${run})
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${run} run failed:\n${out}\n${err_${run}}")
  endif()
endforeach()
if(NOT err_first MATCHES "kiln: compiled ")
  message(FATAL_ERROR "the first run compiled nothing:\n${err_first}")
endif()
if(err_second MATCHES "kiln: compiled " OR NOT err_second MATCHES "loaded \\(disk cache\\)")
  message(FATAL_ERROR "the second run did not load from the disk cache:\n${err_second}")
endif()
file(GLOB entries ${DIR}/*.kobj)
list(LENGTH entries n)
message(STATUS "disk cache: ${n} kernels stored, all loaded by the second run")
