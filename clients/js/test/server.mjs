//! Test helpers: start and stop the real `geogame up` binary on a free
//! port, and a tiny scripted WebSocket server for cases the real one cannot
//! stage (silence, chosen close codes).

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** The binary under test: `$GEOGAME_BIN`, else the main checkout's debug build. */
export const GEOGAME_BIN = process.env.GEOGAME_BIN ?? '/work/target-main/debug/geogame';
export const ADMIN_TOKEN = 'test-admin';
/** The sponsored Starbucks of the demo world: creatures around it, and a raid POI. */
export const DEMO = Object.freeze({ lat: 47.61598, lon: -122.03412, poiId: 'sammamish-highlands-starbucks' });

/**
 * Starts `geogame up` and resolves once it prints its URL.
 * @param {{dataDir?: string, port?: number, args?: string[], timeoutMs?: number}} [opts]
 *   `port` 0 (the default) picks a free one; pass an earlier `port` and
 *   `dataDir` to restart the same server.
 * @returns {Promise<{baseUrl: string, port: number, dataDir: string, stop: () => Promise<void>, kill: () => Promise<void>}>}
 */
export async function startServer(opts = {}) {
  const ownDir = !opts.dataDir;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'geogame-js-'));
  // The binary may be mid-rebuild (briefly missing): wait for it.
  for (let i = 0; !existsSync(GEOGAME_BIN); i++) {
    if (i >= 120) throw new Error(`no geogame binary at ${GEOGAME_BIN}; set GEOGAME_BIN`);
    await sleep(1000);
  }
  const argv = ['up', '--listen', `127.0.0.1:${opts.port ?? 0}`, '--data-dir', dataDir,
    '--admin-token', ADMIN_TOKEN,
    // A debug build under test lags like a saturated server; shedding on
    // lag is pinned by the Rust tests.
    ...((opts.args ?? []).includes('--shed-lag-ms') ? [] : ['--shed-lag-ms', '0']),
    ...(opts.args ?? [])];
  // The embedded stack only: no Redis or PostgreSQL from the environment.
  const env = { ...process.env, RUST_LOG: process.env.RUST_LOG ?? 'warn' };
  for (const k of ['REDIS_URL', 'DATABASE_URL', 'GEOGAME_ADMIN_TOKEN', 'GEOGAME_TOKEN_SECRET']) delete env[k];
  const child = spawn(GEOGAME_BIN, argv, {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
  const exited = new Promise((resolve) => child.once('exit', resolve));

  const baseUrl = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => fail(new Error('geogame did not start within the timeout')), opts.timeoutMs ?? 30000);
    const fail = (err) => { clearTimeout(timer); child.kill('SIGKILL'); reject(new Error(`${err.message}\n${stderr}`)); };
    child.stdout.on('data', (d) => {
      out += d;
      const m = /geogame is up at (https?:\/\/[^\s]+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.once('exit', (code) => fail(new Error(`geogame exited with ${code} before serving`)));
  });
  child.stdout.resume();

  const stopWith = async (signal) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 15000);
    await exited;
    clearTimeout(timer);
  };
  return {
    baseUrl,
    port: Number(new URL(baseUrl).port),
    dataDir,
    /** Graceful stop (SIGTERM); removes the data dir if this call made it. */
    async stop() {
      await stopWith('SIGTERM');
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
    /** Stops the process but keeps the data dir, for a restart. */
    kill: () => stopWith('SIGTERM'),
  };
}

/** Signs a fresh guest in over HTTP; the reply body. @param {string} baseUrl @param {string} deviceId */
export async function guest(baseUrl, deviceId) {
  const res = await fetch(`${baseUrl}/v1/auth/guest`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ device_id: deviceId }),
  });
  return res.json();
}

/** A unique device id for one test. @param {string} name */
export const device = (name) => `${name}-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;

/**
 * A minimal RFC 6455 server for scripted tests. `onMessage(conn, msg)` gets
 * every parsed text frame; `conn.send(obj)` writes one, `conn.close(code)`
 * closes with that code, `conn.drop()` cuts the TCP connection.
 * @param {(conn: StubConn, msg: any) => void} onMessage
 */
export async function startStubServer(onMessage) {
  /** @type {Set<StubConn>} */
  const conns = new Set();
  const server = createServer((_, res) => res.writeHead(404).end());
  server.on('upgrade', (req, socket) => {
    const accept = createHash('sha1').update(req.headers['sec-websocket-key'] + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    const conn = new StubConn(socket);
    conns.add(conn);
    socket.on('close', () => conns.delete(conn));
    socket.on('error', () => {});
    let buf = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const frame = readFrame(buf);
        if (!frame) break;
        buf = buf.subarray(frame.size);
        if (frame.opcode === 1) onMessage(conn, JSON.parse(frame.payload.toString('utf8')));
        else if (frame.opcode === 8) conn.close(frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1000);
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  return {
    url: `ws://127.0.0.1:${port}`,
    conns,
    async stop() {
      for (const c of conns) c.drop();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** One client connection of the stub server. */
class StubConn {
  /** @param {import('node:net').Socket} socket */
  constructor(socket) { this.socket = socket; }
  /** @param {unknown} obj */
  send(obj) { this.socket.write(frame(1, Buffer.from(JSON.stringify(obj)))); }
  /** @param {number} code */
  close(code) {
    if (this.socket.destroyed) return;
    const body = Buffer.alloc(2);
    body.writeUInt16BE(code);
    this.socket.end(frame(8, body));
  }
  drop() { this.socket.destroy(); }
}

/** An unmasked server frame. @param {number} opcode @param {Buffer} payload */
function frame(opcode, payload) {
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x80 | opcode, n])
    : n < 65536 ? Buffer.from([0x80 | opcode, 126, n >> 8, n & 255])
      : Buffer.concat([Buffer.from([0x80 | opcode, 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; })()]);
  return Buffer.concat([head, payload]);
}

/** Parses one (masked, unfragmented) client frame off `buf`, or null when incomplete. @param {Buffer} buf */
function readFrame(buf) {
  if (buf.length < 2) return null;
  const opcode = buf[0] & 0x0f;
  const masked = (buf[1] & 0x80) !== 0;
  let len = buf[1] & 0x7f;
  let off = 2;
  if (len === 126) { if (buf.length < 4) return null; len = buf.readUInt16BE(2); off = 4; }
  else if (len === 127) { if (buf.length < 10) return null; len = Number(buf.readBigUInt64BE(2)); off = 10; }
  const maskOff = off;
  if (masked) off += 4;
  if (buf.length < off + len) return null;
  const payload = Buffer.from(buf.subarray(off, off + len));
  if (masked) for (let i = 0; i < len; i++) payload[i] ^= buf[maskOff + (i % 4)];
  return { opcode, payload, size: off + len };
}

/**
 * The next `type` event of `client` for which `pred` holds; rejects after
 * `timeoutMs`.
 * @param {{on: (type: string, fn: (p: any) => void) => () => void}} client
 * @param {string} type @param {(p: any) => boolean} [pred] @param {number} [timeoutMs]
 */
export function nextEvent(client, type, pred = () => true, timeoutMs = 15000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(`no ${type} event within ${timeoutMs} ms`)); }, timeoutMs);
    const off = client.on(type, (p) => {
      if (!pred(p)) return;
      clearTimeout(timer);
      off();
      resolve(p);
    });
  });
}
