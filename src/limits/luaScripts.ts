/**
 * The Redis side of RedisLimiter. Each acquire is one script, so the check and the count are one
 * atomic step for every process sharing the key. Time is Redis's (TIME), so processes with
 * skewed clocks still share one window.
 *
 * Per key id, under a hash tag so the three keys share a cluster slot:
 * - `{id}:log`  sorted set, ticket → admission time (ms): the sliding window log;
 * - `{id}:tok`  hash, ticket → tokens, and `_sum` → their total;
 * - `{id}:par`  sorted set, ticket → lease deadline (ms): requests in flight.
 * The log and tokens expire one window (plus a second) after the last admission, the leases one
 * lease after it, so an idle key leaves nothing behind.
 */

/** @internal */
export const ACQUIRE_LUA = `
local log, tok, par = KEYS[1], KEYS[2], KEYS[3]
local rpm, tpm, maxPar = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local tokens, ticket = tonumber(ARGV[4]), ARGV[5]
local window, lease = tonumber(ARGV[6]), tonumber(ARGV[7])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cutoff = now - window

-- Entries at or before the cutoff have left the window, with their tokens.
while true do
  local old = redis.call('ZRANGEBYSCORE', log, '-inf', cutoff, 'LIMIT', 0, 500)
  if #old == 0 then break end
  local values = redis.call('HMGET', tok, unpack(old))
  local freed = 0
  for i = 1, #values do freed = freed + (tonumber(values[i]) or 0) end
  redis.call('ZREM', log, unpack(old))
  redis.call('HDEL', tok, unpack(old))
  redis.call('HINCRBY', tok, '_sum', -freed)
end
redis.call('ZREMRANGEBYSCORE', par, '-inf', now)

local count = redis.call('ZCARD', log)
local sum = tonumber(redis.call('HGET', tok, '_sum') or '0')
if count == 0 then
  -- Nothing counted: drop the hash, which could otherwise be left without an expiry.
  redis.call('DEL', tok)
  sum = 0
end
local inflight = redis.call('ZCARD', par)

-- hit: 0 none, 1 requests, 2 tokens, 3 parallel; wait: ms until allowed, -1 never.
local hit, wait = 0, 0
local function consider(code, ms)
  if wait == -1 then return end
  if ms == -1 or ms > wait then hit, wait = code, ms end
end

if rpm >= 0 and count + 1 > rpm then
  if rpm == 0 then consider(1, -1) else
    -- The (count - rpm)th oldest must leave the window to make room for one more.
    local e = redis.call('ZRANGE', log, count - rpm, count - rpm, 'WITHSCORES')
    consider(1, tonumber(e[2]) + window - now)
  end
end

if tpm >= 0 and sum + tokens > tpm then
  if tokens > tpm then consider(2, -1) else
    local need, freed, start, at = sum + tokens - tpm, 0, 0, nil
    while at == nil do
      local page = redis.call('ZRANGE', log, start, start + 199, 'WITHSCORES')
      if #page == 0 then break end
      local members = {}
      for i = 1, #page, 2 do members[#members + 1] = page[i] end
      local values = redis.call('HMGET', tok, unpack(members))
      for i = 1, #members do
        freed = freed + (tonumber(values[i]) or 0)
        if freed >= need then at = tonumber(page[2 * i]) break end
      end
      start = start + 200
    end
    consider(2, at and (at + window - now) or window)
  end
end

if maxPar >= 0 and inflight + 1 > maxPar then
  if maxPar == 0 then consider(3, -1) else consider(3, 1000) end
end

if hit == 0 then
  if rpm >= 0 or tpm >= 0 then
    redis.call('ZADD', log, now, ticket)
    redis.call('HSET', tok, ticket, tokens)
    redis.call('HINCRBY', tok, '_sum', tokens)
    redis.call('PEXPIRE', log, window + 1000)
    redis.call('PEXPIRE', tok, window + 1000)
    count = count + 1
    sum = sum + tokens
  end
  if maxPar >= 0 then
    redis.call('ZADD', par, now + lease, ticket)
    redis.call('PEXPIRE', par, lease + 1000)
  end
end

local reset = 0
if count > 0 then
  local newest = redis.call('ZRANGE', log, -1, -1, 'WITHSCORES')
  reset = tonumber(newest[2]) + window - now
end
local allowed = 0
if hit == 0 then allowed = 1 end
return { allowed, hit, wait, count, sum, reset }
`;

/**
 * ARGV: ticket, actual tokens ('' to keep the estimate), forget ('1': remove the request from
 * the window too, for an acquire whose answer came too late to be used).
 * @internal
 */
export const RELEASE_LUA = `
local log, tok, par = KEYS[1], KEYS[2], KEYS[3]
local ticket, actual, forget = ARGV[1], ARGV[2], ARGV[3]
redis.call('ZREM', par, ticket)
local cur = redis.call('HGET', tok, ticket)
if not cur then return 0 end
if forget == '1' then
  redis.call('ZREM', log, ticket)
  redis.call('HDEL', tok, ticket)
  redis.call('HINCRBY', tok, '_sum', -tonumber(cur))
elseif actual ~= '' then
  local delta = tonumber(actual) - tonumber(cur)
  if delta ~= 0 then
    redis.call('HSET', tok, ticket, actual)
    redis.call('HINCRBY', tok, '_sum', delta)
  end
end
return 1
`;
