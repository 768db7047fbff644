// The operator console: sign in with an operator token, then see and edit
// the exclusion zones (drawn on the map or pasted as GeoJSON), the points of
// interest, the audit log, the live counters from /metrics and the reports.
// Everything here is the HTTP admin API of docs/protocol.md.

import { loadClientConfig, pointFromQuery } from './config.js';
import { GeoMap, dot, hitTest, label, labelNear } from './map.js';
import { bucketDelta, buckets, parsePrometheus, quantile, total } from './prom.js';
import { h, replaceChildren, syncKeyed, titleCase, toast } from './ui.js';

const TOKEN_KEY = 'geogame.operatorToken';
const METRICS_EVERY_MS = 2000;
const ZONES_EVERY_MS = 5000;
const REPORTS_EVERY_MS = 10000;
/** The p99 window: the buckets' growth over this long. */
const P99_WINDOW_MS = 30000;
const SPARK_POINTS = 60;
/** A click this close (px) to the first corner closes the ring. */
const CLOSE_RING_PX = 12;

const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);

const state = {
  token: null,
  role: null,
  config: null,
  map: null,
  zones: [],
  pois: [],
  selectedZone: null,
  selectedPoi: null,
  hoverZone: null,
  hoverPoi: null,
  draft: null,
  hover: null,
  metrics: [],
  timers: [],
  fitted: false,
  auditKey: '',
  poiReport: [],
  /** Bumped by every sign-in and sign-out: replies to an older one are dropped. */
  generation: 0,
};

// ---- HTTP -------------------------------------------------------------------

class HttpError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Calls the admin/report API with the operator's bearer token. */
async function api(method, path, body, token = state.token) {
  let res;
  try {
    res = await fetch(path, {
      method,
      cache: 'no-store',
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body != null ? { 'content-type': 'application/json' } : {}),
      },
      body,
    });
  } catch (err) {
    throw new HttpError(0, 'unavailable', `the server is unreachable (${err.message})`);
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON */
  }
  if (!res.ok) {
    throw new HttpError(
      res.status,
      data?.error?.code ?? `http_${res.status}`,
      data?.error?.message ?? (text || res.statusText),
    );
  }
  return data;
}

const refused = (err) => err.status === 401 || err.status === 403;

/**
 * Runs `fn`. A token the server no longer accepts (401) signs out; a call
 * this role may not make (403) gives undefined quietly; other errors are
 * toasted when `what` names the call.
 */
async function guarded(fn, what) {
  const generation = state.generation;
  try {
    return await fn();
  } catch (err) {
    if (!stillCurrent(generation)) return undefined;
    if (err.status === 401 && state.token) {
      signOut('Your token is no longer accepted. Sign in again.');
    } else if (what && err.status !== 403) {
      toast(`${what}: ${err.message}`, 'error', 5000);
    }
    return undefined;
  }
}

// ---- sign-in ------------------------------------------------------------------

async function main() {
  state.config = await loadClientConfig();
  $('signin-form').addEventListener('submit', (e) => {
    e.preventDefault();
    signIn($('token').value.trim());
  });
  $('sign-out').addEventListener('click', () => signOut());
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) {
    $('token').value = saved;
    await signIn(saved, { quiet: true });
  } else {
    $('token').focus();
  }
}

/**
 * An operator token opens the admin API; an analyst's or sponsor's opens
 * the reports only. Anything else is refused, with the server's reason.
 */
async function signIn(token, { quiet = false } = {}) {
  const errorBox = $('sign-in-error');
  errorBox.hidden = true;
  if (!token) return;
  const button = $('sign-in');
  button.disabled = true;
  try {
    let role;
    try {
      await api('GET', '/v1/admin/zones', null, token);
      role = 'operator';
    } catch (err) {
      if (!refused(err)) throw err;
      // Not an operator: a reader (analyst or sponsor) if the foot-traffic
      // report, which every reader may see, takes this token and would
      // refuse no token at all.
      await api('GET', '/v1/reports/pois', null, token);
      const open = await api('GET', '/v1/reports/pois', null, null).then(
        () => true,
        () => false,
      );
      if (open) throw err;
      role = 'reader';
    }
    state.token = token;
    state.role = role;
    state.generation++;
    sessionStorage.setItem(TOKEN_KEY, token);
    enterDashboard();
  } catch (err) {
    sessionStorage.removeItem(TOKEN_KEY);
    if (!quiet || !refused(err)) {
      errorBox.hidden = false;
      replaceChildren(errorBox, h('code', {}, err.code), refused(err) ? 'This token was refused.' : err.message);
    }
  } finally {
    button.disabled = false;
  }
}

function signOut(message) {
  state.token = null;
  state.role = null;
  state.generation++;
  sessionStorage.removeItem(TOKEN_KEY);
  state.timers.forEach(clearInterval);
  state.timers = [];
  clearViews();
  $('dashboard').hidden = true;
  $('whoami').hidden = true;
  $('signin').hidden = false;
  $('token').value = '';
  const errorBox = $('sign-in-error');
  errorBox.hidden = !message;
  if (message) replaceChildren(errorBox, message);
}

/** Forgets everything the last token could see, so the next one starts clean. */
function clearViews() {
  Object.assign(state, { zones: [], pois: [], poiReport: [], metrics: [], auditKey: '', draft: null });
  Object.assign(state, { selectedZone: null, selectedPoi: null, hoverPoi: null, hoverZone: null });
  for (const id of [
    'zones',
    'pois',
    'audit-log',
    'report-summary',
    'report-species',
    'report-pois',
    'spark-players',
    'spark-rate',
  ]) {
    $(id).replaceChildren();
  }
  for (const id of ['metric-players', 'metric-rate', 'metric-p99', 'metric-creatures', 'metric-sessions']) {
    $(id).textContent = '–';
  }
  $('reports-updated').textContent = '';
  state.map?.requestRender();
}

/** True while the sign-in that started a request is still the current one. */
const stillCurrent = (generation) => generation === state.generation;

function enterDashboard() {
  $('signin').hidden = true;
  $('dashboard').hidden = false;
  $('whoami').hidden = false;
  $('role').textContent = state.role === 'operator' ? 'operator' : 'reports only';
  for (const el of document.querySelectorAll('[data-requires="operator"]')) el.hidden = state.role !== 'operator';

  if (state.role === 'operator') {
    if (!state.map) setupMap();
    setupZoneEditor();
    loadZones();
    loadPois();
    loadAudit();
    every(ZONES_EVERY_MS, () => {
      loadZones();
      loadAudit();
    });
  }
  setupReports();
  pollMetrics();
  loadReports();
  every(METRICS_EVERY_MS, pollMetrics);
  every(REPORTS_EVERY_MS, loadReports);
}

function every(ms, fn) {
  state.timers.push(setInterval(fn, ms));
}

// ---- the map --------------------------------------------------------------------

function setupMap() {
  const params = new URLSearchParams(location.search);
  const start = pointFromQuery(params);
  const map = new GeoMap($('map'), {
    center: start ?? state.config.center,
    zoom: Number.parseInt(params.get('z'), 10) || 15,
    minZoom: 3,
    maxZoom: 19,
    tileUrl: state.config.tile_url,
    pannable: true,
  });
  state.fitted = Boolean(start);
  state.map = map;
  map.addLayer(drawZones);
  map.addLayer(drawPois);
  map.addLayer(drawZoneLabels);
  map.addLayer(drawDraft);
  map.on('click', onMapClick);
  map.on('hover', (p) => {
    state.hover = p;
    const poi = p && !state.draft?.drawing ? hitTest(map, state.pois, p.x, p.y) : null;
    if (poi !== state.hoverPoi) state.hoverPoi = poi;
    map.requestRender();
  });
  // For debugging in the console and for browser tests.
  window.geogameConsole = { state, map };
}

/** Fits the map to the world once, when the first POIs and zones are in. */
function fitOnce() {
  if (state.fitted || !state.map) return;
  const points = [...state.pois, ...state.zones.flatMap((z) => z.rings.flat())];
  if (!points.length) return;
  state.fitted = true;
  state.map.fitBounds(points, 48);
}

function drawZones(ctx, map) {
  for (const zone of state.zones) {
    const selected = zone.id === state.selectedZone || zone.id === state.hoverZone;
    for (const polygon of zone.polygons) {
      tracePolygon(ctx, map, polygon);
      ctx.fillStyle = selected ? 'rgba(200,64,47,0.32)' : 'rgba(200,64,47,0.18)';
      ctx.fill('evenodd');
      ctx.strokeStyle = '#c8402f';
      ctx.lineWidth = selected ? 3 : 1.8;
      ctx.stroke();
    }
  }
}

function drawZoneLabels(ctx, map) {
  for (const zone of state.zones) {
    const c = map.project(zone.labelAt);
    label(ctx, zone.name, c.x, c.y, {
      baseline: 'middle',
      font: '700 12px system-ui, sans-serif',
      colour: '#8f2719',
      placer: map.labels,
    });
  }
}

function tracePolygon(ctx, map, rings) {
  ctx.beginPath();
  for (const ring of rings) {
    ring.forEach((pt, i) => {
      const p = map.project(pt);
      if (i === 0) ctx.moveTo(p.x, p.y);
      else ctx.lineTo(p.x, p.y);
    });
    ctx.closePath();
  }
}

function drawPois(ctx, map) {
  const placer = map.labels;
  const rank = (p) => (p.id === state.selectedPoi ? 3 : 0) + (p === state.hoverPoi ? 4 : 0) + (p.sponsor ? 2 : 0);
  // Markers first, then labels by priority so the important ones win space.
  for (const poi of state.pois) {
    const p = map.project(poi);
    const r = 5 + 3 * Math.sqrt(poi.weight);
    const selected = poi.id === state.selectedPoi;
    ctx.shadowColor = 'rgba(0,0,0,0.25)';
    ctx.shadowBlur = 4;
    dot(ctx, p.x, p.y, r, poi.sponsor ? '#d99114' : '#2f7e9e', '#fff', selected ? 4 : 2.5);
    ctx.shadowColor = 'transparent';
    if (selected) dot(ctx, p.x, p.y, r + 5, null, '#17211b', 2);
    placer.place(p.x - r, p.y - r, 2 * r, 2 * r); // labels keep off the markers
  }
  const labelled = [...state.pois].sort((a, b) => rank(b) - rank(a) || b.weight - a.weight);
  for (const poi of labelled) {
    if (map.zoom < 15 && rank(poi) < 2) continue;
    const p = map.project(poi);
    const r = 5 + 3 * Math.sqrt(poi.weight);
    labelNear(ctx, poi.name, p.x, p.y, r, {
      font: '650 11.5px system-ui, sans-serif',
      colour: poi.sponsor ? '#8a5a05' : '#234b5a',
      placer,
    });
  }
}

function drawDraft(ctx, map) {
  const d = state.draft;
  if (!d) return;
  if (d.rings.length) {
    tracePolygon(ctx, map, d.rings);
    ctx.fillStyle = 'rgba(47,102,208,0.16)';
    ctx.fill('evenodd');
    ctx.strokeStyle = '#2f66d0';
    ctx.lineWidth = 2;
    ctx.stroke();
  }
  if (!d.current.length) return;
  const pts = d.current.map((pt) => map.project(pt));
  ctx.strokeStyle = '#2f66d0';
  ctx.lineWidth = 2;
  ctx.beginPath();
  pts.forEach((p, i) => (i ? ctx.lineTo(p.x, p.y) : ctx.moveTo(p.x, p.y)));
  if (state.hover) {
    ctx.setLineDash([5, 5]);
    ctx.lineTo(state.hover.x, state.hover.y);
  }
  ctx.stroke();
  ctx.setLineDash([]);
  const closable =
    pts.length >= 3 && state.hover && Math.hypot(state.hover.x - pts[0].x, state.hover.y - pts[0].y) <= CLOSE_RING_PX;
  pts.forEach((p, i) => dot(ctx, p.x, p.y, i === 0 && closable ? 8 : 4.5, '#fff', '#2f66d0', 2.5));
}

function onMapClick(e) {
  const d = state.draft;
  if (d?.drawing) {
    const first = d.current[0] && state.map.project(d.current[0]);
    if (d.current.length >= 3 && Math.hypot(e.x - first.x, e.y - first.y) <= CLOSE_RING_PX) {
      closeRing();
    } else {
      d.current.push({ lat: e.lat, lon: e.lon });
      updateDrawUi();
    }
    state.map.requestRender();
    return;
  }
  const poi = hitTest(state.map, state.pois, e.x, e.y);
  if (poi) {
    selectPoi(poi.id, true);
    return;
  }
  const zone = state.zones.find((z) => z.polygons.some((rings) => insidePolygon(e, rings)));
  selectZone(zone?.id ?? null, true);
}

/** Ray casting in degrees, holes subtracted (even-odd). */
function insidePolygon(p, rings) {
  let inside = false;
  for (const ring of rings) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const a = ring[i];
      const b = ring[j];
      if (a.lat > p.lat !== b.lat > p.lat && p.lon < ((b.lon - a.lon) * (p.lat - a.lat)) / (b.lat - a.lat) + a.lon) {
        inside = !inside;
      }
    }
  }
  return inside;
}

// ---- drawing a zone ----------------------------------------------------------------

function setupZoneEditor() {
  if (setupZoneEditor.done) return;
  setupZoneEditor.done = true;
  $('draw-zone').addEventListener('click', startDrawing);
  $('draw-hole').addEventListener('click', startHole);
  $('draw-undo').addEventListener('click', undoPoint);
  $('draw-finish').addEventListener('click', closeRing);
  $('draw-cancel').addEventListener('click', cancelDrawing);
  $('zone-form').addEventListener('submit', (e) => {
    e.preventDefault();
    saveZone();
  });
  $('zone-clear').addEventListener('click', () => {
    cancelDrawing();
    $('zone-geojson').value = '';
    $('zone-error').hidden = true;
  });
  for (const field of ['zone-name', 'zone-reason', 'zone-buffer', 'zone-expires']) {
    $(field).addEventListener('input', () => state.draft?.rings.length && writeDraftGeojson());
  }
  window.addEventListener('keydown', (e) => {
    if (!state.draft?.drawing || e.target.closest?.('input, textarea')) return;
    if (e.key === 'Escape') cancelDrawing();
    else if (e.key === 'Enter') closeRing();
    else if (e.key === 'Backspace') {
      e.preventDefault();
      undoPoint();
    }
  });
}

function startDrawing() {
  state.draft = { rings: [], current: [], drawing: true };
  selectZone(null);
  updateDrawUi();
}

function startHole() {
  if (!state.draft?.rings.length) return;
  state.draft.drawing = true;
  state.draft.current = [];
  updateDrawUi();
}

function undoPoint() {
  state.draft?.current.pop();
  updateDrawUi();
}

function closeRing() {
  const d = state.draft;
  if (!d?.drawing || d.current.length < 3) return;
  d.rings.push(d.current);
  d.current = [];
  d.drawing = false;
  writeDraftGeojson();
  updateDrawUi();
}

function cancelDrawing() {
  const hadShape = state.draft?.rings.length;
  if (state.draft?.drawing && hadShape) {
    // Drop only the hole being drawn; the shape stays.
    state.draft.drawing = false;
    state.draft.current = [];
  } else {
    state.draft = null;
  }
  updateDrawUi();
}

function updateDrawUi() {
  const d = state.draft;
  const drawing = Boolean(d?.drawing);
  $('map').closest('.map-card').classList.toggle('drawing', drawing);
  $('draw-zone').hidden = Boolean(d);
  $('draw-undo').hidden = !drawing;
  $('draw-finish').hidden = !drawing;
  $('draw-finish').disabled = !drawing || d.current.length < 3;
  $('draw-hole').hidden = !d || drawing || !d.rings.length;
  $('draw-cancel').hidden = !d;
  $('draw-cancel').textContent = drawing && d.rings.length ? 'Cancel hole' : 'Discard';
  let hint;
  if (!d) hint = 'Draw a zone by clicking its corners, or paste GeoJSON.';
  else if (drawing && !d.rings.length)
    hint = `Click the corners of the zone (${d.current.length} so far); click the first corner again or press Close shape.`;
  else if (drawing) hint = `Click the corners of the hole (${d.current.length} so far).`;
  else
    hint = `Shape ready with ${d.rings.length - 1} hole${d.rings.length === 2 ? '' : 's'}: name it and save, or add a hole.`;
  $('draw-hint').textContent = hint;
  state.map?.requestRender();
}

/** The drawn shape as a GeoJSON Feature in the textarea, ready to save. */
function writeDraftGeojson() {
  const d = state.draft;
  const rings = d.rings.map((ring, i) => {
    // RFC 7946: the exterior ring counter-clockwise, holes clockwise.
    const ccw = signedArea(ring) > 0;
    const ordered = (i === 0) === ccw ? ring : [...ring].reverse();
    const coords = ordered.map((p) => [round6(p.lon), round6(p.lat)]);
    return [...coords, coords[0]];
  });
  const feature = {
    type: 'Feature',
    geometry: { type: 'Polygon', coordinates: rings },
    properties: {
      name: $('zone-name').value.trim() || 'Drawn zone',
      reason: $('zone-reason').value.trim() || 'closed to play',
      ...formExtras(),
    },
  };
  $('zone-geojson').value = prettyFeature(feature);
  $('zone-error').hidden = true;
}

/** Shoelace area in degrees² (sign gives the winding: > 0 is counter-clockwise). */
function signedArea(ring) {
  let a = 0;
  for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
    a += (ring[j].lon - ring[i].lon) * (ring[j].lat + ring[i].lat);
  }
  return a / 2;
}

const round6 = (x) => Math.round(x * 1e6) / 1e6;

/** JSON with two-space indents but one coordinate pair per line. */
function prettyFeature(feature) {
  return JSON.stringify(feature, null, 2).replace(/\[\s+(-?[\d.e-]+),\s+(-?[\d.e-]+)\s+\]/g, '[$1, $2]');
}

// ---- zones ---------------------------------------------------------------------------

async function loadZones() {
  const generation = state.generation;
  const fc = await guarded(() => api('GET', '/v1/admin/zones'), 'Loading zones');
  if (!fc || !stillCurrent(generation)) return;
  state.zones = (fc.features ?? []).map(toZone);
  renderZones();
  fitOnce();
}

function toZone(f) {
  const g = f.geometry ?? {};
  const raw = g.type === 'MultiPolygon' ? g.coordinates : [g.coordinates ?? []];
  const polygons = raw.map((rings) => rings.map((ring) => ring.map(([lon, lat]) => ({ lat, lon }))));
  const outer = polygons[0]?.[0] ?? [];
  const labelAt = outer.length
    ? {
        lat: outer.reduce((s, p) => s + p.lat, 0) / outer.length,
        lon: outer.reduce((s, p) => s + p.lon, 0) / outer.length,
      }
    : { lat: 0, lon: 0 };
  const props = f.properties ?? {};
  return {
    id: String(props.id ?? f.id),
    name: props.name ?? 'unnamed zone',
    reason: props.reason ?? '',
    expiresAt: props.expires_at ?? null,
    bufferM: Number(props.buffer_m) || 0,
    polygons,
    rings: polygons.flat(),
    labelAt,
    holes: polygons.reduce((n, rings) => n + rings.length - 1, 0),
    corners: polygons.reduce((n, rings) => n + Math.max(0, (rings[0]?.length ?? 1) - 1), 0),
  };
}

function renderZones() {
  syncKeyed($('zones'), state.zones, (z) => z.id, createZoneRow, updateZoneRow);
  $('zone-count').textContent = String(state.zones.length);
  $('zones-empty').hidden = state.zones.length > 0;
  state.map?.requestRender();
}

function createZoneRow(zone) {
  const del = h(
    'button',
    { type: 'button', class: 'btn btn-sm btn-danger', dataset: { testid: 'zone-delete' }, title: 'Delete this zone' },
    'Delete',
  );
  del.addEventListener('click', (e) => {
    e.stopPropagation();
    deleteZone(zone.id, del);
  });
  const li = h(
    'li',
    { dataset: { testid: 'zone', id: zone.id } },
    h('span', { class: 'swatch', 'aria-hidden': 'true' }),
    h('div', { class: 'meta' }, h('div', { class: 'zone-name' }), h('div', { class: 'zone-meta' })),
    del,
  );
  li.addEventListener('click', () => selectZone(zone.id, false, true));
  const hover = (id) => () => {
    state.hoverZone = id;
    state.map?.requestRender();
  };
  li.addEventListener('mouseenter', hover(zone.id));
  li.addEventListener('mouseleave', hover(null));
  return li;
}

function updateZoneRow(li, zone) {
  li.dataset.name = zone.name;
  li.classList.toggle('selected', zone.id === state.selectedZone);
  li.querySelector('.zone-name').textContent = zone.name;
  const parts = [zone.reason || 'no reason given', `${zone.corners} corners`];
  if (zone.holes) parts.push(`${zone.holes} hole${zone.holes > 1 ? 's' : ''}`);
  if (zone.bufferM) parts.push(`buffer ${zone.bufferM} m`);
  if (zone.expiresAt) parts.push(`until ${new Date(zone.expiresAt * 1000).toLocaleString()}`);
  li.querySelector('.zone-meta').textContent = parts.join(' · ');
  li.title = `zone ${zone.id}`;
}

function selectZone(id, scroll = false, fit = false) {
  state.selectedZone = id;
  renderZones();
  const zone = state.zones.find((z) => z.id === id);
  if (zone && fit) state.map.fitBounds(zone.rings.flat(), 80);
  if (zone && scroll)
    $('zones')
      .querySelector(`[data-id="${CSS.escape(id)}"]`)
      ?.scrollIntoView({ block: 'nearest' });
}

async function saveZone() {
  const box = $('zone-error');
  box.hidden = true;
  const text = $('zone-geojson').value.trim();
  if (!text) {
    showZoneError('empty', 'Draw a zone on the map or paste a GeoJSON Feature first.');
    return;
  }
  const body = withFormProperties(text);
  const button = $('zone-save');
  button.disabled = true;
  try {
    const saved = await api('POST', '/v1/admin/zones', body);
    toast(`Zone “${saved?.properties?.name ?? 'zone'}” saved: in force within a second`, 'success');
    state.draft = null;
    updateDrawUi();
    $('zone-geojson').value = '';
    for (const field of ['zone-name', 'zone-reason', 'zone-buffer', 'zone-expires']) $(field).value = '';
    await loadZones();
    if (saved?.properties?.id) selectZone(String(saved.properties.id), true);
    loadAudit();
  } catch (err) {
    if (refused(err)) return signOut('Your token is no longer accepted. Sign in again.');
    showZoneError(err.code, err.message);
  } finally {
    button.disabled = false;
  }
}

/**
 * The buffer and expiry typed in the form, as zone properties: `buffer_m`
 * as typed (the server checks its range and says so) and `expires_at` in
 * unix seconds from the local date and time.
 */
function formExtras() {
  const extras = {};
  const buffer = $('zone-buffer').value.trim();
  if (buffer !== '') extras.buffer_m = Number(buffer);
  const expires = $('zone-expires').value;
  if (expires) {
    const at = new Date(expires).getTime();
    if (Number.isFinite(at)) extras.expires_at = Math.floor(at / 1000);
  }
  return extras;
}

/**
 * The body to send: the pasted text as it is, so the server judges it and
 * its own error is shown, except that a parsable Feature gets the name,
 * reason, buffer and expiry typed in the form.
 */
function withFormProperties(text) {
  const name = $('zone-name').value.trim();
  const reason = $('zone-reason').value.trim();
  const extras = formExtras();
  if (!name && !reason && Object.keys(extras).length === 0) return text;
  try {
    const v = JSON.parse(text);
    if (v && typeof v === 'object' && v.type === 'Feature') {
      v.properties = {
        ...(v.properties ?? {}),
        ...(name ? { name } : {}),
        ...(reason ? { reason } : {}),
        ...extras,
      };
      return JSON.stringify(v);
    }
  } catch {
    /* not JSON: the server says so */
  }
  return text;
}

function showZoneError(code, message) {
  const box = $('zone-error');
  box.hidden = false;
  replaceChildren(
    box,
    h('code', { dataset: { testid: 'zone-error-code' } }, code),
    h('span', { dataset: { testid: 'zone-error-message' } }, message),
  );
}

async function deleteZone(id, button) {
  button.disabled = true;
  try {
    await api('DELETE', `/v1/admin/zones/${encodeURIComponent(id)}`);
    toast('Zone deleted', 'success');
  } catch (err) {
    if (refused(err)) return signOut('Your token is no longer accepted. Sign in again.');
    if (err.status !== 404) {
      button.disabled = false;
      toast(`Delete failed: ${err.message}`, 'error');
      return;
    }
  }
  state.zones = state.zones.filter((z) => z.id !== id);
  if (state.selectedZone === id) state.selectedZone = null;
  renderZones();
  loadAudit();
}

// ---- POIs ------------------------------------------------------------------------------

async function loadPois() {
  const generation = state.generation;
  const fc = await guarded(() => api('GET', '/v1/admin/pois'), 'Loading places');
  if (!fc || !stillCurrent(generation)) return;
  state.pois = (fc.features ?? []).map((f) => {
    const props = f.properties ?? {};
    const [lon, lat] = f.geometry.coordinates;
    return {
      id: String(props.id ?? f.id),
      name: props.name,
      weight: props.weight ?? 1,
      sponsor: props.sponsor ?? null,
      lat,
      lon,
      geometry: f.geometry,
    };
  });
  state.pois.sort((a, b) => Boolean(b.sponsor) - Boolean(a.sponsor) || a.name.localeCompare(b.name));
  syncKeyed($('pois'), state.pois, (p) => p.id, createPoiRow, updatePoiRow);
  $('poi-count').textContent = String(state.pois.length);
  state.map?.requestRender();
  fitOnce();
}

function createPoiRow(poi) {
  const weight = h('input', {
    class: 'input',
    type: 'number',
    min: '0.1',
    step: '0.1',
    dataset: { testid: 'poi-weight' },
    'aria-label': `Weight of ${poi.name}`,
  });
  const sponsor = h('input', {
    class: 'input',
    type: 'text',
    placeholder: 'none',
    dataset: { testid: 'poi-sponsor' },
    'aria-label': `Sponsor of ${poi.name}`,
  });
  const save = h(
    'button',
    { type: 'button', class: 'btn btn-sm', dataset: { testid: 'poi-save' }, disabled: true },
    'Save',
  );
  const tr = h(
    'tr',
    { dataset: { testid: 'poi', id: poi.id } },
    h(
      'td',
      {},
      h('span', { class: 'poi-name' }),
      h('small', {}, poi.id),
      h('div', { class: 'row-error', dataset: { testid: 'poi-error' } }),
    ),
    h('td', { class: 'num' }, weight),
    h('td', {}, sponsor),
    h('td', {}, save),
  );
  const dirty = () => {
    tr.dataset.dirty = 'true';
    save.disabled = false;
    save.classList.add('btn-primary');
  };
  weight.addEventListener('input', dirty);
  sponsor.addEventListener('input', dirty);
  for (const input of [weight, sponsor]) {
    input.addEventListener('keydown', (e) => e.key === 'Enter' && !save.disabled && savePoi(tr, save));
  }
  save.addEventListener('click', () => savePoi(tr, save));
  tr.addEventListener('click', (e) => {
    if (e.target.closest('input, button')) return;
    selectPoi(poi.id, false);
    state.map.setCenter(poi);
  });
  return tr;
}

function updatePoiRow(tr, poi) {
  tr.classList.toggle('selected', poi.id === state.selectedPoi);
  tr.querySelector('.poi-name').textContent = poi.name;
  if (tr.dataset.dirty === 'true') return; // keep the operator's unsaved edits
  tr.querySelector('[data-testid="poi-weight"]').value = String(poi.weight);
  tr.querySelector('[data-testid="poi-sponsor"]').value = poi.sponsor ?? '';
}

function selectPoi(id, scroll) {
  state.selectedPoi = id;
  for (const tr of $('pois').children) tr.classList.toggle('selected', tr.dataset.id === id);
  if (scroll)
    $('pois')
      .querySelector(`[data-id="${CSS.escape(id)}"]`)
      ?.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  state.map.requestRender();
}

async function savePoi(tr, button) {
  const poi = state.pois.find((p) => p.id === tr.dataset.id);
  if (!poi) return;
  const errorEl = tr.querySelector('[data-testid="poi-error"]');
  errorEl.textContent = '';
  const weightText = tr.querySelector('[data-testid="poi-weight"]').value;
  const sponsor = tr.querySelector('[data-testid="poi-sponsor"]').value.trim();
  const feature = {
    type: 'Feature',
    geometry: poi.geometry,
    properties: {
      id: poi.id,
      name: poi.name,
      weight: weightText === '' ? null : Number(weightText),
      sponsor: sponsor || null,
    },
  };
  button.disabled = true;
  try {
    await api('POST', '/v1/admin/pois', JSON.stringify(feature));
    tr.dataset.dirty = 'false';
    button.classList.remove('btn-primary');
    toast(`${poi.name} saved`, 'success');
    await loadPois();
    loadAudit();
  } catch (err) {
    if (refused(err)) return signOut('Your token is no longer accepted. Sign in again.');
    errorEl.textContent = err.message;
    button.disabled = false;
  }
}

// ---- audit log ---------------------------------------------------------------------------

async function loadAudit() {
  const generation = state.generation;
  const rows = await guarded(() => api('GET', '/v1/admin/audit'));
  if (!rows || !stillCurrent(generation)) return;
  const key = JSON.stringify(rows.slice(0, 1)) + rows.length;
  if (key === state.auditKey) return;
  state.auditKey = key;
  replaceChildren(
    $('audit-log'),
    rows.slice(0, 300).map((r) => {
      const at = new Date(r.at_ms ?? r.at * 1000);
      const kind = /delete|remove/.test(r.action)
        ? 'delete'
        : /create|add|seed|import|upsert|replace/.test(r.action)
          ? 'create'
          : '';
      return h(
        'tr',
        { dataset: { testid: 'audit', action: r.action, target: r.target ?? '' } },
        h('td', { title: at.toISOString() }, at.toLocaleString()),
        h('td', {}, r.actor),
        h('td', {}, h('span', { class: `action ${kind}` }, r.action)),
        h('td', { class: 'mono target', title: r.target ?? '' }, r.target ?? ''),
        h('td', { class: 'detail' }, formatDetail(r.detail)),
      );
    }),
  );
  if (!rows.length)
    $('audit-log').append(h('tr', {}, h('td', { colspan: '5', class: 'empty' }, 'No operator changes yet.')));
}

/** An audit detail: a JSON object as `key: value` pairs, anything else as text. */
function formatDetail(detail) {
  let v = detail;
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      return detail;
    }
  }
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    return Object.entries(v)
      .map(([k, x]) => `${k}: ${typeof x === 'object' ? JSON.stringify(x) : x}`)
      .join(' · ');
  }
  return v == null ? '' : String(v);
}

// ---- live counters -------------------------------------------------------------------------

async function pollMetrics() {
  const generation = state.generation;
  let samples;
  try {
    const res = await fetch('/metrics', { cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    samples = parsePrometheus(await res.text());
  } catch {
    if (stillCurrent(generation)) $('metric-players').textContent = '–';
    return;
  }
  if (!stillCurrent(generation)) return;
  const now = performance.now();
  const snap = {
    t: now,
    players: total(samples, 'geogame_players_connected'),
    messages: total(samples, 'geogame_messages_total'),
    latency: buckets(samples, 'geogame_update_to_reply_seconds'),
    creatures: total(samples, 'geogame_creatures'),
    sessions: total(samples, 'geogame_sessions') ?? total(samples, 'geogame_lobby_sessions_running'),
    tickets: total(samples, 'geogame_lobby_tickets_open'),
  };
  const prev = state.metrics.at(-1);
  snap.rate =
    prev && snap.messages != null && prev.messages != null
      ? Math.max(0, (snap.messages - prev.messages) / ((now - prev.t) / 1000))
      : null;
  state.metrics.push(snap);
  if (state.metrics.length > SPARK_POINTS + 1) state.metrics.shift();

  $('metric-players').textContent = fmtCount(snap.players);
  $('metric-rate').textContent =
    snap.rate == null ? '–' : snap.rate < 10 ? snap.rate.toFixed(1) : fmtCount(Math.round(snap.rate));
  $('metric-creatures').textContent = fmtCount(snap.creatures);
  $('metric-sessions').textContent = fmtCount(snap.sessions);
  $('metric-tickets').textContent = snap.tickets == null ? '' : `${snap.tickets} in the lobby queue`;

  // p99 of the replies in the last 30 s; all-time when nothing happened since.
  const base = state.metrics.find((m) => now - m.t <= P99_WINDOW_MS && m !== snap);
  let p99 = base ? quantile(0.99, bucketDelta(snap.latency, base.latency)) : null;
  let note = 'last 30 s';
  if (p99 == null) {
    p99 = quantile(0.99, snap.latency);
    note = p99 == null ? 'no replies yet' : 'since start';
  }
  $('metric-p99').textContent = p99 == null ? '–' : fmtSeconds(p99);
  $('metric-p99-note').textContent = note;

  spark(
    $('spark-players'),
    state.metrics.map((m) => m.players ?? 0),
  );
  spark(
    $('spark-rate'),
    state.metrics.map((m) => m.rate ?? 0),
  );
}

function fmtCount(n) {
  if (n == null) return '–';
  return Math.round(n).toLocaleString('en-US');
}

function fmtSeconds(s) {
  const ms = s * 1000;
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** A sparkline of `values` in an SVG with a 120×28 viewBox. */
function spark(svg, values) {
  const pts = values.slice(-SPARK_POINTS);
  if (pts.length < 2) return;
  const max = Math.max(1, ...pts);
  const step = 120 / (pts.length - 1);
  const x0 = 0;
  const coords = pts.map((v, i) => [x0 + i * step, 26 - (v / max) * 24]);
  const line = coords.map(([x, y], i) => `${i ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`).join('');
  const ns = 'http://www.w3.org/2000/svg';
  const area = document.createElementNS(ns, 'path');
  area.setAttribute('class', 'area');
  area.setAttribute('d', `${line}L120,28L${x0.toFixed(1)},28Z`);
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('class', 'line');
  path.setAttribute('d', line);
  svg.replaceChildren(area, path);
}

// ---- reports ------------------------------------------------------------------------------------

function setupReports() {
  if (setupReports.done) return;
  setupReports.done = true;
  $('reports-refresh').addEventListener('click', loadReports);
  $('audit-refresh').addEventListener('click', () => {
    state.auditKey = '';
    loadAudit();
  });
  $('sponsored-only').addEventListener('change', () => renderPoiReport(state.poiReport));
}

const SUMMARY_ORDER = [
  'players',
  'sessions',
  'spawns',
  'catches',
  'catch_attempts',
  'spins',
  'visits',
  'matches',
  'events',
];

async function loadReports() {
  const generation = state.generation;
  const [summary, species, pois] = await Promise.all(['summary', 'species', 'pois'].map(loadReport));
  if (!stillCurrent(generation)) return;
  if (summary) {
    const keys = [
      ...SUMMARY_ORDER.filter((k) => k in summary),
      ...Object.keys(summary).filter((k) => !SUMMARY_ORDER.includes(k)),
    ];
    replaceChildren(
      $('report-summary'),
      keys
        .filter((k) => typeof summary[k] === 'number')
        .map((k) =>
          h(
            'div',
            { class: 'tile', dataset: { testid: 'summary-tile', key: k } },
            h('b', {}, fmtCount(summary[k])),
            h('span', {}, k.replaceAll('_', ' ')),
          ),
        ),
    );
  }
  if (species) renderSpeciesReport(species);
  if (pois) {
    state.poiReport = pois;
    renderPoiReport(pois);
  }
  if (summary || species || pois) $('reports-updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
}

/** One report; a report this role may not read (a sponsor's summary) is hidden. */
async function loadReport(name) {
  const block = document.querySelector(`[data-report="${name}"]`);
  const generation = state.generation;
  try {
    const data = await api('GET', `/v1/reports/${name}`);
    if (stillCurrent(generation)) block.hidden = false;
    return data;
  } catch (err) {
    if (!stillCurrent(generation)) return undefined;
    if (err.status === 403) block.hidden = true;
    else if (err.status === 401) signOut('Your token is no longer accepted. Sign in again.');
    return undefined;
  }
}

function renderSpeciesReport(rows) {
  const sorted = [...rows].sort((a, b) => b.spawned - a.spawned || a.species.localeCompare(b.species));
  const max = Math.max(1, ...sorted.map((r) => r.spawned));
  replaceChildren(
    $('report-species'),
    sorted.map((r) =>
      h(
        'tr',
        { dataset: { testid: 'species-row', species: r.species } },
        h('td', {}, titleCase(r.species)),
        h('td', { class: 'num' }, fmtCount(r.spawned)),
        h('td', { class: 'num' }, fmtCount(r.caught)),
        h(
          'td',
          {},
          h(
            'div',
            { class: 'bar', title: `${r.caught} of ${r.spawned} caught` },
            h('i', { class: 'spawned', style: { width: pct(r.spawned, max) } }),
            h('i', { class: 'caught', style: { width: pct(r.caught, max) } }),
          ),
        ),
      ),
    ),
  );
  if (!sorted.length) $('report-species').append(emptyRow('No spawns yet.'));
}

function renderPoiReport(rows) {
  const sponsoredOnly = $('sponsored-only').checked;
  const shown = rows.filter((r) => !sponsoredOnly || r.sponsor);
  shown.sort(
    (a, b) =>
      b.visits - a.visits ||
      b.catches - a.catches ||
      Boolean(b.sponsor) - Boolean(a.sponsor) ||
      a.name.localeCompare(b.name),
  );
  const max = Math.max(1, ...shown.map((r) => r.visits));
  replaceChildren(
    $('report-pois'),
    shown.map((r) =>
      h(
        'tr',
        { class: r.sponsor ? 'sponsored' : null, dataset: { testid: 'poi-report-row', poi: r.poi_id } },
        h('td', {}, r.name, r.sponsor ? h('small', {}, `sponsored by ${r.sponsor}`) : null),
        h('td', { class: 'num' }, fmtCount(r.visits)),
        h('td', { class: 'num' }, fmtCount(r.unique_players)),
        h('td', { class: 'num' }, fmtCount(r.catches)),
        h(
          'td',
          {},
          h(
            'div',
            { class: 'bar', title: `${r.visits} visits` },
            h('i', { class: r.sponsor ? 'sponsored' : 'visits', style: { width: pct(r.visits, max) } }),
          ),
        ),
      ),
    ),
  );
  if (!shown.length) $('report-pois').append(emptyRow(sponsoredOnly ? 'No sponsored places.' : 'No places yet.', 5));
}

const pct = (v, max) => `${Math.max(0, Math.min(100, (100 * v) / max)).toFixed(1)}%`;
const emptyRow = (text, cols = 4) => h('tr', {}, h('td', { colspan: String(cols), class: 'empty' }, text));

main().catch((err) => {
  console.error(err);
  toast(`The console failed to start: ${err.message}`, 'error', 8000);
});
