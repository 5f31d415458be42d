-- SPDX-License-Identifier: ISC
-- The tree, for wuzhad's cache.
-- Returns { gen, {id, name, tier, parent, ...}, {cn, node, rights, ...} }.
--@arg prefix
local P = ARG.prefix
local gen = tonumber(redis.call('GET', P .. 'tree-gen') or '0')
local nodes, prin = {}, {}
for _, id in ipairs(redis.call('SMEMBERS', P .. 'nodes')) do
  local h = redis.call('HMGET', P .. 'node:' .. id, 'name', 'tier', 'parent')
  nodes[#nodes + 1] = id
  nodes[#nodes + 1] = h[1] or ''
  nodes[#nodes + 1] = h[2] or ''
  nodes[#nodes + 1] = h[3] or ''
end
for _, cn in ipairs(redis.call('SMEMBERS', P .. 'principals')) do
  local h = redis.call('HMGET', P .. 'principal:' .. cn, 'node', 'rights')
  prin[#prin + 1] = cn
  prin[#prin + 1] = h[1] or ''
  prin[#prin + 1] = h[2] or ''
end
return {gen, nodes, prin}
