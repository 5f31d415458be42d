-- SPDX-License-Identifier: ISC
-- Release a held alert whose time has come.  ARGV: P, id, now, and gen
-- and targeted from the tree as it is now (go_live.lua).  Only the caller
-- that takes the id out of `schedule` releases it, so a cancel that got
-- there first wins and the alert never goes out.  Timers count from the
-- release.  Returns {1, seq}, {0, 'gone'} (cancelled, or released
-- elsewhere) or {0, 'lost'} (no record: Redis lost its data).
--#include go_live.lua
--@arg prefix
--@arg id
--@arg now
--@arg gen
--@arg targeted
local P, id, now = ARG.prefix, ARG.id, ARG.now
local akey = P .. 'alert:' .. id
if redis.call('EXISTS', akey) == 0 then
  redis.call('ZREM', P .. 'schedule', id)
  return {0, 'lost'}
end
if redis.call('ZREM', P .. 'schedule', id) == 0 then return {0, 'gone'} end
local h = redis.call('HMGET', akey, 'target', 'issuer', 'type', 'references')
return go_live(P, id, h[1], h[2], h[3], h[4], now, ARG.gen, ARG.targeted,
  true)
