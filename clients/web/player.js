// The player's web client: sign in as a guest, follow the browser's
// geolocation (or walk by hand), and show the creatures and places around,
// catch and spin, the collection, and raids from the lobby. All game traffic
// goes through the SDK in clients/js/geogame.js.

import { GeogameClient } from '../clients/js/geogame.js';
import { loadClientConfig, pointFromQuery } from './config.js';
import { bearingDeg, describeOffset, destination, distanceM, normalizeHeading } from './geo.js';
import { GeoMap, dot, hitTest, label } from './map.js';
import { deviceId, h, replaceChildren, syncKeyed, timeAgo, titleCase, toast } from './ui.js';

/** A brisk walk, well under what the server's speed check allows. */
const WALK_SPEED_MPS = 1.6;
/** How often the page reports where the player is. */
const LOCATION_EVERY_MS = 1000;
/** How long to wait for the browser's first position before walking by hand. */
const GEOLOCATION_WAIT_MS = 6000;
/** Arrow keys: the step each one adds, as [east, north]. */
const ARROWS = { ArrowUp: [0, 1], ArrowDown: [0, -1], ArrowLeft: [-1, 0], ArrowRight: [1, 0] };

const $ = (testid) => document.querySelector(`[data-testid="${testid}"]`);

const state = {
  config: null,
  client: null,
  lobby: null,
  map: null,
  connected: false,
  /** 'gps' follows the browser; 'walk' moves by clicks and arrow keys. */
  mode: 'walk',
  pos: null,
  heading: 0,
  speed: 0,
  accuracy: null,
  target: null,
  keys: new Set(),
  gpsWatch: null,
  lastGpsFix: null,
  creatures: new Map(),
  pois: new Map(),
  collection: { creatures: [], items: {} },
  newlyCaught: new Set(),
  raid: { phase: 'idle' },
  tooFastShown: 0,
};

// ---- start-up ------------------------------------------------------------

async function main() {
  setStatus('connecting', 'starting…');
  const configP = loadClientConfig();
  const startP = chooseStart(configP);
  const config = await configP;
  state.config = config;

  const client = new GeogameClient({
    baseUrl: location.origin,
    ...(config.lobby_url ? { lobbyUrl: config.lobby_url } : {}),
  });
  state.client = client;
  wireClient(client);
  const connecting = connectWithRetry();
  // The map shows at once; it moves to the player once the start is known.
  setupMap(config, pointFromQuery() ?? config.center);
  renderRaid();

  const start = await startP;
  state.mode = start.mode;
  state.pos = start.pos;
  if (start.fix) applyFix(start.fix);
  state.map.setCenter(state.pos);
  setupWalking();
  renderMode();
  await connecting;
  sendLocation(true);
  setInterval(sendLocation, LOCATION_EVERY_MS);
  setInterval(tickClock, 1000);
}

/**
 * Where the player starts: the browser's position when geolocation is
 * granted (waiting for the first fix), else `?lat=&lon=`, else the world's
 * centre. No location is sent before this is settled, so the server never
 * sees a jump from a guessed start to the real position.
 */
async function chooseStart(configP) {
  const fallback = async () => ({ mode: 'walk', pos: pointFromQuery() ?? (await configP).center });
  if (!('geolocation' in navigator) || new URLSearchParams(location.search).get('gps') === 'off') {
    return fallback();
  }
  let permission = 'prompt';
  try {
    permission = (await navigator.permissions.query({ name: 'geolocation' })).state;
  } catch {
    /* no Permissions API: just ask */
  }
  if (permission === 'denied') return fallback();
  // Said on the map, not in the status: the connection has its own news.
  $('position').textContent = permission === 'granted' ? 'locating…' : 'allow location, or wait to walk by hand…';
  const fix = await firstFix();
  if (!fix) return fallback();
  return { mode: 'gps', pos: { lat: fix.coords.latitude, lon: fix.coords.longitude }, fix };
}

/** Starts watching the browser's position; resolves with the first fix, or null. */
function firstFix() {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (fix) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(fix);
    };
    const timer = setTimeout(() => settle(null), GEOLOCATION_WAIT_MS);
    state.gpsWatch = navigator.geolocation.watchPosition(
      (fix) => {
        state.lastGpsFix = fix;
        if (!settled) settle(fix);
        else if (state.mode === 'gps') applyFix(fix);
      },
      (err) => {
        if (err.code !== err.PERMISSION_DENIED) return settle(null);
        stopGps();
        if (settled && state.mode === 'gps') {
          state.mode = 'walk';
          state.speed = 0;
          renderMode();
          toast('Location access was turned off: walk by hand now', 'warn');
        }
        settle(null);
      },
      { enableHighAccuracy: true, maximumAge: 2000, timeout: 20000 },
    );
  });
}

function stopGps() {
  if (state.gpsWatch != null) navigator.geolocation.clearWatch(state.gpsWatch);
  state.gpsWatch = null;
  state.lastGpsFix = null;
}

function applyFix(fix) {
  const c = fix.coords;
  const next = { lat: c.latitude, lon: c.longitude };
  if (Number.isFinite(c.heading)) state.heading = normalizeHeading(c.heading);
  else if (state.pos && distanceM(state.pos, next) > 2) state.heading = bearingDeg(state.pos, next);
  state.speed = Number.isFinite(c.speed) ? Math.max(0, c.speed) : 0;
  state.accuracy = Number.isFinite(c.accuracy) ? Math.max(0, c.accuracy) : null;
  state.pos = next;
  state.map?.setCenter(next);
  renderPosition();
}

let connectLoop = null;

/** Signs in and connects, retrying with back-off until it works; one loop at a time. */
function connectWithRetry() {
  connectLoop ??= connectLoopBody().finally(() => {
    connectLoop = null;
  });
  return connectLoop;
}

async function connectLoopBody() {
  const device = deviceId();
  for (let attempt = 0; ; attempt++) {
    try {
      setStatus('connecting', 'signing in…');
      await state.client.signInGuest(device);
      setStatus('connecting', 'connecting…');
      await state.client.connect();
      return;
    } catch (err) {
      if (err.code === 'suspended') {
        // Retrying would only be refused again; the message says until when.
        setStatus('offline', 'suspended');
        $('status').title = err.message;
        toast(err.message, 'error');
        return;
      }
      const wait = Math.min(10000, 500 * 2 ** attempt);
      setStatus('offline', `offline, retrying in ${Math.ceil(wait / 1000)} s`);
      console.warn('geogame: connect failed', err);
      await sleep(wait);
    }
  }
}

// ---- the connection ------------------------------------------------------

function wireClient(client) {
  client.on('status', ({ status, delayMs }) => {
    state.connected = status === 'connected';
    if (status === 'connected') {
      setStatus('connected', 'connected');
      $('status').title = `connected as ${client.playerId}`;
      sendLocation(true);
      refreshCollection();
    } else if (status === 'reconnecting') {
      setStatus('reconnecting', `reconnecting${delayMs ? ` in ${Math.ceil(delayMs / 1000)} s` : ''}…`);
    } else if (status === 'replaced') {
      setStatus('offline', 'in another tab (tap here)');
    } else if (status === 'closed') {
      setStatus('offline', 'offline (tap to reconnect)');
    }
  });
  client.on('nearby', applyNearby);
  client.on('despawn', ({ creature_id, reason }) => {
    const c = state.creatures.get(creature_id);
    if (!c) return;
    state.creatures.delete(creature_id);
    renderCreatures();
    if (reason === 'excluded') noteExcluded();
  });
  client.on('shutdown', () => toast('The server is restarting, reconnecting…', 'warn'));
  client.on('session_joined', (joined) => enterSession(joined));
  client.on('session_event', onSessionEvent);
  client.on('session_ended', onSessionEnded);
  client.on('error', (err) => {
    if (err.code === 'rate_limited') return;
    if (err.code === 'suspended') {
      setStatus('offline', 'suspended');
      $('status').title = err.message;
    }
    if (err.code === 'too_fast') return showTooFast();
    toast(err.message || err.code, 'error');
  });

  $('status').addEventListener('click', () => {
    if (client.status === 'closed' || client.status === 'replaced') connectWithRetry();
  });
}

let locationInFlight = false;

/** Reports the position; the reply (`nearby`) refreshes the lists and map. */
async function sendLocation(force = false) {
  if (!state.connected || !state.pos || (locationInFlight && !force)) return;
  locationInFlight = true;
  try {
    const nearby = await state.client.location({
      lat: state.pos.lat,
      lon: state.pos.lon,
      heading: normalizeHeading(state.heading),
      speed: state.speed,
      accuracy: state.mode === 'gps' ? state.accuracy : undefined,
    });
    applyNearby(nearby);
  } catch (err) {
    if (err.code === 'too_fast') showTooFast();
    else if (err.code !== 'unavailable' && err.code !== 'timeout' && err.code !== 'rate_limited') {
      console.warn('geogame: location refused', err);
    }
  } finally {
    locationInFlight = false;
  }
}

/** Creatures leave in a burst when an operator closes an area: one notice for all. */
let excludedBurst = 0;
let excludedTimer = 0;
function noteExcluded() {
  excludedBurst++;
  clearTimeout(excludedTimer);
  excludedTimer = setTimeout(() => {
    const n = excludedBurst;
    excludedBurst = 0;
    toast(`This area was closed to play: ${n} creature${n === 1 ? '' : 's'} left`, 'warn', 5000);
  }, 250);
}

function showTooFast() {
  if (Date.now() - state.tooFastShown < 15000) return;
  state.tooFastShown = Date.now();
  toast('Moving too fast: actions are paused for a little while', 'error', 5000);
}

function applyNearby(nearby) {
  if (!nearby || nearby.type !== 'nearby') return;
  state.creatures = new Map(nearby.creatures.map((c) => [c.id, c]));
  state.pois = new Map(nearby.pois.map((p) => [p.id, p]));
  renderCreatures();
  renderPois();
  state.map?.requestRender();
}

// ---- catch, spin, collection ---------------------------------------------

async function catchCreature(id, button) {
  const c = state.creatures.get(id);
  if (!c) return;
  button.disabled = true;
  button.textContent = 'Throwing…';
  try {
    const r = await asPassenger(() => state.client.catch(id));
    showOutcome(id, r.outcome);
    const name = titleCase(c.species);
    switch (r.outcome) {
      case 'caught':
        toast(`Caught ${name}!`, 'success');
        state.newlyCaught.add(id);
        state.collection.creatures.push({ id, species: c.species, rarity: c.rarity, caught_at: Date.now() / 1000 });
        renderCollection();
        refreshCollection();
        removeCreature(id);
        break;
      case 'fled':
        toast(`${name} fled`, 'warn');
        removeCreature(id);
        break;
      case 'gone':
        toast(`${name} is gone`, 'warn');
        removeCreature(id);
        break;
      case 'too_far':
        toast(`Too far: get within ${state.config.catch_range_m} m of ${name}`, 'warn');
        break;
      default:
        toast(`${name}: ${r.outcome}`);
    }
  } catch (err) {
    actionFailed(err);
  } finally {
    button.disabled = false;
    button.textContent = 'Catch';
  }
}

function removeCreature(id) {
  state.creatures.delete(id);
  // The row shows its outcome until the next refresh, at most 600 ms.
  setTimeout(() => renderCreatures(), 600);
  state.map.requestRender();
}

async function spin(poiId, button) {
  const p = state.pois.get(poiId);
  button.disabled = true;
  try {
    const r = await asPassenger(() => state.client.spin(poiId));
    const text =
      {
        ok: formatItems(r.items) || 'nothing this time',
        cooldown: 'spun recently, try later',
        too_far: `too far, get within ${state.config.spin_range_m} m`,
      }[r.outcome] ?? r.outcome;
    setPoiResult(poiId, r.outcome, text);
    if (r.outcome === 'ok') {
      toast(`${p?.name ?? 'Place'}: ${text}`, 'success');
      refreshCollection();
    } else {
      toast(`${p?.name ?? 'Place'}: ${text}`, 'warn');
    }
  } catch (err) {
    actionFailed(err);
  } finally {
    button.disabled = false;
  }
}

async function refreshCollection() {
  try {
    const col = await state.client.collection();
    state.collection = { creatures: col.creatures, items: col.items ?? {} };
    renderCollection();
  } catch (err) {
    if (err.code !== 'unavailable') console.warn('geogame: collection', err);
  }
}

/**
 * Runs a catch or spin; when the server asks whether the player is a
 * passenger (they move faster than cycling), asks them as the app does and,
 * if they say so, confirms and tries once more.
 */
async function asPassenger(action) {
  try {
    return await action();
  } catch (err) {
    if (err.code !== 'passenger_required') throw err;
    if (!window.confirm('You are moving fast. Are you a passenger? Never play while driving.')) throw err;
    await state.client.passenger();
    return action();
  }
}

function actionFailed(err) {
  if (err.code === 'passenger_required') return toast('Only passengers may play at this speed', 'warn');
  if (err.code === 'too_fast') return showTooFast();
  if (err.code === 'unavailable') return toast('Not connected right now', 'error');
  toast(err.message || err.code, 'error');
}

const formatItems = (items) =>
  Object.entries(items ?? {})
    .map(([name, n]) => `+${n} ${name}`)
    .join(', ');

// ---- raids ------------------------------------------------------------------

async function ensureLobby() {
  if (state.lobby?.status === 'connected') return state.lobby;
  if (!state.lobby) {
    const lobby = state.client.lobby();
    lobby.on('match_found', (m) => {
      state.raid = { phase: 'matched', match: m, poi: state.raid.poi };
      renderRaid();
      toast('Raid found! Join the others', 'success');
    });
    lobby.on('expired', () => {
      state.raid = { phase: 'idle' };
      renderRaid();
      toast('Nobody else came: the raid queue timed out', 'warn');
    });
    state.lobby = lobby;
  }
  await state.lobby.connect();
  return state.lobby;
}

async function queueRaid(poiId, button) {
  const poi = state.pois.get(poiId);
  button.disabled = true;
  try {
    const lobby = await ensureLobby();
    const r = await lobby.queue({ mode: 'raid', poi_id: poiId, lat: state.pos.lat, lon: state.pos.lon });
    const place = poi ?? { id: poiId, name: poiId };
    if (state.raid.phase === 'idle')
      state.raid = { phase: 'queued', ticket: r.ticket_id, poi: place, since: Date.now() };
    else state.raid.poi ??= place; // matched already
    renderRaid();
  } catch (err) {
    if (err.code === 'too_far') toast('Too far from that place to raid it', 'warn');
    else if (err.code === 'conflict') toast('You are already queued or in a raid', 'warn');
    else actionFailed(err);
  } finally {
    button.disabled = false;
  }
}

async function cancelRaid() {
  const ticket = state.raid.ticket;
  state.raid = { phase: 'idle' };
  renderRaid();
  try {
    await state.lobby?.cancel(ticket);
  } catch {
    /* the ticket had already matched or expired */
  }
}

async function joinRaid() {
  const match = state.raid.match;
  state.raid = { ...state.raid, joining: true };
  renderRaid();
  try {
    enterSession(await state.client.joinMatch(match));
  } catch (err) {
    state.raid = { phase: 'idle' };
    renderRaid();
    actionFailed(err);
  }
}

function enterSession(joined) {
  if (state.raid.phase === 'fight' && state.raid.sessionId === joined.session_id) return;
  state.raid = {
    phase: 'fight',
    sessionId: joined.session_id,
    boss: { ...joined.boss },
    members: new Set(joined.members),
    endsAt: joined.ends_at,
    poi: state.raid.poi,
    feed: [{ action: 'joined', player_id: state.client.playerId, boss_hp: joined.boss.hp, local: true }],
  };
  renderRaid();
}

async function attack(button) {
  button.disabled = true;
  try {
    const r = await state.client.attack();
    if (state.raid.boss) state.raid.boss.hp = Math.min(state.raid.boss.hp, r.boss_hp);
    addOwnEvent({ action: 'attack', damage: r.damage, boss_hp: r.boss_hp });
  } catch (err) {
    if (err.code !== 'conflict') actionFailed(err);
  } finally {
    button.disabled = false;
  }
}

async function raidCatch(button) {
  button.disabled = true;
  try {
    const r = await state.client.raidCatch();
    state.raid.catchOutcome = r.outcome;
    if (r.outcome === 'caught' || r.outcome === 'fled') addOwnEvent({ action: r.outcome, boss_hp: 0 });
    const boss = titleCase(state.raid.boss?.species ?? 'the boss');
    if (r.outcome === 'caught') {
      toast(`Caught ${boss}!`, 'success');
      state.newlyCaught.add(r.creature_id);
      refreshCollection();
    } else {
      toast(`${boss} ${r.outcome === 'fled' ? 'fled' : r.outcome}`, 'warn');
    }
  } catch (err) {
    actionFailed(err);
  }
  renderRaid();
}

async function leaveRaid() {
  try {
    await state.client.leaveSession();
  } catch {
    /* the session may already be over */
  }
  state.raid = { phase: 'idle' };
  renderRaid();
}

function onSessionEvent(ev) {
  const raid = state.raid;
  if (raid.phase !== 'fight' && raid.phase !== 'victory') return;
  if (ev.session_id !== raid.sessionId) return;
  if (raid.boss) raid.boss.hp = Math.min(raid.boss.hp, ev.boss_hp);
  if (ev.action === 'joined') raid.members.add(ev.player_id);
  if (ev.action === 'left') raid.members.delete(ev.player_id);
  // Our own actions are already in the feed from their replies.
  const echo =
    ev.player_id === state.client.playerId &&
    raid.feed.some((f) => f.local && f.action === ev.action && f.boss_hp === ev.boss_hp);
  if (!echo) pushFeed(ev);
  renderRaid();
}

/** Our own action, from its reply: the server may not echo it back as a session_event. */
function addOwnEvent(ev) {
  if (!state.raid.feed) return;
  pushFeed({ ...ev, player_id: state.client.playerId, session_id: state.raid.sessionId, local: true });
  renderRaid();
}

function pushFeed(ev) {
  const feed = state.raid.feed;
  feed.unshift(ev);
  feed.length = Math.min(feed.length, 40);
}

function onSessionEnded(ev) {
  const raid = state.raid;
  if (ev.session_id !== raid.sessionId) return;
  raid.phase = ev.outcome === 'victory' ? 'victory' : 'timeout';
  if (ev.outcome === 'victory') {
    raid.boss.hp = 0;
    toast(`${titleCase(raid.boss.species)} is down! Throw to catch it`, 'success');
  } else {
    toast('Time is up: the raid boss got away', 'warn');
  }
  renderRaid();
}

// ---- rendering: status, position -------------------------------------------

function setStatus(kind, text) {
  const el = $('status');
  el.dataset.state = kind;
  el.textContent = text;
}

function renderPosition() {
  const el = $('position');
  if (!state.pos) return;
  el.dataset.lat = state.pos.lat.toFixed(7);
  el.dataset.lon = state.pos.lon.toFixed(7);
  el.dataset.mode = state.mode;
  const moving = state.speed > 0.2 ? ` · ${state.speed.toFixed(1)} m/s` : '';
  el.textContent = `${state.pos.lat.toFixed(5)}, ${state.pos.lon.toFixed(5)}${moving}`;
}

function renderMode() {
  const btn = $('mode');
  const canGps = 'geolocation' in navigator;
  btn.hidden = !canGps;
  btn.textContent = state.mode === 'gps' ? 'Following GPS · walk instead' : 'Walking · use GPS';
  btn.dataset.mode = state.mode;
  btn.title = state.mode === 'gps' ? 'Switch to walking by hand' : 'Follow your device location';
  $('walk-hint').hidden = state.mode !== 'walk';
  renderPosition();
}

async function toggleMode() {
  if (state.mode === 'gps') {
    state.mode = 'walk';
    state.speed = 0;
    renderMode();
    return;
  }
  if (state.gpsWatch == null) {
    toast('Asking for your location…');
    const fix = await firstFix();
    if (!fix) return toast('Location is not available', 'error');
    state.lastGpsFix = fix;
  }
  if (!state.lastGpsFix) return toast('Waiting for a location fix…');
  state.mode = 'gps';
  state.target = null;
  applyFix(state.lastGpsFix);
  renderMode();
  sendLocation(true);
}

// ---- rendering: lists -------------------------------------------------------

function renderCreatures() {
  const list = [...state.creatures.values()].sort((a, b) => a.distance_m - b.distance_m);
  syncKeyed($('creatures'), list, (c) => c.id, createCreatureRow, updateCreatureRow);
  $('creature-count').textContent = String(list.length);
  $('creatures-empty').hidden = list.length > 0;
  state.map?.requestRender();
}

function createCreatureRow(c) {
  const button = h(
    'button',
    { type: 'button', class: 'btn btn-primary btn-sm', dataset: { testid: 'catch' } },
    'Catch',
  );
  button.addEventListener('click', () => catchCreature(c.id, button));
  return h(
    'li',
    { class: 'creature', dataset: { testid: 'creature', id: c.id, species: c.species, rarity: c.rarity } },
    avatar(c.species, c.rarity),
    h(
      'div',
      { class: 'meta' },
      h(
        'div',
        { class: 'name' },
        h('span', { class: 'label' }, titleCase(c.species)),
        h('span', { class: `chip rarity rarity-${c.rarity}` }, c.rarity),
      ),
      h(
        'div',
        { class: 'where' },
        h('span', { class: 'offset', dataset: { testid: 'creature-where' } }),
        h('span', { class: 'outcome', dataset: { testid: 'catch-result' } }),
      ),
    ),
    button,
  );
}

function updateCreatureRow(li, c) {
  li.dataset.distanceM = c.distance_m.toFixed(1);
  li.dataset.lat = String(c.lat);
  li.dataset.lon = String(c.lon);
  li.classList.toggle('out-of-range', c.distance_m > state.config.catch_range_m);
  const left = Math.max(0, c.expires_at - Date.now() / 1000);
  const expiry = left < 90 ? ` · ${Math.round(left)} s left` : ` · ${Math.round(left / 60)} min left`;
  li.querySelector('.offset').textContent = describeOffset(c.distance_m, c.bearing_deg) + expiry;
}

function showOutcome(id, outcome) {
  const li = $('creatures').querySelector(`[data-id="${CSS.escape(id)}"]`);
  const el = li?.querySelector('.outcome');
  if (!el) return;
  li.dataset.outcome = outcome;
  el.textContent = ` · ${outcome.replace('_', ' ')}`;
  el.className = `outcome ${outcome === 'caught' ? 'outcome-ok' : 'outcome-bad'}`;
}

function renderPois() {
  const list = [...state.pois.values()].sort((a, b) => a.distance_m - b.distance_m);
  syncKeyed($('pois'), list, (p) => p.id, createPoiRow, updatePoiRow);
  $('poi-count').textContent = String(list.length);
  $('pois-empty').hidden = list.length > 0;
}

function createPoiRow(p) {
  const spinBtn = h('button', { type: 'button', class: 'btn btn-primary btn-sm', dataset: { testid: 'spin' } }, 'Spin');
  spinBtn.addEventListener('click', () => spin(p.id, spinBtn));
  const raidBtn = h(
    'button',
    { type: 'button', class: 'btn btn-sm', dataset: { testid: 'raid-queue' }, title: 'Queue for a raid here' },
    'Raid',
  );
  raidBtn.addEventListener('click', () => queueRaid(p.id, raidBtn));
  return h(
    'li',
    { class: 'poi', dataset: { testid: 'poi', id: p.id, sponsored: String(Boolean(p.sponsor)) } },
    h('span', { class: 'poi-icon', 'aria-hidden': 'true' }),
    h(
      'div',
      { class: 'meta' },
      h('div', { class: 'name name-wrap' }, h('span', { class: 'label', title: p.name }, p.name)),
      h(
        'div',
        { class: 'where' },
        p.sponsor ? h('span', { class: 'chip chip-gold' }, `★ ${p.sponsor}`) : null,
        p.sponsor ? ' ' : null,
        h('span', { class: 'offset' }),
        h('span', { class: 'outcome', dataset: { testid: 'spin-result' } }),
      ),
    ),
    h('div', { class: 'actions' }, spinBtn, raidBtn),
  );
}

function updatePoiRow(li, p) {
  li.dataset.distanceM = p.distance_m.toFixed(1);
  li.classList.toggle('out-of-range', p.distance_m > state.config.spin_range_m);
  li.querySelector('.offset').textContent = describeOffset(p.distance_m, bearingDeg(state.pos, p));
}

function setPoiResult(poiId, outcome, text) {
  const li = $('pois').querySelector(`[data-id="${CSS.escape(poiId)}"]`);
  const el = li?.querySelector('.outcome');
  if (!el) return;
  li.dataset.outcome = outcome;
  el.textContent = ` · ${text}`;
  el.className = `outcome ${outcome === 'ok' ? 'outcome-ok' : 'outcome-bad'}`;
}

function renderCollection() {
  const { creatures, items } = state.collection;
  const newestFirst = [...creatures].reverse();
  replaceChildren(
    $('collection'),
    newestFirst.map((c) =>
      h(
        'li',
        {
          class: state.newlyCaught.has(c.id) ? 'new' : null,
          dataset: { testid: 'collected', id: c.id, species: c.species, rarity: c.rarity },
        },
        avatar(c.species, c.rarity, true),
        h(
          'div',
          { class: 'meta' },
          h('span', { class: 'label' }, titleCase(c.species)),
          h('small', {}, `${c.rarity} · ${timeAgo(c.caught_at)}`),
        ),
      ),
    ),
  );
  state.newlyCaught.clear();
  $('collection-count').textContent = String(creatures.length);
  $('collection-empty').hidden = creatures.length > 0;
  replaceChildren(
    $('items'),
    Object.entries(items)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, n]) =>
        h(
          'span',
          { class: 'chip', dataset: { testid: 'item', item: name, count: String(n) } },
          `${itemIcon(name)} ${name} × ${n}`,
        ),
      ),
  );
}

const ITEM_ICONS = { ball: '●', berry: '♣', potion: '+' };
const itemIcon = (name) => ITEM_ICONS[name] ?? '◆';

/** A round badge in a colour of the species, ringed by its rarity. */
function avatar(species, rarity, small = false) {
  return h(
    'span',
    {
      class: `avatar${small ? ' avatar-sm' : ''}`,
      dataset: { rarity },
      style: { background: speciesColour(species, 0.82) },
      'aria-hidden': 'true',
    },
    (species[0] ?? '?').toUpperCase(),
  );
}

/** A stable pastel colour per species name. */
function speciesColour(species, lightness = 0.8) {
  let hash = 0;
  for (const ch of species) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
  return `hsl(${hash % 360} 62% ${Math.round(lightness * 100)}%)`;
}

// ---- rendering: raid --------------------------------------------------------

function renderRaid() {
  const raid = state.raid;
  const section = $('raid');
  section.dataset.state = raid.phase;
  $('raid-phase').textContent =
    {
      idle: 'idle',
      queued: 'queued',
      matched: 'match found',
      fight: 'in battle',
      victory: 'victory',
      timeout: 'time up',
    }[raid.phase] ?? raid.phase;
  const body = $('raid-body');
  const btn = (text, testid, onClick, cls = '') => {
    const b = h('button', { type: 'button', class: `btn btn-sm ${cls}`, dataset: { testid } }, text);
    b.addEventListener('click', () => onClick(b));
    return b;
  };

  // Within one stage of a fight only the numbers change: update in place,
  // so the hp bar animates and the buttons stay under the pointer.
  const view = [raid.phase, raid.sessionId, raid.catchOutcome, raid.joining].join('|');
  if (body.dataset.view === view && raid.boss) return updateFight(body, raid);
  body.dataset.view = view;

  switch (raid.phase) {
    case 'idle':
      replaceChildren(
        body,
        h(
          'p',
          { class: 'muted' },
          'Raid a boss with the players around you: press Raid next to a place below to queue there.',
        ),
      );
      break;
    case 'queued':
      replaceChildren(
        body,
        h(
          'p',
          {},
          'Waiting for raiders at ',
          h('strong', {}, raid.poi.name),
          h('span', { class: 'muted', dataset: { testid: 'raid-wait' } }, ` · ${waited(raid.since)}`),
        ),
        h('div', { class: 'raid-row' }, btn('Cancel', 'raid-cancel', cancelRaid)),
      );
      break;
    case 'matched':
      replaceChildren(
        body,
        h(
          'p',
          {},
          h('strong', {}, `${raid.match.players.length} raiders`),
          ' are ready',
          raid.poi ? ` at ${raid.poi.name}` : '',
          '.',
        ),
        h('div', { class: 'members' }, raid.match.players.map(memberChip)),
        h(
          'div',
          { class: 'raid-row' },
          btn(raid.joining ? 'Joining…' : 'Join raid', 'raid-join', joinRaid, 'btn-gold'),
        ),
      );
      if (raid.joining) body.querySelector('[data-testid="raid-join"]').disabled = true;
      break;
    case 'fight':
    case 'victory':
    case 'timeout': {
      const actions = h('div', { class: 'raid-row' });
      if (raid.phase === 'fight') actions.append(btn('Attack', 'attack', attack, 'btn-primary'));
      if (raid.phase === 'victory' && !raid.catchOutcome)
        actions.append(btn('Throw a ball', 'raid-catch', raidCatch, 'btn-gold'));
      if (raid.catchOutcome) {
        actions.append(
          h(
            'span',
            {
              class: `chip${raid.catchOutcome === 'caught' ? ' chip-ok' : ''}`,
              dataset: { testid: 'raid-catch-result' },
            },
            raid.catchOutcome,
          ),
        );
      }
      actions.append(
        h('span', { class: 'spacer' }),
        h('span', { class: 'muted', dataset: { testid: 'raid-clock' } }, raidClock()),
        btn('Leave', 'raid-leave', leaveRaid),
      );
      replaceChildren(
        body,
        bossView(raid),
        h('div', { class: 'members', dataset: { testid: 'raid-members' } }),
        actions,
        h('ul', { class: 'feed', dataset: { testid: 'raid-feed' } }),
      );
      updateFight(body, raid);
      break;
    }
  }
}

/** The changing parts of a fight: hp, members, the feed. */
function updateFight(body, raid) {
  const b = raid.boss;
  const hp = body.querySelector('[data-testid="boss-hp"]');
  hp.dataset.hp = String(b.hp);
  hp.textContent = `${b.hp} / ${b.max_hp} HP`;
  const bar = body.querySelector('.hp');
  bar.setAttribute('aria-valuenow', String(b.hp));
  bar.firstElementChild.style.width = `${(100 * b.hp) / b.max_hp}%`;
  replaceChildren(body.querySelector('[data-testid="raid-members"]'), [...raid.members].map(memberChip));
  replaceChildren(body.querySelector('[data-testid="raid-feed"]'), raid.feed.map(feedRow));
}

function bossView(raid) {
  const b = raid.boss;
  return h(
    'div',
    { class: 'boss', dataset: { testid: 'boss', species: b.species } },
    avatar(b.species, b.rarity),
    h(
      'div',
      {},
      h(
        'div',
        { class: 'boss-name' },
        titleCase(b.species),
        h('span', { class: `chip rarity rarity-${b.rarity}` }, b.rarity),
      ),
      h(
        'div',
        {
          class: 'hp',
          role: 'progressbar',
          'aria-valuemin': '0',
          'aria-valuemax': String(b.max_hp),
          'aria-valuenow': String(b.hp),
        },
        h('span', { style: { width: `${(100 * b.hp) / b.max_hp}%` } }),
      ),
      h(
        'div',
        { class: 'hp-text', dataset: { testid: 'boss-hp', hp: String(b.hp), maxHp: String(b.max_hp) } },
        `${b.hp} / ${b.max_hp} HP`,
      ),
    ),
  );
}

const who = (playerId) => (playerId === state.client.playerId ? 'You' : `Raider ${playerId.slice(-4)}`);

function memberChip(playerId) {
  return h(
    'span',
    { class: `chip${playerId === state.client.playerId ? ' chip-gold' : ''}`, dataset: { player: playerId } },
    who(playerId),
  );
}

function feedRow(ev) {
  const text =
    {
      joined: 'joined the raid',
      attack: 'attacked',
      left: 'left',
      caught: 'caught the boss',
      fled: 'threw, but the boss fled',
    }[ev.action] ?? ev.action;
  return h(
    'li',
    { dataset: { testid: 'raid-event', action: ev.action, player: ev.player_id } },
    h('span', { class: 'who' }, who(ev.player_id)),
    h('span', {}, text),
    ev.damage != null ? h('span', { class: 'dmg' }, `−${ev.damage}`) : null,
  );
}

function raidClock() {
  const left = Math.max(0, Math.round(state.raid.endsAt - Date.now() / 1000));
  if (state.raid.phase !== 'fight') return '';
  return `${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')} left`;
}

function waited(since) {
  return `${Math.round((Date.now() - since) / 1000)} s`;
}

/** Once a second: clocks and expiry texts. */
function tickClock() {
  if (state.raid.phase === 'fight') {
    const el = $('raid-clock');
    if (el) el.textContent = raidClock();
  }
  if (state.raid.phase === 'queued') {
    const el = $('raid-wait');
    if (el) el.textContent = ` · ${waited(state.raid.since)}`;
  }
}

// ---- map ------------------------------------------------------------------

function setupMap(config, center) {
  const map = new GeoMap(document.getElementById('map'), {
    center,
    zoom: Number.parseInt(new URLSearchParams(location.search).get('z'), 10) || 17,
    minZoom: 13,
    maxZoom: 19,
    tileUrl: config.tile_url,
    pannable: false,
  });
  state.map = map;
  map.addLayer(drawRanges);
  map.addLayer(drawCreatures);
  map.addLayer(drawPois);
  map.addLayer(drawPlayer);
  map.on('click', onMapClick);
  // For debugging in the console and for browser tests.
  window.geogamePlayer = { state, map };
}

function drawRanges(ctx, map) {
  if (!state.pos) return;
  const p = map.project(state.pos);
  ctx.setLineDash([]);
  dot(
    ctx,
    p.x,
    p.y,
    map.metresToPixels(state.config.view_radius_m),
    'rgba(27,138,98,0.035)',
    'rgba(27,138,98,0.18)',
    1,
  );
  ctx.setLineDash([6, 5]);
  dot(
    ctx,
    p.x,
    p.y,
    map.metresToPixels(state.config.catch_range_m),
    'rgba(27,138,98,0.07)',
    'rgba(27,138,98,0.55)',
    1.5,
  );
  ctx.setLineDash([]);
  if (state.target) {
    const t = map.project(state.target);
    ctx.strokeStyle = 'rgba(47,102,208,0.55)';
    ctx.lineWidth = 2;
    ctx.setLineDash([2, 5]);
    ctx.beginPath();
    ctx.moveTo(p.x, p.y);
    ctx.lineTo(t.x, t.y);
    ctx.stroke();
    ctx.setLineDash([]);
    dot(ctx, t.x, t.y, 5, '#fff', '#2f66d0', 2.5);
  }
}

function drawPois(ctx, map) {
  const placer = map.labels;
  const pois = [...state.pois.values()].sort(
    (a, b) => Boolean(b.sponsor) - Boolean(a.sponsor) || a.distance_m - b.distance_m,
  );
  for (const poi of pois) {
    const p = map.project(poi);
    ctx.save();
    ctx.translate(p.x, p.y);
    ctx.rotate(Math.PI / 4);
    ctx.fillStyle = poi.sponsor ? '#d99114' : '#2f7e9e';
    ctx.strokeStyle = '#fff';
    ctx.lineWidth = 3;
    roundRect(ctx, -8, -8, 16, 16, 4);
    ctx.stroke();
    ctx.fill();
    ctx.restore();
    placer.place(p.x - 12, p.y - 12, 24, 24); // labels keep off the markers
  }
  if (map.zoom < 16) return;
  for (const poi of pois) {
    const p = map.project(poi);
    const colour = poi.sponsor ? '#8a5a05' : '#234b5a';
    // Under the marker, else over it.
    pill(ctx, shortName(poi.name), p.x, p.y + 14, colour, placer) ||
      pill(ctx, shortName(poi.name), p.x, p.y - 32, colour, placer);
  }
}

function drawCreatures(ctx, map) {
  const rarityColour = {
    common: '#7c8a80',
    uncommon: '#2e9d64',
    rare: '#2f6fd8',
    epic: '#8a4bd6',
    legendary: '#e08a0b',
  };
  for (const c of state.creatures.values()) {
    const p = map.project(c);
    ctx.shadowColor = 'rgba(0,0,0,0.22)';
    ctx.shadowBlur = 4;
    ctx.shadowOffsetY = 1;
    dot(ctx, p.x, p.y, 12, speciesColour(c.species, 0.78), rarityColour[c.rarity] ?? '#7c8a80', 3);
    ctx.shadowColor = 'transparent';
    label(ctx, c.species[0].toUpperCase(), p.x, p.y + 0.5, {
      baseline: 'middle',
      font: '800 12px system-ui, sans-serif',
      colour: 'rgba(0,0,0,0.65)',
    });
    if (map.zoom >= 19)
      label(ctx, titleCase(c.species), p.x, p.y + 15, { font: '600 11px system-ui, sans-serif', colour: '#3d4a40' });
  }
}

function drawPlayer(ctx, map) {
  if (!state.pos) return;
  const p = map.project(state.pos);
  if (state.mode === 'gps' && state.accuracy) {
    dot(ctx, p.x, p.y, map.metresToPixels(state.accuracy), 'rgba(47,102,208,0.10)', 'rgba(47,102,208,0.25)', 1);
  }
  // The heading: a soft cone in front of the dot.
  const a = ((state.heading - 90) * Math.PI) / 180;
  const cone = ctx.createRadialGradient(p.x, p.y, 4, p.x, p.y, 46);
  cone.addColorStop(0, 'rgba(47,102,208,0.45)');
  cone.addColorStop(1, 'rgba(47,102,208,0)');
  ctx.fillStyle = cone;
  ctx.beginPath();
  ctx.moveTo(p.x, p.y);
  ctx.arc(p.x, p.y, 46, a - 0.45, a + 0.45);
  ctx.closePath();
  ctx.fill();
  ctx.shadowColor = 'rgba(0,0,0,0.3)';
  ctx.shadowBlur = 6;
  dot(ctx, p.x, p.y, 9, '#2f66d0', '#fff', 3);
  ctx.shadowColor = 'transparent';
}

/** A name on a white rounded label under a marker. */
function pill(ctx, text, x, y, colour, placer) {
  ctx.font = '650 11.5px system-ui, sans-serif';
  const w = ctx.measureText(text).width + 12;
  if (placer && !placer.place(x - w / 2, y, w, 18)) return false;
  ctx.shadowColor = 'rgba(0,0,0,0.18)';
  ctx.shadowBlur = 3;
  ctx.fillStyle = 'rgba(255,255,255,0.95)';
  roundRect(ctx, x - w / 2, y, w, 18, 9);
  ctx.fill();
  ctx.shadowColor = 'transparent';
  ctx.fillStyle = colour;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.fillText(text, x, y + 9.5);
  return true;
}

function roundRect(ctx, x, y, w, h, r) {
  ctx.beginPath();
  ctx.moveTo(x + r, y);
  ctx.arcTo(x + w, y, x + w, y + h, r);
  ctx.arcTo(x + w, y + h, x, y + h, r);
  ctx.arcTo(x, y + h, x, y, r);
  ctx.arcTo(x, y, x + w, y, r);
  ctx.closePath();
}

const shortName = (name) => (name.length > 26 ? `${name.slice(0, 24)}…` : name);

function onMapClick(e) {
  const creature = hitTest(state.map, state.creatures.values(), e.x, e.y);
  if (creature) flashRow('creatures', creature.id);
  else {
    const poi = hitTest(state.map, state.pois.values(), e.x, e.y);
    if (poi) flashRow('pois', poi.id);
  }
  if (state.mode === 'gps') {
    toast('Following your GPS: switch to walking to move by hand');
    return;
  }
  state.target = { lat: e.lat, lon: e.lon };
  state.map.requestRender();
}

function flashRow(listId, id) {
  const li = $(listId).querySelector(`[data-id="${CSS.escape(id)}"]`);
  if (!li) return;
  li.classList.remove('flash');
  void li.offsetWidth; // restart the animation
  li.classList.add('flash');
  li.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
}

// ---- walking ----------------------------------------------------------------

function setupWalking() {
  $('mode').addEventListener('click', toggleMode);
  const typing = (e) =>
    e.target instanceof HTMLElement && e.target.closest('input, textarea, select, [contenteditable]');
  window.addEventListener('keydown', (e) => {
    if (!(e.key in ARROWS) || typing(e) || e.altKey || e.ctrlKey || e.metaKey) return;
    e.preventDefault();
    if (state.mode !== 'walk') return;
    state.keys.add(e.key);
    state.target = null;
  });
  window.addEventListener('keyup', (e) => state.keys.delete(e.key));
  window.addEventListener('blur', () => state.keys.clear());
  let last = performance.now();
  const step = (now) => {
    const dt = Math.min(0.25, (now - last) / 1000);
    last = now;
    if (state.mode === 'walk') walk(dt);
    requestAnimationFrame(step);
  };
  requestAnimationFrame(step);
}

/** Moves the player `dt` seconds along the held arrows or towards the target. */
function walk(dt) {
  let bearing = null;
  let distance = WALK_SPEED_MPS * dt;
  if (state.keys.size) {
    let east = 0;
    let north = 0;
    for (const k of state.keys) {
      east += ARROWS[k][0];
      north += ARROWS[k][1];
    }
    if (east || north) bearing = normalizeHeading((Math.atan2(east, north) * 180) / Math.PI);
  } else if (state.target) {
    const left = distanceM(state.pos, state.target);
    if (left <= distance) {
      state.pos = state.target;
      state.target = null;
      state.speed = 0;
      moved();
      return;
    }
    bearing = bearingDeg(state.pos, state.target);
  }
  if (bearing == null) {
    if (state.speed !== 0) {
      state.speed = 0;
      renderPosition();
    }
    return;
  }
  state.pos = destination(state.pos, bearing, distance);
  state.heading = bearing;
  state.speed = WALK_SPEED_MPS;
  moved();
}

function moved() {
  state.map.setCenter(state.pos);
  renderPosition();
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

main().catch((err) => {
  console.error(err);
  setStatus('error', `error: ${err.message}`);
});
