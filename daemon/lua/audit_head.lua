-- SPDX-License-Identifier: ISC
-- Where the audit log stands, in O(1): { entries in audit:log, the
-- frontier of the last checkpoint (audit:frontier, "SIZE HEX..." or ''),
-- checkpoints in audit:cp }.  Read by the checkpointer and the mirror.
--@arg prefix
local P = ARG.prefix
return {redis.call('LLEN', P .. 'audit:log'),
  redis.call('GET', P .. 'audit:frontier') or '',
  redis.call('LLEN', P .. 'audit:cp')}
