-- SPDX-License-Identifier: ISC
-- Presence across the daemons sharing this Redis (see lua/presence.lua,
-- which writes it).  daemons: name -> until when (ms) it counts as
-- alive; on:{name}: cn -> "count:since" of the principal's agents
-- connected there; oncount:{name}: node -> principals at or below it
-- with an agent connected there.  A daemon that stops beating drops out
-- of all of it at once.  Included with --#include online.lua.
local function live_daemons(P, now)
  return redis.call('ZRANGEBYSCORE', P .. 'daemons', '(' .. now, '+inf')
end
-- The daemon cn's agents are on (the first found), how many, since when.
local function presence_of(P, ds, cn)
  local server, count, since = '', 0, 0
  for _, d in ipairs(ds) do
    local v = redis.call('HGET', P .. 'on:' .. d, cn)
    if v then
      local c, s = string.match(v, '^(%d+):(%d+)$')
      c, s = tonumber(c) or 0, tonumber(s) or 0
      if c > 0 then
        if server == '' then server = d end
        if since == 0 or s < since then since = s end
        count = count + c
      end
    end
  end
  return server, count, since
end
-- Principals online at or below node, over every live daemon.
local function online_below(P, ds, node)
  local n = 0
  for _, d in ipairs(ds) do
    n = n + (tonumber(redis.call('HGET', P .. 'oncount:' .. d, node) or '0') or 0)
  end
  return n
end
