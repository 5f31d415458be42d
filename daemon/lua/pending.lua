-- SPDX-License-Identifier: ISC
-- ARGV: P, cn, ids...  Returns the cn's stored state for each id (0 = none).
--@arg prefix
--@arg cn
local P, cn, out = ARG.prefix, ARG.cn, {}
for i = ARGS + 1, #ARGV do
  local v = redis.call('HGET', P .. 'ack:' .. ARGV[i], cn)
  out[#out + 1] = v and (tonumber(string.match(v, '^(%d+)')) or 0) or 0
end
return out
