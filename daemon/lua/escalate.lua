-- SPDX-License-Identifier: ISC
-- Store an escalation.  ARGV: P, id, expires (ms), now, by (the daemon's
-- name), then per
-- observers' node: node, the ESCALATION frame, n, and the n observers
-- told already (connected when it was sent).  escalation:{id} holds
-- node -> frame and told:{cn} -> when; node-escalations:{node} lists the
-- ids escalated there, scored by their expiry.  Both expire with the
-- alerts: an escalation lives no longer than what it is about.  The
-- `changed` stream tells the other daemons, whose observers there get it.
--@arg prefix
--@arg id
--@arg expires
--@arg now
--@arg by
local P, id, exp, now = ARG.prefix, ARG.id, ARG.expires, ARG.now
local k, i = P .. 'escalation:' .. id, ARGS + 1
while i + 2 <= #ARGV do
  local node, n = ARGV[i], tonumber(ARGV[i + 2])
  redis.call('HSET', k, node, ARGV[i + 1])
  for j = 1, n do redis.call('HSET', k, 'told:' .. ARGV[i + 2 + j], now) end
  local nk = P .. 'node-escalations:' .. node
  redis.call('ZREMRANGEBYSCORE', nk, '-inf', now)
  redis.call('ZADD', nk, exp, id)
  local last = redis.call('ZRANGE', nk, -1, -1, 'WITHSCORES')
  redis.call('PEXPIREAT', nk, string.format('%.0f', tonumber(last[2])))
  redis.call('XADD', P .. 'changed', 'MAXLEN', '~', 10000, '*', 'what',
    'escalated', 'id', id, 'node', node, 'by', ARG.by)
  i = i + 3 + n
end
redis.call('PEXPIREAT', k, exp)
return 1
