-- SPDX-License-Identifier: ISC
-- ARGV: P, id, cns...  Returns {} if the alert is unknown, else
-- {{seq, target, issued, expires, status, cancelled_by, ended_at},
-- {field, value, ...} of rate, {ack value or '' per cn}}.  ended_at is
-- when a cancel was accepted; a record from before it was kept takes the
-- cancel's own acceptance time.
local P, id = ARGV[1], ARGV[2]
local a = redis.call('HMGET', P .. 'alert:' .. id, 'seq', 'target', 'issued',
  'expires', 'status', 'cancelled_by', 'ended_at')
if not a[1] then return {} end
for k = 1, 7 do a[k] = a[k] or '' end
if a[6] ~= '' and a[7] == '' then
  a[7] = redis.call('HGET', P .. 'alert:' .. a[6], 'accepted') or ''
end
local rate = redis.call('HGETALL', P .. 'rate:' .. id)
local mem = {}
for i = 3, #ARGV do
  mem[#mem + 1] = redis.call('HGET', P .. 'ack:' .. id, ARGV[i]) or ''
end
return {a, rate, mem}
