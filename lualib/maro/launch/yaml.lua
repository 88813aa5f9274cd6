--- maro.launch.yaml: just enough YAML to write Kubernetes manifests.
-- Mappings keep their order (yaml.map{{key, value}, ...}); a plain Lua
-- sequence is a list; strings are written plain only when every YAML 1.1 and
-- 1.2 reader takes them as strings, else double-quoted; text of several
-- lines as a literal block when that keeps it exact.
local yaml = {}

local MAP = {}

--- An ordered mapping from a list of {key, value} pairs; pairs whose value
-- is nil are left out.
function yaml.map(pairs_)
  local m = setmetatable({}, MAP)
  for _, kv in ipairs(pairs_) do
    if kv[2] ~= nil then m[#m + 1] = kv end
  end
  return m
end

function yaml.is_map(v)
  return getmetatable(v) == MAP
end

-- Words that some YAML reader takes for a boolean or null (YAML 1.1 knows
-- y, n, yes, no, on, off in any case).
local SPECIAL = {}
for _, w in ipairs({ "y", "n", "yes", "no", "true", "false", "on", "off", "null", "~" }) do
  SPECIAL[w] = true
end

local function plain_ok(s)
  if s == "" or SPECIAL[s:lower()] then return false end
  -- Letters, digits and a few punctuation marks that never start or mean
  -- anything in a plain scalar here.
  if not s:match("^[%a_/][%w_./%-]*$") then return false end
  -- Numbers in any notation stay strings only when quoted (1e3, 0x1f,
  -- .5, 1_000, 12:30 in YAML 1.1).
  if tonumber(s) or s:match("^[%d._:+%-]+$") then return false end
  return true
end

local ESCAPES = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\t"] = "\\t", ["\r"] = "\\r" }

local function quoted(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return ESCAPES[c] or string.format("\\x%02x", c:byte())
  end) .. '"'
end

-- A literal block keeps text exactly when it ends with one newline, has no
-- control characters but tabs and newlines, and its first line does not
-- start with a space (which would set the block's indentation).
local function literal_ok(s)
  return s:find("\n", 1, true) ~= nil and s:sub(-1) == "\n" and s:sub(-2) ~= "\n\n"
    and not s:find("[\0-\8\11-\31\127]") and not s:match("^[ \t]")
end

local function scalar(v)
  local t = type(v)
  if t == "boolean" then return tostring(v) end
  if t == "number" then
    if math.type(v) == "integer" then return tostring(v) end
    if v ~= v or v == math.huge or v == -math.huge then error("yaml: cannot write " .. v, 3) end
    return string.format("%.17g", v)
  end
  if t == "string" then
    if not utf8.len(v) then error("yaml: a string is not UTF-8 text", 3) end
    return plain_ok(v) and v or quoted(v)
  end
  error("yaml: cannot write a " .. t, 3)
end

local emit

local function block(out, s, indent)
  out[#out + 1] = "|\n"
  local pad = string.rep(" ", indent)
  for line in s:gmatch("([^\n]*)\n") do
    out[#out + 1] = (line == "" and "" or pad .. line) .. "\n"
  end
end

-- Writes value v after a "key:" or "-" already written, at nesting indent.
local function value(out, v, indent)
  if type(v) == "table" then
    if #v == 0 then
      out[#out + 1] = yaml.is_map(v) and " {}\n" or " []\n"
      return
    end
    out[#out + 1] = "\n"
    emit(out, v, indent)
  elseif type(v) == "string" and literal_ok(v) then
    out[#out + 1] = " "
    block(out, v, indent)
  else
    out[#out + 1] = " " .. scalar(v) .. "\n"
  end
end

function emit(out, v, indent)
  local pad = string.rep(" ", indent)
  if yaml.is_map(v) then
    for _, kv in ipairs(v) do
      out[#out + 1] = pad .. scalar(kv[1]) .. ":"
      value(out, kv[2], indent + 2)
    end
  else
    for _, item in ipairs(v) do
      if type(item) == "table" and #item > 0 then
        -- "- " then the item's first line on the same line.
        local sub = {}
        emit(sub, item, indent + 2)
        sub[1] = sub[1]:sub(indent + 3)
        out[#out + 1] = pad .. "- "
        table.move(sub, 1, #sub, #out + 1, out)
      else
        out[#out + 1] = pad .. "-"
        value(out, item, indent + 2)
      end
    end
  end
end

--- The text of a stream of documents, each a mapping; comments (a list of
-- lines) go before the first.
function yaml.documents(docs, comments)
  local out = {}
  for _, c in ipairs(comments or {}) do out[#out + 1] = "# " .. c .. "\n" end
  for _, d in ipairs(docs) do
    out[#out + 1] = "---\n"
    emit(out, d, 0)
  end
  return table.concat(out)
end

return yaml
