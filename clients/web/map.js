// A small Web Mercator map drawn on a <canvas>, shared by the player page and
// the operator console. It draws raster tiles from a `{z}/{x}/{y}` template
// when they load, and a plain background with a light grid underneath, so the
// map is complete with no tile server at all. Pages add their own layers
// (markers, zones, the player) as draw callbacks that get the 2D context and
// the map's projection.

import { TILE_SIZE, fromWorld, metresPerPixel, toWorld } from './geo.js';

const BACKGROUND = '#eef1ea';
const GRID_MINOR = 'rgba(80, 100, 80, 0.07)';
const GRID_MAJOR = 'rgba(80, 100, 80, 0.14)';
const DRAG_THRESHOLD_PX = 5;
const MAX_CACHED_TILES = 384;

export class GeoMap {
  /**
   * @param {HTMLElement} container  the element the map fills
   * @param {object} options
   * @param {{lat:number, lon:number}} options.center
   * @param {number} [options.zoom]      integer zoom level
   * @param {number} [options.minZoom]
   * @param {number} [options.maxZoom]
   * @param {string|null} [options.tileUrl]  `{z}/{x}/{y}` template, or null for no tiles
   * @param {boolean} [options.pannable]     drag to pan and wheel to zoom
   */
  constructor(container, options) {
    this.container = container;
    this.center = { ...options.center };
    this.minZoom = options.minZoom ?? 3;
    this.maxZoom = options.maxZoom ?? 19;
    this.zoom = this.#clampZoom(options.zoom ?? 16);
    this.tileUrl = options.tileUrl || null;
    this.pannable = options.pannable ?? true;
    this.layers = [];
    this.width = 0;
    this.height = 0;

    this.#tiles = new Map();
    this.#listeners = new Map();

    container.classList.add('geomap');
    container.dataset.tiles = this.tileUrl ? 'loading' : 'none';
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'geomap-canvas';
    this.canvas.style.touchAction = this.pannable ? 'none' : 'manipulation';
    container.append(this.canvas);
    this.ctx = this.canvas.getContext('2d');

    this.#buildControls();
    this.#bindPointer();
    new ResizeObserver(() => this.#resize()).observe(container);
    this.#resize();
  }

  // ---- public API ------------------------------------------------------

  /** Register `fn(event)` for `click` and `hover` ({lat, lon, x, y}; hover
   * gets null when the pointer leaves) or `move` ({center, zoom}). */
  on(type, fn) {
    if (!this.#listeners.has(type)) this.#listeners.set(type, new Set());
    this.#listeners.get(type).add(fn);
    return () => this.#listeners.get(type).delete(fn);
  }

  /** Add a layer: `draw(ctx, map)` runs on every frame, in insertion order. */
  addLayer(draw) {
    this.layers.push(draw);
    this.requestRender();
  }

  /** Screen position (CSS pixels inside the map) of a `{lat, lon}`. */
  project(p) {
    const w = toWorld(p, this.zoom);
    const c = toWorld(this.center, this.zoom);
    return { x: w.x - c.x + this.width / 2, y: w.y - c.y + this.height / 2 };
  }

  /** `{lat, lon}` under a screen position (CSS pixels inside the map). */
  unproject(x, y) {
    const c = toWorld(this.center, this.zoom);
    return fromWorld({ x: c.x + x - this.width / 2, y: c.y + y - this.height / 2 }, this.zoom);
  }

  /** Pixels that `metres` span at the map's centre. */
  metresToPixels(metres) {
    return metres / metresPerPixel(this.center.lat, this.zoom);
  }

  setCenter(p) {
    this.center = { lat: p.lat, lon: p.lon };
    this.requestRender();
    this.#emit('move', { center: this.center, zoom: this.zoom });
  }

  setZoom(z, around) {
    const zoom = this.#clampZoom(z);
    if (zoom === this.zoom) return;
    if (around) {
      // Keep the point under the cursor where it is.
      const anchor = this.unproject(around.x, around.y);
      this.zoom = zoom;
      const a = toWorld(anchor, zoom);
      this.center = fromWorld({ x: a.x - around.x + this.width / 2, y: a.y - around.y + this.height / 2 }, zoom);
    } else {
      this.zoom = zoom;
    }
    this.container.dataset.zoom = String(this.zoom);
    this.requestRender();
    this.#emit('move', { center: this.center, zoom: this.zoom });
  }

  /** Centre and zoom so that every point is in view, with `padding` px around. */
  fitBounds(points, padding = 40) {
    if (!points.length) return;
    const lats = points.map((p) => p.lat);
    const lons = points.map((p) => p.lon);
    const sw = { lat: Math.min(...lats), lon: Math.min(...lons) };
    const ne = { lat: Math.max(...lats), lon: Math.max(...lons) };
    const w = Math.max(1, this.width - 2 * padding);
    const h = Math.max(1, this.height - 2 * padding);
    let zoom = this.maxZoom;
    while (zoom > this.minZoom) {
      const a = toWorld(sw, zoom);
      const b = toWorld(ne, zoom);
      if (Math.abs(b.x - a.x) <= w && Math.abs(a.y - b.y) <= h) break;
      zoom -= 1;
    }
    this.zoom = zoom;
    this.container.dataset.zoom = String(zoom);
    this.setCenter({ lat: (sw.lat + ne.lat) / 2, lon: (sw.lon + ne.lon) / 2 });
  }

  /** Redraw on the next animation frame (coalesced). */
  requestRender() {
    if (this.#frame) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0;
      this.render();
    });
  }

  render() {
    const { ctx, width, height } = this;
    if (!width || !height) return;
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = BACKGROUND;
    ctx.fillRect(0, 0, width, height);
    const origin = this.#origin();
    this.#drawGrid(origin);
    if (this.tileUrl) this.#drawTiles(origin);
    // One placer per frame, shared by the layers: earlier labels win.
    this.labels = new LabelPlacer();
    for (const draw of this.layers) {
      ctx.save();
      draw(ctx, this);
      ctx.restore();
    }
    this.#drawScale();
  }

  // ---- drawing ---------------------------------------------------------

  #origin() {
    const c = toWorld(this.center, this.zoom);
    return { x: c.x - this.width / 2, y: c.y - this.height / 2 };
  }

  #drawGrid(origin) {
    const { ctx, width, height } = this;
    const step = TILE_SIZE / 4;
    ctx.lineWidth = 1;
    for (const [stepPx, colour] of [
      [step, GRID_MINOR],
      [TILE_SIZE, GRID_MAJOR],
    ]) {
      ctx.strokeStyle = colour;
      ctx.beginPath();
      for (let x = Math.ceil(origin.x / stepPx) * stepPx; x < origin.x + width; x += stepPx) {
        const sx = Math.round(x - origin.x) + 0.5;
        ctx.moveTo(sx, 0);
        ctx.lineTo(sx, height);
      }
      for (let y = Math.ceil(origin.y / stepPx) * stepPx; y < origin.y + height; y += stepPx) {
        const sy = Math.round(y - origin.y) + 0.5;
        ctx.moveTo(0, sy);
        ctx.lineTo(width, sy);
      }
      ctx.stroke();
    }
  }

  #drawTiles(origin) {
    const z = this.zoom;
    const n = 2 ** z;
    const x0 = Math.floor(origin.x / TILE_SIZE);
    const x1 = Math.floor((origin.x + this.width) / TILE_SIZE);
    const y0 = Math.max(0, Math.floor(origin.y / TILE_SIZE));
    const y1 = Math.min(n - 1, Math.floor((origin.y + this.height) / TILE_SIZE));
    for (let ty = y0; ty <= y1; ty++) {
      for (let tx = x0; tx <= x1; tx++) {
        const sx = tx * TILE_SIZE - origin.x;
        const sy = ty * TILE_SIZE - origin.y;
        const wx = ((tx % n) + n) % n;
        if (!this.#drawTile(z, wx, ty, sx, sy)) this.#drawAncestor(z, wx, ty, sx, sy);
      }
    }
  }

  /** Draws tile z/x/y at screen (sx, sy) if it has loaded; starts loading it otherwise. */
  #drawTile(z, x, y, sx, sy) {
    const tile = this.#tile(z, x, y, true);
    if (!tile.ready) return false;
    this.ctx.drawImage(tile.img, Math.round(sx), Math.round(sy), TILE_SIZE, TILE_SIZE);
    return true;
  }

  /** While a tile loads, stretch a loaded lower-zoom tile over its square. */
  #drawAncestor(z, x, y, sx, sy) {
    for (let up = 1; up <= 4 && z - up >= 0; up++) {
      const scale = 2 ** up;
      const tile = this.#tile(z - up, Math.floor(x / scale), Math.floor(y / scale), false);
      if (!tile?.ready) continue;
      const part = TILE_SIZE / scale;
      const px = (x % scale) * part;
      const py = (y % scale) * part;
      this.ctx.drawImage(tile.img, px, py, part, part, Math.round(sx), Math.round(sy), TILE_SIZE, TILE_SIZE);
      return;
    }
  }

  #tile(z, x, y, load) {
    const key = `${z}/${x}/${y}`;
    let tile = this.#tiles.get(key);
    if (tile) {
      // Refresh its place in the LRU order.
      this.#tiles.delete(key);
      this.#tiles.set(key, tile);
      return tile;
    }
    if (!load) return null;
    const img = new Image();
    img.decoding = 'async';
    img.alt = '';
    tile = { img, ready: false, failed: false };
    img.onload = () => {
      tile.ready = true;
      this.#tilesLoaded++;
      this.container.dataset.tiles = 'ok';
      this.#attribution.hidden = false;
      this.requestRender();
    };
    img.onerror = () => {
      tile.failed = true;
      // A failed tile is not retried: tiles are decoration and an
      // unreachable tile server must cost nothing after the first try.
      if (!this.#tilesLoaded) this.container.dataset.tiles = 'offline';
    };
    img.src = this.tileUrl.replace('{z}', z).replace('{x}', x).replace('{y}', y);
    this.#tiles.set(key, tile);
    while (this.#tiles.size > MAX_CACHED_TILES) {
      this.#tiles.delete(this.#tiles.keys().next().value);
    }
    return tile;
  }

  #drawScale() {
    const { ctx } = this;
    const mpp = metresPerPixel(this.center.lat, this.zoom);
    const maxPx = 96;
    const raw = maxPx * mpp;
    const magnitude = 10 ** Math.floor(Math.log10(raw));
    const metres = [5, 2, 1].map((f) => f * magnitude).find((m) => m <= raw) ?? magnitude;
    const px = metres / mpp;
    const label = metres >= 1000 ? `${metres / 1000} km` : `${metres} m`;
    const x = 12;
    const y = this.height - 14;
    ctx.save();
    ctx.strokeStyle = 'rgba(255,255,255,0.9)';
    ctx.lineWidth = 4;
    ctx.lineCap = 'round';
    ctx.beginPath();
    ctx.moveTo(x, y - 5);
    ctx.lineTo(x, y);
    ctx.lineTo(x + px, y);
    ctx.lineTo(x + px, y - 5);
    ctx.stroke();
    ctx.strokeStyle = '#3d4a40';
    ctx.lineWidth = 1.5;
    ctx.stroke();
    ctx.font = '600 11px system-ui, sans-serif';
    ctx.fillStyle = '#3d4a40';
    ctx.textBaseline = 'bottom';
    ctx.lineWidth = 3;
    ctx.strokeStyle = 'rgba(255,255,255,0.85)';
    ctx.strokeText(label, x + 4, y - 3);
    ctx.fillText(label, x + 4, y - 3);
    ctx.restore();
  }

  // ---- DOM, input ------------------------------------------------------

  #buildControls() {
    const controls = document.createElement('div');
    controls.className = 'geomap-controls';
    for (const [label, testid, step, title] of [
      ['+', 'zoom-in', 1, 'Zoom in'],
      ['−', 'zoom-out', -1, 'Zoom out'],
    ]) {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = label;
      b.title = title;
      b.setAttribute('aria-label', title);
      b.dataset.testid = testid;
      b.addEventListener('click', () => this.setZoom(this.zoom + step));
      controls.append(b);
    }
    this.controls = controls;
    this.container.append(controls);

    this.#attribution = document.createElement('div');
    this.#attribution.className = 'geomap-attribution';
    this.#attribution.hidden = true;
    if (this.tileUrl && /openstreetmap\.org/.test(this.tileUrl)) {
      const a = document.createElement('a');
      a.href = 'https://www.openstreetmap.org/copyright';
      a.target = '_blank';
      a.rel = 'noopener';
      a.textContent = '© OpenStreetMap contributors';
      this.#attribution.append(a);
    } else if (this.tileUrl) {
      this.#attribution.textContent = `Tiles: ${safeHost(this.tileUrl)}`;
    }
    this.container.append(this.#attribution);
    this.container.dataset.zoom = String(this.zoom);
  }

  #bindPointer() {
    const canvas = this.canvas;
    let press = null;
    canvas.addEventListener('pointerdown', (e) => {
      if (e.button !== 0) return;
      press = { id: e.pointerId, x: e.clientX, y: e.clientY, moved: false, center: this.center };
      canvas.setPointerCapture(e.pointerId);
    });
    canvas.addEventListener('pointermove', (e) => {
      if (!press) {
        const r = canvas.getBoundingClientRect();
        const x = e.clientX - r.left;
        const y = e.clientY - r.top;
        this.#emit('hover', { ...this.unproject(x, y), x, y });
        return;
      }
      if (press.id !== e.pointerId) return;
      const dx = e.clientX - press.x;
      const dy = e.clientY - press.y;
      if (!press.moved && Math.hypot(dx, dy) < DRAG_THRESHOLD_PX) return;
      press.moved = true;
      if (!this.pannable) return;
      canvas.classList.add('dragging');
      const c = toWorld(press.center, this.zoom);
      this.setCenter(fromWorld({ x: c.x - dx, y: c.y - dy }, this.zoom));
    });
    const release = (e) => {
      if (!press || press.id !== e.pointerId) return;
      const wasClick = !press.moved;
      press = null;
      canvas.classList.remove('dragging');
      if (wasClick && e.type === 'pointerup') {
        const r = canvas.getBoundingClientRect();
        const x = e.clientX - r.left;
        const y = e.clientY - r.top;
        this.#emit('click', { ...this.unproject(x, y), x, y, originalEvent: e });
      }
    };
    canvas.addEventListener('pointerup', release);
    canvas.addEventListener('pointercancel', release);
    canvas.addEventListener('pointerleave', () => {
      if (!press) this.#emit('hover', null);
    });

    let wheel = 0;
    canvas.addEventListener(
      'wheel',
      (e) => {
        if (!this.pannable) return;
        e.preventDefault();
        wheel += e.deltaY;
        if (Math.abs(wheel) < 60) return;
        const r = canvas.getBoundingClientRect();
        this.setZoom(this.zoom + (wheel < 0 ? 1 : -1), { x: e.clientX - r.left, y: e.clientY - r.top });
        wheel = 0;
      },
      { passive: false },
    );
  }

  #resize() {
    const r = this.container.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    this.width = Math.round(r.width);
    this.height = Math.round(r.height);
    this.canvas.width = Math.round(this.width * dpr);
    this.canvas.height = Math.round(this.height * dpr);
    this.canvas.style.width = `${this.width}px`;
    this.canvas.style.height = `${this.height}px`;
    this.render();
  }

  #clampZoom(z) {
    return Math.max(this.minZoom, Math.min(this.maxZoom, Math.round(z)));
  }

  #emit(type, event) {
    for (const fn of this.#listeners.get(type) ?? []) fn(event);
  }

  #tiles;
  #listeners;
  #frame = 0;
  #tilesLoaded = 0;
  #attribution;
}

function safeHost(template) {
  try {
    return new URL(template.replace(/\{[xyz]\}/g, '0')).host;
  } catch {
    return 'tile server';
  }
}

// ---- drawing helpers for layers ------------------------------------------

/** A filled circle with an optional outline. */
export function dot(ctx, x, y, r, fill, stroke, lineWidth = 2) {
  ctx.beginPath();
  ctx.arc(x, y, r, 0, Math.PI * 2);
  if (fill) {
    ctx.fillStyle = fill;
    ctx.fill();
  }
  if (stroke) {
    ctx.strokeStyle = stroke;
    ctx.lineWidth = lineWidth;
    ctx.stroke();
  }
}

/**
 * Text with a light halo, readable over tiles and grid alike. With a
 * `placer`, the label is skipped (false is returned) when it would overlap
 * one placed before it.
 */
export function label(
  ctx,
  text,
  x,
  y,
  {
    align = 'center',
    baseline = 'top',
    font = '600 12px system-ui, sans-serif',
    colour = '#1f2a22',
    placer = null,
  } = {},
) {
  ctx.font = font;
  if (placer) {
    const w = ctx.measureText(text).width + 6;
    const hgt = 16;
    const left = align === 'center' ? x - w / 2 : align === 'right' || align === 'end' ? x - w : x;
    const top = baseline === 'middle' ? y - hgt / 2 : baseline === 'bottom' ? y - hgt : y;
    if (!placer.place(left, top, w, hgt)) return false;
  }
  ctx.textAlign = align;
  ctx.textBaseline = baseline;
  ctx.lineJoin = 'round';
  ctx.lineWidth = 3.5;
  ctx.strokeStyle = 'rgba(255,255,255,0.92)';
  ctx.strokeText(text, x, y);
  ctx.fillStyle = colour;
  ctx.fillText(text, x, y);
  return true;
}

/**
 * A label beside a marker of radius `r` at (x, y): below it, else above,
 * right or left, wherever the placer (required) still has room.
 */
export function labelNear(ctx, text, x, y, r, options) {
  const spots = [
    [x, y + r + 4, 'center', 'top'],
    [x, y - r - 4, 'center', 'bottom'],
    [x + r + 5, y, 'left', 'middle'],
    [x - r - 5, y, 'right', 'middle'],
  ];
  return spots.some(([sx, sy, align, baseline]) => label(ctx, text, sx, sy, { ...options, align, baseline }));
}

/** Keeps map labels from overlapping: each frame starts a new placer. */
export class LabelPlacer {
  #boxes = [];

  /** Reserves the box and returns true, unless it overlaps an earlier one. */
  place(x, y, w, h) {
    for (const b of this.#boxes) {
      if (x < b.x + b.w && b.x < x + w && y < b.y + b.h && b.y < y + h) return false;
    }
    this.#boxes.push({ x, y, w, h });
    return true;
  }
}

/** The marker under screen point (x, y) within `radius` px, nearest first. */
export function hitTest(map, items, x, y, radius = 18) {
  let best = null;
  let bestD = radius;
  for (const item of items) {
    const p = map.project(item);
    const d = Math.hypot(p.x - x, p.y - y);
    if (d <= bestD) {
      best = item;
      bestD = d;
    }
  }
  return best;
}
