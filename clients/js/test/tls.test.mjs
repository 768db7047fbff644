// The SDK against a server with `--tls-cert`: sign-in over https:// and
// the game over wss://, trusting a CA made by the test. Node reads extra
// trusted CAs only at start, so the client runs in a child process with
// NODE_EXTRA_CA_CERTS; a child without it must refuse the certificate.

import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { DEMO, startServer } from './server.mjs';

const run = promisify(execFile);
const SDK = new URL('../geogame.js', import.meta.url).href;

/** @type {Awaited<ReturnType<typeof startServer>>} */
let server;
let dir = '';
let cert = '';
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'geogame-tls-'));
  cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
    '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost'], { stdio: 'ignore' });
  server = await startServer({ args: ['--tls-cert', cert, '--tls-key', key] });
});
after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

// Signs in, connects, sends one location; prints what came back.
const CLIENT = `
import { GeogameClient } from ${JSON.stringify(SDK)};
const c = new GeogameClient({ baseUrl: process.argv[1], reconnect: false });
try {
  const me = await c.signInGuest('tls-phone');
  const welcome = await c.connect();
  const nearby = await c.location({ lat: ${DEMO.lat}, lon: ${DEMO.lon} });
  console.log(JSON.stringify({ player: me.player_id, welcome: welcome.type, nearby: nearby.type }));
} catch (e) {
  console.log(JSON.stringify({ error: String(e?.cause?.code ?? e?.code ?? e) }));
} finally {
  c.close();
}`;

async function client(extraCa) {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  if (extraCa) env.NODE_EXTRA_CA_CERTS = extraCa;
  const url = server.baseUrl.replace('127.0.0.1', 'localhost');
  const { stdout } = await run(process.execPath,
    ['--experimental-websocket', '--input-type=module', '-e', CLIENT, url], { env, timeout: 20000 });
  return JSON.parse(stdout.trim().split('\n').pop());
}

test('the server speaks https and wss on one port', () => {
  assert.match(server.baseUrl, /^https:\/\//);
});

test('the SDK signs in over https and plays over wss when it trusts the CA', async () => {
  const r = await client(cert);
  assert.deepEqual({ welcome: r.welcome, nearby: r.nearby }, { welcome: 'welcome', nearby: 'nearby' }, JSON.stringify(r));
  assert.match(r.player, /\S/);
});

test('without the CA the certificate is refused and nothing is sent', async () => {
  const r = await client(null);
  assert.ok(r.error, JSON.stringify(r));
  assert.equal(r.welcome, undefined);
});
