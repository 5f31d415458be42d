-- SPDX-License-Identifier: ISC
-- What publishing and releasing share: the alert goes live.  A seq, the
-- audit stream, the node and live indexes, the acceptance index, the
-- cancel's effect on what it cancels, and the counters started from the
-- (node, targeted) pairs at ARGV[first] onwards.  Returns {1, seq}.
-- Included by publish.lua and release.lua (--#include go_live.lua).
local function go_live(P, id, target, issuer, typ, ref, at, first, released)
  local seq = redis.call('INCR', P .. 'seq')
  redis.call('HSET', P .. 'alert:' .. id, 'state', 'live', 'seq', seq, 'accepted', at)
  local x = {'id', id, 'seq', seq, 'target', target, 'issuer', issuer, 'type', typ}
  if released then x[#x + 1] = 'released'; x[#x + 1] = at end
  redis.call('XADD', P .. 'alerts', '*', unpack(x))
  redis.call('ZADD', P .. 'node-alerts:' .. target, seq, id)
  redis.call('ZADD', P .. 'live', seq, id)
  redis.call('ZADD', P .. 'accepted', at, id)
  if typ == '3' and ref and ref ~= '' then
    redis.call('ZREM', P .. 'live', ref)
    redis.call('HSET', P .. 'alert:' .. ref, 'cancelled_by', id, 'ended_at', at)
  end
  local rk, args = P .. 'rate:' .. id, {}
  for i = first, #ARGV - 1, 2 do
    args[#args + 1] = ARGV[i] .. ':targeted'
    args[#args + 1] = ARGV[i + 1]
    if #args >= 1000 then redis.call('HSET', rk, unpack(args)); args = {} end
  end
  if #args > 0 then redis.call('HSET', rk, unpack(args)) end
  return {1, seq}
end
