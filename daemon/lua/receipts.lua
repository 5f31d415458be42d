-- SPDX-License-Identifier: ISC
-- One batch of RECEIPTS.  ARGV: P, id, cursor (HSCAN's), skip (entries of
-- that batch already sent), count (HSCAN's COUNT).  Returns {target ('' if
-- no such alert), envelope, next HSCAN cursor, k, then k pairs of rcpt:{id}
-- (field "cn|state", stored receipt) from the skip-th on, then per distinct
-- certificate among them: fingerprint (hex), DER ('' if certs lacks it)}.
-- Work is one HSCAN step and one HGET per certificate: in proportion to
-- the receipts returned, never to the tree or the whole hash.
--@arg prefix
--@arg id
--@arg cursor
--@arg skip
--@arg count
local P = ARG.prefix
local a = redis.call('HMGET', P .. 'alert:' .. ARG.id, 'target', 'env')
if not a[1] then return {'', '', '0', 0} end
local r = redis.call('HSCAN', P .. 'rcpt:' .. ARG.id, ARG.cursor, 'COUNT', tonumber(ARG.count))
local kv, skip = r[2], tonumber(ARG.skip)
local out = {a[1], a[2] or '', r[1], 0}
local fps, seen = {}, {}
for j = 2 * skip + 1, #kv, 2 do
  local v = kv[j + 1]
  out[#out + 1] = kv[j]
  out[#out + 1] = v
  out[4] = out[4] + 1
  -- The stored receipt: 1 body, 2 cert_fp (32 bytes), 3 sig; see receipt.c.
  if #v > 3 then
    local blen = string.byte(v, 2) * 256 + string.byte(v, 3)
    local raw = string.sub(v, 3 + blen + 4, 3 + blen + 3 + 32)
    if #raw == 32 then
      local fp = string.gsub(raw, '.', function(c) return string.format('%02x', string.byte(c)) end)
      if not seen[fp] then seen[fp] = true; fps[#fps + 1] = fp end
    end
  end
end
for _, fp in ipairs(fps) do
  out[#out + 1] = fp
  out[#out + 1] = redis.call('HGET', P .. 'certs', fp) or ''
end
return out
