// The /v1/play socket against the real server: hello/welcome, seq-matched
// requests, typed errors, catch, spin, collection and one socket per player.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CloseCodes, ErrorCodes, GeogameClient, GeogameError } from '../geogame.js';
import { ADMIN_TOKEN, DEMO, device, nextEvent, startServer } from './server.mjs';

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
/** @type {GeogameClient[]} */
const clients = [];
before(async () => { server = await startServer(); });
after(async () => {
  for (const c of clients) c.close();
  await server?.stop();
});

/** A guest client, signed in and connected. @param {string} name @param {object} [opts] */
async function player(name, opts = {}) {
  const c = new GeogameClient({ baseUrl: server.baseUrl, ...opts });
  clients.push(c);
  await c.signInGuest(device(name));
  await c.connect();
  return c;
}

test('connect says hello and resolves with welcome', async () => {
  const c = new GeogameClient({ baseUrl: server.baseUrl });
  clients.push(c);
  const { player_id } = await c.signInGuest(device('hello'));
  const statuses = [];
  c.on('status', (s) => statuses.push(s.status));
  const welcomed = nextEvent(c, 'welcome');
  const welcome = await c.connect();
  assert.equal(welcome.type, 'welcome');
  assert.equal(welcome.player_id, player_id);
  assert.equal(welcome.protocol, 1);
  assert.equal(typeof welcome.server_id, 'string');
  assert.equal(await welcomed, welcome);
  assert.equal(c.status, 'connected');
  assert.deepEqual(statuses, ['connecting', 'connected']);
  assert.equal(await c.connect(), welcome, 'connect on a live socket is a no-op');
  c.close();
  assert.equal(c.status, 'closed');
  assert.deepEqual(statuses, ['connecting', 'connected', 'closed']);
});

test('location resolves with the nearby reply of its seq', async () => {
  const c = await player('walker');
  const seen = [];
  c.on('*', (m) => seen.push(m));
  const nearby = await c.location({ lat: DEMO.lat, lon: DEMO.lon, heading: 90, speed: 1.2, accuracy: 5 });
  assert.equal(nearby.type, 'nearby');
  assert.equal(typeof nearby.seq, 'number');
  assert.ok(nearby.creatures.length > 0, 'the demo world is populated');
  const d = nearby.creatures.map((x) => x.distance_m);
  assert.deepEqual(d, [...d].sort((a, b) => a - b), 'sorted nearest first');
  assert.ok(nearby.pois.some((p) => p.id === DEMO.poiId));
  assert.deepEqual(seen, [nearby], "'*' hears the reply too");
  // A browser's GeolocationCoordinates works as is (null heading and speed).
  const coords = { latitude: DEMO.lat, longitude: DEMO.lon, heading: null, speed: NaN, accuracy: 12 };
  assert.equal((await c.location(coords)).type, 'nearby');
});

test('concurrent requests each resolve with their own reply', async () => {
  const c = await player('busy');
  const [nearby, gone, spin, coll, pong, nearby2] = await Promise.all([
    c.location(DEMO),
    c.catch('c-does-not-exist'),
    c.spin(DEMO.poiId),
    c.collection(),
    c.ping(),
    c.location({ lat: DEMO.lat + 0.0001, lon: DEMO.lon }),
  ]);
  assert.equal(nearby.type, 'nearby');
  assert.equal(gone.type, 'catch_result');
  assert.equal(gone.creature_id, 'c-does-not-exist');
  assert.equal(spin.type, 'spin_result');
  assert.equal(coll.type, 'collection');
  assert.equal(pong.type, 'pong');
  assert.equal(nearby2.type, 'nearby');
  const seqs = [nearby, gone, spin, coll, pong, nearby2].map((m) => m.seq);
  assert.equal(new Set(seqs).size, 6, 'distinct seqs');
  assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'assigned in call order');
});

test('an invalid message is a GeogameError invalid_message and the socket stays open', async () => {
  const c = await player('sloppy');
  const err = await c.request({ type: 'teleport' }).then(() => assert.fail('accepted'), (e) => e);
  assert.ok(err instanceof GeogameError);
  assert.equal(err.code, ErrorCodes.INVALID_MESSAGE);
  assert.equal(typeof err.seq, 'number');
  assert.equal(err.data.type, 'error');
  await assert.rejects(c.location({ lat: 91, lon: 0 }), { code: ErrorCodes.INVALID_MESSAGE, message: /lat/ });
  await assert.rejects(c.catch(''), { code: ErrorCodes.INVALID_MESSAGE });
  assert.equal(c.status, 'connected');
  assert.equal((await c.ping()).type, 'pong');
});

test('catching an unknown creature is gone; spinning an unknown POI is not_found', async () => {
  const c = await player('catcher');
  await c.location(DEMO);
  const res = await c.catch('c-never-was');
  assert.deepEqual({ type: res.type, creature_id: res.creature_id, outcome: res.outcome },
    { type: 'catch_result', creature_id: 'c-never-was', outcome: 'gone' });
  await assert.rejects(c.spin('no-such-poi'), { code: ErrorCodes.NOT_FOUND });
});

test('spin grants items, and the collection holds them and every catch', async () => {
  const c = await player('collector');
  const nearby = await c.location(DEMO);
  const spin = await c.spin(DEMO.poiId);
  assert.equal(spin.outcome, 'ok');
  assert.ok(Object.keys(spin.items).length > 0);
  assert.equal((await c.spin(DEMO.poiId)).outcome, 'cooldown');
  // Throw at the nearest creatures until one is caught (some flee).
  let caught = null;
  for (const creature of nearby.creatures.filter((x) => x.distance_m < 45).slice(0, 15)) {
    const r = await c.catch(creature.id);
    assert.ok(['caught', 'fled', 'gone', 'too_far'].includes(r.outcome), r.outcome);
    if (r.outcome === 'caught') { caught = creature; break; }
  }
  const coll = await c.collection();
  assert.ok(Array.isArray(coll.creatures));
  for (const [item, n] of Object.entries(spin.items)) assert.ok(coll.items[item] >= n, item);
  if (caught) {
    const mine = coll.creatures.find((x) => x.id === caught.id);
    assert.ok(mine, 'the caught creature is in the collection');
    assert.equal(mine.species, caught.species);
  }
});

// Issue 15: one live play socket per player.
test('a second socket for the same player replaces the first (close 4001)', async () => {
  const id = device('twice');
  const older = new GeogameClient({ baseUrl: server.baseUrl, backoff: { initialMs: 50, maxMs: 100 } });
  const newer = new GeogameClient({ baseUrl: server.baseUrl });
  clients.push(older, newer);
  await older.signInGuest(id);
  await newer.signInGuest(id);
  await older.connect();
  const replaced = nextEvent(older, 'status', (s) => s.status !== 'connected', 3000);
  await newer.connect();
  const s = await replaced;
  assert.equal(s.status, 'replaced');
  assert.equal(s.code, CloseCodes.REPLACED);
  await sleep(300);
  assert.equal(older.status, 'replaced', 'no reconnect after being replaced');
  assert.equal(newer.status, 'connected');
});

test('an erased player is closed with 4003 and does not reconnect as someone new', async () => {
  const c = new GeogameClient({ baseUrl: server.baseUrl, backoff: { initialMs: 50, maxMs: 100 } });
  clients.push(c);
  const { player_id } = await c.signInGuest(device('erased'));
  await c.connect();
  const closed = nextEvent(c, 'status', (s) => s.status !== 'connected', 5000);
  const r = await fetch(`${server.baseUrl}/v1/admin/players/${player_id}`, {
    method: 'DELETE', headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  assert.equal(r.status, 200);
  const s = await closed;
  assert.equal(s.status, 'closed');
  assert.equal(s.code, CloseCodes.ERASED);
  await sleep(300);
  assert.equal(c.status, 'closed', 'no reconnect after the erasure');
});
