// A raid end to end through the lobby on the real server: two players
// queue at a demo POI, are matched, join the session, see each other's
// attacks, and one of them drops and is put back into the session.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCodes, GeogameClient, LobbyClient } from '../geogame.js';
import { DEMO, device, nextEvent, startServer } from './server.mjs';

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
/** @type {{close: () => void}[]} */
const open = [];
before(async () => {
  server = await startServer({ args: ['--lobby-wait-s', '0.3'] });
  await sleep(500); // the game server's first heartbeat reaches the lobby's registry
});
after(async () => {
  for (const c of open) c.close();
  await server?.stop();
});

/** A signed-in, connected player and its connected lobby. @param {string} name */
async function player(name) {
  const game = new GeogameClient({ baseUrl: server.baseUrl, rejoinWaitMs: 300, backoff: { initialMs: 50, maxMs: 200 } });
  await game.signInGuest(device(name));
  await game.connect();
  const lobby = game.lobby();
  assert.ok(lobby instanceof LobbyClient);
  assert.equal((await lobby.connect()).player_id, game.playerId);
  open.push(game, lobby);
  return { game, lobby };
}

test('queue, cancel, and lobby errors', async () => {
  const { lobby } = await player('canceller');
  const queued = await lobby.queue({ mode: 'raid', poi_id: DEMO.poiId, lat: DEMO.lat, lon: DEMO.lon, level: 3 });
  assert.equal(queued.type, 'queued');
  assert.equal(typeof queued.ticket_id, 'string');
  const cancelled = await lobby.cancel(queued.ticket_id);
  assert.deepEqual({ type: cancelled.type, ticket_id: cancelled.ticket_id }, { type: 'cancelled', ticket_id: queued.ticket_id });
  await assert.rejects(lobby.cancel(queued.ticket_id), { code: ErrorCodes.NOT_FOUND });
  await assert.rejects(lobby.queue({ poi_id: DEMO.poiId, lat: DEMO.lat + 0.05, lon: DEMO.lon }), { code: ErrorCodes.TOO_FAR });
  await assert.rejects(lobby.queue({ poi_id: 'no-such-poi', lat: DEMO.lat, lon: DEMO.lon }), { code: ErrorCodes.NOT_FOUND });
  assert.equal((await lobby.ping()).type, 'pong');
});

test('two players are matched, join, see each other, and a dropped one is put back', async () => {
  const a = await player('raider-a');
  const b = await player('raider-b');
  const matches = [nextEvent(a.lobby, 'match_found'), nextEvent(b.lobby, 'match_found')];
  for (const [i, p] of [a, b].entries()) {
    await p.game.location({ lat: DEMO.lat + i * 0.0001, lon: DEMO.lon });
    await p.lobby.queue({ poi_id: DEMO.poiId, lat: DEMO.lat + i * 0.0001, lon: DEMO.lon });
  }
  const [ma, mb] = await Promise.all(matches);
  assert.equal(ma.session_id, mb.session_id);
  assert.deepEqual([...ma.players].sort(), [a.game.playerId, b.game.playerId].sort());
  assert.equal(ma.server, a.game.url);

  const ja = await a.game.joinMatch(ma);
  const jb = await b.game.joinSession(mb.session_token);
  assert.equal(ja.type, 'session_joined');
  assert.equal(jb.session_id, ma.session_id);
  assert.equal(a.game.sessionId, ma.session_id);
  assert.ok(jb.boss.hp > 0 && jb.boss.hp <= jb.boss.max_hp);

  // B attacks; A sees it as a session_event.
  const seenByA = nextEvent(a.game, 'session_event', (e) => e.action === 'attack' && e.player_id === b.game.playerId);
  const hit = await b.game.attack();
  assert.equal(hit.type, 'attack_result');
  assert.equal((await seenByA).boss_hp, hit.boss_hp);
  await assert.rejects(a.game.raidCatch(), { code: ErrorCodes.CONFLICT }, 'no raid catch before victory');

  // A's socket drops: it reconnects and is back in the session, by the
  // server's push or by re-sending join_session.
  const back = nextEvent(a.game, 'session_joined', () => true, 10000);
  a.game._ws?.close(3000); // simulates a network drop
  const rejoined = await back;
  assert.equal(rejoined.session_id, ma.session_id);
  assert.equal(a.game.status, 'connected');
  const seenByB = nextEvent(b.game, 'session_event', (e) => e.action === 'attack' && e.player_id === a.game.playerId);
  await a.game.attack();
  await seenByB;

  const left = await a.game.leaveSession();
  assert.equal(left.type, 'session_left');
  assert.equal(a.game.sessionId, null);
  await assert.rejects(a.game.attack(), { code: ErrorCodes.NOT_FOUND });
});
