-- SPDX-License-Identifier: ISC
-- Store a clue reported upward.  clue:{id} holds the stored clue (body,
-- cert_fp, sig), its reporter, node, the school and police unit it went
-- to, the certificate's hash, seq, when it came, its state (0 none,
-- 1 received, 2 handled) and, as marks come (clue_mark.lua), rx:{cn},
-- mark:{n}, received_by, handled_by, note, changed.  clues:{node} (the
-- school's, the police unit's) and cluemine:{reporter} list the ids by
-- seq.  Clues are evidence: kept for ever when keep is 0, else keep ms
-- from the last clue.  clue-rate:{cn} counts a principal's clues of the
-- last hour.  One `changed` entry per node tells the other daemons.
-- Returns {1, seq} stored, {2, seq} the same clue again (a retry),
-- {0, 0} the id is taken by another clue, {-1, ms} over the rate.
--@arg prefix
--@arg id
--@arg stored
--@arg reporter
--@arg node
--@arg school
--@arg police
--@arg fp
--@arg cert
--@arg now
--@arg keep
--@arg rate
--@arg by
--@arg audit
--@arg audit_cert
--#include audit.lua
local P, id, keep = ARG.prefix, ARG.id, ARG.keep
local k = P .. 'clue:' .. id
if redis.call('EXISTS', k) == 1 then
  if redis.call('HGET', k, 'clue') == ARG.stored then
    return {2, tonumber(redis.call('HGET', k, 'seq'))}
  end
  return {0, 0}
end
local rk = P .. 'clue-rate:' .. ARG.reporter
if tonumber(redis.call('GET', rk) or '0') >= tonumber(ARG.rate) then
  return {-1, redis.call('PTTL', rk)}
end
if redis.call('INCR', rk) == 1 then redis.call('PEXPIRE', rk, 3600000) end
local seq = redis.call('INCR', P .. 'clue-seq')
redis.call('HSET', k, 'clue', ARG.stored, 'reporter', ARG.reporter,
  'node', ARG.node, 'school', ARG.school, 'police', ARG.police,
  'fp', ARG.fp, 'seq', seq, 'at', ARG.now, 'state', 0, 'daemon', ARG.by)
if keep ~= '0' then redis.call('PEXPIRE', k, keep) end
-- The audit log: the reporter's certificate the first time it is kept
-- (so that a verifier meets it before what it signed), then the clue.
if redis.call('HSETNX', P .. 'certs', ARG.fp, ARG.cert) == 1 then
  audit_push(P, ARG.audit_cert)
end
audit_push(P, ARG.audit)
local lists = {P .. 'cluemine:' .. ARG.reporter}
for _, n in ipairs({ARG.school, ARG.police}) do
  if n ~= '' then
    lists[#lists + 1] = P .. 'clues:' .. n
    redis.call('XADD', P .. 'changed', 'MAXLEN', '~', 10000, '*', 'what',
      'clue', 'id', id, 'node', n, 'by', ARG.by)
  end
end
for _, l in ipairs(lists) do
  redis.call('ZADD', l, seq, id)
  if keep ~= '0' then redis.call('PEXPIRE', l, keep) end
end
return {1, seq}
