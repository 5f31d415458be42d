-- SPDX-License-Identifier: ISC
-- ARGV: P, id, field, value, cns...  Sets one field of the alert (a timer
-- that fired) and returns each cn's stored state (0 = none), so a timer
-- is marked done in the same call that reads who still needs it.  The
-- states are wire values; remind.c compares them by rank (shown, 4, has
-- not read).  An escalation is done once, by whichever daemon gets here
-- first: if it is marked already the answer is nil and nothing changes.
--@arg prefix
--@arg id
--@arg field
--@arg value
local P, id, out = ARG.prefix, ARG.id, {}
if ARG.field == 'escalated' and
   redis.call('HGET', P .. 'alert:' .. id, 'escalated') == ARG.value then
  return false
end
redis.call('HSET', P .. 'alert:' .. id, ARG.field, ARG.value)
for i = ARGS + 1, #ARGV do
  local v = redis.call('HGET', P .. 'ack:' .. id, ARGV[i])
  out[#out + 1] = v and (tonumber(string.match(v, '^(%d+)')) or 0) or 0
end
return out
