-- SPDX-License-Identifier: ISC
-- A page of the audit log: ARGV P, which ('log' entries, 'cp'
-- checkpoints), from (0-based index), count, budget (bytes; 0: none).
-- Returns { total, items }: the length of the list now and at most count
-- of its elements from from, stopping after the one that takes the
-- bytes read past budget, so that an AUDIT page reads about what fits in
-- its frame.  Work is in proportion to what is returned.
--@arg prefix
--@arg which
--@arg from
--@arg count
--@arg budget
local key = ARG.prefix .. (ARG.which == 'cp' and 'audit:cp' or 'audit:log')
local from, count = tonumber(ARG.from), tonumber(ARG.count)
local budget = tonumber(ARG.budget)
local out = {redis.call('LLEN', key)}
local got, step = 0, 16
if budget == 0 then step = count end
while count > 0 and from < out[1] do
  local vs = redis.call('LRANGE', key, from, from + math.min(step, count) - 1)
  if #vs == 0 then break end
  for _, v in ipairs(vs) do
    out[#out + 1] = v
    got = got + #v
    count = count - 1
    from = from + 1
    if budget > 0 and got > budget then return out end
  end
end
return out
