// A raid through two browser pages: both queue at the same POI in the
// lobby, get matched, join, see each other's attacks as they happen, bring
// the boss down together and throw at it.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  STARBUCKS,
  foreignRequests,
  launchBrowser,
  newPage,
  playerUrl,
  recordFrames,
  screenshot,
  sleep,
  startServer,
  timedGoto,
  until,
} from './harness.mjs';

let server;
let browser;

before(async () => {
  // A short lobby wait: two raiders start at once instead of after 30 s.
  server = await startServer(['--lobby-wait-s', '0.5']);
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
  await server?.stop();
});

const raidState = (page) => page.getAttribute('[data-testid="raid"]', 'data-state');
const bossHp = async (page) => Number(await page.getAttribute('[data-testid="boss-hp"]', 'data-hp'));

test('two players raid the same POI together from two browsers', { timeout: 120000 }, async () => {
  const raiders = [];
  for (const [i, north] of [
    [0, 0],
    [1, 8],
  ]) {
    const page = await newPage(browser, { viewport: { width: 1100, height: 900 } });
    const frames = recordFrames(page);
    await timedGoto(page, playerUrl(server, { lat: STARBUCKS.lat + north / 111195, lon: STARBUCKS.lon }));
    await page.waitForFunction(() =>
      document.querySelector('[data-testid="status"]').textContent.includes('connected'),
    );
    const id = await page.evaluate(() => window.geogamePlayer.state.client.playerId);
    raiders.push({ i, page, frames, id });
  }
  const [a, b] = raiders;
  assert.notEqual(a.id, b.id, 'two browsers are two players');

  // Both queue at the Starbucks.
  for (const r of raiders) {
    const poi = r.page.locator(`[data-testid="poi"][data-id="${STARBUCKS.id}"]`);
    await poi.waitFor();
    await poi.locator('[data-testid="raid-queue"]').click();
  }
  for (const r of raiders) {
    await until(async () => (await raidState(r.page)) === 'matched', {
      timeout: 15000,
      message: `raider ${r.i} matched`,
    });
  }
  const matches = raiders.map((r) => r.frames.received.find((m) => m.type === 'match_found'));
  assert.equal(matches[0].session_id, matches[1].session_id, 'one session for both');
  assert.deepEqual([...matches[0].players].sort(), [a.id, b.id].sort());
  await screenshot(a.page, 'raid-matched');

  // Both join; each sees the boss.
  for (const r of raiders) await r.page.click('[data-testid="raid-join"]');
  for (const r of raiders) {
    await until(async () => (await raidState(r.page)) === 'fight', { message: `raider ${r.i} in the fight` });
  }
  const maxHp = Number(await a.page.getAttribute('[data-testid="boss-hp"]', 'data-max-hp'));
  assert.ok(maxHp > 0);

  // A hits: B sees A's attack in its feed, with the boss's new hp.
  await a.page.click('[data-testid="attack"]');
  const seen = b.page.locator(`[data-testid="raid-event"][data-action="attack"][data-player="${a.id}"]`);
  await seen.first().waitFor({ timeout: 5000 });
  // B may see the push before A's page has handed its reply to this test.
  const hit = await until(() => a.frames.received.find((m) => m.type === 'attack_result'), {
    message: "A's attack_result",
  });
  await until(async () => (await bossHp(b.page)) <= hit.boss_hp, { message: 'B sees the hp drop' });
  assert.ok(hit.boss_hp < maxHp);
  // A's own blow is in A's feed too.
  await a.page
    .locator(`[data-testid="raid-event"][data-action="attack"][data-player="${a.id}"]`)
    .first()
    .waitFor({ timeout: 5000 });
  // And the other way round.
  await b.page.click('[data-testid="attack"]');
  await a.page
    .locator(`[data-testid="raid-event"][data-action="attack"][data-player="${b.id}"]`)
    .first()
    .waitFor({ timeout: 5000 });
  await screenshot(b.page, 'raid-fight');

  // Together until the boss falls.
  const deadline = Date.now() + 60000;
  while ((await raidState(a.page)) === 'fight' && Date.now() < deadline) {
    for (const r of raiders) {
      const button = r.page.locator('[data-testid="attack"]');
      if (await button.isVisible().catch(() => false)) await button.click({ timeout: 2000 }).catch(() => {});
    }
    await sleep(120);
  }
  for (const r of raiders) {
    await until(async () => (await raidState(r.page)) === 'victory', { message: `raider ${r.i} sees the victory` });
    assert.equal(await bossHp(r.page), 0);
  }

  // A throws at the fallen boss; a catch lands in the collection.
  await a.page.click('[data-testid="raid-catch"]');
  const result = await a.page.locator('[data-testid="raid-catch-result"]').textContent({ timeout: 5000 });
  assert.ok(['caught', 'fled'].includes(result), `raid catch ${result}`);
  if (result === 'caught') {
    const caught = await until(
      () => a.frames.received.find((m) => m.type === 'catch_result' && m.outcome === 'caught'),
      { message: "A's catch_result" },
    );
    await a.page.locator(`[data-testid="collected"][data-id="${caught.creature_id}"]`).waitFor({ timeout: 5000 });
  }
  await screenshot(a.page, 'raid-victory');

  for (const r of raiders) {
    await r.page.click('[data-testid="raid-leave"]');
    await until(async () => (await raidState(r.page)) === 'idle', { message: 'left' });
    assert.deepEqual(foreignRequests(r.page), []);
    await r.page.context().close();
  }
});
