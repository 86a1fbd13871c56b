"""The Lua scripts of :class:`~icalendly_async.ratelimit.redis.RedisLimiter`.

Each decision is one script, so it is atomic across every process and host that shares the
Redis. The keys of one credential share a hash tag (``{prefix}:{<limit key>}:…``): one Cluster
slot, so a script may touch them all. Times are integer microseconds. They come from the
server's ``TIME`` (one clock for the whole fleet) unless the limiter runs with
``clock="client"``, for servers that refuse ``TIME`` in scripts: then the caller's wall clock
is used, clamped so that it never runs behind the newest entry of the log.

Numbers reach Redis commands through ``string.format('%d', …)``: Lua would print a bare
16-digit number as ``1.7123456789012e+15`` and lose the microseconds.

Keys of a credential:

``log``      sorted set: one member per request started, scored by its start time
``bulk``     sorted set: the same for ``BULK`` calls, when a bulk share is set
``hold``     string: until when nothing may start (a 429's block)
``budgets``  hash: ``b:<name>`` requests left and ``r:<name>`` until when, per named limit
``limit``    string: ``<limit>:<window_us>``, the server's ``Default`` limit when it differs from
             the configured one, and its window: the longest ``Reset`` announced outside a
             block (a window's first answer announces all of it; 0 until seen)
``cal``      string: ``c`` (calibrated) or ``p:<deadline>:<member>`` (a probe is out)

Every key has a TTL, so an idle credential leaves nothing behind.
"""

from __future__ import annotations

__all__ = ["FEEDBACK", "GRANT", "PENALIZE", "RELEASE", "RESTAMP"]

_CLOCK = """
local function fmt(x) return string.format('%d', x) end
local now
if ARGV[2] == '1' then
  if redis.replicate_commands then pcall(redis.replicate_commands) end
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
else
  now = tonumber(ARGV[1])
end
"""

GRANT = (
    _CLOCK
    + """
-- KEYS: log, hold, budgets, limit, cal, bulk
-- ARGV: now, server_time, limit, "span_us:margin_us:cap_us:share_ppm" (margin -1: the default,
--       cap_us, at most share_ppm millionths of the window: _window.default_margin),
--       calibrate, calibration_timeout_us,
--       bulk_share, backfill, member_prefix,
--       then (cost, bulk) for each waiter in the order to grant
-- Returns {granted, wait_us, reason, now_us, probe, limit}: the first `granted` waiters may
-- start; the next one may start in `wait_us` (reason 1 log, 2 hold, 3 budget, 4 probe,
-- 5 bulk share). granted = -1: the first waiter's cost exceeds the limit.
local log, hold, budgets, limit_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local cal_key, bulk = KEYS[5], KEYS[6]
local span_arg, margin_arg, cap_arg, share_arg = string.match(
  ARGV[4], '^(%d+):(-?%d+):(%d+):(%d+)$')
local span = tonumber(span_arg)
local limit = tonumber(ARGV[3])
local server = redis.call('GET', limit_key)
if server then
  -- Follow the server: its limit, and its window once a window's first answer showed it.
  local l, w = string.match(server, '^(%d+):(%d+)$')
  limit = tonumber(l)
  w = tonumber(w)
  if w > 0 then
    local m = tonumber(margin_arg)
    if m < 0 then
      m = math.min(tonumber(cap_arg), math.floor(w * tonumber(share_arg) / 1000000))
    end
    span = w + m
  end
end
if ARGV[2] ~= '1' then
  local newest = redis.call('ZREVRANGE', log, 0, 0, 'WITHSCORES')
  if newest[2] and tonumber(newest[2]) > now then now = tonumber(newest[2]) end
end
local ttl_ms = math.ceil(span / 1000) + 1000
local horizon = now - span
local after = '(' .. fmt(horizon)
local share = tonumber(ARGV[7])
local bulk_cap = -1
if share > 0 then bulk_cap = math.max(1, math.floor(limit * share)) end
local prefix = ARGV[9]
local nwaiters = (#ARGV - 9) / 2

local backfill = tonumber(ARGV[8])
if backfill > 0 then
  -- Starts this process granted on its own during an outage: count them as starting now.
  for j = 1, backfill do redis.call('ZADD', log, fmt(now), prefix .. ':b' .. j) end
  redis.call('PEXPIRE', log, ttl_ms)
end

local n = redis.call('ZCOUNT', log, after, '+inf')
local bn = 0
if bulk_cap >= 0 then bn = redis.call('ZCOUNT', bulk, after, '+inf') end

local active = {}
local flat = redis.call('HGETALL', budgets)
local values = {}
for i = 1, #flat, 2 do values[flat[i]] = tonumber(flat[i + 1]) end
local stale = {}
for field, value in pairs(values) do
  if string.sub(field, 1, 2) == 'b:' then
    local name = string.sub(field, 3)
    local reset = values['r:' .. name]
    if reset and reset > now then
      active[#active + 1] = {name, value, reset}
    else
      stale[#stale + 1] = name
    end
  end
end

local cal = nil
local probe = 0
if ARGV[5] == '1' then
  cal = redis.call('GET', cal_key)
  if not cal then probe = 1 end
end

local function later(w, why, at, reason)
  if at - now > w then return at - now, reason end
  return w, why
end

-- Microseconds until `c` more starts (BULK if b) fit, `used` (`bused`) being already granted.
local function need(c, b, used, bused)
  local w, why = 0, 0
  local h = redis.call('GET', hold)
  if h then w, why = later(w, why, tonumber(h), 2) end
  if cal and string.sub(cal, 1, 2) == 'p:' then
    local deadline = tonumber(string.match(cal, '^p:(%d+)'))
    if deadline and now < deadline then w, why = later(w, why, deadline, 4) end
  end
  local index = n + used - (limit - c) - 1
  if index >= 0 then
    local e = redis.call('ZRANGEBYSCORE', log, after, '+inf', 'WITHSCORES', 'LIMIT', index, 1)
    if e[2] then w, why = later(w, why, tonumber(e[2]) + span, 1) end
  end
  if b and bulk_cap >= 0 then
    local bindex = bn + bused - (bulk_cap - c) - 1
    if bindex >= 0 then
      local e = redis.call('ZRANGEBYSCORE', bulk, after, '+inf', 'WITHSCORES', 'LIMIT', bindex, 1)
      if e[2] then w, why = later(w, why, tonumber(e[2]) + span, 5) end
    end
  end
  for _, entry in ipairs(active) do
    if entry[2] - used < c then w, why = later(w, why, entry[3], 3) end
  end
  return w, why
end

local first_cost = tonumber(ARGV[10])
local first_bulk = ARGV[11] == '1'
if first_cost > limit or (first_bulk and bulk_cap >= 0 and first_cost > bulk_cap) then
  return {-1, 0, 0, now, 0, limit}
end
local wait, reason = need(first_cost, first_bulk, 0, 0)
if wait > 0 then
  return {0, wait, reason, now, 0, limit}  -- a denial writes nothing (but a backfill)
end

-- Grant the longest prefix of the waiters that fits, in their order.
local granted, used, bused = 0, 0, 0
local min_budget = nil
for _, entry in ipairs(active) do
  if min_budget == nil or entry[2] < min_budget then min_budget = entry[2] end
end
local last = nwaiters
if probe == 1 then last = 1 end  -- a fresh credential: the probe goes out alone
for i = 1, last do
  local c = tonumber(ARGV[8 + 2 * i])
  local b = ARGV[9 + 2 * i] == '1'
  if n + used + c > limit then break end
  if min_budget ~= nil and used + c > min_budget then break end
  if b and bulk_cap >= 0 and bn + bused + c > bulk_cap then break end
  used = used + c
  if b then bused = bused + c end
  granted = i
end

redis.call('ZREMRANGEBYSCORE', log, '-inf', fmt(horizon))
local stamp = fmt(now)
local first_member = prefix .. ':0.0'
for i = 1, granted do
  local c = tonumber(ARGV[8 + 2 * i])
  local b = ARGV[9 + 2 * i] == '1'
  for j = 0, c - 1 do
    local member = prefix .. ':' .. (i - 1) .. '.' .. j
    redis.call('ZADD', log, stamp, member)
    if b and bulk_cap >= 0 then redis.call('ZADD', bulk, stamp, member) end
  end
end
redis.call('PEXPIRE', log, ttl_ms)
if bused > 0 then
  redis.call('ZREMRANGEBYSCORE', bulk, '-inf', fmt(horizon))
  redis.call('PEXPIRE', bulk, ttl_ms)
end
for _, entry in ipairs(active) do
  redis.call('HINCRBY', budgets, 'b:' .. entry[1], -used)
  entry[2] = entry[2] - used
end
for _, name in ipairs(stale) do redis.call('HDEL', budgets, 'b:' .. name, 'r:' .. name) end
if probe == 1 then
  local deadline = now + tonumber(ARGV[6])
  cal = 'p:' .. fmt(deadline) .. ':' .. first_member
  redis.call('SET', cal_key, cal, 'PX', math.ceil((deadline - now) / 1000) + ttl_ms)
elseif cal == 'c' then
  redis.call('PEXPIRE', cal_key, ttl_ms)
elseif cal then
  redis.call('SET', cal_key, 'c', 'PX', ttl_ms)  -- the probe is slow: go on without it
  cal = 'c'
end

n = n + used
bn = bn + bused
-- Budgets are already decremented above, so `need` starts from zero used.
local next_wait, next_reason = 0, 0
if granted < nwaiters then
  next_wait, next_reason = need(tonumber(ARGV[8 + 2 * (granted + 1)]),
    ARGV[9 + 2 * (granted + 1)] == '1', 0, 0)
end
return {granted, next_wait, next_reason, now, probe, limit}
"""
)

FEEDBACK = (
    _CLOCK
    + """
-- KEYS: budgets, limit, cal
-- ARGV: now, server_time, configured_limit, span_us, margin_us, received, probe_member,
--       then (name, limit, budget, reset_us) for each named limit ('' when unknown)
local budgets, limit_key, cal_key = KEYS[1], KEYS[2], KEYS[3]
local span = tonumber(ARGV[4])
local margin = tonumber(ARGV[5])
local ttl_ms = math.ceil(span / 1000) + 1000
local probe = ARGV[7]
if ARGV[6] ~= '1' then
  -- The probe got no answer: it taught nothing, so the next grant probes again.
  local cal = redis.call('GET', cal_key)
  if cal and probe ~= '' and string.sub(cal, 1, 2) == 'p:'
      and string.sub(cal, -(#probe + 1)) == ':' .. probe then
    redis.call('DEL', cal_key)
  end
  return 0
end
local longest = 0
for i = 8, #ARGV, 4 do
  local name, lim, budget, reset = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if name == 'default' and lim ~= '' then
    if lim == ARGV[3] then
      redis.call('DEL', limit_key)
    else
      local window = 0
      local old = redis.call('GET', limit_key)
      if old then window = tonumber(string.match(old, ':(%d+)$') or '0') end
      if budget ~= '' and reset ~= '' and tonumber(budget) > 0 and tonumber(reset) > window then
        window = tonumber(reset)
      end
      redis.call('SET', limit_key, lim .. ':' .. fmt(window), 'PX', ttl_ms)
    end
  end
  if budget ~= '' and reset ~= '' then
    local b = tonumber(budget)
    local r = now + tonumber(reset) + margin
    local old_r = tonumber(redis.call('HGET', budgets, 'r:' .. name))
    local old_b = tonumber(redis.call('HGET', budgets, 'b:' .. name))
    if old_r and old_b and now < old_r and math.abs(r - old_r) < 1000000 + margin then
      -- The same server window: keep the most conservative view (answers arrive out of order).
      if old_b < b then b = old_b end
      if old_r < r then r = old_r end
    end
    redis.call('HSET', budgets, 'b:' .. name, fmt(b), 'r:' .. name, fmt(r))
    if r - now > longest then longest = r - now end
  end
end
if longest > 0 then
  local want = math.ceil(longest / 1000) + 1000
  if redis.call('PTTL', budgets) < want then redis.call('PEXPIRE', budgets, want) end
end
redis.call('SET', cal_key, 'c', 'PX', ttl_ms)  -- heard from the server: calibrated
return 1
"""
)

PENALIZE = (
    _CLOCK
    + """
-- KEYS: hold, budgets.  ARGV: now, server_time, hold_us (the block plus the margin)
local until_ = now + tonumber(ARGV[3])
local old = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_ > old then
  redis.call('SET', KEYS[1], fmt(until_), 'PX', math.ceil((until_ - now) / 1000) + 1)
end
redis.call('DEL', KEYS[2])
return until_ - now
"""
)

RELEASE = """
-- KEYS: log, bulk, budgets, cal.  ARGV: the members of a grant whose call never started.
local removed = redis.call('ZREM', KEYS[1], unpack(ARGV))
redis.call('ZREM', KEYS[2], unpack(ARGV))
if removed > 0 then
  local flat = redis.call('HGETALL', KEYS[3])
  for i = 1, #flat, 2 do
    if string.sub(flat[i], 1, 2) == 'b:' then redis.call('HINCRBY', KEYS[3], flat[i], removed) end
  end
end
local cal = redis.call('GET', KEYS[4])
if cal and string.sub(cal, 1, 2) == 'p:' and string.sub(cal, -(#ARGV[1] + 1)) == ':' .. ARGV[1] then
  redis.call('DEL', KEYS[4])
end
return removed
"""

RESTAMP = (
    _CLOCK
    + """
-- KEYS: log, bulk.  ARGV: now, server_time, then the members of a grant whose call resumed
-- late (a stalled event loop): their starts move to now, so the window counts from when the
-- calls went out. A member already gone (expired, given back) stays gone.
local moved = 0
for i = 3, #ARGV do
  local member = ARGV[i]
  for _, key in ipairs(KEYS) do
    local score = redis.call('ZSCORE', key, member)
    if score and tonumber(score) < now then
      redis.call('ZADD', key, fmt(now), member)
      if key == KEYS[1] then moved = moved + 1 end
    end
  end
end
return moved
"""
)
