-- SPDX-License-Identifier: ISC
-- ARGV: P, now.  Every live alert, in sequence order, as flat groups of
-- {id, env, seq, target, issuer, issued, expires, type, accepted, remind,
-- escalate, maxrem, reminded, escalated, references, targeted}; alerts
-- past their expiry leave the live set.  targeted is the receivers
-- counted at the target when the alert went live.
local P, now, out = ARGV[1], tonumber(ARGV[2]), {}
for _, id in ipairs(redis.call('ZRANGE', P .. 'live', 0, -1)) do
  local h = redis.call('HMGET', P .. 'alert:' .. id, 'env', 'seq', 'target',
    'issuer', 'issued', 'expires', 'type', 'accepted', 'remind', 'escalate',
    'maxrem', 'reminded', 'escalated', 'references')
  if h[1] and tonumber(h[6] or '0') > now then
    out[#out + 1] = id
    for k = 1, 13 do out[#out + 1] = h[k] or '0' end
    out[#out + 1] = h[14] or ''
    out[#out + 1] = redis.call('HGET', P .. 'rate:' .. id,
      (h[3] or '') .. ':targeted') or '0'
  else
    redis.call('ZREM', P .. 'live', id)
  end
end
return out
