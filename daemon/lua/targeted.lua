-- SPDX-License-Identifier: ISC
-- How many a node targeted for an alert that went live with the tree at
-- generation G, read by a daemon whose tree cache is at generation C.
--
-- An import from generation g to g+1 writes tree-was:{g}, a hash of the
-- receivers each changed node had at g (0 for a node new at g+1), only
-- for nodes whose count changed, and adds g to the sorted set tree-was.
-- A node's count at G is then its field in the first tree-was:{g} with
-- G <= g < C that has one; if none has, it did not change since G and
-- the cache's count holds.  An alert stored before generations were
-- kept has the node's own rate:{id} field N:targeted instead.
-- Included with --#include targeted.lua.
--
-- targeted_at(P, G, C) returns a function of the node id that gives the
-- count, or -1 for "the cache's count".
local function targeted_at(P, G, C)
  local gens = {}
  if G and C and G < C then
    gens = redis.call('ZRANGEBYSCORE', P .. 'tree-was', G, C - 1)
  end
  return function(node)
    for _, g in ipairs(gens) do
      local v = redis.call('HGET', P .. 'tree-was:' .. g, node)
      if v then return tonumber(v) end
    end
    return -1
  end
end
