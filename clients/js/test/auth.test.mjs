// Sign-in over HTTP against the real server: guest identity, typed HTTP
// errors, token renewal, and the account endpoints.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ErrorCodes, GeogameClient, GeogameError } from '../geogame.js';
import { ADMIN_TOKEN, device, startServer } from './server.mjs';

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
before(async () => { server = await startServer(); });
after(() => server?.stop());

test('the same device signs in as the same player, another device as another', async () => {
  const id = device('guest');
  const a = new GeogameClient({ baseUrl: server.baseUrl });
  const first = await a.signInGuest(id);
  assert.match(first.player_id, /\S/);
  assert.equal(typeof first.token, 'string');
  assert.ok(first.expires_at > Date.now() / 1000);
  assert.equal(a.token, first.token);
  assert.equal(a.playerId, first.player_id);
  assert.equal(a.expiresAt, first.expires_at);

  const b = new GeogameClient({ baseUrl: server.baseUrl });
  assert.equal((await b.signInGuest(id)).player_id, first.player_id);
  assert.notEqual((await b.signInGuest(device('other'))).player_id, first.player_id);
});

test('an HTTP error becomes a GeogameError with the body code and the status', async () => {
  const c = new GeogameClient({ baseUrl: server.baseUrl });
  for (const bad of ['', 'x'.repeat(129)]) {
    const err = await c.signInGuest(bad).then(() => assert.fail('accepted'), (e) => e);
    assert.ok(err instanceof GeogameError);
    assert.equal(err.code, 'bad_request');
    assert.equal(err.status, 400);
    assert.match(err.message, /device_id/);
  }
  assert.equal(c.token, null, 'a failed sign-in stores nothing');
});

test('an unreachable server is unavailable', async () => {
  const c = new GeogameClient({ baseUrl: 'http://127.0.0.1:9' });
  await assert.rejects(c.signInGuest(device('nowhere')), { name: 'GeogameError', code: ErrorCodes.UNAVAILABLE });
});

test('connect without a token, or with a bad one, is unauthorized and closes with 1008', async () => {
  const none = new GeogameClient({ baseUrl: server.baseUrl });
  await assert.rejects(none.connect(), { code: ErrorCodes.UNAUTHORIZED });
  assert.equal(none.status, 'closed');

  const bad = new GeogameClient({ baseUrl: server.baseUrl });
  bad.setToken('not-a-token');
  const statuses = [];
  bad.on('status', (s) => statuses.push(s));
  await assert.rejects(bad.connect(), { code: ErrorCodes.UNAUTHORIZED, closeCode: 1008 });
  assert.deepEqual(statuses.map((s) => s.status), ['connecting', 'closed']);
  assert.equal(statuses[1].code, 1008);
});

test('a guest whose token is refused signs in again with its device id', async () => {
  const c = new GeogameClient({ baseUrl: server.baseUrl });
  const { player_id } = await c.signInGuest(device('renew'));
  c._auth.token = 'stale-token'; // as if the server no longer accepted it
  const welcome = await c.connect();
  assert.equal(welcome.player_id, player_id);
  assert.notEqual(c.token, 'stale-token');
  c.close();
});

test('register upgrades a guest, keeping its player id and adding a refresh token', async () => {
  const c = new GeogameClient({ baseUrl: server.baseUrl });
  const { player_id } = await c.signInGuest(device('upgrade'));
  const email = `${device('u')}@example.com`;
  const reg = await c.register(email, 'correct horse battery');
  assert.equal(reg.player_id, player_id);
  assert.equal(typeof reg.refresh_token, 'string');
  assert.equal(c.refreshToken, reg.refresh_token);
  const other = new GeogameClient({ baseUrl: server.baseUrl });
  assert.equal((await other.login(email, 'correct horse battery')).player_id, player_id);
});

test('login with a wrong password is 401, and five failures make it 429', async () => {
  const c = new GeogameClient({ baseUrl: server.baseUrl });
  const email = `${device('l')}@example.com`;
  await c.register(email, 'correct horse battery');
  await assert.rejects(c.login(email, 'wrong password!'), { code: ErrorCodes.UNAUTHORIZED, status: 401 });
  for (let i = 0; i < 4; i++) await c.login(email, 'wrong password!').catch(() => {});
  await assert.rejects(c.login(email, 'correct horse battery'), { status: 429 });
});

test('refresh rotates the pair; a refresh token works once', async () => {
  const c = new GeogameClient({ baseUrl: server.baseUrl });
  const reg = await c.register(`${device('r')}@example.com`, 'correct horse battery');
  const [one, two] = await Promise.all([c.refresh(), c.refresh()]);
  assert.equal(one, two, 'concurrent refreshes share one request');
  assert.notEqual(c.refreshToken, reg.refresh_token);
  const replay = new GeogameClient({ baseUrl: server.baseUrl });
  replay.setToken(reg.token, { refreshToken: reg.refresh_token });
  await assert.rejects(replay.refresh(), { code: ErrorCodes.UNAUTHORIZED });
  assert.equal(replay.refreshToken, null);
  await c.connect();
  c.close();
});

test('a suspended player is told why: the live socket closes, and connect is refused without retrying', async () => {
  const c = new GeogameClient({ baseUrl: server.baseUrl, backoff: { initialMs: 50, maxMs: 100 } });
  const { player_id: id } = await c.signInGuest(device('strikes'));
  await c.connect();
  const pushed = new Promise((resolve) => c.on('error', resolve));
  const closed = new Promise((resolve) => c.on('status', (s) => s.status === 'closed' && resolve(s)));
  const strike = () =>
    fetch(`${server.baseUrl}/v1/admin/players/${encodeURIComponent(id)}/strikes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'spoofing seen by an operator' }),
    });
  assert.equal((await strike()).status, 201, 'the first strike: a warning, still playing');
  assert.equal(c.status, 'connected');
  assert.equal((await strike()).status, 201, 'the second strike suspends');
  const why = await pushed;
  assert.equal(why.code, ErrorCodes.SUSPENDED);
  assert.match(why.message, /suspended .* until/);
  assert.equal((await closed).code, 1008);

  const again = new GeogameClient({ baseUrl: server.baseUrl });
  again.setToken(c.token);
  await assert.rejects(again.connect(), { code: ErrorCodes.SUSPENDED, closeCode: 1008 });
  assert.equal(again.status, 'closed');
});
