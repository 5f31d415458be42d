-- SPDX-License-Identifier: ISC
-- A daemon says who is connected to it (online.lua has the layout).
-- ARGV: P, me (its name), now, ttl (ms it counts as alive from now),
-- then per principal: cn, count (its agents here now), since (ms), n,
-- and the n node ids from its node up to its police root.  The first
-- agent of a principal here adds one to oncount at each of those nodes,
-- the last one's going takes it off, whatever the order or repetition
-- of the calls: the on:{me} entry says whether it is counted.  With no
-- principal it is a heartbeat, which also clears what daemons that
-- stopped beating a minute ago left behind.  Returns 1.
--@arg prefix
--@arg me
--@arg now
--@arg ttl
local P, me, now = ARG.prefix, ARG.me, tonumber(ARG.now)
local on, cnt = P .. 'on:' .. me, P .. 'oncount:' .. me
redis.call('ZADD', P .. 'daemons', now + tonumber(ARG.ttl), me)
local i = ARGS + 1
if i > #ARGV then
  for _, d in ipairs(redis.call('ZRANGEBYSCORE', P .. 'daemons', '-inf',
      now - 60000)) do
    redis.call('DEL', P .. 'on:' .. d, P .. 'oncount:' .. d)
    redis.call('ZREM', P .. 'daemons', d)
  end
  return 1
end
while i <= #ARGV do
  local cn, count, since, n = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2],
    tonumber(ARGV[i + 3])
  local was = redis.call('HEXISTS', on, cn) == 1
  local delta = 0
  if count > 0 then
    redis.call('HSET', on, cn, count .. ':' .. since)
    if not was then delta = 1 end
  elseif was then
    redis.call('HDEL', on, cn)
    delta = -1
  end
  if delta ~= 0 then
    for j = 1, n do
      if redis.call('HINCRBY', cnt, ARGV[i + 3 + j], delta) <= 0 then
        redis.call('HDEL', cnt, ARGV[i + 3 + j])
      end
    end
  end
  i = i + 4 + n
end
return 1
