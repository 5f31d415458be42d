-- SPDX-License-Identifier: ISC
-- The escalations an observer has not been sent yet.  ARGV: P, node, cn,
-- now, max.  Up to max frames stored for node, by expiry, each marked as
-- told to cn in the same call, so it goes to cn once.
--@arg prefix
--@arg node
--@arg cn
--@arg now
--@arg max
local P, node, cn, now = ARG.prefix, ARG.node, ARG.cn, ARG.now
local max, out = tonumber(ARG.max), {}
local nk = P .. 'node-escalations:' .. node
redis.call('ZREMRANGEBYSCORE', nk, '-inf', now)
for _, id in ipairs(redis.call('ZRANGE', nk, 0, -1)) do
  if #out >= max then break end
  local k = P .. 'escalation:' .. id
  local f = redis.call('HGET', k, node)
  if f and redis.call('HSETNX', k, 'told:' .. cn, now) == 1 then
    out[#out + 1] = f
  end
end
return out
