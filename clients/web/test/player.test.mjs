// The player page (`GET /`) in Chromium against a real `geogame up`:
// connecting, geolocation granted and denied, walking, catching, spinning,
// and the page's network hygiene (nothing leaves 127.0.0.1 but tiles, and
// the dead tile server breaks nothing).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  STARBUCKS,
  foreignRequests,
  launchBrowser,
  listedCreatures,
  newPage,
  playerUrl,
  recordFrames,
  screenshot,
  sleep,
  startServer,
  tileRequests,
  timedGoto,
  until,
} from './harness.mjs';

const connected = (page) =>
  page.waitForFunction(() => document.querySelector('[data-testid="status"]').textContent.includes('connected'), null, {
    timeout: 10000,
  });

const position = (page) =>
  page.$eval('[data-testid="position"]', (el) => ({
    lat: Number(el.dataset.lat),
    lon: Number(el.dataset.lon),
    mode: el.dataset.mode,
  }));

/** Metres between two points (equirectangular; plenty for a few hundred m). */
function metres(a, b) {
  const k = Math.PI / 180;
  const x = (b.lon - a.lon) * k * Math.cos(((a.lat + b.lat) / 2) * k);
  const y = (b.lat - a.lat) * k;
  return Math.hypot(x, y) * 6371008.8;
}

describe('player page', () => {
  let server;
  let browser;

  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('loads in under a second, connects, lists creatures, and needs no tiles', async () => {
    const page = await newPage(browser);
    const loadMs = await timedGoto(page, playerUrl(server, STARBUCKS));
    assert.ok(loadMs < 1000, `the page took ${loadMs} ms to load`);
    await connected(page);
    await page.waitForSelector('[data-testid="creature"]');

    // Geolocation is denied by default: the page starts at ?lat=&lon=.
    const pos = await position(page);
    assert.equal(pos.mode, 'walk');
    assert.ok(metres(pos, STARBUCKS) < 1, `starts at the query position, got ${JSON.stringify(pos)}`);

    // Each creature row carries the contract's hooks and a readable offset.
    const rows = await listedCreatures(page);
    assert.ok(rows.length > 0);
    for (const c of rows) {
      assert.ok(c.id && c.species, JSON.stringify(c));
      assert.ok(Number.isFinite(c.distance) && c.distance <= 200, `distance ${c.distance}`);
    }
    const first = page.locator('[data-testid="creature"]').first();
    assert.equal(await first.locator('[data-testid="catch"]').count(), 1);
    assert.match(
      await first.locator('[data-testid="creature-where"]').textContent(),
      /^\d+ m, (north|south|east|west|north-east|north-west|south-east|south-west)/,
    );
    assert.ok((await page.locator('[data-testid="poi"]').count()) > 0, 'the Starbucks and its neighbours are listed');

    // The tiles are unreachable: the map says so and draws anyway.
    await until(async () => (await page.getAttribute('[data-testid="map"]', 'data-tiles')) === 'offline', {
      message: 'tiles offline',
    });
    assert.ok(tileRequests(page).length > 0, 'the page did try the configured tile server');
    assert.deepEqual(foreignRequests(page), [], 'nothing but tiles leaves 127.0.0.1');
    await screenshot(page, 'player-denied');
    await page.context().close();
  });

  test('follows the browser geolocation when it is granted', async () => {
    const here = { latitude: 47.6172, longitude: -122.033 }; // Bartell Drugs
    const page = await newPage(browser, { geolocation: here });
    // The query says elsewhere: granted geolocation wins.
    await timedGoto(page, playerUrl(server, STARBUCKS));
    await connected(page);
    await until(async () => (await position(page)).mode === 'gps', { message: 'gps mode' });
    let pos = await position(page);
    assert.ok(
      metres(pos, { lat: here.latitude, lon: here.longitude }) < 1,
      `at the GPS fix, got ${JSON.stringify(pos)}`,
    );
    await page.waitForSelector('[data-testid="creature"]');

    // The device moves 15 m north: the page follows.
    const moved = { latitude: here.latitude + 15 / 111195, longitude: here.longitude };
    await page.context().setGeolocation(moved);
    await until(async () => metres(await position(page), { lat: moved.latitude, lon: moved.longitude }) < 1, {
      message: 'following the fix',
    });
    await screenshot(page, 'player-gps');
    assert.deepEqual(foreignRequests(page), []);
    await page.context().close();
  });

  test('walks at a walking pace with the arrow keys and by clicking the map, reporting about once a second', async () => {
    const page = await newPage(browser);
    const frames = recordFrames(page);
    await timedGoto(page, playerUrl(server, STARBUCKS));
    await connected(page);

    const start = await position(page);
    await page.locator('[data-testid="map"]').focus();
    await page.keyboard.down('ArrowUp');
    const t0 = Date.now();
    await sleep(2500);
    await page.keyboard.up('ArrowUp');
    const seconds = (Date.now() - t0) / 1000;
    const north = await position(page);
    const walked = metres(start, north);
    assert.ok(north.lat > start.lat, 'ArrowUp walks north');
    assert.ok(walked > 1.5, `walked ${walked} m`);
    assert.ok(walked / seconds <= 2.05, `${(walked / seconds).toFixed(2)} m/s is faster than walking`);

    // Click 60 px east of the player: the page walks there, at the same pace.
    const box = await page.locator('[data-testid="map"]').boundingBox();
    await page.mouse.click(box.x + box.width / 2 + 60, box.y + box.height / 2);
    await sleep(2000);
    const east = await position(page);
    assert.ok(east.lon > north.lon, 'a click walks towards it');
    assert.ok(metres(north, east) <= 2.05 * 2.3, `walked ${metres(north, east)} m in 2 s`);

    // Location updates went out about once a second, all of them plausible.
    const window = frames.sent.filter((m) => m.type === 'location' && m.at >= t0);
    const span = (Date.now() - t0) / 1000;
    assert.ok(
      window.length >= span * 0.6 && window.length <= span * 1.5 + 1,
      `${window.length} location updates in ${span.toFixed(1)} s`,
    );
    for (let i = 1; i < window.length; i++) {
      const dt = (window[i].at - window[i - 1].at) / 1000;
      assert.ok(metres(window[i - 1], window[i]) <= 2 * dt + 0.5, 'each step is a walking step');
    }
    const tooFast = frames.received.filter((m) => m.code === 'too_fast');
    assert.deepEqual(tooFast, [], 'the server never saw impossible movement');
    await page.context().close();
  });

  test('catches a creature until caught, and the collection shows it', async () => {
    // Scout where the creatures are around the Starbucks, then stand on the
    // densest spot with a fresh player.
    const scout = await newPage(browser);
    await timedGoto(scout, playerUrl(server, STARBUCKS));
    await connected(scout);
    await scout.waitForSelector('[data-testid="creature"]');
    const seen = await listedCreatures(scout);
    await scout.context().close();
    const spot = seen
      .map((c) => ({ c, n: seen.filter((o) => metres(c, o) < 40).length }))
      .sort((a, b) => b.n - a.n)[0].c;

    const page = await newPage(browser);
    const frames = recordFrames(page);
    await timedGoto(page, playerUrl(server, spot));
    await connected(page);
    await page.waitForSelector('[data-testid="creature"]');

    let caught = null;
    const tried = new Set();
    for (let attempt = 0; attempt < 25 && !caught; attempt++) {
      const inRange = (await listedCreatures(page)).filter((c) => c.distance <= 45 && !tried.has(c.id));
      if (!inRange.length) {
        await sleep(1000); // more may spawn, or the list refreshes
        continue;
      }
      const target = inRange[0];
      tried.add(target.id);
      const row = page.locator(`[data-testid="creature"][data-id="${target.id}"]`);
      await row.locator('[data-testid="catch"]').click();
      const result = await until(
        () => frames.received.find((m) => m.type === 'catch_result' && m.creature_id === target.id),
        { message: 'a catch_result' },
      );
      const outcome = result.outcome;
      assert.ok(['caught', 'fled', 'gone'].includes(outcome), `outcome ${outcome} within range`);
      if (outcome === 'caught') caught = target;
    }
    assert.ok(caught, `nothing caught after trying ${tried.size} creatures`);

    const collected = page.locator(`[data-testid="collection"] [data-testid="collected"][data-id="${caught.id}"]`);
    await collected.waitFor({ timeout: 5000 });
    assert.equal(await collected.getAttribute('data-species'), caught.species);
    // A caught creature is gone from the nearby list.
    await until(async () => !(await listedCreatures(page)).some((c) => c.id === caught.id), {
      message: 'caught creature removed',
    });

    // It is stored: a reload (same device) still shows it.
    await page.reload();
    await connected(page);
    await page.locator(`[data-testid="collected"][data-id="${caught.id}"]`).waitFor({ timeout: 5000 });
    await screenshot(page, 'player-caught');
    assert.deepEqual(foreignRequests(page), []);
    await page.context().close();
  });

  test('spins a POI in range and gets items, then a cooldown', async () => {
    const page = await newPage(browser);
    await timedGoto(page, playerUrl(server, STARBUCKS));
    await connected(page);
    const row = page.locator(`[data-testid="poi"][data-id="${STARBUCKS.id}"]`);
    await row.waitFor();
    assert.ok(Number(await row.getAttribute('data-distance-m')) < 5);
    await row.locator('[data-testid="spin"]').click();
    await until(async () => (await row.getAttribute('data-outcome')) != null, { message: 'spin outcome' });
    assert.equal(await row.getAttribute('data-outcome'), 'ok');
    assert.match(await row.locator('[data-testid="spin-result"]').textContent(), /\d+ \w+/);
    await page.locator('[data-testid="items"] [data-testid="item"]').first().waitFor({ timeout: 5000 });

    await row.locator('[data-testid="spin"]').click();
    await until(async () => (await row.getAttribute('data-outcome')) === 'cooldown', { message: 'cooldown' });
    await screenshot(page, 'player-spin');
    await page.context().close();
  });

  test('fits a phone screen', async () => {
    const page = await newPage(browser, {
      viewport: { width: 390, height: 844 },
      isMobile: true,
      hasTouch: true,
      deviceScaleFactor: 2,
    });
    await timedGoto(page, playerUrl(server, STARBUCKS));
    await connected(page);
    await page.waitForSelector('[data-testid="creature"]');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow} px wider than the phone`);
    const map = await page.locator('[data-testid="map"]').boundingBox();
    assert.ok(map.width >= 380 && map.height >= 300, `map ${map.width}×${map.height}`);
    await screenshot(page, 'player-phone');
    await page.context().close();
  });
});
