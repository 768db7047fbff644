// The operator console (`GET /console`) in Chromium against a real
// `geogame up`: sign-in, drawing a zone that empties a player's screen,
// the server's validation errors, deleting, POI edits, the audit log, the
// live counters and the reports.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ADMIN_TOKEN,
  STARBUCKS,
  addOperator,
  foreignRequests,
  launchBrowser,
  newPage,
  playerUrl,
  screenshot,
  startServer,
  timedGoto,
  until,
} from './harness.mjs';

const VIEWPORT = { width: 1440, height: 1000 };

/** Offsets a point by metres north and east. */
function offset(p, north, east) {
  const k = Math.PI / 180;
  return { lat: p.lat + north / 6371008.8 / k, lon: p.lon + east / (6371008.8 * Math.cos(p.lat * k)) / k };
}

async function signIn(page, token = ADMIN_TOKEN) {
  await page.fill('[data-testid="token"]', token);
  await page.click('[data-testid="sign-in"]');
}

/** Clicks the console map at a geographic point, through the page's own projection. */
async function clickMap(page, p) {
  const box = await page.locator('[data-testid="map"]').boundingBox();
  const xy = await page.evaluate(([lat, lon]) => window.geogameConsole.map.project({ lat, lon }), [p.lat, p.lon]);
  assert.ok(xy.x > 0 && xy.y > 0 && xy.x < box.width && xy.y < box.height, `point ${JSON.stringify(p)} is off the map`);
  await page.mouse.click(box.x + xy.x, box.y + xy.y);
}

const zoneIds = (page) => page.$$eval('[data-testid="zone"]', (els) => els.map((el) => el.dataset.id));

/** `unixS` as the page's `datetime-local` value (its own time zone, to the second). */
async function localDateTime(page, unixS) {
  return page.evaluate((ms) => {
    const d = new Date(ms);
    const p = (n) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  }, unixS * 1000);
}

async function api(server, method, path, body) {
  const res = await fetch(server.url + path, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: body == null ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

describe('operator console', () => {
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

  test('loads in under a second, refuses a wrong token and keeps a good one for the tab', async () => {
    const page = await newPage(browser, { viewport: VIEWPORT });
    const loadMs = await timedGoto(page, `${server.url}/console`);
    assert.ok(loadMs < 1000, `the console took ${loadMs} ms to load`);

    await signIn(page, 'not-the-token');
    const error = page.locator('[data-testid="sign-in-error"]');
    await error.waitFor({ state: 'visible' });
    assert.match(await error.textContent(), /unauthorized|refused/i);
    assert.ok(await page.locator('[data-testid="dashboard"]').isHidden());

    await signIn(page);
    await page.locator('[data-testid="dashboard"]').waitFor({ state: 'visible' });
    assert.equal(await page.evaluate(() => sessionStorage.getItem('geogame.operatorToken')), ADMIN_TOKEN);
    await page.reload();
    await page.locator('[data-testid="dashboard"]').waitFor({ state: 'visible' });
    assert.equal(await page.textContent('[data-testid="role"]'), 'operator');

    // The demo world's POIs are on the map and in the table; the seed is audited.
    await until(async () => (await page.locator('[data-testid="poi"]').count()) === 12, { message: '12 POIs' });
    await page.locator('[data-testid="audit"]').first().waitFor();
    await until(async () => (await page.getAttribute('[data-testid="map"]', 'data-tiles')) === 'offline', {
      message: 'tiles offline',
    });
    assert.deepEqual(foreignRequests(page), [], 'nothing but tiles leaves 127.0.0.1');
    await page.context().close();
  });

  test('a zone drawn by clicking corners over a player empties their creature list within a second, and deleting it is audited', async () => {
    const player = await newPage(browser);
    await timedGoto(player, playerUrl(server, STARBUCKS));
    await player.waitForFunction(() =>
      document.querySelector('[data-testid="status"]').textContent.includes('connected'),
    );
    await player.waitForSelector('[data-testid="creature"]');

    const page = await newPage(browser, { viewport: VIEWPORT });
    await timedGoto(page, `${server.url}/console?lat=${STARBUCKS.lat}&lon=${STARBUCKS.lon}&z=16`);
    await signIn(page);
    await page.locator('[data-testid="dashboard"]').waitFor({ state: 'visible' });

    // A 700 m square around the player: everything within the 200 m view.
    await page.click('[data-testid="draw-zone"]');
    const corners = [
      offset(STARBUCKS, 350, -350),
      offset(STARBUCKS, 350, 350),
      offset(STARBUCKS, -350, 350),
      offset(STARBUCKS, -350, -350),
    ];
    for (const c of corners) await clickMap(page, c);
    await clickMap(page, corners[0]); // the first corner again closes the ring
    const drawn = JSON.parse(await page.inputValue('[data-testid="zone-geojson"]'));
    assert.equal(drawn.geometry.type, 'Polygon');
    assert.equal(drawn.geometry.coordinates[0].length, 5, 'four corners and the closing position');
    await page.fill('[data-testid="zone-name"]', 'Highlands closure');
    await page.fill('[data-testid="zone-reason"]', 'street fair');
    await screenshot(page, 'console-drawn');

    const saved = page.waitForResponse((r) => r.url().endsWith('/v1/admin/zones') && r.request().method() === 'POST');
    await page.click('[data-testid="zone-save"]');
    assert.equal((await saved).status(), 201);
    const savedAt = Date.now();
    const zone = page.locator('[data-testid="zone"][data-name="Highlands closure"]');
    await zone.waitFor();
    const zoneId = await zone.getAttribute('data-id');

    // The player's screen empties: the creatures despawn as `excluded`.
    await player.waitForFunction(() => document.querySelectorAll('[data-testid="creature"]').length === 0, null, {
      timeout: 3000,
    });
    const emptiedMs = Date.now() - savedAt;
    assert.ok(emptiedMs < 1000, `the player's list emptied after ${emptiedMs} ms`);
    await screenshot(player, 'player-excluded');

    await until(async () => (await page.locator('[data-testid="audit"][data-action="zone.create"]').count()) === 1, {
      message: 'zone.create audited',
    });
    assert.equal(await page.getAttribute('[data-testid="audit"][data-action="zone.create"]', 'data-target'), zoneId);
    await screenshot(page, 'console-zone');

    await zone.locator('[data-testid="zone-delete"]').click();
    await until(async () => !(await zoneIds(page)).includes(zoneId), { message: 'zone removed from the list' });
    assert.deepEqual((await api(server, 'GET', '/v1/admin/zones')).body.features, []);
    await until(async () => (await page.locator('[data-testid="audit"][data-action="zone.delete"]').count()) === 1, {
      message: 'zone.delete audited',
    });
    assert.deepEqual(foreignRequests(page), []);
    assert.deepEqual(foreignRequests(player), []);
    await player.context().close();
    await page.context().close();
  });

  test('pasted invalid GeoJSON shows the server’s own error and changes nothing', async () => {
    const page = await newPage(browser, { viewport: VIEWPORT });
    await timedGoto(page, `${server.url}/console`);
    await signIn(page);
    await page.locator('[data-testid="dashboard"]').waitFor({ state: 'visible' });

    const cases = [
      // An unclosed ring of three positions.
      '{"type":"Feature","geometry":{"type":"Polygon","coordinates":[[[-122.035,47.615],[-122.034,47.615],[-122.034,47.616]]]},"properties":{"name":"bad","reason":"test"}}',
      // Not JSON at all.
      '{"type": "Feature", oops',
      // A point is not a polygon.
      '{"type":"Feature","geometry":{"type":"Point","coordinates":[-122.035,47.615]},"properties":{"name":"bad","reason":"test"}}',
    ];
    for (const text of cases) {
      const expected = await api(server, 'POST', '/v1/admin/zones', text);
      assert.equal(expected.status, 400);
      await page.fill('[data-testid="zone-geojson"]', text);
      const reply = page.waitForResponse((r) => r.url().endsWith('/v1/admin/zones') && r.request().method() === 'POST');
      await page.click('[data-testid="zone-save"]');
      assert.equal((await reply).status(), 400);
      const box = page.locator('[data-testid="zone-error"]');
      await box.waitFor({ state: 'visible' });
      assert.equal(await box.locator('[data-testid="zone-error-code"]').textContent(), expected.body.error.code);
      assert.equal(await box.locator('[data-testid="zone-error-message"]').textContent(), expected.body.error.message);
    }
    await screenshot(page, 'console-invalid');
    assert.equal(await page.locator('[data-testid="zone"]').count(), 0);
    assert.deepEqual((await api(server, 'GET', '/v1/admin/zones')).body.features, []);

    // A valid paste is saved and listed, and its delete button removes it.
    const valid = {
      type: 'Feature',
      geometry: {
        type: 'Polygon',
        coordinates: [
          [
            [-122.037, 47.604],
            [-122.034, 47.604],
            [-122.034, 47.606],
            [-122.037, 47.606],
            [-122.037, 47.604],
          ],
        ],
      },
      properties: { name: 'Commons lawn', reason: 'reseeding' },
    };
    await page.fill('[data-testid="zone-geojson"]', JSON.stringify(valid));
    // A buffer of 30 m, and an expiry an hour from now typed as the
    // browser's local date and time.
    await page.fill('[data-testid="zone-buffer"]', '30');
    const expiresAt = Math.floor(Date.now() / 1000) + 3600;
    await page.fill('[data-testid="zone-expires"]', await localDateTime(page, expiresAt));
    await page.click('[data-testid="zone-save"]');
    const row = page.locator('[data-testid="zone"][data-name="Commons lawn"]');
    await row.waitFor();
    assert.ok(await page.locator('[data-testid="zone-error"]').isHidden());
    const stored = (await api(server, 'GET', '/v1/admin/zones')).body.features;
    assert.equal(stored.length, 1);
    assert.equal(stored[0].properties.buffer_m, 30);
    assert.equal(stored[0].properties.expires_at, expiresAt);
    assert.match(await row.locator('.zone-meta').textContent(), /buffer 30 m · until /);
    await row.locator('[data-testid="zone-delete"]').click();
    await row.waitFor({ state: 'detached' });

    // A buffer out of range is the server's error, shown inline.
    await page.fill('[data-testid="zone-geojson"]', JSON.stringify(valid));
    await page.fill('[data-testid="zone-buffer"]', '20000');
    const refused = page.waitForResponse((r) => r.url().endsWith('/v1/admin/zones') && r.request().method() === 'POST');
    await page.click('[data-testid="zone-save"]');
    assert.equal((await refused).status(), 400);
    await page.locator('[data-testid="zone-error"]').waitFor({ state: 'visible' });
    assert.match(await page.locator('[data-testid="zone-error-message"]').textContent(), /buffer_m/);

    // A zone that expires in a few seconds leaves the list by itself.
    await page.fill('[data-testid="zone-buffer"]', '');
    await page.fill('[data-testid="zone-expires"]', await localDateTime(page, Math.floor(Date.now() / 1000) + 3));
    await page.click('[data-testid="zone-save"]');
    await row.waitFor();
    await row.waitFor({ state: 'detached', timeout: 15_000 });
    assert.deepEqual((await api(server, 'GET', '/v1/admin/zones')).body.features, []);
    await page.context().close();
  });

  test('edits a POI’s weight and sponsor', async () => {
    const page = await newPage(browser, { viewport: VIEWPORT });
    await timedGoto(page, `${server.url}/console`);
    await signIn(page);
    const row = page.locator('[data-testid="poi"][data-id="sammamish-library"]');
    await row.waitFor();
    await row.locator('[data-testid="poi-weight"]').fill('2.5');
    await row.locator('[data-testid="poi-sponsor"]').fill('City Books');
    await row.locator('[data-testid="poi-save"]').click();
    await until(
      async () => {
        const pois = (await api(server, 'GET', '/v1/admin/pois')).body.features;
        const lib = pois.find((f) => (f.properties.id ?? f.id) === 'sammamish-library');
        return lib.properties.weight === 2.5 && lib.properties.sponsor === 'City Books';
      },
      { message: 'the POI saved' },
    );
    await until(async () => (await row.getAttribute('data-dirty')) === 'false', { message: 'row saved' });
    await page.locator('[data-testid="audit"][data-action^="poi."]:not([data-action="poi.seed"])').first().waitFor();

    // A bad weight gets the server's error on the row.
    await row.locator('[data-testid="poi-weight"]').fill('-1');
    await row.locator('[data-testid="poi-save"]').click();
    await until(async () => (await row.locator('[data-testid="poi-error"]').textContent()).length > 0, {
      message: 'row error',
    });
    await page.context().close();
  });

  test('an operator account signs in with its own token and is the actor in the audit log', async () => {
    const token = await addOperator(server, 'Olive', 'operator');
    const page = await newPage(browser, { viewport: VIEWPORT });
    await timedGoto(page, `${server.url}/console`);
    await signIn(page, token);
    await page.locator('[data-testid="dashboard"]').waitFor({ state: 'visible' });
    assert.equal(await page.textContent('[data-testid="role"]'), 'operator');
    const zone = {
      type: 'Feature',
      geometry: {
        type: 'Polygon',
        coordinates: [
          [
            [-122.044, 47.589],
            [-122.042, 47.589],
            [-122.042, 47.59],
            [-122.044, 47.59],
            [-122.044, 47.589],
          ],
        ],
      },
      properties: { name: 'Pine Lake dock', reason: 'repairs' },
    };
    await page.fill('[data-testid="zone-geojson"]', JSON.stringify(zone));
    await page.click('[data-testid="zone-save"]');
    const row = page.locator('[data-testid="zone"][data-name="Pine Lake dock"]');
    await row.waitFor();
    const created = page.locator(
      `[data-testid="audit"][data-action="zone.create"][data-target="${await row.getAttribute('data-id')}"]`,
    );
    await created.waitFor();
    assert.equal(await created.locator('td').nth(1).textContent(), 'Olive');
    await row.locator('[data-testid="zone-delete"]').click();
    await row.waitFor({ state: 'detached' });
    await page.context().close();
  });

  test('an analyst sees the reports only, and a sponsor only its own places', async () => {
    const analyst = await addOperator(server, 'Ann', 'analyst');
    const page = await newPage(browser, { viewport: VIEWPORT });
    await timedGoto(page, `${server.url}/console`);
    await signIn(page, analyst);
    await page.locator('[data-testid="dashboard"]').waitFor({ state: 'visible' });
    assert.equal(await page.textContent('[data-testid="role"]'), 'reports only');
    assert.ok(await page.locator('[data-testid="zone-geojson"]').isHidden(), 'no zone editor');
    assert.ok(await page.locator('[data-testid="audit-log"]').isHidden(), 'no audit log');
    await until(async () => (await page.locator('[data-testid="poi-report-row"]').count()) === 12, {
      message: 'all 12 places',
    });
    await page.click('[data-testid="sign-out"]');
    await page.locator('[data-testid="token"]').waitFor({ state: 'visible' });
    assert.equal(await page.evaluate(() => sessionStorage.getItem('geogame.operatorToken')), null);
    assert.equal(await page.locator('[data-testid="poi-report-row"]').count(), 0, 'signing out forgets what was shown');

    const sponsor = await addOperator(server, 'Sam', 'sponsor:Starbucks');
    await signIn(page, sponsor);
    await page.locator('[data-testid="dashboard"]').waitFor({ state: 'visible' });
    await until(async () => (await page.locator('[data-testid="poi-report-row"]').count()) >= 1, {
      message: 'sponsor rows',
    });
    const rows = await page.$$eval('[data-testid="poi-report-row"]', (els) => els.map((el) => el.dataset.poi));
    assert.deepEqual(rows, [STARBUCKS.id], 'only the sponsor’s place');
    await screenshot(page, 'console-sponsor');
    await page.context().close();
  });

  test('shows live counters from /metrics and the reports', async () => {
    const player = await newPage(browser);
    await timedGoto(player, playerUrl(server, STARBUCKS));
    await player.waitForFunction(() =>
      document.querySelector('[data-testid="status"]').textContent.includes('connected'),
    );
    const spin = player.locator(`[data-testid="poi"][data-id="${STARBUCKS.id}"] [data-testid="spin"]`);
    await spin.click();

    const page = await newPage(browser, { viewport: VIEWPORT });
    await timedGoto(page, `${server.url}/console`);
    await signIn(page);
    await page.locator('[data-testid="dashboard"]').waitFor({ state: 'visible' });
    await until(async () => Number(await page.textContent('[data-testid="metric-players"]')) >= 1, {
      message: 'a player online',
    });
    // Two scrapes make a rate; the player reports its location every second.
    await until(async () => Number.parseFloat(await page.textContent('[data-testid="metric-rate"]')) > 0, {
      timeout: 8000,
      message: 'messages per second',
    });
    assert.match(await page.textContent('[data-testid="metric-p99"]'), /\d+(\.\d+)? (ms|s)$/);

    await page.locator('[data-testid="summary-tile"][data-key="players"]').waitFor();
    assert.ok((await page.locator('[data-testid="species-row"]').count()) > 0, 'species report rows');
    const starbucks = page.locator(`[data-testid="poi-report-row"][data-poi="${STARBUCKS.id}"]`);
    await starbucks.waitFor();
    await page.check('[data-testid="sponsored-only"]');
    assert.ok((await page.locator('[data-testid="poi-report-row"]').count()) >= 1);
    assert.equal(await starbucks.count(), 1, 'the sponsored Starbucks stays in the sponsored view');
    await page.click('[data-testid="reports-refresh"]');
    await page.waitForTimeout(300);
    await screenshot(page, 'console-live');
    await page.screenshot({
      path: (await screenshot(page, 'console-full')).replace('.png', '-page.png'),
      fullPage: true,
    });
    assert.deepEqual(foreignRequests(page), []);
    await player.context().close();
    await page.context().close();
  });
});
