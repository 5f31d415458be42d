-- SPDX-License-Identifier: ISC
-- One page of AGENTS.  ARGV: P, now, root, then the page's cns.  Returns
-- {principals online at or below root, then per cn: when last seen ('' if
-- never), the daemon its agents are on ('' if none), how many, since}, from
-- every live daemon's presence (online.lua), not only the asking one's.
--#include online.lua
--@arg prefix
--@arg now
--@arg root
local P = ARG.prefix
local ds = live_daemons(P, ARG.now)
local out = {online_below(P, ds, ARG.root)}
for i = ARGS + 1, #ARGV do
  local cn = ARGV[i]
  local server, count, since = presence_of(P, ds, cn)
  out[#out + 1] = redis.call('HGET', P .. 'seen', cn) or ''
  out[#out + 1] = server
  out[#out + 1] = count
  out[#out + 1] = since
end
return out
