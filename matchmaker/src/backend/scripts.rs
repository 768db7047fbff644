//! The Lua scripts that make each Redis state change atomic.
//!
//! Every key a script touches is passed in KEYS (all share one hash tag);
//! ARGV carries the structure (counts, ids, JSON records).

/// Adds a ticket unless the queue is full or a member holds a lock.
///
/// KEYS: tickets hash, then one lock key per member.
/// ARGV: ticket id, ticket JSON, lock TTL ms, queue bound.
/// Returns `{"ok"}`, `{"full"}` or `{"conflict", member index, lock}`.
pub(super) const ENQUEUE: &str = r#"
if redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then return {'full'} end
for i = 2, #KEYS do
  local held = redis.call('GET', KEYS[i])
  if held then return {'conflict', tostring(i - 1), held} end
end
for i = 2, #KEYS do
  redis.call('SET', KEYS[i], 't:' .. ARGV[1], 'PX', ARGV[3])
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {'ok'}
"#;

/// Removes tickets (cancel, expiry), releasing locks they still hold, and
/// publishes an event for each ticket it actually removed.
///
/// KEYS: tickets hash, event stream, then every ticket's lock keys in turn.
/// ARGV: stream bound, ticket count, then per ticket: id, event JSON (or
/// empty), lock count.
/// Returns one 0/1 per ticket.
pub(super) const DROP_TICKETS: &str = r#"
local a, k, out = 3, 3, {}
for n = 1, tonumber(ARGV[2]) do
  local tid, ev, np = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
  a = a + 3
  if redis.call('HDEL', KEYS[1], tid) == 1 then
    for j = 0, np - 1 do
      if redis.call('GET', KEYS[k + j]) == 't:' .. tid then redis.call('DEL', KEYS[k + j]) end
    end
    if ev ~= '' then redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[1], '*', 'e', ev) end
    out[n] = 1
  else
    out[n] = 0
  end
  k = k + np
end
return out
"#;

/// Commits groups as sessions. A group commits only if all its tickets
/// are still open; then its tickets go, its players are locked to the
/// session, and its match event is published, all in one step.
///
/// KEYS: tickets hash, sessions hash, event stream, then every group's
/// player lock keys in turn.
/// ARGV: stream bound, session lock TTL ms, group count, then per group:
/// session id, session JSON, event JSON, ticket count, ticket ids...,
/// player count.
/// Returns one 0/1 per group.
pub(super) const COMMIT: &str = r#"
local a, k, out = 4, 4, {}
for g = 1, tonumber(ARGV[3]) do
  local sid, sjson, ev, nt = ARGV[a], ARGV[a + 1], ARGV[a + 2], tonumber(ARGV[a + 3])
  a = a + 4
  local open = true
  for i = 0, nt - 1 do
    if redis.call('HEXISTS', KEYS[1], ARGV[a + i]) == 0 then open = false end
  end
  local np = tonumber(ARGV[a + nt])
  if open then
    for i = 0, nt - 1 do redis.call('HDEL', KEYS[1], ARGV[a + i]) end
    for j = 0, np - 1 do redis.call('SET', KEYS[k + j], 's:' .. sid, 'PX', ARGV[2]) end
    redis.call('HSET', KEYS[2], sid, sjson)
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[1], '*', 'e', ev)
    out[g] = 1
  else
    out[g] = 0
  end
  a = a + nt + 1
  k = k + np
end
return out
"#;

/// Ends sessions, releasing the locks that still point at them.
///
/// KEYS: sessions hash, then every session's lock keys in turn.
/// ARGV: session count, then per session: id, lock count.
/// Returns one 0/1 per session.
pub(super) const END_SESSIONS: &str = r#"
local a, k, out = 2, 2, {}
for n = 1, tonumber(ARGV[1]) do
  local sid, np = ARGV[a], tonumber(ARGV[a + 1])
  a = a + 2
  if redis.call('HDEL', KEYS[1], sid) == 1 then
    for j = 0, np - 1 do
      if redis.call('GET', KEYS[k + j]) == 's:' .. sid then redis.call('DEL', KEYS[k + j]) end
    end
    out[n] = 1
  else
    out[n] = 0
  end
  k = k + np
end
return out
"#;

/// Takes the matching lease if free, or renews it if ours.
///
/// KEYS: lease key. ARGV: our id, TTL ms. Returns 1 when we hold it.
pub(super) const LEASE: &str = r#"
local holder = redis.call('GET', KEYS[1])
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
elseif holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"#;

/// Gives the lease up if ours. KEYS: lease key. ARGV: our id.
pub(super) const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;
