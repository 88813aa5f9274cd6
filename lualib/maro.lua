--- maro: messages, the wire, proxies and conditional events for Lua.
-- The C core (maro.core) does the work; this module gives it the names of
-- the API contract.
local core = require("maro.core")

local maro = {}

maro.VERSION = core.VERSION
maro.now = core.now

maro.SessionType = {
  TASK = "task",
  NOTIFICATION = "notification",
}

maro.TaskSessionStage = {
  REQUEST = "task_request",
  RECEIVE = "task_receive",
  COMPLETE = "task_complete",
}

maro.NotificationSessionStage = {
  REQUEST = "notification_request",
  RECEIVE = "notification_receive",
}

maro.Message = core.Message
maro.SessionMessage = core.SessionMessage
maro.is_message = core.is_message
maro.Proxy = require("maro.proxy").new
maro.RegisterTable = core.RegisterTable
maro.dist = require("maro.dist")

maro.wire = {
  --- header, payload = maro.wire.encode(msg [, group])
  encode = core.wire_encode,
  --- msg = maro.wire.decode(header, payload)
  decode = core.wire_decode,
}

maro.log = require("maro.log")

return maro
