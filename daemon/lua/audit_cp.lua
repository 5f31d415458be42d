-- SPDX-License-Identifier: ISC
-- Compare-and-append a checkpoint.  ARGV: P, from (the checkpoint size
-- this daemon started folding from), size (the new one), the signed
-- checkpoint, its frontier ("SIZE HEX...") and the daemon's name (the
-- value of audit:lock it set).  The checkpoint is appended to audit:cp
-- and the frontier stored only if audit:frontier still says from (no
-- other daemon checkpointed meanwhile) and the log holds size entries;
-- the lock is released either way, if it is still ours.  Returns 1
-- (appended) or 0 (stale: another daemon was first; nothing written).
--@arg prefix
--@arg from
--@arg size
--@arg cp
--@arg frontier
--@arg name
local P = ARG.prefix
local f = redis.call('GET', P .. 'audit:frontier')
local have = f and tonumber(string.match(f, '^(%d+)')) or 0
local ok = 0
if have == tonumber(ARG.from) and
   redis.call('LLEN', P .. 'audit:log') >= tonumber(ARG.size) then
  redis.call('RPUSH', P .. 'audit:cp', ARG.cp)
  redis.call('SET', P .. 'audit:frontier', ARG.frontier)
  ok = 1
end
if redis.call('GET', P .. 'audit:lock') == ARG.name then
  redis.call('DEL', P .. 'audit:lock')
end
return ok
