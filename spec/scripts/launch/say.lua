-- Prints its name, its environment and its arguments; ends with a line
-- without a newline and one line on stderr.
local words = table.concat({ ... }, " ")
print(string.format("%s type=%s group=%s index=%s redis=%s color=%s: %s",
  os.getenv("MARO_COMPONENT_NAME"), os.getenv("MARO_COMPONENT_TYPE"), os.getenv("MARO_GROUP"),
  os.getenv("MARO_COMPONENT_INDEX"), os.getenv("MARO_REDIS"), tostring(os.getenv("JOB_COLOR")),
  words))
io.stderr:write("err from ", os.getenv("MARO_COMPONENT_NAME"), "\n")
io.write("no newline from ", os.getenv("MARO_COMPONENT_NAME"))
