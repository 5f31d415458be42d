-- SPDX-License-Identifier: ISC
-- ARGV: P, now.  Every live alert, in sequence order, as flat groups of
-- the record (record.lua: id and 13 fields) then {seq, reminded,
-- escalated, targeted}; alerts past their expiry leave the live set.
-- targeted is the receivers counted at the target when it went live
-- (an alert stored before that was kept has it in rate:{id}).
--#include record.lua
--@arg prefix
--@arg now
local P, now, out = ARG.prefix, tonumber(ARG.now), {}
for _, id in ipairs(redis.call('ZRANGE', P .. 'live', 0, -1)) do
  local h = rec_read(P, id)
  if h and tonumber(h[8] or '0') > now then
    rec_put(out, id, h)
    rec_put_live(out, P, id, h)
  else
    redis.call('ZREM', P .. 'live', id)
  end
end
return out
