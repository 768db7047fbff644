// Reconnect across a real server restart: the process stops (SIGTERM: a
// shutdown push, then close 1001), a new one starts on the same port and
// data dir, and the client comes back by itself.

import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, test } from 'node:test';
import { GeogameClient } from '../geogame.js';
import { DEMO, device, nextEvent, startServer } from './server.mjs';

/** @type {Awaited<ReturnType<typeof startServer>> | undefined} */
let server;
/** @type {GeogameClient | undefined} */
let c;
after(async () => {
  c?.close();
  await server?.stop();
  if (server) rmSync(server.dataDir, { recursive: true, force: true }); // shared by both processes
});

test('the client reconnects by itself after the server restarts', async () => {
  server = await startServer();
  const { port, dataDir } = server;
  c = new GeogameClient({ baseUrl: server.baseUrl, backoff: { initialMs: 100, maxMs: 1000 } });
  const { player_id } = await c.signInGuest(device('restart'));
  await c.connect();
  assert.equal((await c.location(DEMO)).type, 'nearby');

  const events = [];
  c.on('shutdown', (m) => events.push(m.type));
  c.on('status', (s) => events.push(s.status));
  const reconnecting = nextEvent(c, 'status', (s) => s.status === 'reconnecting');
  await server.kill();
  const dropped = await reconnecting;
  assert.equal(dropped.code, 1001, 'a graceful stop closes with 1001');
  await assert.rejects(c.ping(), { code: 'unavailable' }, 'no requests while it is down');

  const resumed = nextEvent(c, 'nearby', () => true, 30000); // the re-sent position
  const connected = nextEvent(c, 'status', (s) => s.status === 'connected', 30000);
  server = await startServer({ port, dataDir });
  await connected;
  assert.equal(c.status, 'connected');
  assert.equal(c.playerId, player_id);
  assert.equal((await resumed).type, 'nearby');
  const nearby = await c.location(DEMO);
  assert.equal(nearby.type, 'nearby');
  assert.ok(nearby.pois.some((p) => p.id === DEMO.poiId));
  assert.equal(events[0], 'shutdown', 'after a shutdown push');
  assert.equal(events.at(-1), 'connected');
  assert.ok(!events.includes('closed'), events.join(' '));
});
