-- SPDX-License-Identifier: ISC
-- An alert's record as the scripts that load alerts return it: the id,
-- then REC_FIELDS of alert:{id}, in the order alert_rec_from_reply
-- (alerts.c) reads them.  Included with --#include record.lua.
local REC_FIELDS = {'env', 'target', 'issuer', 'references', 'type',
  'status', 'issued', 'expires', 'accepted', 'publish_at', 'remind',
  'escalate', 'maxrem'}
-- The record's fields (a table), or nil if alert:{id} has no envelope.
local function rec_read(P, id)
  local h = redis.call('HMGET', P .. 'alert:' .. id, unpack(REC_FIELDS))
  if not h[1] then return nil end
  return h
end
-- Append the id and the fields read by rec_read to out.
local function rec_put(out, id, h)
  out[#out + 1] = id
  for k = 1, #REC_FIELDS do out[#out + 1] = h[k] or '' end
end
-- Append what a live alert has beyond its record: seq, reminded,
-- escalated and targeted (an alert stored before that was kept has it
-- in rate:{id}), as alerts.c reads a live alert's group.
local function rec_put_live(out, P, id, h)
  local x = redis.call('HMGET', P .. 'alert:' .. id, 'seq', 'reminded',
    'escalated', 'targeted')
  for k = 1, 3 do out[#out + 1] = x[k] or '0' end
  out[#out + 1] = x[4] or redis.call('HGET', P .. 'rate:' .. id,
    (h[2] or '') .. ':targeted') or '0'
end
