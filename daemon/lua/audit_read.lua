-- SPDX-License-Identifier: ISC
-- A page of the audit log: ARGV P, which ('log' entries, 'cp'
-- checkpoints), from (0-based index), count.  Returns { total, items }:
-- the length of the list now and at most count of its elements from
-- from.  Work is in proportion to count.
--@arg prefix
--@arg which
--@arg from
--@arg count
local key = ARG.prefix .. (ARG.which == 'cp' and 'audit:cp' or 'audit:log')
local from, count = tonumber(ARG.from), tonumber(ARG.count)
local out = {redis.call('LLEN', key)}
if count > 0 and from < out[1] then
  for _, v in ipairs(redis.call('LRANGE', key, from, from + count - 1)) do
    out[#out + 1] = v
  end
end
return out
