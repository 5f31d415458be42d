-- SPDX-License-Identifier: ISC
-- The audit log's one write: append a leaf to P audit:log (a list, one
-- entry per element, oldest first), inside the same script as the change
-- it records, so that nothing accepted lacks its leaf and the log's order
-- is Redis's.  Included with --#include audit.lua.
--
-- Hook for any script that accepts something (receipts, clues, marks,
-- first-seen certificates):
--   C:   audit_entry_encode(&buf, AUDIT_K_..., now_ms(), wz->name, data,
--        len)  (proto/audit.c), passed as one more --@arg, binary-safe;
--   Lua: audit_push(P, entry) where the change is committed, entry one
--        of the script's arguments.
-- An empty entry pushes nothing (a caller with nothing to log).  The
-- checkpointer (daemon/auditlog.c) reads the list; nothing else writes it.
local function audit_push(P, entry)
  if entry ~= nil and entry ~= '' then
    redis.call('RPUSH', P .. 'audit:log', entry)
  end
end
