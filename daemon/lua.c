/* SPDX-License-Identifier: ISC */
/*
 * lua: the Redis scripts.  Every multi-step change is one script, so it is
 * atomic and costs one round trip.  ARGV[1] is always the key prefix.
 * Keys are built inside the scripts (one Redis, no cluster), which lets a
 * batch of acks touch many alerts in one call.
 */
#include "wuzhad.h"

/* { gen, {id, name, tier, parent, ...}, {cn, node, rights, ...} } */
static const char lua_tree[] =
"local P = ARGV[1]\n"
"local gen = tonumber(redis.call('GET', P .. 'tree-gen') or '0')\n"
"local nodes, prin = {}, {}\n"
"for _, id in ipairs(redis.call('SMEMBERS', P .. 'nodes')) do\n"
"  local h = redis.call('HMGET', P .. 'node:' .. id, 'name', 'tier', 'parent')\n"
"  nodes[#nodes + 1] = id\n"
"  nodes[#nodes + 1] = h[1] or ''\n"
"  nodes[#nodes + 1] = h[2] or ''\n"
"  nodes[#nodes + 1] = h[3] or ''\n"
"end\n"
"for _, cn in ipairs(redis.call('SMEMBERS', P .. 'principals')) do\n"
"  local h = redis.call('HMGET', P .. 'principal:' .. cn, 'node', 'rights')\n"
"  prin[#prin + 1] = cn\n"
"  prin[#prin + 1] = h[1] or ''\n"
"  prin[#prin + 1] = h[2] or ''\n"
"end\n"
"return {gen, nodes, prin}\n";

/*
 * What publishing and releasing share: the alert goes live.  A seq, the
 * audit stream, the node and live indexes, the acceptance index, the
 * cancel's effect on what it cancels, and the counters started from the
 * (node, targeted) pairs at ARGV[first] onwards.  Returns {1, seq}.
 */
#define LUA_GO_LIVE \
"local function go_live(P, id, target, issuer, typ, ref, at, first, released)\n" \
"  local seq = redis.call('INCR', P .. 'seq')\n" \
"  redis.call('HSET', P .. 'alert:' .. id, 'state', 'live', 'seq', seq, 'accepted', at)\n" \
"  local x = {'id', id, 'seq', seq, 'target', target, 'issuer', issuer, 'type', typ}\n" \
"  if released then x[#x + 1] = 'released'; x[#x + 1] = at end\n" \
"  redis.call('XADD', P .. 'alerts', '*', unpack(x))\n" \
"  redis.call('ZADD', P .. 'node-alerts:' .. target, seq, id)\n" \
"  redis.call('ZADD', P .. 'live', seq, id)\n" \
"  redis.call('ZADD', P .. 'accepted', at, id)\n" \
"  if typ == '3' and ref and ref ~= '' then\n" \
"    redis.call('ZREM', P .. 'live', ref)\n" \
"    redis.call('HSET', P .. 'alert:' .. ref, 'cancelled_by', id)\n" \
"  end\n" \
"  local rk, args = P .. 'rate:' .. id, {}\n" \
"  for i = first, #ARGV - 1, 2 do\n" \
"    args[#args + 1] = ARGV[i] .. ':targeted'\n" \
"    args[#args + 1] = ARGV[i + 1]\n" \
"    if #args >= 1000 then redis.call('HSET', rk, unpack(args)); args = {} end\n" \
"  end\n" \
"  if #args > 0 then redis.call('HSET', rk, unpack(args)) end\n" \
"  return {1, seq}\n" \
"end\n"

/*
 * Accept an alert.  ARGV: P, id, envelope, target, issuer, type, issued,
 * expires, accepted, references, remind_ms, escalate_ms, max_reminders,
 * status, publish_at (0: now), then (node, targeted) pairs.
 *
 * An alert with a publish_at is held: stored, listed in `schedule` by
 * its time, but given no seq, index or counters until lua_release.  A
 * cancel of a held alert takes it out of `schedule` (so it never fires)
 * and is itself only recorded.  A cancel of a live alert retires it from
 * the live set: it is no longer pending or reminded.  Writes are per
 * node, never per agent.  Returns {1, seq}, {1, 0} (held), {2, 0} (a
 * held alert cancelled), or {0, 'duplicate'}.
 */
static const char lua_publish[] = LUA_GO_LIVE
"local P, id = ARGV[1], ARGV[2]\n"
"local akey = P .. 'alert:' .. id\n"
"if redis.call('EXISTS', akey) == 1 then return {0, 'duplicate'} end\n"
"redis.call('HSET', akey, 'env', ARGV[3], 'target', ARGV[4], 'issuer', ARGV[5],\n"
"  'type', ARGV[6], 'issued', ARGV[7], 'expires', ARGV[8], 'accepted', ARGV[9],\n"
"  'references', ARGV[10], 'remind', ARGV[11], 'escalate', ARGV[12],\n"
"  'maxrem', ARGV[13], 'reminded', 0, 'escalated', 0, 'status', ARGV[14],\n"
"  'publish_at', ARGV[15])\n"
"if ARGV[6] == '3' and ARGV[10] ~= '' and\n"
"   redis.call('ZREM', P .. 'schedule', ARGV[10]) == 1 then\n"
"  redis.call('HSET', P .. 'alert:' .. ARGV[10], 'cancelled_by', id, 'state', 'cancelled')\n"
"  redis.call('HSET', akey, 'state', 'unscheduled', 'seq', 0)\n"
"  redis.call('XADD', P .. 'alerts', '*', 'id', id, 'seq', 0, 'target', ARGV[4],\n"
"    'issuer', ARGV[5], 'type', ARGV[6], 'unscheduled', ARGV[10])\n"
"  return {2, 0}\n"
"end\n"
"if ARGV[15] ~= '0' then\n"
"  redis.call('HSET', akey, 'state', 'held', 'seq', 0)\n"
"  redis.call('ZADD', P .. 'schedule', ARGV[15], id)\n"
"  redis.call('XADD', P .. 'alerts', '*', 'id', id, 'seq', 0, 'target', ARGV[4],\n"
"    'issuer', ARGV[5], 'type', ARGV[6], 'held_until', ARGV[15])\n"
"  return {1, 0}\n"
"end\n"
"return go_live(P, id, ARGV[4], ARGV[5], ARGV[6], ARGV[10], ARGV[9], 16, false)\n";

/*
 * Release a held alert whose time has come.  ARGV: P, id, now, then
 * (node, targeted) pairs from the tree as it is now.  Only the caller
 * that takes the id out of `schedule` releases it, so a cancel that got
 * there first wins and the alert never goes out.  Timers count from the
 * release.  Returns {1, seq}, or {0, 'gone'}.
 */
static const char lua_release[] = LUA_GO_LIVE
"local P, id, now = ARGV[1], ARGV[2], ARGV[3]\n"
"local akey = P .. 'alert:' .. id\n"
"if redis.call('ZREM', P .. 'schedule', id) == 0 then return {0, 'gone'} end\n"
"if redis.call('EXISTS', akey) == 0 then return {0, 'gone'} end\n"
"local h = redis.call('HMGET', akey, 'target', 'issuer', 'type', 'references')\n"
"return go_live(P, id, h[1], h[2], h[3], h[4], now, 4, true)\n";

/*
 * ARGV: P.  Every held alert, by time, as flat groups of {id, publish_at,
 * env, target, issuer, type, issued, expires, remind, escalate, maxrem,
 * status, references}.
 */
static const char lua_held[] =
"local P, out = ARGV[1], {}\n"
"local ids = redis.call('ZRANGE', P .. 'schedule', 0, -1, 'WITHSCORES')\n"
"for i = 1, #ids, 2 do\n"
"  local h = redis.call('HMGET', P .. 'alert:' .. ids[i], 'env', 'target',\n"
"    'issuer', 'type', 'issued', 'expires', 'remind', 'escalate', 'maxrem',\n"
"    'status', 'references')\n"
"  if h[1] then\n"
"    out[#out + 1] = ids[i]\n"
"    out[#out + 1] = ids[i + 1]\n"
"    for k = 1, 11 do out[#out + 1] = h[k] or '' end\n"
"  else\n"
"    redis.call('ZREM', P .. 'schedule', ids[i])\n"
"  end\n"
"end\n"
"return out\n";

/*
 * A batch of acks.  ARGV: P, now, then per ack: id, cn, state, reach,
 * n, and n node ids (the agent's node up to the target).  States only
 * move forward; counters are cumulative (a read agent counts as
 * delivered too).  An agent's entry in ack:{id} is
 * "state:at:reach:t1:t2:t3": the state, when it last changed, the head
 * count ('' if none), and when each state was first reached (0 if not
 * yet; a state skipped over gets the time of the ack that passed it),
 * which the report's "in time" and time-to-read columns need.  Per ack returns the new state if stored, -current if
 * not (already there or beyond), or -1000 if the alert is unknown.
 * Counter increments are summed over the batch first, so a thousand acks
 * from one school cost one HINCRBY per (node, state), not per ack.
 */
static const char lua_ack[] =
"local P, now = ARGV[1], ARGV[2]\n"
"local names = {'delivered', 'read', 'relayed'}\n"
"local out, i, live, sums, keys = {}, 3, {}, {}, {}\n"
"local function add(rk, field, by)\n"
"  local t = sums[rk]\n"
"  if not t then t = {f = {}, v = {}}; sums[rk] = t; keys[#keys + 1] = rk end\n"
"  local v = t.v[field]\n"
"  if not v then t.f[#t.f + 1] = field; v = 0 end\n"
"  t.v[field] = v + by\n"
"end\n"
"while i <= #ARGV do\n"
"  local id, cn = ARGV[i], ARGV[i + 1]\n"
"  local st, reach, n = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3]), tonumber(ARGV[i + 4])\n"
"  local ak, cur = P .. 'ack:' .. id, 0\n"
"  if live[id] == nil then\n"
"    live[id] = redis.call('EXISTS', P .. 'alert:' .. id) == 1\n"
"  end\n"
"  if not live[id] then\n"
"    out[#out + 1] = -1000\n"
"  else\n"
"    local v = redis.call('HGET', ak, cn)\n"
"    local t = {'0', '0', '0'}\n"
"    if v then\n"
"      cur = tonumber(string.match(v, '^(%d+)')) or 0\n"
"      local a, b, c = string.match(v, '^%d+:%d+:%d*:(%d+):(%d+):(%d+)$')\n"
"      if a then t = {a, b, c} end\n"
"    end\n"
"    if st > cur then\n"
"      for s = cur + 1, st do t[s] = now end\n"
"      local r = ''\n"
"      if st == 3 and reach > 0 then r = reach end\n"
"      redis.call('HSET', ak, cn, st .. ':' .. now .. ':' .. r .. ':' .. t[1] .. ':' .. t[2] .. ':' .. t[3])\n"
"      local rk = P .. 'rate:' .. id\n"
"      for j = 1, n do\n"
"        local node = ARGV[i + 4 + j]\n"
"        for s = cur + 1, st do add(rk, node .. ':' .. names[s], 1) end\n"
"        if st == 3 and reach > 0 then add(rk, node .. ':reach', reach) end\n"
"      end\n"
"      out[#out + 1] = st\n"
"    else\n"
"      out[#out + 1] = -cur\n"
"    end\n"
"  end\n"
"  i = i + 5 + n\n"
"end\n"
"for _, rk in ipairs(keys) do\n"
"  local t = sums[rk]\n"
"  for _, f in ipairs(t.f) do redis.call('HINCRBY', rk, f, t.v[f]) end\n"
"end\n"
"return out\n";

/* ARGV: P, cn, ids...  Returns the cn's stored state for each id (0 = none). */
static const char lua_pending[] =
"local P, cn, out = ARGV[1], ARGV[2], {}\n"
"for i = 3, #ARGV do\n"
"  local v = redis.call('HGET', P .. 'ack:' .. ARGV[i], cn)\n"
"  out[#out + 1] = v and (tonumber(string.match(v, '^(%d+)')) or 0) or 0\n"
"end\n"
"return out\n";

/*
 * ARGV: P, id, cns...  Returns {} if the alert is unknown, else
 * {{seq, target, issued, expires, status}, {field, value, ...} of rate,
 * {ack value or '' per cn}}.
 */
static const char lua_status[] =
"local P, id = ARGV[1], ARGV[2]\n"
"local a = redis.call('HMGET', P .. 'alert:' .. id, 'seq', 'target', 'issued', 'expires', 'status')\n"
"if not a[1] then return {} end\n"
"for k = 1, 5 do a[k] = a[k] or '' end\n"
"local rate = redis.call('HGETALL', P .. 'rate:' .. id)\n"
"local mem = {}\n"
"for i = 3, #ARGV do\n"
"  mem[#mem + 1] = redis.call('HGET', P .. 'ack:' .. id, ARGV[i]) or ''\n"
"end\n"
"return {a, rate, mem}\n";

/*
 * ARGV: P, now.  Every live alert, in sequence order, as flat groups of
 * {id, env, seq, target, issuer, issued, expires, type, accepted, remind,
 * escalate, maxrem, reminded, escalated}; alerts past their expiry leave
 * the live set.
 */
static const char lua_alerts[] =
"local P, now, out = ARGV[1], tonumber(ARGV[2]), {}\n"
"for _, id in ipairs(redis.call('ZRANGE', P .. 'live', 0, -1)) do\n"
"  local h = redis.call('HMGET', P .. 'alert:' .. id, 'env', 'seq', 'target',\n"
"    'issuer', 'issued', 'expires', 'type', 'accepted', 'remind', 'escalate',\n"
"    'maxrem', 'reminded', 'escalated')\n"
"  if h[1] and tonumber(h[6] or '0') > now then\n"
"    out[#out + 1] = id\n"
"    for k = 1, 13 do out[#out + 1] = h[k] or '0' end\n"
"  else\n"
"    redis.call('ZREM', P .. 'live', id)\n"
"  end\n"
"end\n"
"return out\n";

/*
 * ARGV: P, id, field, value, cns...  Sets one field of the alert (a timer
 * that fired) and returns each cn's stored state (0 = none), so a timer
 * is marked done in the same call that reads who still needs it.
 */
static const char lua_states[] =
"local P, id, out = ARGV[1], ARGV[2], {}\n"
"redis.call('HSET', P .. 'alert:' .. id, ARGV[3], ARGV[4])\n"
"for i = 5, #ARGV do\n"
"  local v = redis.call('HGET', P .. 'ack:' .. id, ARGV[i])\n"
"  out[#out + 1] = v and (tonumber(string.match(v, '^(%d+)')) or 0) or 0\n"
"end\n"
"return out\n";

/*
 * Store an escalation.  ARGV: P, id, expires (ms), now, then per
 * observers' node: node, the ESCALATION frame, n, and the n observers
 * told already (connected when it was sent).  escalation:{id} holds
 * node -> frame and told:{cn} -> when; node-escalations:{node} lists the
 * ids escalated there, scored by their expiry.  Both expire with the
 * alerts: an escalation lives no longer than what it is about.
 */
static const char lua_escalate[] =
"local P, id, exp, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]\n"
"local k, i = P .. 'escalation:' .. id, 5\n"
"while i + 2 <= #ARGV do\n"
"  local node, n = ARGV[i], tonumber(ARGV[i + 2])\n"
"  redis.call('HSET', k, node, ARGV[i + 1])\n"
"  for j = 1, n do redis.call('HSET', k, 'told:' .. ARGV[i + 2 + j], now) end\n"
"  local nk = P .. 'node-escalations:' .. node\n"
"  redis.call('ZREMRANGEBYSCORE', nk, '-inf', now)\n"
"  redis.call('ZADD', nk, exp, id)\n"
"  local last = redis.call('ZRANGE', nk, -1, -1, 'WITHSCORES')\n"
"  redis.call('PEXPIREAT', nk, string.format('%.0f', tonumber(last[2])))\n"
"  i = i + 3 + n\n"
"end\n"
"redis.call('PEXPIREAT', k, exp)\n"
"return 1\n";

/*
 * The escalations an observer has not been sent yet.  ARGV: P, node, cn,
 * now, max.  Up to max frames stored for node, by expiry, each marked as
 * told to cn in the same call, so it goes to cn once.
 */
static const char lua_escalations[] =
"local P, node, cn, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]\n"
"local max, out = tonumber(ARGV[5]), {}\n"
"local nk = P .. 'node-escalations:' .. node\n"
"redis.call('ZREMRANGEBYSCORE', nk, '-inf', now)\n"
"for _, id in ipairs(redis.call('ZRANGE', nk, 0, -1)) do\n"
"  if #out >= max then break end\n"
"  local k = P .. 'escalation:' .. id\n"
"  local f = redis.call('HGET', k, node)\n"
"  if f and redis.call('HSETNX', k, 'told:' .. cn, now) == 1 then\n"
"    out[#out + 1] = f\n"
"  end\n"
"end\n"
"return out\n";

const char *const lua_scripts[STORE_LUA_COUNT] = {
	[STORE_LUA_PUBLISH] = lua_publish,
	[STORE_LUA_ACK] = lua_ack,
	[STORE_LUA_PENDING] = lua_pending,
	[STORE_LUA_STATUS] = lua_status,
	[STORE_LUA_TREE] = lua_tree,
	[STORE_LUA_ALERTS] = lua_alerts,
	[STORE_LUA_STATES] = lua_states,
	[STORE_LUA_RELEASE] = lua_release,
	[STORE_LUA_HELD] = lua_held,
	[STORE_LUA_ESCALATE] = lua_escalate,
	[STORE_LUA_ESCALATIONS] = lua_escalations,
};

const char *const lua_names[STORE_LUA_COUNT] = {
	[STORE_LUA_PUBLISH] = "publish",
	[STORE_LUA_ACK] = "ack",
	[STORE_LUA_PENDING] = "pending",
	[STORE_LUA_STATUS] = "status",
	[STORE_LUA_TREE] = "tree",
	[STORE_LUA_ALERTS] = "alerts",
	[STORE_LUA_STATES] = "states",
	[STORE_LUA_RELEASE] = "release",
	[STORE_LUA_HELD] = "held",
	[STORE_LUA_ESCALATE] = "escalate",
	[STORE_LUA_ESCALATIONS] = "escalations",
};
