package streamq

import "github.com/redis/go-redis/v9"

// Every script touches only keys of one queue (one hash slot) and declares
// all of them in KEYS, so it runs unchanged on Redis Cluster.

// tickScript is run by every consumer about once a second. It records the
// heartbeat, moves due delayed messages (ProcessAt) to the stream and due
// retries of this group to the group's retry stream, and returns the stale
// consumers of the group and the earliest future due times.
//
// KEYS: stream, delayed, retry zset, retry stream, heartbeat zset
// ARGV: now ms, consumer (empty = no heartbeat), stale-before ms, limit
var tickScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[4])
if ARGV[2] ~= '' then redis.call('ZADD', KEYS[5], now, ARGV[2]) end
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)
for _, m in ipairs(due) do
  if string.sub(m, 17, 17) == '#' then
    local hl = tonumber(string.sub(m, 18, 25), 16)
    redis.call('XADD', KEYS[1], '*', 'd', string.sub(m, 26 + hl), 'h', string.sub(m, 26, 25 + hl))
  else
    redis.call('XADD', KEYS[1], '*', 'd', string.sub(m, 18))
  end
  redis.call('ZREM', KEYS[2], m)
end
local rdue = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, limit)
for _, m in ipairs(rdue) do
  redis.call('XADD', KEYS[4], '*', 'e', m)
  redis.call('ZREM', KEYS[3], m)
end
local stale = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', '(' .. ARGV[3])
local n1 = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local n2 = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
return {#due, #rdue, stale, n1[2] or '', n2[2] or ''}
`)

// retryScript schedules a failed delivery for a later retry: it adds the
// retry envelope to the group's retry zset and acknowledges (and, on the
// retry stream, deletes) the entry, only if the entry is still pending for
// this consumer. Returns 1 when moved, 0 when the entry was not ours.
//
// KEYS: source stream, retry zset
// ARGV: group, id, consumer, due ms, envelope, delete (1/0)
var retryScript = redis.NewScript(`
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 0 or p[1][2] ~= ARGV[3] then return 0 end
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if ARGV[6] == '1' then redis.call('XDEL', KEYS[1], ARGV[2]) end
return 1
`)

// retryBatchScript is retryScript for the messages of one failed batch
// handler call, in one round trip and with one due time, so the batch
// comes back together. Returns 1 or 0 per message, in order.
//
// KEYS: stream, retry stream, retry zset
// ARGV: group, consumer, due ms, then per message: from retry stream (1/0), id, envelope
var retryBatchScript = redis.NewScript(`
local out = {}
for i = 4, #ARGV, 3 do
  local k = KEYS[1]
  if ARGV[i] == '1' then k = KEYS[2] end
  local id = ARGV[i + 1]
  local p = redis.call('XPENDING', k, ARGV[1], id, id, 1)
  if #p == 0 or p[1][2] ~= ARGV[2] then
    out[#out + 1] = 0
  else
    redis.call('ZADD', KEYS[3], ARGV[3], ARGV[i + 2])
    redis.call('XACK', k, ARGV[1], id)
    if ARGV[i] == '1' then redis.call('XDEL', k, id) end
    out[#out + 1] = 1
  end
end
return out
`)

// deadScript moves a delivery to the dead-letter stream atomically: XADD to
// the dead stream, XACK (and XDEL on the retry stream) the source entry, only
// if it is still pending for this consumer. Returns the dead-letter ID or 0.
//
// KEYS: source stream, dead stream
// ARGV: group, id, consumer, delete (1/0), dead maxlen (0 = none), fields...
var deadScript = redis.NewScript(`
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 0 or p[1][2] ~= ARGV[3] then return 0 end
local id
if tonumber(ARGV[5]) > 0 then
  id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', unpack(ARGV, 6))
else
  id = redis.call('XADD', KEYS[2], '*', unpack(ARGV, 6))
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if ARGV[4] == '1' then redis.call('XDEL', KEYS[1], ARGV[2]) end
return id
`)

// extendScript resets the idle time of an entry still pending for this
// consumer (XCLAIM to itself, JUSTID: the delivery counter is unchanged).
//
// KEYS: source stream
// ARGV: group, id, consumer
var extendScript = redis.NewScript(`
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 0 or p[1][2] ~= ARGV[3] then return 0 end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[3], 0, ARGV[2], 'JUSTID')
return 1
`)

// delConsumerScript deletes a consumer from the group on both streams and
// its heartbeat, only when it has no pending entries on either stream
// (XGROUP DELCONSUMER would otherwise destroy them). Returns 1 if deleted.
//
// KEYS: stream, retry stream, heartbeat zset
// ARGV: group, consumer
var delConsumerScript = redis.NewScript(`
for i = 1, 2 do
  local ok, p = pcall(redis.call, 'XPENDING', KEYS[i], ARGV[1], '-', '+', 1, ARGV[2])
  if ok and #p > 0 then return 0 end
end
for i = 1, 2 do
  pcall(redis.call, 'XGROUP', 'DELCONSUMER', KEYS[i], ARGV[1], ARGV[2])
end
redis.call('ZREM', KEYS[3], ARGV[2])
return 1
`)

// addUniqueScript adds a message unless its dedup key exists; the key stores
// the stream ID for ttl ms. Returns {1, id} when added, {0, first id} if not.
//
// KEYS: stream, dedup key
// ARGV: ttl ms, payload, metadata (” for none)
var addUniqueScript = redis.NewScript(`
local ex = redis.call('GET', KEYS[2])
if ex then return {0, ex} end
local id
if ARGV[3] ~= '' then
  id = redis.call('XADD', KEYS[1], '*', 'd', ARGV[2], 'h', ARGV[3])
else
  id = redis.call('XADD', KEYS[1], '*', 'd', ARGV[2])
end
redis.call('SET', KEYS[2], id, 'PX', ARGV[1])
return {1, id}
`)

// trimScript trims, atomically, every entry that all groups have
// acknowledged: everything below the lowest pending ID of any group and
// below last-delivered-id+1 of groups with nothing pending. With a maxlen it
// then caps the stream and counts what the cap removed in the dropped key.
// Streams without groups are only capped. Returns {acked trimmed, dropped,
// group holding the trim bound, ID of the oldest entry left} (empty strings
// when there is none).
//
// KEYS: stream, dropped counter
// ARGV: maxlen (0 = none)
var trimScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {0, 0, '', ''} end
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  if am ~= bm then return am < bm end
  return as < bs
end
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
local trimmed = 0
local pinner = ''
if #groups > 0 then
  local min = nil
  for _, g in ipairs(groups) do
    local f = {}
    for i = 1, #g, 2 do f[g[i]] = g[i + 1] end
    local bound
    if tonumber(f['pending']) > 0 then
      bound = redis.call('XPENDING', KEYS[1], f['name'])[2]
    else
      local ms, seq = parse(f['last-delivered-id'])
      bound = string.format('%.0f-%.0f', ms, seq + 1)
    end
    if min == nil or less(bound, min) then min = bound; pinner = f['name'] end
  end
  trimmed = redis.call('XTRIM', KEYS[1], 'MINID', min)
end
local dropped = 0
local maxlen = tonumber(ARGV[1])
if maxlen > 0 then
  dropped = redis.call('XTRIM', KEYS[1], 'MAXLEN', maxlen)
  if dropped > 0 then redis.call('INCRBY', KEYS[2], dropped) end
end
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
if #first == 0 then return {trimmed, dropped, '', ''} end
return {trimmed, dropped, pinner, first[1][1]}
`)

// requeueScript moves dead letters back to the group's retry stream with a
// fresh attempt count. Returns how many were moved.
//
// KEYS: dead stream, retry stream
// ARGV: ids...
var requeueScript = redis.NewScript(`
local n = 0
for _, id in ipairs(ARGV) do
  local e = redis.call('XRANGE', KEYS[1], id, id)
  if #e == 1 then
    local f = {}
    local kv = e[1][2]
    for i = 1, #kv, 2 do f[kv[i]] = kv[i + 1] end
    if f['d'] and f['id'] then
      if f['h'] then
        redis.call('XADD', KEYS[2], '*', 'e', '0h' .. #f['h'] .. '|' .. f['id'] .. '|' .. f['h'] .. f['d'])
      else
        redis.call('XADD', KEYS[2], '*', 'e', '0|' .. f['id'] .. '|' .. f['d'])
      end
      redis.call('XDEL', KEYS[1], id)
      n = n + 1
    end
  end
end
return n
`)
