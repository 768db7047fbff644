// The pages' pure helpers, without a browser: geodesy and Web Mercator
// (geo.js) and the Prometheus reader behind the console's counters (prom.js).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  bearingDeg,
  compassWord,
  describeOffset,
  destination,
  distanceM,
  fromWorld,
  metresPerPixel,
  normalizeHeading,
  toWorld,
} from '../geo.js';
import { bucketDelta, buckets, parsePrometheus, quantile, total } from '../prom.js';

const STARBUCKS = { lat: 47.61598, lon: -122.03412 };
const close = (a, b, eps, what) => assert.ok(Math.abs(a - b) <= eps, `${what}: ${a} vs ${b}`);

describe('geo', () => {
  test('distance and bearing agree with destination', () => {
    for (const bearing of [0, 45, 90, 135, 180, 225, 270, 315]) {
      const p = destination(STARBUCKS, bearing, 120);
      close(distanceM(STARBUCKS, p), 120, 0.01, `distance at ${bearing}°`);
      const off = Math.abs(((bearingDeg(STARBUCKS, p) - bearing + 540) % 360) - 180);
      close(off, 0, 0.01, `bearing at ${bearing}°`);
    }
  });

  test('compass words and offsets read like the contract', () => {
    assert.equal(compassWord(0), 'north');
    assert.equal(compassWord(44), 'north-east');
    assert.equal(compassWord(359), 'north');
    assert.equal(compassWord(200), 'south');
    assert.equal(compassWord(240), 'south-west');
    assert.equal(compassWord(250), 'west');
    assert.equal(describeOffset(12.3, 40), '12 m, north-east');
    assert.equal(describeOffset(1530, 90), '1.5 km, east');
    assert.equal(describeOffset(0.4, 90), 'here');
  });

  test('headings stay in [0, 360)', () => {
    assert.equal(normalizeHeading(360), 0);
    assert.equal(normalizeHeading(-90), 270);
    assert.equal(normalizeHeading(725), 5);
  });

  test('Web Mercator round-trips and matches the tile grid', () => {
    const w = toWorld(STARBUCKS, 17);
    const back = fromWorld(w, 17);
    close(back.lat, STARBUCKS.lat, 1e-9, 'lat');
    close(back.lon, STARBUCKS.lon, 1e-9, 'lon');
    // The Starbucks is in slippy-map tile 17/21104/45770.
    assert.deepEqual([Math.floor(w.x / 256), Math.floor(w.y / 256)], [21104, 45770]);
    // Ground metres on the server's sphere (mean radius 6371008.8 m), so the
    // scale bar agrees with the distances the server sends.
    close(metresPerPixel(0, 0), (2 * Math.PI * 6371008.8) / 256, 1e-6, 'metres per pixel at z0');
    close(metresPerPixel(60, 1), metresPerPixel(0, 0) / 4, 1e-6, 'halved at 60° and again per zoom');
  });
});

describe('prom', () => {
  const text = `# HELP geogame_players_connected players
# TYPE geogame_players_connected gauge
geogame_players_connected 3
geogame_messages_total{type="location"} 100
geogame_messages_total{type="catch"} 20
geogame_update_to_reply_seconds_bucket{type="location",le="0.001"} 50
geogame_update_to_reply_seconds_bucket{type="location",le="0.01"} 90
geogame_update_to_reply_seconds_bucket{type="location",le="+Inf"} 100
geogame_update_to_reply_seconds_bucket{type="catch",le="0.001"} 0
geogame_update_to_reply_seconds_bucket{type="catch",le="0.01"} 0
geogame_update_to_reply_seconds_bucket{type="catch",le="+Inf"} 0
geogame_label_escape{name="a \\"quoted\\" one"} 1
`;
  const samples = parsePrometheus(text);

  test('reads gauges, counters and labels', () => {
    assert.equal(total(samples, 'geogame_players_connected'), 3);
    assert.equal(total(samples, 'geogame_messages_total'), 120);
    assert.equal(total(samples, 'missing'), null);
    assert.equal(samples.find((s) => s.name === 'geogame_label_escape').labels.name, 'a "quoted" one');
  });

  test('sums histogram buckets across label sets and interpolates quantiles', () => {
    const b = buckets(samples, 'geogame_update_to_reply_seconds');
    assert.deepEqual(b, [
      { le: 0.001, count: 50 },
      { le: 0.01, count: 90 },
      { le: Infinity, count: 100 },
    ]);
    close(quantile(0.5, b), 0.001, 1e-12, 'p50');
    close(quantile(0.7, b), 0.0055, 1e-12, 'p70');
    assert.equal(quantile(0.99, b), 0.01, 'in the +Inf bucket: the highest finite bound');
    assert.equal(quantile(0.99, []), null);
  });

  test('the delta of two scrapes is the window in between', () => {
    const before = [
      { le: 0.001, count: 40 },
      { le: 0.01, count: 40 },
      { le: Infinity, count: 40 },
    ];
    const d = bucketDelta(buckets(samples, 'geogame_update_to_reply_seconds'), before);
    assert.deepEqual(
      d.map((x) => x.count),
      [10, 50, 60],
    );
    assert.equal(quantile(0.5, bucketDelta(before, before)), null);
  });
});
