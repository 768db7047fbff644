// Shared helpers for the browser tests: start a real `geogame up` on a free
// port with a fresh data dir, launch Debian's Chromium through
// playwright-core, and watch what the pages request.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const GEOGAME_BIN = process.env.GEOGAME_BIN ?? '/work/target-main/debug/geogame';
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
export const ADMIN_TOKEN = 'test-admin';
/** Tiles nobody serves: the pages must work without them. */
export const DEAD_TILES = 'http://127.0.0.1:9/{z}/{x}/{y}.png';
/** Where the tests keep their screenshots. */
export const SHOTS = process.env.GEOGAME_SHOTS ?? join(tmpdir(), 'geogame-web-shots');

/** The demo world's sponsored Starbucks at the Sammamish Highlands. */
export const STARBUCKS = { id: 'sammamish-highlands-starbucks', lat: 47.61598, lon: -122.03412 };

/**
 * Starts `geogame up` and resolves once it prints its URL.
 * @returns {Promise<{url: string, stop: () => Promise<void>, log: () => string}>}
 */
export async function startServer(extraArgs = []) {
  const dataDir = mkdtempSync(join(tmpdir(), 'geogame-web-'));
  const args = [
    'up',
    '--listen',
    '127.0.0.1:0',
    '--data-dir',
    dataDir,
    '--admin-token',
    ADMIN_TOKEN,
    '--tile-url',
    DEAD_TILES,
    // A debug build under test lags like a saturated server; shedding on
    // lag is pinned by the Rust tests.
    ...(extraArgs.includes('--shed-lag-ms') ? [] : ['--shed-lag-ms', '0']),
    ...extraArgs,
  ];
  const bin = await waitForFile(GEOGAME_BIN);
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, RUST_LOG: 'warn' } });
  let out = '';
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`geogame up printed no URL within 30 s:\n${out}`)), 30000);
    const onData = (chunk) => {
      out += chunk;
      const m = out.match(/geogame is up at (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (c) => (out += c));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`geogame up exited with ${code}:\n${out}`));
    });
  });
  child.removeAllListeners('exit');
  await waitForHealth(url);
  return {
    url,
    log: () => out,
    async stop() {
      if (child.exitCode == null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, sleep(10000)]);
        if (child.exitCode == null) child.kill('SIGKILL');
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The binary may be rebuilt while tests run (briefly missing): wait for it. */
async function waitForFile(path, ms = 120000) {
  const until = Date.now() + ms;
  while (!existsSync(path)) {
    if (Date.now() > until) throw new Error(`${path} not found; set GEOGAME_BIN`);
    await sleep(1000);
  }
  return path;
}

async function waitForHealth(url) {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`${url}/healthz`)).ok) return;
    } catch {
      /* not yet */
    }
    await sleep(100);
  }
  throw new Error(`${url}/healthz never answered`);
}

export function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
}

/**
 * A new browser context (its own storage, so its own guest player) and page.
 * Every request the page makes is recorded in `page.requests`.
 */
export async function newPage(browser, { geolocation, viewport = { width: 1280, height: 860 }, ...options } = {}) {
  const context = await browser.newContext({
    viewport,
    ...(geolocation ? { geolocation, permissions: ['geolocation'] } : {}),
    ...options,
  });
  const page = await context.newPage();
  page.requests = [];
  page.consoleErrors = [];
  page.on('request', (r) => page.requests.push(r.url()));
  page.on('console', (m) => {
    if (m.type() === 'error') page.consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => page.consoleErrors.push(String(e)));
  return page;
}

/**
 * The requests that left 127.0.0.1 other than map tiles: must be none.
 * (Tiles in these tests go to 127.0.0.1:9, so any other host is a leak.)
 */
export function foreignRequests(page) {
  return page.requests.filter((u) => {
    if (u.startsWith('data:') || u.startsWith('blob:')) return false;
    const { hostname } = new URL(u);
    return hostname !== '127.0.0.1';
  });
}

/** Tile requests the page made (to the dead tile server). */
export const tileRequests = (page) => page.requests.filter((u) => u.startsWith('http://127.0.0.1:9/'));

/** Opens a page and returns how long until `load` fired, in ms. */
export async function timedGoto(page, url) {
  const t0 = Date.now();
  await page.goto(url, { waitUntil: 'load' });
  return Date.now() - t0;
}

export async function screenshot(page, name) {
  mkdirSync(SHOTS, { recursive: true });
  const path = join(SHOTS, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/** The player page's creatures, as the page lists them. */
export function listedCreatures(page) {
  return page.$$eval('[data-testid="creature"]', (els) =>
    els.map((el) => ({
      id: el.dataset.id,
      species: el.dataset.species,
      distance: Number(el.dataset.distanceM),
      lat: Number(el.dataset.lat),
      lon: Number(el.dataset.lon),
    })),
  );
}

export async function until(fn, { timeout = 10000, interval = 100, message = 'condition' } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${message}`);
    await sleep(interval);
  }
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function playerUrl(server, p, extra = '') {
  return `${server.url}/?lat=${p.lat}&lon=${p.lon}${extra}`;
}

/**
 * Records the JSON frames of every WebSocket the page opens:
 * `{sent: [...], received: [...]}`, each message with its arrival `at` (ms).
 * Call before `goto`.
 */
export function recordFrames(page) {
  const frames = { sent: [], received: [] };
  page.on('websocket', (ws) => {
    const keep = (list) => (f) => {
      try {
        list.push({ at: Date.now(), url: ws.url(), ...JSON.parse(f.payload) });
      } catch {
        /* not JSON */
      }
    };
    ws.on('framesent', keep(frames.sent));
    ws.on('framereceived', keep(frames.received));
  });
  return frames;
}

/** `geogame admin add-operator NAME --role ROLE` against the server; resolves with the printed token. */
export async function addOperator(server, name, role) {
  const child = spawn(
    GEOGAME_BIN,
    ['admin', '--url', server.url, '--admin-token', ADMIN_TOKEN, 'add-operator', '--role', role, name],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (err += c));
  const code = await new Promise((r) => child.on('exit', r));
  if (code !== 0) throw new Error(`add-operator exited with ${code}: ${err}`);
  const token = out.trim().split(/\s+/).pop();
  if (!token) throw new Error(`add-operator printed no token: ${out}`);
  return token;
}
