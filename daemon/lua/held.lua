-- SPDX-License-Identifier: ISC
-- ARGV: P.  Every held alert, by time, as flat groups of {id, publish_at,
-- env, target, issuer, type, issued, expires, remind, escalate, maxrem,
-- status, references}.
local P, out = ARGV[1], {}
local ids = redis.call('ZRANGE', P .. 'schedule', 0, -1, 'WITHSCORES')
for i = 1, #ids, 2 do
  local h = redis.call('HMGET', P .. 'alert:' .. ids[i], 'env', 'target',
    'issuer', 'type', 'issued', 'expires', 'remind', 'escalate', 'maxrem',
    'status', 'references')
  if h[1] then
    out[#out + 1] = ids[i]
    out[#out + 1] = ids[i + 1]
    for k = 1, 11 do out[#out + 1] = h[k] or '' end
  else
    redis.call('ZREM', P .. 'schedule', ids[i])
  end
end
return out
