// Reading the Prometheus text format that `/metrics` serves: enough of it
// for the console's live counters (gauges, counters, histogram buckets).

/**
 * Parses exposition text into samples `{name, labels, value}`. Comments,
 * blank lines and timestamps are skipped.
 */
export function parsePrometheus(text) {
  const samples = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = line.match(/^([A-Za-z_:][\w:]*)(\{(.*)\})?\s+(\S+)/);
    if (!m) continue;
    samples.push({ name: m[1], labels: parseLabels(m[3] ?? ''), value: parseValue(m[4]) });
  }
  return samples;
}

function parseLabels(body) {
  const labels = {};
  const re = /([A-Za-z_]\w*)="((?:[^"\\]|\\.)*)"/g;
  for (let m = re.exec(body); m; m = re.exec(body)) {
    labels[m[1]] = m[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

function parseValue(v) {
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  return Number(v);
}

/** The sum of every sample named `name` (over all label sets), or null if absent. */
export function total(samples, name) {
  let sum = null;
  for (const s of samples) if (s.name === name) sum = (sum ?? 0) + s.value;
  return sum;
}

/**
 * A histogram's cumulative buckets summed over all its label sets other
 * than `le`: `[{le, count}]` sorted by `le`.
 */
export function buckets(samples, name) {
  const byLe = new Map();
  for (const s of samples) {
    if (s.name !== `${name}_bucket`) continue;
    const le = parseValue(s.labels.le);
    byLe.set(le, (byLe.get(le) ?? 0) + s.value);
  }
  return [...byLe].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
}

/** `later - earlier`, bucket by bucket: the observations between two scrapes. */
export function bucketDelta(later, earlier) {
  const before = new Map((earlier ?? []).map((b) => [b.le, b.count]));
  return later.map((b) => ({ le: b.le, count: Math.max(0, b.count - (before.get(b.le) ?? 0)) }));
}

/**
 * The `q` quantile (0..1) of cumulative buckets, interpolated linearly
 * inside its bucket as Prometheus' histogram_quantile does; null when empty.
 */
export function quantile(q, cumulative) {
  if (!cumulative.length) return null;
  const count = cumulative[cumulative.length - 1].count;
  if (!count) return null;
  const rank = q * count;
  let prevLe = 0;
  let prevCount = 0;
  for (const { le, count: c } of cumulative) {
    if (c >= rank) {
      if (le === Infinity) return prevLe;
      if (c === prevCount) return le;
      return prevLe + ((le - prevLe) * (rank - prevCount)) / (c - prevCount);
    }
    prevLe = le;
    prevCount = c;
  }
  return prevLe;
}
