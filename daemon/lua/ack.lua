-- SPDX-License-Identifier: ISC
-- A batch of acks.  ARGV: P, now, by (the daemon's name), then per ack: id, cn, state, reach,
-- rcpt (the stored receipt, '' if unsigned), fp (its certificate's SHA-256, hex), der (the
-- certificate, '' if the daemon sent it before), n, and n node ids (the agent's node up
-- to the target).  An accepted ack's receipt goes into rcpt:{id} under "cn|state" (a
-- state stored once keeps its first receipt); its certificate into certs, once.  States only
-- move forward by rank, which is not the wire value: delivered (1) <
-- shown (4) < read (2) < relayed (3).  Counters are cumulative, "reached
-- at least": a read agent counts as delivered and shown too.  An agent's
-- entry in ack:{id} is "state:at:reach:t1:t2:t3:t4": the state, when it
-- last changed, the head count ('' if none), and when each state was
-- first reached, by wire value (t4 is shown; 0 if not yet; a state
-- skipped over gets the time of the ack that passed it), which the
-- report's "in time" and time-to-read columns need.  An entry stored
-- before shown has no t4 and reads as t4 = 0.  Per ack returns the new
-- state if stored, -current if not (already there or beyond), or -1000
-- if the alert is unknown.  Counter increments are summed over the batch
-- first, so a thousand acks from one school cost one HINCRBY per (node,
-- state), not per ack.  Each alert whose counters moved gets one entry
-- in the `changed` stream, which wakes the watches of every daemon.
-- audit_receipt and audit_cert are the heads (kind, time, daemon) of the
-- audit entries of this batch's receipts and first-seen certificates:
-- each entry is its head and a field 4 of the stored bytes.
--@arg prefix
--@arg now
--@arg by
--@arg audit_receipt
--@arg audit_cert
--#include audit.lua
local P, now = ARG.prefix, ARG.now
local names = {'delivered', 'read', 'relayed', 'shown'}
local rank = {[0] = 0, [1] = 1, [4] = 2, [2] = 3, [3] = 4}
local byrank = {1, 4, 2, 3}
local out, i, live, sums, keys = {}, ARGS + 1, {}, {}, {}
local moved, movedv = {}, {}
local function leaf(head, data)
  audit_push(P, head .. struct.pack('>BH', 4, #data) .. data)
end
local function add(rk, field, by)
  local t = sums[rk]
  if not t then t = {f = {}, v = {}}; sums[rk] = t; keys[#keys + 1] = rk end
  local v = t.v[field]
  if not v then t.f[#t.f + 1] = field; v = 0 end
  t.v[field] = v + by
end
while i <= #ARGV do
  local id, cn = ARGV[i], ARGV[i + 1]
  local st, reach = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  local rcpt, fp, der, n = ARGV[i + 4], ARGV[i + 5], ARGV[i + 6], tonumber(ARGV[i + 7])
  local ak, cur = P .. 'ack:' .. id, 0
  if live[id] == nil then
    live[id] = redis.call('EXISTS', P .. 'alert:' .. id) == 1
  end
  if not live[id] then
    out[#out + 1] = -1000
  else
    local v = redis.call('HGET', ak, cn)
    local t = {'0', '0', '0', '0'}
    if v then
      cur = tonumber(string.match(v, '^(%d+)')) or 0
      local a, b, c, d = string.match(v, '^%d+:%d+:%d*:(%d+):(%d+):(%d+):?(%d*)$')
      if a then t = {a, b, c, d ~= '' and d or '0'} end
    end
    local from, to = (rank[cur] or 0) + 1, rank[st] or 0
    if to >= from then
      for k = from, to do t[byrank[k]] = now end
      local r = ''
      if st == 3 and reach > 0 then r = reach end
      redis.call('HSET', ak, cn, st .. ':' .. now .. ':' .. r .. ':' .. table.concat(t, ':'))
      if rcpt ~= '' then
        -- The audit log meets a certificate before what it signed.
        if der ~= '' and redis.call('HSETNX', P .. 'certs', fp, der) == 1 then
          leaf(ARG.audit_cert, der)
        end
        if redis.call('HSETNX', P .. 'rcpt:' .. id, cn .. '|' .. names[st], rcpt) == 1 then
          leaf(ARG.audit_receipt, rcpt)
        end
      end
      local rk = P .. 'rate:' .. id
      for j = 1, n do
        local node = ARGV[i + 7 + j]
        for k = from, to do add(rk, node .. ':' .. names[byrank[k]], 1) end
        if st == 3 and reach > 0 then add(rk, node .. ':reach', reach) end
      end
      out[#out + 1] = st
      if not moved[id] then moved[id] = true; movedv[#movedv + 1] = id end
    else
      out[#out + 1] = -cur
    end
  end
  i = i + 8 + n
end
for _, rk in ipairs(keys) do
  local t = sums[rk]
  for _, f in ipairs(t.f) do redis.call('HINCRBY', rk, f, t.v[f]) end
end
for _, id in ipairs(movedv) do
  redis.call('XADD', P .. 'changed', 'MAXLEN', '~', 10000, '*', 'what', 'acked',
    'id', id, 'by', ARG.by)
end
return out
