# Writes OUT, a C file holding every Lua file of SRC as a byte array, with the
# module name each one answers to (maro/dist.lua -> "maro.dist", x/init.lua -> "x").
string(REPLACE "|" ";" FILES "${FILES}")
set(body "")
set(table "")
foreach(f ${FILES})
  file(READ ${SRC}/${f} hex HEX)
  string(LENGTH "${hex}" n)
  math(EXPR size "${n} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," hex "${hex}")
  string(REGEX REPLACE "\\.lua$" "" mod "${f}")
  string(REGEX REPLACE "/init$" "" mod "${mod}")
  string(REPLACE "/" "." mod "${mod}")
  string(MAKE_C_IDENTIFIER "lua_${mod}" id)
  string(APPEND body "static const unsigned char ${id}[] = {${hex}};\n")
  string(APPEND table "  {\"${mod}\", \"@lualib/${f}\", (const char *)${id}, ${size}},\n")
endforeach()
file(WRITE ${OUT}.tmp "/* Generated from lualib/ by cmake/embed_lua.cmake: do not edit. */\n"
  "#include \"embedded.h\"\n${body}\n"
  "const struct embedded_module embedded_modules[] = {\n${table}  {0, 0, 0, 0}\n};\n")
file(RENAME ${OUT}.tmp ${OUT})
