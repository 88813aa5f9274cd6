# Writes OUT, a C file holding every Lua file of SRC, with the module name each
# one answers to (maro/dist.lua -> "maro.dist", x/init.lua -> "x").
#
# The kernel maps a binary's pages 64 KiB at a time around each page a
# process reads. The modules every script loads (FIRST) stay with the other
# constants, which every process reads anyway; the rest of the library
# (launching, Kubernetes, testing, the parts of maro.dist) is one array in a
# section of its own that starts on a 64 KiB boundary, resident only in the
# processes that load from it. Mixed with the constants, all of it was
# resident in every worker, which reads a tenth of it.
set(FIRST maro.lua maro/proxy.lua maro/log.lua maro/dist.lua)
string(REPLACE "|" ";" FILES "${FILES}")

set(table "")
# Sets BODY to the bytes of LIST's files, as the C array ARRAY holds them, and
# appends their entries (name, chunk name, where in ARRAY, size) to table.
function(embed LIST ARRAY BODY)
  set(body "")
  set(offset 0)
  foreach(f ${LIST})
    file(READ ${SRC}/${f} hex HEX)
    string(LENGTH "${hex}" n)
    math(EXPR size "${n} / 2")
    string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
    string(REGEX REPLACE "\\.lua$" "" mod "${f}")
    string(REGEX REPLACE "/init$" "" mod "${mod}")
    string(REPLACE "/" "." mod "${mod}")
    string(APPEND body "/* ${f} */\n${hex}\n")
    string(APPEND table "  {\"${mod}\", \"@lualib/${f}\", ${ARRAY} + ${offset}, ${size}},\n")
    math(EXPR offset "${offset} + ${size}")
  endforeach()
  set(${BODY} "${body}" PARENT_SCOPE)
  set(table "${table}" PARENT_SCOPE)
endfunction()

set(first "")
set(rest "")
foreach(f ${FILES})
  list(FIND FIRST ${f} at)
  if(at EQUAL -1)
    list(APPEND rest ${f})
  else()
    list(APPEND first ${f})
  endif()
endforeach()
embed("${first}" first_sources first_body)
embed("${rest}" other_sources other_body)
file(WRITE ${OUT}.tmp "/* Generated from lualib/ by cmake/embed_lua.cmake: do not edit. */\n"
  "#include \"embedded.h\"\n"
  "static const char first_sources[] = {\n${first_body}};\n\n"
  "__attribute__((section(\"maro_lualib\"), aligned(65536)))\n"
  "static const char other_sources[] = {\n${other_body}};\n\n"
  "const struct embedded_module embedded_modules[] = {\n${table}  {0, 0, 0, 0}\n};\n")
file(RENAME ${OUT}.tmp ${OUT})
