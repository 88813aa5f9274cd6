--- maro.dist.reload: the handler file of a worker, watched, and swapped in
-- when it is saved or SIGHUP comes (docs/dist.md, "Hot reload").
--
--   reload.watch(st, text)     -- start watching st.path (text: what was loaded)
--   if reload.due(st) then     -- saved or SIGHUP, and the new handlers are in
--     ... the handlers of what they satisfy at once ...
--   end
--   reload.now(st, why)        -- load, check and swap now; true when in place
--
-- st is the worker's state: path, rt, proxy, and the fields this module
-- keeps (watcher, watch_fds, proxy_watches, next_check, reloads,
-- failed_reloads).
local core = require("maro.core")
local log = require("maro.log")
local handlers_file = require("maro.dist.handlers")

local now = core.now

-- Under traffic the watcher is looked at before a message at most this often:
-- a read() per message would cost more than the reload latency it saves.
local CHECK_INTERVAL = 0.01

local M = {}

local function names(labels)
  if #labels == 0 then
    return "none"
  end
  return table.concat(labels, ", ")
end

--- Loads the handler file again and swaps it in, or logs why not. Returns
-- true when the new handlers are in place.
function M.now(st, why)
  local list, err = handlers_file.load(st.path)
  if not list then
    st.failed_reloads = st.failed_reloads + 1
    log.error("dist: reload of %s (%s) failed; the old handlers stay: %s", st.path, why, err)
    return false
  end
  local ok, summary = pcall(st.rt.replace, st.rt, handlers_file.entries(list))
  if not ok then
    st.failed_reloads = st.failed_reloads + 1
    log.error("dist: reload of %s (%s) failed; the old handlers stay: %s", st.path, why,
      tostring(summary))
    return false
  end
  st.reloads = st.reloads + 1
  local moved = ""
  if summary.rematched > 0 or summary.released > 0 then
    moved = string.format("; %d buffered messages matched again by added events, %d no "
      .. "longer wanted", summary.rematched, summary.released)
  end
  log.info("dist: reloaded %s (%s): added %s; removed %s; kept %s%s", st.path, why,
    names(summary.added), names(summary.removed), names(summary.kept), moved)
  return true
end

--- Reloads when the file was saved or SIGHUP came, looking at most every
-- CHECK_INTERVAL. Returns true when new handlers are in place: messages
-- handed back by removed events may satisfy an added one at once.
function M.due(st)
  if not st.watcher then
    return false
  end
  local t = now()
  if t < st.next_check then
    return false
  end
  st.next_check = t + CHECK_INTERVAL
  local why = st.watcher:changed()
  return why ~= nil and M.now(st, why == "SIGHUP" and "SIGHUP" or "file saved")
end

--- The next due() looks at the watcher, however recent the last look: after
-- a wait that the watcher may have ended (a descriptor left readable would
-- end every wait at once).
function M.look_soon(st)
  st.next_check = 0
end

--- Starts watching st.path (and SIGHUP); text is what the first load read.
function M.watch(st, text)
  local proxy = st.proxy
  st.watcher = core.Watcher(st.path, { sighup = true })
  st.watch_fds = { st.watcher:fd(), st.watcher:hup_fd() }
  -- Can the proxy wake on them? (Tried once; a full proxy falls back to polling.)
  local ok, taken = pcall(function()
    return proxy:watch_fd(table.unpack(st.watch_fds))
  end)
  st.proxy_watches = ok and taken == true
  if st.proxy_watches then
    proxy:unwatch_fd(table.unpack(st.watch_fds))
  end
  -- A save between the first load and the watch would go unnoticed.
  if handlers_file.read(st.path) ~= text then
    M.now(st, "file saved")
  end
end

return M
