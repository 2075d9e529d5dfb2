# A damaged kernel disk cache never changes a value, crashes or hangs:
# every entry's object with a flipped bit, every entry truncated, an entry
# replaced by a FIFO or by a symbolic link to /dev/zero, two processes
# writing the same entries at once, a cache directory that is read-only. Each run's output must equal a run
# without the cache, and bad entries must be replaced by good ones.
#   cmake -DPROBE=... -DDIR=... -P disk_cache_faults.cmake
file(REMOVE_RECURSE ${DIR})
file(MAKE_DIRECTORY ${DIR})
set(cache ${DIR}/cache)

function(probe name expect_loads)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env KILN_CACHE_DIR=${cache} ${PROBE}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 120)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${name}: the probe failed (${rc}):\n${err}")
  endif()
  if(NOT out STREQUAL reference)
    message(FATAL_ERROR "${name}: values differ from a run without the cache:\n${out}")
  endif()
  if(expect_loads AND NOT err MATCHES "compiled 0 ")
    message(FATAL_ERROR "${name}: expected every kernel from the cache: ${err}")
  endif()
  message(STATUS "disk cache faults: ${name}: same values (${err})")
endfunction()

execute_process(COMMAND ${CMAKE_COMMAND} -E env KILN_CACHE_DIR=off ${PROBE}
                RESULT_VARIABLE rc OUTPUT_VARIABLE reference)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the probe fails without a cache")
endif()
probe("cold cache" OFF)
probe("warm cache" ON)
file(GLOB entries ${cache}/*.kobj)
list(LENGTH entries n)
if(n LESS 3)
  message(FATAL_ERROR "expected several cache entries, found ${n}")
endif()

# Flip one bit in the middle of each entry (inside the object code).
foreach(e IN LISTS entries)
  file(READ ${e} hex HEX)
  string(LENGTH "${hex}" len)
  math(EXPR at "${len} / 2")
  math(EXPR at "${at} - ${at} % 2")
  string(SUBSTRING "${hex}" ${at} 2 byte)
  math(EXPR flipped "0x${byte} ^ 4" OUTPUT_FORMAT HEXADECIMAL)
  string(SUBSTRING "${flipped}" 2 -1 flipped)
  string(LENGTH "${flipped}" fl)
  if(fl EQUAL 1)
    set(flipped "0${flipped}")
  endif()
  math(EXPR rest "${at} + 2")
  string(SUBSTRING "${hex}" 0 ${at} head)
  string(SUBSTRING "${hex}" ${rest} -1 tail)
  set(hex "${head}${flipped}${tail}")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "\\\\x\\1" esc "${hex}")
  execute_process(COMMAND printf "${esc}" OUTPUT_FILE ${e})
endforeach()
probe("a flipped bit in every entry" OFF)
probe("entries rewritten after the flips" ON)

# Truncate every entry to a few bytes.
foreach(e IN LISTS entries)
  file(WRITE ${e} "kiln-cache-2 12")
endforeach()
probe("truncated entries" OFF)
probe("entries rewritten after truncation" ON)

# An entry that is a FIFO, another a link to /dev/zero: no hang.
list(GET entries 0 e0)
list(GET entries 1 e1)
file(REMOVE ${e0} ${e1})
execute_process(COMMAND mkfifo ${e0})
file(CREATE_LINK /dev/zero ${e1} SYMBOLIC)
probe("a FIFO and a link to /dev/zero" OFF)
if(IS_SYMLINK ${e1})
  message(FATAL_ERROR "the link to /dev/zero was left in the cache")
endif()
probe("entries rewritten after the FIFO and the link" ON)

# Two processes fill an empty cache at once (execute_process runs the
# commands of one call concurrently; the first writes to a file, so its
# output does not go through the pipe to the second).
file(REMOVE_RECURSE ${cache})
execute_process(COMMAND ${CMAKE_COMMAND} -E env KILN_CACHE_DIR=${cache} sh -c "exec \"$0\" > \"$1\"" ${PROBE} ${DIR}/first.out
                COMMAND ${CMAKE_COMMAND} -E env KILN_CACHE_DIR=${cache} ${PROBE}
                RESULTS_VARIABLE rcs OUTPUT_VARIABLE out TIMEOUT 120)
file(READ ${DIR}/first.out first)
if(NOT rcs STREQUAL "0;0" OR NOT out STREQUAL reference OR NOT first STREQUAL reference)
  message(FATAL_ERROR "two concurrent writers: ${rcs}\n${first}\n${out}")
endif()
probe("after two concurrent writers" ON)
file(GLOB leftovers ${cache}/*.tmp*)
if(leftovers)
  message(FATAL_ERROR "temporary files left behind: ${leftovers}")
endif()

# A read-only cache (emptied first): kernels compile, nothing is written,
# values are right. (As root the mode does not stop writes; the values are
# still checked.)
file(REMOVE_RECURSE ${cache})
file(MAKE_DIRECTORY ${cache})
file(CHMOD ${cache} PERMISSIONS OWNER_READ OWNER_EXECUTE GROUP_READ GROUP_EXECUTE)
probe("read-only cache" OFF)
execute_process(COMMAND id -u OUTPUT_VARIABLE uid OUTPUT_STRIP_TRAILING_WHITESPACE)
file(GLOB written ${cache}/*)
file(CHMOD ${cache} DIRECTORY_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE)
if(written AND NOT uid STREQUAL "0")
  message(FATAL_ERROR "a read-only cache was written: ${written}")
endif()
