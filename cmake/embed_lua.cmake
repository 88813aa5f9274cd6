# Writes OUT, a C file holding every Lua file of SRC, with the module name each
# one answers to (maro/dist.lua -> "maro.dist", x/init.lua -> "x").
#
# The files are one array in a section of their own that starts on a 64 KiB
# boundary, the modules every script loads first. The kernel maps the file
# pages around each page a process touches, 64 KiB at a time: mixed with the
# other constants, the whole library (launching, Kubernetes, testing) was
# resident in every worker, although a worker reads a tenth of it.
set(FIRST maro.lua maro/proxy.lua maro/log.lua maro/dist.lua)
string(REPLACE "|" ";" FILES "${FILES}")
set(ordered "")
foreach(f ${FIRST})
  list(FIND FILES ${f} at)
  if(NOT at EQUAL -1)
    list(APPEND ordered ${f})
  endif()
endforeach()
foreach(f ${FILES})
  list(FIND ordered ${f} at)
  if(at EQUAL -1)
    list(APPEND ordered ${f})
  endif()
endforeach()

set(body "")
set(table "")
set(offset 0)
foreach(f ${ordered})
  file(READ ${SRC}/${f} hex HEX)
  string(LENGTH "${hex}" n)
  math(EXPR size "${n} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(REGEX REPLACE "\\.lua$" "" mod "${f}")
  string(REGEX REPLACE "/init$" "" mod "${mod}")
  string(REPLACE "/" "." mod "${mod}")
  string(APPEND body "/* ${f} */\n${hex}\n")
  string(APPEND table "  {\"${mod}\", \"@lualib/${f}\", sources + ${offset}, ${size}},\n")
  math(EXPR offset "${offset} + ${size}")
endforeach()
file(WRITE ${OUT}.tmp "/* Generated from lualib/ by cmake/embed_lua.cmake: do not edit. */\n"
  "#include \"embedded.h\"\n"
  "__attribute__((section(\"maro_lualib\"), aligned(65536)))\n"
  "static const char sources[] = {\n${body}};\n\n"
  "const struct embedded_module embedded_modules[] = {\n${table}  {0, 0, 0, 0}\n};\n")
file(RENAME ${OUT}.tmp ${OUT})
