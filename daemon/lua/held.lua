-- SPDX-License-Identifier: ISC
-- ARGV: P.  Every held alert, by time, as flat groups of the record
-- (record.lua: id and 13 fields, publish_at among them).
--#include record.lua
--@arg prefix
local P, out = ARG.prefix, {}
for _, id in ipairs(redis.call('ZRANGE', P .. 'schedule', 0, -1)) do
  local h = rec_read(P, id)
  if h then
    rec_put(out, id, h)
  else
    redis.call('ZREM', P .. 'schedule', id)
  end
end
return out
