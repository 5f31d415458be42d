-- SPDX-License-Identifier: ISC
-- Clues for one asker, in seq order from after on.  which: 'pending'
-- (at node key, not received by cn), 'all' (at node key), 'mine'
-- (reported by cn, key = cn) or 'one' (key = the clue id; the caller
-- checks who may see it).  At most limit clues, looking at no more than
-- scan ids, so the work is bounded whatever the lists hold; ids whose
-- clue has expired are dropped from the list on the way.  certs = '1'
-- adds the reporter's certificate to each.
-- Returns {next, items...}: next is the seq to ask after for more (0 at
-- the end); each item {seq, clue, state, school, police, rx, by, note,
-- changed, cert}.
--@arg prefix
--@arg which
--@arg key
--@arg cn
--@arg after
--@arg limit
--@arg scan
--@arg certs
local P, which, cn = ARG.prefix, ARG.which, ARG.cn
local limit, scan = tonumber(ARG.limit), tonumber(ARG.scan)
local out = {0}
local function item(id)
  local k = P .. 'clue:' .. id
  local h = redis.call('HMGET', k, 'seq', 'clue', 'state', 'school',
    'police', 'received_by', 'handled_by', 'note', 'changed', 'fp')
  if not h[1] then return nil end
  local rx = redis.call('HEXISTS', k, 'rx:' .. cn)
  local cert = ''
  if ARG.certs == '1' then
    cert = redis.call('HGET', P .. 'certs', h[10]) or ''
  end
  return {h[1], h[2], h[3], h[4], h[5], rx, h[7] or h[6] or '', h[8] or '',
    h[9] or '0', cert}
end
if which == 'one' then
  local it = item(ARG.key)
  if it then out[2] = it end
  return out
end
local l
if which == 'mine' then l = P .. 'cluemine:' .. ARG.key
else l = P .. 'clues:' .. ARG.key end
local ids = redis.call('ZRANGEBYSCORE', l, '(' .. ARG.after, '+inf',
  'WITHSCORES', 'LIMIT', 0, scan)
local last = nil
for i = 1, #ids, 2 do
  if #out - 1 >= limit then break end
  last = ids[i + 1]
  local it = item(ids[i])
  if not it then
    redis.call('ZREM', l, ids[i])
  elseif which ~= 'pending' or it[6] == 0 then
    out[#out + 1] = it
  end
end
if last and (#out - 1 >= limit or #ids == 2 * scan) then out[1] = last end
return out
