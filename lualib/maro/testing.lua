--- maro.testing: what busted specs need to test scripts without Redis or
-- other processes (docs/testing.md).
--
--   local testing = require("maro.testing")
--   local g = testing.group{ master = 1, worker = 3 }
--   g.master[1], g.worker[1] .. g.worker[3]   -- maro.Proxy, named "master_1", "worker_1", ...
--   g:drive(w)        -- a dist worker answers while a proxy of g waits
--   g:settle()        -- or: step the driven workers until nothing moves
--   g:close()         -- also <close> and garbage collection
--
-- The proxies of a group meet in an in-process hub: the in-process
-- discovery and transport stand in for Redis and ZeroMQ, and every message
-- is encoded and decoded as on the network.
local core = require("maro.core")
local maro = require("maro")
local dist = require("maro.dist")
local log = require("maro.log")

local M = {}

local Group = {}
local GroupMeta = { __index = Group }

-- Fields of a group that a component type cannot shadow.
local RESERVED = { name = true, hub = true, proxies = true }
-- Members of one type in a group made by group(): the members of a process
-- join one after the other, and a thousand take seconds already.
local MAX_COUNT = 1000

local function fail(msg, level)
  error("maro.testing: " .. msg, (level or 1) + 1)
end

-- What a bad argument was, for an error message: a number or a short string
-- as itself, anything else by its type.
local function given(v)
  if v ~= v then
    return "nan"
  end
  if math.type(v) then
    return tostring(v)
  end
  if type(v) == "string" then
    return #v > 40 and string.format("a string of %d bytes", #v) or string.format("%q", v)
  end
  if v == nil then
    return "nothing"
  end
  return type(v)
end

-- An error raised further down, without its position, for error(msg, level).
local function bare(err)
  return (tostring(err):gsub("^[^\n:]+:%d+: ", ""))
end

-- Checks an optional timeout in seconds: nil or a finite number >= 0.
local function check_timeout(call, timeout)
  if timeout ~= nil and (math.type(timeout) == nil or timeout ~= timeout or timeout < 0
    or timeout == math.huge) then
    fail(call .. ": timeout must be a finite number of seconds >= 0 (or nil), got "
      .. given(timeout), 3)
  end
end

local function is_proxy(p)
  local t = type(p)
  if t ~= "table" and t ~= "userdata" then
    return false
  end
  local ok, v = pcall(function() return p.receive end)
  return ok and v ~= nil
end

--- {type = count} or {{type, count}, ...} -> a list of {type, count}, in the
-- list's order or sorted by type.
local function parse_counts(spec)
  if type(spec) ~= "table" then
    fail("group(counts): counts must be a table such as { master = 1, worker = 3 }, got "
      .. given(spec), 3)
  end
  local out, seen = {}, {}
  local function add(t, n, where)
    if type(t) ~= "string" or not t:match("^[%w_%-%.]+$") then
      fail("group(counts): " .. where .. ": a component type must be a non-empty name of "
        .. "letters, digits, _ - ., got " .. given(t), 4)
    end
    if math.type(n) == "float" and n == math.floor(n) and n >= 1 and n <= MAX_COUNT then
      n = math.tointeger(n)
    end
    if math.type(n) ~= "integer" or n < 1 or n > MAX_COUNT then
      fail("group(counts): " .. where .. ": the count of '" .. t .. "' must be an integer from "
        .. "1 to " .. MAX_COUNT .. ", got " .. given(n), 4)
    end
    if RESERVED[t] or Group[t] then
      fail("group(counts): " .. where .. ": '" .. t .. "' cannot be a component type here (it "
        .. "names a field of the group)", 4)
    end
    if seen[t] then
      fail("group(counts): " .. where .. ": the type '" .. t .. "' is given twice", 4)
    end
    seen[t] = true
    out[#out + 1] = { t, n }
  end
  if #spec > 0 then
    for i, pair in ipairs(spec) do
      if type(pair) ~= "table" then
        fail("group(counts): counts[" .. i .. "] must be a {type, count} pair, got "
          .. given(pair), 3)
      end
      add(pair[1], pair[2], "counts[" .. i .. "]")
    end
  else
    for t, n in pairs(spec) do
      add(t, n, "counts." .. tostring(t))
    end
    table.sort(out, function(a, b) return a[1] < b[1] end)
  end
  if #out == 0 then
    fail("group(counts): no component types given", 3)
  end
  return out
end

-- Runs every driver that may run while the proxy at `address` waits (nil:
-- none waits); true when one of them did something.
local function run_drivers(g, address)
  local did = false
  for _, d in ipairs(g._drivers) do
    if not d.busy and not (address and d.address == address) then
      d.busy = true
      g._driving = g._driving + 1
      local ok, r = pcall(d.fn)
      g._driving = g._driving - 1
      d.busy = false
      if not ok then
        -- Drivers run every few milliseconds while a member waits: say it once.
        d.errors = (d.errors or 0) + 1
        if d.errors == 1 then
          log.error("maro.testing: a driver of group '%s' raised an error (later errors of "
            .. "this driver are not logged): %s", g.name, tostring(r))
        end
      elseif r then
        did = true
      end
    end
  end
  return did
end

--- testing.group(counts [, options]) -> a group of connected proxies.
-- options: proxy options given to every member (e.g. max_buffered_messages),
-- and `name`, the group name (default "testing_" and a random suffix).
function M.group(counts, options)
  local types = parse_counts(counts)
  if options ~= nil and type(options) ~= "table" then
    fail("group(counts, options): options must be a table, got " .. given(options), 2)
  end
  options = options or {}
  if options.name ~= nil and (type(options.name) ~= "string" or options.name == "") then
    fail("group(counts, options): options.name must be a non-empty string, got "
      .. given(options.name), 2)
  end
  local name = options.name or ("testing_" .. core.uuid():gsub("-", ""):sub(1, 12))
  local g = setmetatable({
    name = name, hub = core.testing.testing_hub(), proxies = {},
    _types = {}, _options = {}, _drivers = {}, _closed = false, _driving = 0,
  }, GroupMeta)
  for k, v in pairs(options) do
    if k ~= "name" then
      g._options[k] = v
    end
  end
  for _, tc in ipairs(types) do
    g._types[#g._types + 1] = tc[1]
    g[tc[1]] = {}
  end
  -- The hook is held by the registry: it must not keep the group alive.
  local weak = setmetatable({ g = g }, { __mode = "v" })
  g.hub:on_idle(function(address)
    local group = weak.g
    return group ~= nil and run_drivers(group, address)
  end)
  g._joining = true
  local ok, err = pcall(function()
    for _, tc in ipairs(types) do
      for i = 1, tc[2] do
        g:add(tc[1], tc[1] .. "_" .. i)
      end
    end
  end)
  g._joining = nil
  if not ok then
    g:close()
    error(bare(err), 2)
  end
  return g
end

--- g:add(component_type [, component_name [, options]]) -> one more member,
-- joined now (a peer that comes late). The name defaults to the type and the
-- next number; the proxy is also g[component_type][n].
function Group:add(ctype, cname, opts)
  if self._closed then
    fail("add: the group is closed", 2)
  end
  if type(ctype) ~= "string" or not ctype:match("^[%w_%-%.]+$") then
    fail("add(type, name, options): type must be a non-empty name of letters, digits, _ - ., "
      .. "got " .. given(ctype), 2)
  end
  if RESERVED[ctype] or Group[ctype] then
    fail("add(type, name, options): '" .. ctype .. "' cannot be a component type here (it "
      .. "names a field of the group)", 2)
  end
  if cname ~= nil and (type(cname) ~= "string" or cname == "") then
    fail("add(type, name, options): name must be a non-empty string, got " .. given(cname), 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    fail("add(type, name, options): options must be a table, got " .. given(opts), 2)
  end
  local list = rawget(self, ctype)
  if not list then
    list = {}
    self[ctype] = list
    self._types[#self._types + 1] = ctype
  end
  cname = cname or (ctype .. "_" .. (#list + 1))
  -- Every member follows every type of the group (count 0: nobody is waited
  -- for, since proxies of one process join one after the other).
  local expected = {}
  for _, t in ipairs(self._types) do
    expected[t] = 0
  end
  local o = {}
  for k, v in pairs(self._options) do
    o[k] = v
  end
  for k, v in pairs(opts or {}) do
    o[k] = v
  end
  o.hub, o.group_name, o.component_type, o.component_name = self.hub, self.name, ctype, cname
  o.expected_peers = o.expected_peers or expected
  local ok, proxy = pcall(maro.Proxy, o)
  if not ok then
    fail((self._joining and "group(counts, options): " or "add: ") .. bare(proxy), 2)
  end
  list[#list + 1] = proxy
  self.proxies[#self.proxies + 1] = proxy
  return proxy
end

--- g:proxy(name) -> the member of that name, or nil.
function Group:proxy(pname)
  if type(pname) ~= "string" then
    fail("proxy(name): name must be a string, got " .. given(pname), 2)
  end
  for _, p in ipairs(self.proxies) do
    if p.name == pname then
      return p
    end
  end
  return nil
end

--- g:drive(w) or g:drive(fn [, proxy]): while any proxy of the group waits
-- (send, scatter, broadcast or receive_by_id with a timeout, receive...),
-- the dist worker w is stepped with step(0), or fn() runs (it returns true
-- when it did something). A driver does not run while the proxy it serves
-- is the one waiting, nor while it runs already. Returns w or fn (for
-- g:undrive).
function Group:drive(x, proxy)
  if self._closed then
    fail("drive: the group is closed", 2)
  end
  local fn
  if type(x) == "table" and dist.is_worker(x) then
    proxy = dist.proxy_of(x)
    fn = function()
      if dist.serving(x) or proxy.closed then
        return false
      end
      return x:step(0) > 0
    end
  elseif type(x) == "function" then
    if proxy ~= nil and not is_proxy(proxy) then
      fail("drive(fn, proxy): proxy must be a maro.Proxy, got " .. given(proxy), 2)
    end
    fn = x
  else
    fail("drive(x): x must be a dist worker or a function, got " .. given(x), 2)
  end
  local address = proxy and not proxy.closed and proxy.address or nil
  self._drivers[#self._drivers + 1] = { key = x, fn = fn, address = address }
  return x
end

--- g:undrive(x): stops driving what g:drive(x) drove.
function Group:undrive(x)
  for i = #self._drivers, 1, -1 do
    if self._drivers[i].key == x then
      table.remove(self._drivers, i)
    end
  end
end

--- g:settle([timeout]): runs the drivers until a round in which none did
-- anything and no message moved; returns the number of rounds. Raises when
-- that takes longer than timeout seconds (default 5): something keeps
-- sending.
function Group:settle(timeout)
  check_timeout("settle(timeout)", timeout)
  local deadline = maro.now() + (timeout or 5)
  local rounds = 0
  while run_drivers(self, nil) do
    rounds = rounds + 1
    if maro.now() > deadline then
      fail("settle: the drivers of group '" .. self.name .. "' still work after "
        .. (timeout or 5) .. " s", 2)
    end
  end
  return rounds
end

--- g:close(): closes every member (last joined first) and stops driving;
-- idempotent.
function Group:close()
  if self._closed then
    return
  end
  if self._driving > 0 then
    -- A driver runs inside the wait of a member: closing it there would pull
    -- the proxy away under its own wait.
    fail("close: called from a driver; close the group after the call that waits", 2)
  end
  self._closed = true
  self._drivers = {}
  self.hub:on_idle(nil)
  for i = #self.proxies, 1, -1 do
    self.proxies[i]:close()
  end
end

function Group:closed()
  return self._closed
end

GroupMeta.__close = Group.close
GroupMeta.__gc = Group.close
GroupMeta.__tostring = function(g)
  return "testing group " .. g.name .. (g._closed and " (closed)" or "")
end

-- ---- messages ----------------------------------------------------------

-- A message made by ctor, or an error pointing at the caller of `call`
-- (which must not tail-call build, or the level is off by one).
local function build(call, ctor, fields)
  local ok, msg = pcall(ctor, fields)
  if not ok then
    error("maro.testing: " .. call .. "(source, destination, tag, payload): " .. bare(msg), 3)
  end
  return msg
end

--- testing.message(source, destination, tag [, payload]): a plain message.
function M.message(source, destination, tag, payload)
  local msg = build("message", maro.Message, { source = source, destination = destination,
    tag = tag, payload = payload })
  return msg
end

--- testing.task(source, destination, tag [, payload]): a task session's request.
function M.task(source, destination, tag, payload)
  local msg = build("task", maro.SessionMessage, { source = source, destination = destination,
    tag = tag, payload = payload, session_type = maro.SessionType.TASK })
  return msg
end

--- testing.notification(source, destination, tag [, payload]): a notification's request.
function M.notification(source, destination, tag, payload)
  local msg = build("notification", maro.SessionMessage, { source = source,
    destination = destination, tag = tag, payload = payload,
    session_type = maro.SessionType.NOTIFICATION })
  return msg
end

--- testing.collect(proxy [, timeout]): every message the proxy can receive
-- now (or within timeout seconds of the last one), as a list.
function M.collect(proxy, timeout)
  if not is_proxy(proxy) then
    fail("collect(proxy, timeout): proxy must be a maro.Proxy, got " .. given(proxy), 2)
  end
  check_timeout("collect(proxy, timeout)", timeout)
  local out = {}
  for msg in proxy:receive(timeout or 0) do
    out[#out + 1] = msg
  end
  return out
end

--- testing.field(messages, name): the list of one field of each message,
-- e.g. field(replies, "payload") or field(replies, "source").
function M.field(messages, name)
  if type(messages) ~= "table" then
    fail("field(messages, name): messages must be a list of messages, got " .. given(messages),
      2)
  end
  if type(name) ~= "string" then
    fail("field(messages, name): name must be a field name (a string), got " .. given(name), 2)
  end
  local out = {}
  for i, m in ipairs(messages) do
    out[i] = m[name]
  end
  return out
end

--- testing.sorted(list): a sorted copy (replies of several peers arrive in
-- any order).
function M.sorted(list, cmp)
  if type(list) ~= "table" then
    fail("sorted(list, cmp): list must be a table, got " .. given(list), 2)
  end
  if cmp ~= nil and type(cmp) ~= "function" then
    fail("sorted(list, cmp): cmp must be a function (or nil), got " .. given(cmp), 2)
  end
  local out = table.move(list, 1, #list, 1, {})
  table.sort(out, cmp)
  return out
end

-- ---- register tables -----------------------------------------------------

--- testing.feed(rt, messages): pushes the messages one by one into a
-- RegisterTable and takes what fires after each; returns the list of
-- { handler = h, messages = {...} } in firing order.
function M.feed(rt, messages)
  if type(rt) ~= "userdata" and type(rt) ~= "table" then
    fail("feed(rt, messages): rt must be a maro.RegisterTable, got " .. given(rt), 2)
  end
  if type(messages) ~= "table" then
    fail("feed(rt, messages): messages must be a list of messages, got " .. given(messages), 2)
  end
  local fired = {}
  for _, m in ipairs(messages) do
    rt:push(m)
    for _, f in ipairs(rt:get()) do
      fired[#fired + 1] = { handler = f[1], messages = f[2] }
    end
  end
  return fired
end

return M
