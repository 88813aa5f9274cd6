--- maro.dist.handlers: a handler table { [event] = handler }, from a Lua
-- value or from a file, checked completely before anyone uses it.
--
--   local list, err = handlers.load(path)   -- list of {event=, fn=, label=}, or nil and
--   local list, err = handlers.check(t)     -- "file:line: what is wrong"
--   rt:replace(handlers.entries(list))      -- the list as a register table's entries
--
-- The list is ordered by label (the event as the register table renders it),
-- so that a worker's events are in the same order at every load, whatever
-- order pairs() gives.
local core = require("maro.core")

local M = {}

local function callable(v)
  if type(v) == "function" then
    return true
  end
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__call ~= nil
end

-- The first string inside an event: what to look for in the file.
local function first_string(ev)
  if type(ev) == "string" then
    return ev
  end
  if type(ev) == "table" then
    for _, x in ipairs(ev) do
      local s = first_string(x)
      if s then
        return s
      end
    end
  end
end

local function lines_of(text)
  local lines = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    lines[#lines + 1] = line
  end
  return lines
end

-- "path:LINE" for the first line that quotes the event, else "path".
local function where_event(path, lines, ev)
  if not path then
    return "handlers"
  end
  local s = first_string(ev)
  if s and lines then
    -- As a quoted string first: "x" is not the x inside "master:x:1".
    for _, needle in ipairs({ '"' .. s .. '"', "'" .. s .. "'", "[[" .. s .. "]]", s }) do
      for i, line in ipairs(lines) do
        if line:find(needle, 1, true) then
          return path .. ":" .. i
        end
      end
    end
  end
  return path
end

-- "path:LINE" of the last return statement, else "path".
local function where_return(path, lines)
  for i = #(lines or {}), 1, -1 do
    if lines[i]:match("^%s*return[%s{(]") or lines[i]:match("^%s*return$") then
      return path .. ":" .. i
    end
  end
  return path
end

--- Checks a handler table; path and text only make the messages point at lines.
function M.check(t, path, text)
  local lines = text and lines_of(text)
  if type(t) ~= "table" then
    return nil, string.format("%s: the handler file must return a table {[event] = handler}, "
      .. "got %s", where_return(path or "handlers", lines), type(t))
  end
  if next(t) == nil then
    return nil, string.format("%s: the handler table is empty; give at least one "
      .. "[event] = handler", where_return(path or "handlers", lines))
  end
  local scratch <close> = core.RegisterTable(nil)
  local list = {}
  for ev, fn in pairs(t) do
    if type(ev) ~= "string" and type(ev) ~= "table" then
      return nil, string.format("%s: a key of the handler table must be an event (a string or "
        .. "a combination table), got %s %s", where_return(path or "handlers", lines), type(ev),
        tostring(ev))
    end
    local ok, err = pcall(scratch.register_event_handler, scratch, ev, callable(fn) and fn
      or print)
    if not ok then
      return nil, where_event(path, lines, ev) .. ": " .. tostring(err)
    end
    local label = scratch:events()[#list + 1]
    if not callable(fn) then
      return nil, string.format("%s: the handler of %s must be a function, got %s",
        where_event(path, lines, ev), label, type(fn))
    end
    list[#list + 1] = { event = ev, fn = fn, label = label }
  end
  table.sort(list, function(a, b) return a.label < b.label end)
  return list
end

--- Loads a handler file in a fresh environment (globals are read from _G;
-- what the file assigns stays its own) and checks what it returns. Returns
-- list, nil, text or nil, err.
function M.load(path)
  local f, err = io.open(path, "rb")
  if not f then
    return nil, "cannot read the handler file: " .. tostring(err)
  end
  local text = f:read("a")
  f:close()
  local env = setmetatable({}, { __index = _G })
  local chunk, lerr = load(text, "@" .. path, "t", env)
  if not chunk then
    return nil, lerr
  end
  local ok, result = pcall(chunk, path)
  if not ok then
    return nil, tostring(result)
  end
  local list, cerr = M.check(result, path, text)
  return list, cerr, text
end

-- A registered handler: the register table hands it back with its messages,
-- and it knows its event for the log.
local Entry = {}
Entry.__index = Entry
Entry.__call = function(e, ...)
  return e.fn(...)
end

--- The register table's entry list ({event, handler} pairs, for rt:replace)
-- for a checked list; each handler is an entry with fields fn and label.
function M.entries(list)
  local out = {}
  for i, h in ipairs(list) do
    out[i] = { h.event, setmetatable({ fn = h.fn, label = h.label }, Entry) }
  end
  return out
end

--- The file's text now, or nil.
function M.read(path)
  local f = io.open(path, "rb")
  if not f then
    return nil
  end
  local text = f:read("a")
  f:close()
  return text
end

return M
