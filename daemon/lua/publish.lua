-- SPDX-License-Identifier: ISC
-- Accept an alert.  ARGV: P, id, envelope, target, issuer, type, issued,
-- expires, accepted, references, remind_ms, escalate_ms, max_reminders,
-- status, publish_at (0: now), gen (the tree generation the daemon
-- counted with), targeted (receivers at the target), audit (the audit
-- entry of the envelope, kind alert) and audit_withdraw (for a cancel:
-- the entry of kind schedule_cancel, logged instead if it withdraws a
-- held alert; '' otherwise).  A retry logs nothing again.
--
-- An alert with a publish_at is held: stored, listed in `schedule` by
-- its time, but given no seq, index or counters until lua_release.  A
-- cancel of a held alert takes it out of `schedule` (so it never fires)
-- and is itself only recorded.  A cancel of a live alert retires it from
-- the live set: it is no longer pending or reminded.  Writes are per
-- node, never per agent.  Returns {1, seq}, {1, 0} (held), {2, 0} (a
-- held alert cancelled), {0, 'duplicate'} (the id used by another
-- envelope) or, for the same envelope again, {3, seq, publish_at, state,
-- accepted, targeted (-1: not counted), in the live set (1|0)}.
--#include go_live.lua
--#include audit.lua
--@arg prefix
--@arg id
--@arg env
--@arg target
--@arg issuer
--@arg type
--@arg issued
--@arg expires
--@arg accepted
--@arg references
--@arg remind
--@arg escalate
--@arg maxrem
--@arg status
--@arg publish_at
--@arg gen
--@arg targeted
--@arg audit
--@arg audit_withdraw
local P, id = ARG.prefix, ARG.id
local akey = P .. 'alert:' .. id
if redis.call('EXISTS', akey) == 1 then
  -- The very same envelope again is a retry (its first reply may have been
  -- lost): say what the first time did.  Another envelope is a duplicate.
  local h = redis.call('HMGET', akey, 'env', 'seq', 'publish_at', 'state', 'accepted', 'target',
    'targeted')
  if h[1] ~= ARG.env then return {0, 'duplicate'} end
  local t = h[7] or redis.call('HGET', P .. 'rate:' .. id, (h[6] or '') .. ':targeted')
  local live = redis.call('ZSCORE', P .. 'live', id) and 1 or 0
  return {3, tonumber(h[2] or '0'), tonumber(h[3] or '0'), h[4] or '',
    tonumber(h[5] or '0'), tonumber(t or '-1'), live}
end
redis.call('HSET', akey, 'env', ARG.env, 'target', ARG.target, 'issuer', ARG.issuer,
  'type', ARG.type, 'issued', ARG.issued, 'expires', ARG.expires, 'accepted', ARG.accepted,
  'references', ARG.references, 'remind', ARG.remind, 'escalate', ARG.escalate,
  'maxrem', ARG.maxrem, 'reminded', 0, 'escalated', 0, 'status', ARG.status,
  'publish_at', ARG.publish_at)
if ARG.type == '3' and ARG.references ~= '' and
   redis.call('ZREM', P .. 'schedule', ARG.references) == 1 then
  redis.call('HSET', P .. 'alert:' .. ARG.references, 'cancelled_by', id, 'state', 'cancelled',
    'ended_at', ARG.accepted)
  redis.call('HSET', akey, 'state', 'unscheduled', 'seq', 0)
  audit_push(P, ARG.audit_withdraw)
  redis.call('XADD', P .. 'alerts', '*', 'id', id, 'seq', 0, 'target', ARG.target,
    'issuer', ARG.issuer, 'type', ARG.type, 'unscheduled', ARG.references)
  return {2, 0}
end
if ARG.publish_at ~= '0' then
  redis.call('HSET', akey, 'state', 'held', 'seq', 0, 'targeted', ARG.targeted)
  redis.call('ZADD', P .. 'schedule', ARG.publish_at, id)
  audit_push(P, ARG.audit)
  redis.call('XADD', P .. 'alerts', '*', 'id', id, 'seq', 0, 'target', ARG.target,
    'issuer', ARG.issuer, 'type', ARG.type, 'held_until', ARG.publish_at)
  return {1, 0}
end
audit_push(P, ARG.audit)
return go_live(P, id, ARG.target, ARG.issuer, ARG.type, ARG.references, ARG.accepted,
  ARG.gen, ARG.targeted, false)
