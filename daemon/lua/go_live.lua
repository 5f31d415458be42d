-- SPDX-License-Identifier: ISC
-- What publishing and releasing share: the alert goes live.  A seq, the
-- audit stream, the node and live indexes, the acceptance index and the
-- cancel's effect on what it cancels.  No counter is written: rate:{id}
-- gets a node's fields when someone at or below it acks (ack.lua), and
-- how many each node targeted is the tree as of generation gen (stored
-- with the alert; see targeted.lua), so going live costs the same for a
-- class and for a province.  targeted is the receivers at the target
-- then, kept for PUBLISHED and the cache.  Returns {1, seq}.
-- Included by publish.lua and release.lua (--#include go_live.lua).
local function go_live(P, id, target, issuer, typ, ref, at, gen, targeted,
    released)
  local seq = redis.call('INCR', P .. 'seq')
  redis.call('HSET', P .. 'alert:' .. id, 'state', 'live', 'seq', seq,
    'accepted', at, 'gen', gen, 'targeted', targeted)
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
  return {1, seq}
end
