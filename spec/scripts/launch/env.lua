-- Prints, on one line, what the launcher gave this instance: its name, the
-- address to advertise, the group key file and its mode, the incarnation,
-- and whether MARO_REDIS matches EXPECT_REDIS and stays off the command line.
local function stat(path)
  local p = io.popen("stat -c %a '" .. path:gsub("'", "'\\''") .. "' 2>/dev/null")
  local mode = p:read("l")
  p:close()
  return tostring(mode)
end
local key = os.getenv("MARO_GROUP_KEY_FILE")
local redis = os.getenv("MARO_REDIS") or ""
local cmdline = assert(io.open("/proc/self/cmdline", "rb")):read("a")
print(string.format("%s advertised=%s key=%s key_mode=%s key_dir_mode=%s incarnation=%s "
  .. "take_over_from=%s redis_as_expected=%s redis_in_cmdline=%s",
  os.getenv("MARO_COMPONENT_NAME"), tostring(os.getenv("MARO_ADVERTISED_ADDRESS")), tostring(key),
  key and stat(key) or "nil", key and stat(key:match("^(.*)/") or ".") or "nil",
  tostring(os.getenv("MARO_INCARNATION")), tostring(os.getenv("MARO_TAKE_OVER_FROM")),
  tostring(redis == os.getenv("EXPECT_REDIS")),
  tostring(redis ~= "" and cmdline:find(redis, 1, true) ~= nil)))
