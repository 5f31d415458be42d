-- SPDX-License-Identifier: ISC
-- Where the tree stands, for wuzhad's loader: a handful of O(1) reads,
-- so that the loader can decide how to read the tree and, once it has
-- stepped through it with HSCAN, whether what it read is one generation.
-- Returns { gen, locked, nodes, principals, old }: tree-gen (0 if none),
-- 1 if an import holds tree-import, the sizes of tree-nodes and
-- tree-principals, 1 if the layout before them (the set "nodes") is
-- still there.
--@arg prefix
local P = ARG.prefix
local gen = tonumber(redis.call('GET', P .. 'tree-gen') or '0')
return {gen, redis.call('EXISTS', P .. 'tree-import'),
  redis.call('HLEN', P .. 'tree-nodes'), redis.call('HLEN', P .. 'tree-principals'),
  redis.call('EXISTS', P .. 'nodes')}
