-- SPDX-License-Identifier: ISC
-- What other daemons did since this one last looked.  ARGV: P, the last
-- entry read of the `alerts` stream and of the `changed` stream, and how
-- many entries of each to read at most, and this daemon's name: its own
-- changes it has acted on already.  Read-only.
--
-- Returns {alerts cursor, changed cursor, items, changes}.  Each item is
-- one entry of `alerts` that still matters, in stream order:
--   {'live', id + record (record.lua), seq, reminded, escalated, targeted}
--     an alert that went live (published or released) and is live still;
--   {'held', id + record, targeted}: held, and still in `schedule`;
--   {'unscheduled', id, the held alert it cancelled, issuer}.
-- Each change is {what, id, node}: 'acked' (counters of id moved) or
-- 'escalated' (an escalation stored for observers at node).
--#include record.lua
--@arg prefix
--@arg alerts
--@arg changed
--@arg count
--@arg me
local P, n = ARG.prefix, ARG.count
local ca, cc, items, changes = ARG.alerts, ARG.changed, {}, {}
local function fields(kv)
  local f = {}
  for k = 1, #kv, 2 do f[kv[k]] = kv[k + 1] end
  return f
end
for _, e in ipairs(redis.call('XRANGE', P .. 'alerts', '(' .. ca, '+',
    'COUNT', n)) do
  ca = e[1]
  local f = fields(e[2])
  local id = f.id or ''
  if f.seq and f.seq ~= '0' then
    if redis.call('ZSCORE', P .. 'live', id) then
      local h = rec_read(P, id)
      if h then
        local it = {'live'}
        rec_put(it, id, h)
        local x = redis.call('HMGET', P .. 'alert:' .. id, 'seq', 'reminded',
          'escalated', 'targeted')
        for k = 1, 3 do it[#it + 1] = x[k] or '0' end
        it[#it + 1] = x[4] or redis.call('HGET', P .. 'rate:' .. id,
          (h[2] or '') .. ':targeted') or '0'
        items[#items + 1] = it
      end
    end
  elseif f.held_until then
    if redis.call('ZSCORE', P .. 'schedule', id) then
      local h = rec_read(P, id)
      if h then
        local it = {'held'}
        rec_put(it, id, h)
        it[#it + 1] = redis.call('HGET', P .. 'alert:' .. id, 'targeted') or '0'
        items[#items + 1] = it
      end
    end
  elseif f.unscheduled then
    items[#items + 1] = {'unscheduled', id, f.unscheduled, f.issuer or ''}
  end
end
for _, e in ipairs(redis.call('XRANGE', P .. 'changed', '(' .. cc, '+',
    'COUNT', n)) do
  cc = e[1]
  local f = fields(e[2])
  if f.by ~= ARG.me then
    changes[#changes + 1] = {f.what or '', f.id or '', f.node or ''}
  end
end
return {ca, cc, items, changes}
