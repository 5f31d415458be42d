-- SPDX-License-Identifier: ISC
-- ARGV: P, id, C (the caller's tree generation), n, then n node ids, then
-- cns.  Returns {} if the alert is unknown, else
-- {{seq, target, issued, expires, status, cancelled_by, ended_at},
-- {targeted, delivered, read, relayed, reach, shown per node asked},
-- {ack value or '' per cn}, {daemon the cn's agents are on, '' if none,
-- per cn}}.  targeted is -1 where the caller's tree
-- counts (targeted.lua).  ended_at is when a cancel was accepted; a
-- record from before it was kept takes the cancel's own acceptance time.
-- The work is per node and cn asked, whatever the size of the tree.
--#include targeted.lua
--#include online.lua
--@arg prefix
--@arg id
--@arg gen
--@arg n
--@arg now
local P, id = ARG.prefix, ARG.id
local a = redis.call('HMGET', P .. 'alert:' .. id, 'seq', 'target', 'issued',
  'expires', 'status', 'cancelled_by', 'ended_at', 'gen')
if not a[1] then return {} end
for k = 1, 7 do a[k] = a[k] or '' end
if a[6] ~= '' and a[7] == '' then
  a[7] = redis.call('HGET', P .. 'alert:' .. a[6], 'accepted') or ''
end
local was = targeted_at(P, tonumber(a[8] or ''), tonumber(ARG.gen))
a[8] = nil
local rk, rows, n = P .. 'rate:' .. id, {}, tonumber(ARG.n)
for i = ARGS + 1, ARGS + n do
  local node = ARGV[i]
  local h = redis.call('HMGET', rk, node .. ':targeted', node .. ':delivered',
    node .. ':read', node .. ':relayed', node .. ':reach', node .. ':shown')
  rows[#rows + 1] = tonumber(h[1] or '') or was(node)
  for k = 2, 6 do rows[#rows + 1] = tonumber(h[k] or '0') or 0 end
end
local mem, on = {}, {}
local ds = #ARGV > ARGS + n and live_daemons(P, ARG.now) or {}
for i = ARGS + n + 1, #ARGV do
  mem[#mem + 1] = redis.call('HGET', P .. 'ack:' .. id, ARGV[i]) or ''
  on[#on + 1] = (presence_of(P, ds, ARGV[i]))
end
return {a, rows, mem, on}
