// Socket behaviour the real server cannot stage on demand, against a
// scripted WebSocket server: timeouts, pushes and unmatched replies as
// events, dropped sockets, close codes, back-off and resuming state; and
// busy servers (close 1013, HTTP 503 with Retry-After), against scripted
// WebSocket and HTTP servers.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, afterEach, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CloseCodes, ErrorCodes, GeogameClient, GeogameError, TimeoutError } from '../geogame.js';
import { nextEvent, startStubServer } from './server.mjs';

/** @type {{stop: () => Promise<void>}[]} */
const stubs = [];
/** @type {GeogameClient[]} */
const clients = [];
afterEach(() => { for (const c of clients.splice(0)) c.close(); });
after(async () => { for (const s of stubs) await s.stop(); });

const WELCOME = { type: 'welcome', player_id: 'p-stub', server_id: 'stub-1', protocol: 1 };

/** A stub that welcomes every hello and hands other frames to `script`;
 * `frames` records every frame it got. @param {(conn: any, msg: any) => void} [script] */
async function stub(script = () => {}) {
  const frames = [];
  const s = await startStubServer((conn, msg) => {
    frames.push(msg);
    if (msg.type === 'hello') conn.send(WELCOME);
    else script(conn, msg);
  });
  stubs.push(s);
  return { ...s, frames, hellos: () => frames.filter((f) => f.type === 'hello').length };
}

/** A client of `url` with a token, not yet connected. @param {string} url @param {object} [opts] */
function unconnected(url, opts = {}) {
  const c = new GeogameClient({ baseUrl: 'http://127.0.0.1:1', playUrl: url, backoff: { initialMs: 20, maxMs: 80 }, ...opts });
  clients.push(c);
  c.setToken('stub-token');
  return c;
}

/** A connected client of `url`. @param {string} url @param {object} [opts] */
async function client(url, opts = {}) {
  const c = unconnected(url, opts);
  await c.connect();
  return c;
}

test('a request with no reply rejects with TimeoutError after requestTimeoutMs', async () => {
  const s = await stub(); // answers nothing but hello
  const c = await client(s.url, { requestTimeoutMs: 150 });
  const started = Date.now();
  const err = await c.location({ lat: 1, lon: 2 }).then(() => assert.fail('resolved'), (e) => e);
  assert.ok(err instanceof TimeoutError && err instanceof GeogameError);
  assert.equal(err.code, ErrorCodes.TIMEOUT);
  assert.equal(err.seq, s.frames.at(-1).seq);
  assert.ok(Date.now() - started >= 140);
  assert.equal((await c.request({ type: 'ping' }, { timeoutMs: 30 }).catch((e) => e)).name, 'TimeoutError');
  assert.equal(c.status, 'connected', 'a timeout does not close the socket');
});

test('no welcome within requestTimeoutMs rejects connect with TimeoutError', async () => {
  const s = await startStubServer(() => {});
  stubs.push(s);
  const c = new GeogameClient({ baseUrl: 'http://127.0.0.1:1', playUrl: s.url, requestTimeoutMs: 150 });
  clients.push(c);
  c.setToken('stub-token');
  await assert.rejects(c.connect(), TimeoutError);
  assert.equal(c.status, 'closed');
});

test('pushes, unmatched replies and seq-less errors are emitted as events', async () => {
  const s = await stub((conn, msg) => {
    if (msg.type !== 'ping') return;
    conn.send({ type: 'despawn', creature_id: 'c-1', reason: 'caught' });
    conn.send({ type: 'nearby', seq: 999, creatures: [], pois: [] });
    conn.send({ type: 'error', code: 'rate_limited', message: 'slow down' });
    conn.send({ type: 'future_thing', x: 1 });
    conn.send({ type: 'pong', seq: msg.seq });
  });
  const c = await client(s.url);
  const got = { despawn: [], nearby: [], error: [], future_thing: [], pong: [], all: [] };
  for (const t of ['despawn', 'nearby', 'error', 'future_thing', 'pong']) c.on(t, (m) => got[t].push(m));
  c.on('*', (m) => got.all.push(m.type));
  const pong = await c.ping();
  assert.equal(pong.type, 'pong');
  assert.deepEqual(got.despawn, [{ type: 'despawn', creature_id: 'c-1', reason: 'caught' }]);
  assert.equal(got.nearby[0].seq, 999);
  assert.equal(got.error.length, 1);
  assert.ok(got.error[0] instanceof GeogameError);
  assert.equal(got.error[0].code, ErrorCodes.RATE_LIMITED);
  assert.equal(got.future_thing.length, 1, 'unknown types reach their listeners too');
  assert.deepEqual(got.pong, [], 'a matched reply is not emitted as its type');
  assert.deepEqual(got.all, ['despawn', 'nearby', 'error', 'future_thing', 'pong']);
  // off() and the function on() returns both unsubscribe.
  const seen = [];
  const fn = (m) => seen.push(m);
  c.on('pong', fn);
  c.off('pong', fn);
  c.on('*', fn)();
  await c.ping();
  assert.deepEqual(seen, []);
});

test('a dropped socket rejects pending requests as unavailable, then reconnects and resumes', async () => {
  let drop = true;
  const s = await stub((conn, msg) => {
    if (msg.type === 'catch' && drop) { drop = false; conn.drop(); }
    else if (msg.type === 'location') conn.send({ type: 'nearby', seq: msg.seq, creatures: [], pois: [] });
  });
  const c = await client(s.url);
  await c.location({ lat: 10, lon: 20, heading: 5 });
  const statuses = [];
  c.on('status', (st) => statuses.push(st));
  const resumed = nextEvent(c, 'nearby');
  const err = await c.catch('c-1').then(() => assert.fail('resolved'), (e) => e);
  assert.equal(err.code, ErrorCodes.UNAVAILABLE);
  assert.equal(err.closeCode, 1006);
  const nearby = await resumed; // the SDK's own re-sent location
  assert.equal(c.status, 'connected');
  assert.equal(nearby.type, 'nearby');
  assert.equal(s.hellos(), 2);
  const resent = s.frames.filter((f) => f.type === 'location').at(-1);
  assert.deepEqual({ ...resent, seq: 0 }, { type: 'location', lat: 10, lon: 20, heading: 5, seq: 0 });
  assert.equal(s.frames.filter((f) => f.type === 'catch').length, 1, 'the catch is not re-sent');
  assert.deepEqual(statuses.map((st) => st.status), ['reconnecting', 'connected']);
  assert.equal(statuses[0].code, 1006);
  assert.equal(statuses[0].attempt, 1);
});

test('requests while not connected reject at once as unavailable', async () => {
  const c = new GeogameClient({ baseUrl: 'http://127.0.0.1:1' });
  await assert.rejects(c.ping(), { code: ErrorCodes.UNAVAILABLE });
});

test('close 4001 is status replaced, with no reconnect', async () => {
  const s = await stub((conn, msg) => { if (msg.type === 'ping') conn.close(CloseCodes.REPLACED); });
  const c = await client(s.url);
  const status = nextEvent(c, 'status');
  await assert.rejects(c.ping(), { code: ErrorCodes.UNAVAILABLE, closeCode: 4001 });
  assert.deepEqual(await status, { status: 'replaced', code: 4001, reason: '' });
  await sleep(200);
  assert.equal(c.status, 'replaced');
  assert.equal(s.hellos(), 1);
});

test('close 1008 is status closed, with no reconnect', async () => {
  const s = await stub((conn, msg) => { if (msg.type === 'ping') conn.close(CloseCodes.POLICY); });
  const c = await client(s.url);
  const status = nextEvent(c, 'status');
  await c.ping().catch(() => {});
  assert.equal((await status).status, 'closed');
  await sleep(200);
  assert.equal(s.hellos(), 1);
});

test('close 1001 after a shutdown push reconnects', async () => {
  const s = await stub((conn, msg) => {
    if (msg.type === 'ping') { conn.send({ type: 'shutdown', in_s: 1 }); conn.close(CloseCodes.GOING_AWAY); }
  });
  const c = await client(s.url);
  const shutdown = nextEvent(c, 'shutdown');
  const back = nextEvent(c, 'status', (st) => st.status === 'connected');
  await c.ping().catch(() => {});
  assert.equal((await shutdown).in_s, 1);
  await back;
  assert.equal(s.hellos(), 2);
});

test('reconnect: false stays closed; close() stops a reconnect loop', async () => {
  const s = await stub((conn, msg) => { if (msg.type === 'ping') conn.drop(); });
  const once = await client(s.url, { reconnect: false });
  const closed = nextEvent(once, 'status');
  await once.ping().catch(() => {});
  assert.deepEqual(await closed, { status: 'closed', code: 1006, reason: '' });

  const looping = await client(s.url, { backoff: { initialMs: 100, maxMs: 100 } });
  const reconnecting = nextEvent(looping, 'status');
  await looping.ping().catch(() => {});
  assert.equal((await reconnecting).status, 'reconnecting');
  const hellos = s.hellos();
  looping.close();
  assert.equal(looping.status, 'closed');
  await sleep(250);
  assert.equal(s.hellos(), hellos, 'no dial after close()');
});

test('back-off grows exponentially with jitter, capped at maxMs', async () => {
  const s = await stub();
  const c = await client(s.url, { backoff: { initialMs: 20, maxMs: 80 } });
  const attempts = [];
  c.on('status', (st) => { if (st.status === 'reconnecting') attempts.push(st); });
  await s.stop(); // nothing listens any more: every redial fails
  await nextEvent(c, 'status', (st) => st.attempt === 5, 5000);
  c.close();
  const delays = attempts.map((a) => a.delayMs);
  const caps = [20, 40, 80, 80, 80];
  delays.forEach((d, i) => assert.ok(d >= caps[i] / 2 && d <= caps[i], `attempt ${i + 1}: ${d} ms`));
  assert.deepEqual(attempts.map((a) => a.attempt), [1, 2, 3, 4, 5]);
});

test('after a reconnect the session is rejoined unless the server pushes session_joined', async () => {
  let pushOnHello = false;
  const joined = { type: 'session_joined', session_id: 's-1', boss: { species: 'x', rarity: 'epic', hp: 5, max_hp: 5 }, members: ['p-stub'], ends_at: 0 };
  const frames = [];
  const s = await startStubServer((conn, msg) => {
    frames.push(msg);
    if (msg.type === 'hello') {
      conn.send(WELCOME);
      if (pushOnHello) conn.send(joined); // the server put the player back
    } else if (msg.type === 'join_session') conn.send({ ...joined, seq: msg.seq });
    else if (msg.type === 'ping') conn.drop();
  });
  stubs.push(s);
  const c = await client(s.url, { rejoinWaitMs: 100 });
  assert.equal((await c.joinSession('session-token-1')).session_id, 's-1');
  assert.equal(c.sessionId, 's-1');
  const joins = () => frames.filter((f) => f.type === 'join_session');

  // No push: the client re-sends join_session with the same token.
  const rejoined = nextEvent(c, 'session_joined');
  await c.ping().catch(() => {});
  assert.equal((await rejoined).seq > 0, true);
  assert.deepEqual(joins().map((f) => f.session_token), ['session-token-1', 'session-token-1']);

  // A push after welcome: nothing is re-sent.
  pushOnHello = true;
  const pushed = nextEvent(c, 'session_joined');
  await c.ping().catch(() => {});
  assert.equal((await pushed).seq, undefined);
  await sleep(250);
  assert.equal(joins().length, 2);
});

test('connect to a port nobody listens on rejects quickly as unavailable', async () => {
  const c = new GeogameClient({ baseUrl: 'http://127.0.0.1:9' });
  clients.push(c);
  c.setToken('stub-token');
  const started = Date.now();
  await assert.rejects(c.connect(), { code: ErrorCodes.UNAVAILABLE, closeCode: 1006 });
  assert.ok(Date.now() - started < 2000);
  assert.equal(c.status, 'closed');
});

/** What the server sends a hello it has no room for, before close 1013. */
const BUSY = { type: 'error', code: 'unavailable', message: 'too many players arriving at once; try again in 1 s' };

/** A stub that turns away the hellos `busy(n)` picks (n counts hellos from
 * 1) with `BUSY` and close 1013, welcomes the others, and hands other
 * frames to `script`; `helloTimes` records when each hello came.
 * @param {(n: number) => boolean} busy @param {(conn: any, msg: any) => void} [script] */
async function busyStub(busy, script = () => {}) {
  const frames = [];
  const helloTimes = [];
  const s = await startStubServer((conn, msg) => {
    frames.push(msg);
    if (msg.type !== 'hello') return script(conn, msg);
    helloTimes.push(Date.now());
    if (busy(helloTimes.length)) { conn.send(BUSY); conn.close(CloseCodes.TRY_AGAIN_LATER); }
    else conn.send(WELCOME);
  });
  stubs.push(s);
  return { ...s, frames, helloTimes };
}

test('connect redials a busy server (close 1013) after at least 1 s, with a connecting status', async () => {
  const s = await busyStub((n) => n === 1);
  const c = unconnected(s.url);
  const statuses = [];
  c.on('status', (st) => statuses.push(st));
  const started = Date.now();
  const welcome = await c.connect();
  assert.deepEqual(welcome, WELCOME);
  assert.ok(Date.now() - started >= 990, `resolved after ${Date.now() - started} ms`);
  assert.equal(s.helloTimes.length, 2);
  assert.ok(s.helloTimes[1] - s.helloTimes[0] >= 990);
  assert.equal(c.status, 'connected');
  assert.deepEqual(statuses.map((st) => st.status), ['connecting', 'connecting', 'connected']);
  const busy = statuses[1];
  assert.equal(busy.code, CloseCodes.TRY_AGAIN_LATER);
  assert.equal(busy.attempt, 1);
  assert.ok(busy.delayMs >= 1000 && busy.delayMs <= 1500, `delay ${busy.delayMs} ms`);
});

test('busyRetries: 0 rejects connect on close 1013 at once', async () => {
  const s = await busyStub(() => true);
  const c = unconnected(s.url, { busyRetries: 0 });
  const started = Date.now();
  const err = await c.connect().then(() => assert.fail('resolved'), (e) => e);
  assert.ok(err instanceof GeogameError);
  assert.equal(err.code, ErrorCodes.UNAVAILABLE);
  assert.equal(err.closeCode, 1013);
  assert.ok(Date.now() - started < 900);
  assert.equal(c.status, 'closed');
  await sleep(100);
  assert.equal(s.helloTimes.length, 1);
});

test('busy retries run out: connect rejects with close 1013; close() ends a busy wait at once', async () => {
  const s = await busyStub(() => true);
  const limited = unconnected(s.url, { busyRetries: 1 });
  await assert.rejects(limited.connect(), { code: ErrorCodes.UNAVAILABLE, closeCode: 1013 });
  assert.equal(s.helloTimes.length, 2, 'one dial and one retry');
  assert.equal(limited.status, 'closed');

  const c = unconnected(s.url);
  const waiting = nextEvent(c, 'status', (st) => st.code === CloseCodes.TRY_AGAIN_LATER, 2000);
  const connecting = c.connect();
  await waiting;
  const closedAt = Date.now();
  c.close();
  await assert.rejects(connecting, { code: ErrorCodes.UNAVAILABLE });
  assert.ok(Date.now() - closedAt < 200, 'close() cut the wait short');
  assert.equal(c.status, 'closed');
  await sleep(1600);
  assert.equal(s.helloTimes.length, 3, 'no dial after close()');
});

test('a reconnect turned away with close 1013 waits at least 1 s before the next dial', async () => {
  const s = await busyStub((n) => n === 2, (conn, msg) => { if (msg.type === 'ping') conn.drop(); });
  const c = await client(s.url); // backoff 20..80 ms: only the busy wait is long
  const reconnecting = [];
  c.on('status', (st) => { if (st.status === 'reconnecting') reconnecting.push(st); });
  const back = nextEvent(c, 'status', (st) => st.status === 'connected', 5000);
  await c.ping().catch(() => {});
  await back;
  assert.equal(c.status, 'connected');
  assert.equal(s.helloTimes.length, 3);
  assert.ok(s.helloTimes[1] - s.helloTimes[0] < 900, 'the first redial uses the short back-off');
  assert.ok(s.helloTimes[2] - s.helloTimes[1] >= 990, `busy gap ${s.helloTimes[2] - s.helloTimes[1]} ms`);
  assert.deepEqual(reconnecting.map((st) => [st.attempt, st.code]), [[1, 1006], [2, 1013]]);
  assert.ok(reconnecting[1].delayMs >= 1000);
});

/** A scripted HTTP server: `reply(n, req, body)` answers request n (from
 * 1) with `{status, headers?, body?}`; `requests` records each request.
 * @param {(n: number, req: import('node:http').IncomingMessage, body: string) => {status: number, headers?: object, body?: unknown}} reply */
async function httpStub(reply) {
  /** @type {{at: number, method?: string, url?: string, body: string}[]} */
  const requests = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      requests.push({ at: Date.now(), method: req.method, url: req.url, body });
      const r = reply(requests.length, req, body);
      res.writeHead(r.status, { 'content-type': 'application/json', ...r.headers });
      res.end(r.body === undefined ? '' : JSON.stringify(r.body));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  const s = { baseUrl: `http://127.0.0.1:${port}`, requests, stop: () => new Promise((resolve) => server.close(resolve)) };
  stubs.push(s);
  return s;
}

const SHED = { error: { code: 'unavailable', message: 'too many sign-ins at once; retry in a moment' } };

test('a sign-in shed with 503 and Retry-After is retried after Retry-After', async () => {
  const s = await httpStub((n) => (n === 1
    ? { status: 503, headers: { 'retry-after': '1' }, body: SHED }
    : { status: 200, body: { player_id: 'p_x', token: 't', expires_at: Math.floor(Date.now() / 1000) + 3600 } }));
  const c = new GeogameClient({ baseUrl: s.baseUrl });
  const reply = await c.signInGuest('dev');
  assert.equal(reply.player_id, 'p_x');
  assert.equal(c.token, 't');
  assert.equal(s.requests.length, 2);
  assert.ok(s.requests[1].at - s.requests[0].at >= 990, `gap ${s.requests[1].at - s.requests[0].at} ms`);
  for (const r of s.requests) assert.deepEqual([r.method, r.url, JSON.parse(r.body)], ['POST', '/v1/auth/guest', { device_id: 'dev' }]);
});

test('a 503 without Retry-After, or with busyRetries: 0, throws at once', async () => {
  const s = await httpStub(() => ({ status: 503, body: SHED }));
  const c = new GeogameClient({ baseUrl: s.baseUrl });
  const started = Date.now();
  const err = await c.signInGuest('dev').then(() => assert.fail('resolved'), (e) => e);
  assert.ok(err instanceof GeogameError);
  assert.deepEqual([err.code, err.status, err.message], ['unavailable', 503, SHED.error.message]);
  assert.ok(Date.now() - started < 500);
  assert.equal(s.requests.length, 1);

  const t = await httpStub(() => ({ status: 503, headers: { 'retry-after': '1' }, body: SHED }));
  const off = new GeogameClient({ baseUrl: t.baseUrl, busyRetries: 0 });
  await assert.rejects(off.login('a@b.c', 'pw'), { code: 'unavailable', status: 503 });
  assert.equal(t.requests.length, 1);
});

test('503 retries run out: the last 503 is thrown; other statuses are never retried', async () => {
  const s = await httpStub(() => ({ status: 503, headers: { 'retry-after': '0' }, body: SHED }));
  const c = new GeogameClient({ baseUrl: s.baseUrl, busyRetries: 2 });
  await assert.rejects(c.signInGuest('dev'), { code: 'unavailable', status: 503 });
  assert.equal(s.requests.length, 3, 'one request and two retries');

  const t = await httpStub(() => ({ status: 429, headers: { 'retry-after': '0' }, body: { error: { code: 'rate_limited', message: 'slow down' } } }));
  const d = new GeogameClient({ baseUrl: t.baseUrl });
  await assert.rejects(d.signInGuest('dev'), { code: 'rate_limited', status: 429 });
  assert.equal(t.requests.length, 1);
});
