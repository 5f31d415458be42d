-- SPDX-License-Identifier: ISC
-- An alert's counters for the report.  ARGV: P, id, C (the caller's
-- tree generation).  Returns {was, rate, targeted}: was is (node, count)
-- pairs, the receivers each node changed since the alert's generation
-- had then (the earliest generation's count where several changed it:
-- see targeted.lua); rate is rate:{id} as HGETALL gives it (sparse: a
-- node has fields once someone at or below it acked); targeted is the
-- receivers at the target when it went live ('' if not kept).
--@arg prefix
--@arg id
--@arg gen
local P, id = ARG.prefix, ARG.id
local h = redis.call('HMGET', P .. 'alert:' .. id, 'gen', 'targeted')
local G, C = tonumber(h[1] or ''), tonumber(ARG.gen)
local was, seen = {}, {}
if G and C and G < C then
  for _, g in ipairs(redis.call('ZRANGEBYSCORE', P .. 'tree-was', G, C - 1)) do
    local kv = redis.call('HGETALL', P .. 'tree-was:' .. g)
    for i = 1, #kv, 2 do
      if not seen[kv[i]] then
        seen[kv[i]] = true
        was[#was + 1] = kv[i]
        was[#was + 1] = kv[i + 1]
      end
    end
  end
end
return {was, redis.call('HGETALL', P .. 'rate:' .. id), h[2] or ''}
