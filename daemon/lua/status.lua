-- SPDX-License-Identifier: ISC
-- ARGV: P, id, cns...  Returns {} if the alert is unknown, else
-- {{seq, target, issued, expires, status}, {field, value, ...} of rate,
-- {ack value or '' per cn}}.
local P, id = ARGV[1], ARGV[2]
local a = redis.call('HMGET', P .. 'alert:' .. id, 'seq', 'target', 'issued', 'expires', 'status')
if not a[1] then return {} end
for k = 1, 5 do a[k] = a[k] or '' end
local rate = redis.call('HGETALL', P .. 'rate:' .. id)
local mem = {}
for i = 3, #ARGV do
  mem[#mem + 1] = redis.call('HGET', P .. 'ack:' .. id, ARGV[i]) or ''
end
return {a, rate, mem}
