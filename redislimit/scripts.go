package redislimit

import "github.com/redis/go-redis/v9"

// The scripts keep their times in microseconds of Redis's clock (TIME),
// the one clock every process agrees on. Redis 5 and later replicate a
// script's effects, which makes reading TIME before writing allowed; the
// pcall to replicate_commands covers Redis 3.2 and 4.

// luaNow is the prologue of every script: now, in microseconds.
const luaNow = `
pcall(redis.replicate_commands)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
`

// luaAddUnits adds k members base:1..base:k at score s, in chunks, so that
// a large k does not overflow Lua's stack through unpack.
const luaAddUnits = `
local function add(key, base, k, s, flag)
  local args = {}
  for i = 1, k do
    args[#args + 1] = s
    args[#args + 1] = base .. ':' .. i
    if #args >= 1000 or i == k then
      if flag then
        redis.call('ZADD', key, flag, unpack(args))
      else
        redis.call('ZADD', key, unpack(args))
      end
      args = {}
    end
  end
end
`

// windowTake is the sliding log. KEYS[1] is a sorted set of units scored
// by their stamp. ARGV: n, span (per plus the guard), k, pending (1 or 0),
// hold (how far ahead a pending unit is provisionally stamped), the
// grant's base name, and the key's TTL in ms.
//
// A unit counts while its stamp is later than now - span. A pending unit
// is stamped provisionally at now + hold, so it counts until it is
// committed (restamped at the commit, earlier) or cancelled (removed), or
// at worst until hold + span after its grant if its process died. The
// invariant is the local Window's: a unit occupies capacity from its
// grant until its stamp plus span, and at most n are occupied at any
// instant, so every window of length span ending at a stamp holds at most
// n stamps.
//
// The cost per call is one ZREMRANGEBYSCORE (amortised: each unit is
// removed once), one ZCARD and one ZADD, O(log N) in the units counted,
// whatever n is. Denied, it returns the wait until enough units stop
// counting: the (excess)th oldest's stamp plus span; a pending unit's
// commit can come no earlier than now, so it frees no earlier than
// now + span (a cancel may free it sooner; the waiter then finds out
// late, never early).
//
// Reply: {1, 0} granted, or {0, wait in microseconds}.
var windowTake = redis.NewScript(luaNow + luaAddUnits + `
local key = KEYS[1]
local n, span, k = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - span)
local used = redis.call('ZCARD', key)
if used + k <= n then
  local s = now
  if ARGV[4] == '1' then s = now + tonumber(ARGV[5]) end
  add(key, ARGV[6], k, s, nil)
  redis.call('PEXPIRE', key, ARGV[7])
  return {1, 0}
end
local excess = used + k - n
local e = redis.call('ZRANGE', key, excess - 1, excess - 1, 'WITHSCORES')
local s = tonumber(e[2])
if s > now then s = now end
return {0, math.max(s + span - now, 1)}
`)

// windowCommit stamps a pending grant's units now. A unit Redis has
// already forgotten (its process stalled past hold + span) is stamped
// anyway: the request is going out. ARGV: base, k, ttl in ms.
var windowCommit = redis.NewScript(luaNow + luaAddUnits + `
add(KEYS[1], ARGV[1], tonumber(ARGV[2]), now, nil)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1}
`)

// windowRestamp moves a committed grant's units to now if they still
// count (and are not stamped later already). ARGV: base, k, span.
var windowRestamp = redis.NewScript(luaNow + `
local key, base, k, span = KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local moved = 0
for i = 1, k do
  local m = base .. ':' .. i
  local s = redis.call('ZSCORE', key, m)
  if s and tonumber(s) > now - span and tonumber(s) < now then
    redis.call('ZADD', key, 'XX', now, m)
    moved = moved + 1
  end
end
return {moved}
`)

// windowCancel gives a pending grant's units back. ARGV: base, k.
var windowCancel = redis.NewScript(`
local base, k = ARGV[1], tonumber(ARGV[2])
local removed = 0
for i = 1, k do
  removed = removed + redis.call('ZREM', KEYS[1], base .. ':' .. i)
end
return {removed}
`)

// semAcquire takes a slot: KEYS[1] is a sorted set of leases scored by
// their expiry. ARGV: n, lease in microseconds, the lease's name, the
// key's TTL in ms. Reply: {1, 0} granted, or {0, wait in microseconds
// until the oldest lease expires if it is not renewed}.
var semAcquire = redis.NewScript(luaNow + `
local key, n, lease = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
if redis.call('ZSCORE', key, ARGV[3]) or redis.call('ZCARD', key) < n then
  redis.call('ZADD', key, now + lease, ARGV[3])
  redis.call('PEXPIRE', key, ARGV[4])
  return {1, 0}
end
local e = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {0, math.max(tonumber(e[2]) - now, 1)}
`)

// semRenew renews the leases named in ARGV[3:] that have not expired, and
// returns 1 or 0 for each (0: lost, removed if still there). ARGV[1] is
// the lease in microseconds, ARGV[2] the key's TTL in ms.
var semRenew = redis.NewScript(luaNow + `
local key, lease = KEYS[1], tonumber(ARGV[1])
local out = {}
for i = 3, #ARGV do
  local s = redis.call('ZSCORE', key, ARGV[i])
  if s and tonumber(s) > now then
    redis.call('ZADD', key, 'XX', now + lease, ARGV[i])
    out[#out + 1] = 1
  else
    if s then redis.call('ZREM', key, ARGV[i]) end
    out[#out + 1] = 0
  end
end
redis.call('PEXPIRE', key, ARGV[2])
return out
`)

// semRelease gives the leases named in ARGV back.
var semRelease = redis.NewScript(`
local removed = 0
for i = 1, #ARGV do
  removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
end
return {removed}
`)
