--- The dist example's handlers: { [event] = function(that, proxy, messages) }.
-- `that` is the worker's Env instance, `proxy` its proxy, `messages` the
-- messages that satisfied the event. Edit and save while the worker runs:
-- it reloads this file between two messages.
return {
  -- One rollout request from the master: play theta + epsilon and
  -- theta - epsilon, and send both rewards back as an "update".
  ["master:rollout:1"] = function(that, proxy, messages)
    local request = messages[1]
    local p = request.payload
    proxy:reply(request, {
      tag = "update",
      payload = {
        episode = p.episode,
        epsilon = p.epsilon,
        plus = that:rollout(p.theta + p.epsilon),
        minus = that:rollout(p.theta - p.epsilon),
      },
    })
  end,

  -- The master is done: leave the group, which ends w:launch().
  ["master:exit:1"] = function(that, proxy)
    print(("%s: exit after %d rollouts"):format(proxy.name, that.rollouts))
    proxy:close()
  end,
}
