# Writes OUT: a header defining KILN_CODEGEN_ID, the SHA-256 of the files
# that decide what machine code a kernel compiles to (the code generator,
# the Kernel IR, the op table). The disk cache keys entries by it, so a
# rebuild that changes none of them keeps the cache warm, and one that
# changes any of them never loads stale code.
#   cmake -DOUT=... -DFILES="a;b;..." -P codegen_id.cmake
set(all "")
foreach(f IN LISTS FILES)
  file(SHA256 ${f} h)
  string(APPEND all "${h}")
endforeach()
string(SHA256 id "${all}")
string(SUBSTRING ${id} 0 16 id)
set(text "#pragma once\n#define KILN_CODEGEN_ID \"${id}\"\n")
if(EXISTS ${OUT})
  file(READ ${OUT} old)
endif()
if(NOT old STREQUAL text)
  file(WRITE ${OUT} "${text}")
endif()
