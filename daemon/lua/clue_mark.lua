-- SPDX-License-Identifier: ISC
-- Put an observer's signed mark on a clue (see clue.lua for the hash).
-- States only move forward: received records cn's receipt (rx:{cn}) and
-- lifts the clue from none; handled needs the clue received (by anyone)
-- first.  A repeat (cn received it already, or it is handled already)
-- writes nothing.  Only observers at the clue's school or police unit
-- (node) may mark it; the caller checked the right.
-- Returns {1, state, seq} stored, {2, state, seq} a repeat, or {-321}
-- no such clue, {-323} not at your node, {-322} handled before received.
--@arg prefix
--@arg id
--@arg cn
--@arg node
--@arg state
--@arg stored
--@arg note
--@arg now
--@arg fp
--@arg cert
--@arg audit
--@arg audit_cert
--#include audit.lua
local P, cn, now = ARG.prefix, ARG.cn, ARG.now
local k = P .. 'clue:' .. ARG.id
local h = redis.call('HMGET', k, 'seq', 'state', 'school', 'police')
if not h[1] then return {-321} end
if ARG.node ~= h[3] and ARG.node ~= h[4] then return {-323} end
local seq, cur, want = tonumber(h[1]), tonumber(h[2]), tonumber(ARG.state)
if want == 1 then
  if redis.call('HEXISTS', k, 'rx:' .. cn) == 1 then return {2, cur, seq} end
elseif cur == 2 then
  return {2, cur, seq}
elseif cur < 1 then
  return {-322}
end
local n = redis.call('HINCRBY', k, 'marks', 1)
redis.call('HSET', k, 'mark:' .. n, ARG.stored, 'changed', now)
-- The audit log: the marker's certificate the first time it is kept,
-- then the mark.
if redis.call('HSETNX', P .. 'certs', ARG.fp, ARG.cert) == 1 then
  audit_push(P, ARG.audit_cert)
end
audit_push(P, ARG.audit)
redis.call('HSETNX', k, 'rx:' .. cn, now)
if want == 1 then
  redis.call('HSETNX', k, 'received_by', cn)
  if cur < 1 then cur = 1 end
else
  cur = 2
  redis.call('HSET', k, 'handled_by', cn, 'note', ARG.note)
end
redis.call('HSET', k, 'state', cur)
return {1, cur, seq}
