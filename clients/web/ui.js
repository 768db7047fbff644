// Tiny DOM helpers shared by both pages: no framework, just a element
// builder, toasts and formatting.

/**
 * Build an element: `h('button', {class: 'x', dataset: {testid: 'catch'}, onclick}, 'Catch')`.
 * Attributes starting with `on` become listeners; `dataset` and `style`
 * objects are merged; `null`/`false` attributes and children are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value == null || value === false) continue;
    if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'style' && typeof value === 'object') Object.assign(el.style, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (key === 'class') el.className = value;
    else if (key in el && typeof value !== 'string') el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child == null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

const MAX_TOASTS = 3;

/** A short-lived notice at the bottom of the screen. */
export function toast(message, kind = 'info', ms = 3200) {
  let host = document.querySelector('.toasts');
  if (!host) {
    host = h('div', { class: 'toasts', 'aria-live': 'polite', dataset: { testid: 'toasts' } });
    document.body.append(host);
  }
  const t = h('div', { class: `toast toast-${kind}`, role: 'status', dataset: { testid: 'toast', kind } }, message);
  host.append(t);
  // A burst of news keeps only the latest few on screen.
  while (host.children.length > MAX_TOASTS) host.firstElementChild.remove();
  setTimeout(() => {
    t.classList.add('leaving');
    setTimeout(() => t.remove(), 300);
  }, ms);
}

/** "just now", "3 min ago", "2 h ago", or a date for older unix-second times. */
export function timeAgo(unixS, now = Date.now() / 1000) {
  const s = Math.max(0, now - unixS);
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return new Date(unixS * 1000).toLocaleDateString();
}

/** "Mossling" from "mossling". */
export const titleCase = (s) => (s ? s[0].toUpperCase() + s.slice(1) : s);

/** Replace `el`'s children. */
export function replaceChildren(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/** A stable random id kept in localStorage: this browser's device id. */
export function deviceId(storageKey = 'geogame.device') {
  const fromQuery = new URLSearchParams(location.search).get('device');
  if (fromQuery) return fromQuery.slice(0, 128);
  try {
    let id = localStorage.getItem(storageKey);
    if (!id) {
      id = `web-${randomHex(16)}`;
      localStorage.setItem(storageKey, id);
    }
    return id;
  } catch {
    return `web-${randomHex(16)}`; // storage disabled: a new guest each visit
  }
}

function randomHex(bytes) {
  const a = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Keyed update of a list: each child is made once by `create(item)` (and
 * must carry `data-id`), updated in place by `update(el, item)`, moved into
 * order, and removed when its item is gone. A button never disappears
 * under the pointer between two refreshes.
 */
export function syncKeyed(parent, items, key, create, update = () => {}) {
  const existing = new Map([...parent.children].map((el) => [el.dataset.id, el]));
  let cursor = parent.firstElementChild;
  for (const item of items) {
    const id = key(item);
    let el = existing.get(id);
    if (el) existing.delete(id);
    else el = create(item);
    update(el, item);
    if (el !== cursor) parent.insertBefore(el, cursor);
    else cursor = cursor.nextElementSibling;
  }
  for (const el of existing.values()) el.remove();
}
