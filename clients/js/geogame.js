//! geogame's JavaScript client SDK: sign-in over HTTP, the `/v1/play` game
//! socket and the `/v1/lobby` matchmaker socket, with seq-matched requests,
//! typed errors and automatic reconnect. One ES module, no dependencies; it
//! runs unchanged in browsers and in Node 20+. The wire format is
//! `docs/protocol.md`; the types are in `geogame.d.ts` beside this file.

/** Error codes a `GeogameError` carries: the protocol's, plus `bad_request`
 * (HTTP) and `timeout` (client side, for a `TimeoutError`). */
export const ErrorCodes = Object.freeze({
  INVALID_MESSAGE: 'invalid_message',
  UNAUTHORIZED: 'unauthorized',
  RATE_LIMITED: 'rate_limited',
  TOO_FAST: 'too_fast',
  NOT_FOUND: 'not_found',
  UNAVAILABLE: 'unavailable',
  INTERNAL: 'internal',
  TOO_FAR: 'too_far',
  CONFLICT: 'conflict',
  PASSENGER_REQUIRED: 'passenger_required',
  SUSPENDED: 'suspended',
  BAD_REQUEST: 'bad_request',
  TIMEOUT: 'timeout',
});

/** WebSocket close codes the server uses. */
export const CloseCodes = Object.freeze({
  NORMAL: 1000,
  GOING_AWAY: 1001,
  PROTOCOL_ERROR: 1002,
  UNSUPPORTED_DATA: 1003,
  INVALID_DATA: 1007,
  POLICY: 1008,
  TOO_BIG: 1009,
  TRY_AGAIN_LATER: 1013,
  REPLACED: 4001,
  ERASED: 4003,
});

/** A refusal from the server (an `error` frame or an HTTP error body), or a
 * transport failure (`unavailable`). */
export class GeogameError extends Error {
  /**
   * @param {string} code one of `ErrorCodes`, or a server code this SDK does not know yet
   * @param {string} message for people; never parse it
   * @param {{seq?: number, status?: number, closeCode?: number, data?: unknown, cause?: unknown}} [details]
   */
  constructor(code, message, details = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'GeogameError';
    /** @type {string} */ this.code = code;
    /** @type {number | undefined} the request's seq, for socket errors */ this.seq = details.seq;
    /** @type {number | undefined} the HTTP status, for HTTP errors */ this.status = details.status;
    /** @type {number | undefined} the close code, when a socket closed */ this.closeCode = details.closeCode;
    /** @type {unknown} the raw error frame or HTTP body */ this.data = details.data;
  }
}

/** No reply within the request timeout. Its `code` is `timeout`. */
export class TimeoutError extends GeogameError {
  /** @param {string} message @param {{seq?: number}} [details] */
  constructor(message, details = {}) {
    super(ErrorCodes.TIMEOUT, message, details);
    this.name = 'TimeoutError';
  }
}

/**
 * @typedef {{WebSocket?: any, fetch?: typeof fetch, requestTimeoutMs?: number, reconnect?: boolean,
 *   backoff?: {initialMs?: number, maxMs?: number}, busyRetries?: number}} ChannelOptions
 * @typedef {ChannelOptions & {baseUrl?: string, playUrl?: string, lobbyUrl?: string, rejoinWaitMs?: number}} GeogameClientOptions
 * @typedef {ChannelOptions & {baseUrl?: string, url?: string, token?: string}} LobbyClientOptions
 * @typedef {{heading?: number | null, speed?: number | null, accuracy?: number | null}
 *   & ({lat: number, lon: number} | {latitude: number, longitude: number})} Position
 * @typedef {{mode?: 'raid' | 'pvp', poi_id?: string, lat: number, lon: number, level?: number, party?: string[]}} QueueRequest
 */

/** @type {Record<number, string>} */
const HTTP_CODES = { 400: 'bad_request', 401: 'unauthorized', 404: 'not_found', 429: 'rate_limited', 503: 'unavailable' };
/** Renew a token this many seconds before it expires. */
const RENEW_MARGIN_S = 60;
/** How often a busy server (HTTP 503 with `Retry-After`, close 1013) is retried by default. */
const BUSY_RETRIES = 4;
/** The first wait after a close 1013 ("try again later"), doubled per attempt. */
const BUSY_BASE_MS = 1000;
/** The longest back-off when `backoff.maxMs` is not set. */
const BACKOFF_MAX_MS = 10000;

/** `ms`, stretched by a random 0 to 50 %: busy waits never end early.
 * @param {number} ms */
function jitterUp(ms) {
  return Math.round(ms * (1 + 0.5 * Math.random()));
}

/** A `Retry-After` in seconds, or null when it is missing or not a number
 * (an HTTP date is not honoured). @param {any} res */
function retryAfterSeconds(res) {
  const value = typeof res?.headers?.get === 'function' ? res.headers.get('retry-after') : null;
  if (typeof value !== 'string' || !/^\s*\d+(\.\d+)?\s*$/.test(value)) return null;
  return Number(value);
}

/** `http://h/x` -> `ws://h/x/v1/play`. @param {string} base @param {string} path */
function wsUrl(base, path) {
  return base.replace(/^http(s?):/i, 'ws$1:') + path;
}

/** The fields of `obj` that are neither `undefined`, `null` nor NaN.
 * @param {Record<string, unknown>} obj */
function defined(obj) {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v != null && !Number.isNaN(v)));
}

/** A `GeogameError` from an `error` frame. @param {any} frame */
function frameError(frame) {
  return new GeogameError(String(frame.code), String(frame.message ?? frame.code), { seq: frame.seq, data: frame });
}

/** Listeners by event type; `'*'` hears every message. A throwing listener
 * never breaks the SDK: its error is rethrown on its own. */
class Emitter {
  /** @type {Map<string, Set<Function>>} */
  #listeners = new Map();

  /** Adds `fn` for `type`; returns a function that removes it.
   * @param {string} type @param {(payload: any) => void} fn @returns {() => void} */
  on(type, fn) {
    if (!this.#listeners.has(type)) this.#listeners.set(type, new Set());
    this.#listeners.get(type)?.add(fn);
    return () => this.off(type, fn);
  }

  /** Removes `fn` for `type`. @param {string} type @param {Function} fn */
  off(type, fn) {
    this.#listeners.get(type)?.delete(fn);
  }

  /** @protected @param {string} type @param {unknown} payload */
  _emit(type, payload) {
    for (const fn of [...(this.#listeners.get(type) ?? [])]) {
      try {
        fn(payload);
      } catch (err) {
        queueMicrotask(() => { throw err; });
      }
    }
  }
}

/** Tokens and the HTTP auth endpoints, shared by a game client and its
 * lobby clients. */
class Auth {
  /** @param {string | undefined} baseUrl @param {typeof fetch | undefined} fetchFn @param {number} timeoutMs
   * @param {ChannelOptions} [opts] for `busyRetries` and `backoff.maxMs` */
  constructor(baseUrl, fetchFn, timeoutMs, opts = {}) {
    this.baseUrl = baseUrl;
    this.fetch = fetchFn ?? ((input, init) => globalThis.fetch(input, init));
    this.timeoutMs = timeoutMs;
    /** Retries of a 503 with `Retry-After`; 0 disables them. */ this.busyRetries = opts.busyRetries ?? BUSY_RETRIES;
    /** The longest wait between them, unless `Retry-After` asks for more. */ this.busyMaxMs = opts.backoff?.maxMs ?? BACKOFF_MAX_MS;
    /** @type {string | null} */ this.token = null;
    /** @type {string | null} */ this.refreshToken = null;
    /** @type {number | null} */ this.expiresAt = null;
    /** @type {string | null} */ this.playerId = null;
    /** @type {string | null} set by a guest sign-in, so the token can be renewed */ this.deviceId = null;
    /** @type {Promise<any> | null} */ this.refreshing = null;
  }

  /** POSTs `body` as JSON and returns the JSON reply. A 503 with a numeric
   * `Retry-After` (the server shedding a sign-in storm) is retried up to
   * `busyRetries` times: never before `Retry-After`, doubling per attempt,
   * jittered up by up to 50 %, at most `busyMaxMs` (unless `Retry-After`
   * itself is longer). Every other failure throws at once.
   * @param {string} path @param {object} body @param {string | null} [bearer] */
  async post(path, body, bearer) {
    if (!this.baseUrl) throw new TypeError('geogame: baseUrl is needed for HTTP calls');
    for (let attempt = 1; ; attempt++) {
      const { res, data } = await this.#postOnce(path, body, bearer);
      if (res.ok) return data;
      const code = data?.error?.code ?? HTTP_CODES[res.status] ?? (res.status >= 500 ? 'internal' : 'bad_request');
      const err = new GeogameError(code, data?.error?.message ?? `${path}: HTTP ${res.status}`, { status: res.status, data });
      const retryAfter = res.status === 503 ? retryAfterSeconds(res) : null;
      if (retryAfter === null || attempt > this.busyRetries) throw err;
      const floorMs = retryAfter * 1000;
      const waitMs = Math.max(floorMs, Math.min(this.busyMaxMs, jitterUp(floorMs * 2 ** (attempt - 1))));
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }

  /** One POST, its own timeout; the response and its parsed JSON body (null when not JSON).
   * @param {string} path @param {object} body @param {string | null} [bearer] */
  async #postOnce(path, body, bearer) {
    const headers = { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) };
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.timeoutMs);
    let res, text;
    try {
      res = await this.fetch(this.baseUrl + path, { method: 'POST', headers, body: JSON.stringify(body), signal: abort.signal });
      text = await res.text();
    } catch (err) {
      if (abort.signal.aborted) throw new TimeoutError(`${path}: no reply within ${this.timeoutMs} ms`);
      throw new GeogameError(ErrorCodes.UNAVAILABLE, `${path}: ${/** @type {Error} */ (err).message}`, { cause: err });
    } finally {
      clearTimeout(timer);
    }
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch { /* not JSON: reported by status in post() */ }
    return { res, data };
  }

  /** Keeps the tokens of an auth reply. @param {any} reply */
  store(reply) {
    this.token = reply.token;
    this.expiresAt = reply.expires_at ?? null;
    this.playerId = reply.player_id ?? this.playerId;
    if (reply.refresh_token) this.refreshToken = reply.refresh_token;
    return reply;
  }

  /** @param {string} deviceId */
  async guest(deviceId) {
    const reply = await this.post('/v1/auth/guest', { device_id: deviceId });
    this.deviceId = deviceId;
    this.refreshToken = null;
    return this.store(reply);
  }

  /** Register or login; a guest's bearer token upgrades it on register.
   * @param {'register' | 'login'} kind @param {string} email @param {string} password */
  async account(kind, email, password) {
    const reply = await this.post(`/v1/auth/${kind}`, { email, password }, kind === 'register' ? this.token : null);
    this.deviceId = null;
    return this.store(reply);
  }

  /** Trades the refresh token (it works once) for a new pair. Concurrent
   * calls share one request. */
  refresh() {
    if (this.refreshing) return this.refreshing;
    const used = this.refreshToken;
    if (!used) return Promise.reject(new GeogameError(ErrorCodes.UNAUTHORIZED, 'no refresh token: register or login first'));
    this.refreshing = this.post('/v1/auth/refresh', { refresh_token: used })
      .then((reply) => this.store(reply), (err) => {
        if (err.status === 401 && this.refreshToken === used) this.refreshToken = null;
        throw err;
      })
      .finally(() => { this.refreshing = null; });
    return this.refreshing;
  }

  /** Gets a new token by refresh token or by the guest's device id.
   * Resolves false when neither is known. */
  async renew() {
    if (this.refreshToken) return this.refresh().then(() => true);
    if (this.deviceId) return this.guest(this.deviceId).then(() => true);
    return false;
  }

  /** The token to say hello with, renewed first when it is about to expire. */
  async fresh() {
    if (this.expiresAt != null && this.expiresAt - Date.now() / 1000 < RENEW_MARGIN_S) {
      await this.renew().catch(() => false);
    }
    if (!this.token) throw new GeogameError(ErrorCodes.UNAUTHORIZED, 'no token: sign in first');
    return this.token;
  }
}

/**
 * One authenticated socket (`hello` / `welcome`) with seq-matched requests
 * and reconnect. `GeogameClient` and `LobbyClient` are built on it.
 */
class Channel extends Emitter {
  /** @param {string} url @param {Auth} auth @param {ChannelOptions} opts */
  constructor(url, auth, opts) {
    super();
    /** @type {string} the WebSocket URL */ this.url = url;
    /** @internal shared with the lobby clients a game client makes */ this._auth = auth;
    this._WebSocket = opts.WebSocket ?? globalThis.WebSocket;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 5000;
    this.reconnect = opts.reconnect ?? true;
    this.backoff = { initialMs: 250, maxMs: BACKOFF_MAX_MS, ...opts.backoff };
    /** How often `connect()` redials a server that answers close 1013 (busy); 0 disables. */
    this.busyRetries = opts.busyRetries ?? BUSY_RETRIES;
    /** @type {'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed' | 'replaced'} */
    this.status = 'idle';
    /** @type {any} the last `welcome` */ this.welcome = null;
    /** @type {WebSocket | null} */ this._ws = null;
    this._wantOpen = false;
    this._seq = 0;
    /** @type {Map<number, {resolve: Function, reject: Function, timer: any}>} */
    this._pending = new Map();
    /** @type {(() => void) | null} ends a back-off wait early */ this._wake = null;
  }

  get token() { return this._auth.token; }
  get playerId() { return this.welcome?.player_id ?? this._auth.playerId; }

  /** Opens the socket and says hello; resolves with `welcome`. A server
   * too busy to take the player (close 1013) is redialled up to
   * `busyRetries` times, each after a `connecting` status with `code`,
   * `attempt` and `delayMs`. */
  async connect() {
    if (this.status === 'connected') return this.welcome;
    if (this.status === 'connecting' || this.status === 'reconnecting') return this._nextWelcome();
    if (!this._WebSocket) throw new TypeError('geogame: no WebSocket; pass the WebSocket option');
    this._wantOpen = true;
    this._setStatus('connecting');
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          return await this._dialAuthed(false);
        } catch (err) {
          if (err.closeCode !== CloseCodes.TRY_AGAIN_LATER || attempt > this.busyRetries || !this._wantOpen) throw err;
          const delayMs = this._busyDelayMs(attempt);
          this._setStatus('connecting', { code: CloseCodes.TRY_AGAIN_LATER, attempt, delayMs });
          if ((await this._sleep(delayMs)) || !this._wantOpen) {
            throw new GeogameError(ErrorCodes.UNAVAILABLE, 'client closed', { closeCode: CloseCodes.NORMAL, cause: err });
          }
        }
      }
    } catch (err) {
      this._wantOpen = false;
      this._setStatus('closed', { code: err.closeCode, error: err });
      throw err;
    }
  }

  /** Closes the socket for good (until the next `connect`). */
  close() {
    this._wantOpen = false;
    this._wake?.();
    const ws = this._ws;
    this._ws = null;
    this._failPending(new GeogameError(ErrorCodes.UNAVAILABLE, 'client closed'));
    try { ws?.close(CloseCodes.NORMAL); } catch { /* already closing */ }
    if (this.status !== 'idle') this._setStatus('closed', { code: CloseCodes.NORMAL });
  }

  /**
   * Sends `msg` with a fresh `seq`; resolves with the reply carrying that
   * seq. Rejects with a `GeogameError` for an `error` reply, `unavailable`
   * when not connected or when the socket drops first, and `TimeoutError`.
   * @param {{type: string, [k: string]: unknown}} msg @param {{timeoutMs?: number}} [opts]
   */
  request(msg, opts = {}) {
    const ws = this._ws;
    if (this.status !== 'connected' || !ws) {
      return Promise.reject(new GeogameError(ErrorCodes.UNAVAILABLE, `not connected (${this.status})`));
    }
    const seq = ++this._seq;
    const timeoutMs = opts.timeoutMs ?? this.requestTimeoutMs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._pending.delete(seq);
        reject(new TimeoutError(`no reply to ${msg.type} within ${timeoutMs} ms`, { seq }));
      }, timeoutMs);
      this._pending.set(seq, { resolve, reject, timer });
      try {
        ws.send(JSON.stringify({ ...msg, seq }));
      } catch (err) {
        this._settle(seq)?.reject(new GeogameError(ErrorCodes.UNAVAILABLE, 'send failed', { seq, cause: err }));
      }
    });
  }

  /** Application-level keepalive. */
  ping() { return this.request({ type: 'ping' }); }

  /** Called with each `welcome`, before the reply resolves. @protected
   * @param {any} _welcome @param {boolean} _isReconnect */
  _onWelcome(_welcome, _isReconnect) {}

  /** Called with every message after `welcome`. @protected @param {any} _msg */
  _onMessage(_msg) {}

  /** @param {string} status @param {{attempt?: number, [k: string]: unknown}} [detail] */
  _setStatus(status, detail = {}) {
    if (status === this.status && status !== 'reconnecting' && detail.attempt === undefined) return;
    this.status = /** @type {any} */ (status);
    this._emit('status', { status, ...detail });
  }

  _nextWelcome() {
    return new Promise((resolve, reject) => {
      const offs = [
        this.on('welcome', (w) => { offs.forEach((f) => f()); resolve(w); }),
        this.on('status', (s) => {
          if (s.status !== 'closed' && s.status !== 'replaced') return;
          offs.forEach((f) => f());
          reject(s.error ?? new GeogameError(ErrorCodes.UNAVAILABLE, `connection ${s.status}`, { closeCode: s.code }));
        }),
      ];
    });
  }

  /** Dials; on an `unauthorized` hello, renews the token once and retries.
   * @param {boolean} isReconnect */
  async _dialAuthed(isReconnect) {
    try {
      return await this._dial(isReconnect);
    } catch (err) {
      if (err.code !== ErrorCodes.UNAUTHORIZED || !this._wantOpen || !(await this._auth.renew().catch(() => false))) throw err;
      return this._dial(isReconnect);
    }
  }

  /** One socket up to its `welcome`. @param {boolean} isReconnect @returns {Promise<any>} */
  async _dial(isReconnect) {
    const token = await this._auth.fresh();
    if (!this._wantOpen) throw new GeogameError(ErrorCodes.UNAVAILABLE, 'client closed');
    return new Promise((resolve, reject) => {
      /** @type {WebSocket} */
      let ws;
      try {
        ws = new this._WebSocket(this.url);
      } catch (err) {
        reject(new GeogameError(ErrorCodes.UNAVAILABLE, `cannot open ${this.url}`, { cause: err }));
        return;
      }
      this._ws = ws;
      let welcomed = false;
      /** @type {GeogameError | null} */
      let helloError = null;
      const fail = (/** @type {GeogameError} */ err) => {
        clearTimeout(timer);
        if (this._ws === ws) this._ws = null;
        reject(err);
      };
      const timer = setTimeout(() => {
        fail(new TimeoutError(`no welcome within ${this.requestTimeoutMs} ms`));
        try { ws.close(); } catch { /* already closing */ }
      }, this.requestTimeoutMs);
      ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', token }));
      ws.onmessage = (ev) => {
        if (this._ws !== ws || typeof ev.data !== 'string') return;
        let msg;
        try { msg = JSON.parse(ev.data); } catch { return; }
        if (!msg || typeof msg.type !== 'string') return;
        if (welcomed) return this._onFrame(msg);
        this._emit('*', msg);
        if (msg.type === 'error') helloError = frameError(msg);
        if (msg.type !== 'welcome') return;
        welcomed = true;
        clearTimeout(timer);
        this.welcome = msg;
        this._setStatus('connected');
        this._emit('welcome', msg);
        this._onWelcome(msg, isReconnect);
        resolve(msg);
      };
      let ended = false;
      const end = (/** @type {number} */ code, /** @type {string} */ reason) => {
        if (ended) return;
        ended = true;
        if (!welcomed) {
          const err = helloError ?? new GeogameError(ErrorCodes.UNAVAILABLE, `cannot open ${this.url} (${reason || `code ${code}`})`);
          err.closeCode = code;
          fail(err);
        } else if (this._ws === ws) {
          this._dropped(code, reason);
        }
      };
      ws.onclose = (ev) => end(ev.code, ev.reason);
      // Some runtimes (Node 20) fire no close after a failed connect, so an
      // error ends the socket by itself, at once before welcome, or when no
      // close follows soon after it.
      ws.onerror = () => {
        if (!welcomed) end(1006, 'network error');
        else setTimeout(() => end(1006, 'network error'), 1000);
        try { ws.close(); } catch { /* not open */ }
      };
    });
  }

  /** Routes one frame after `welcome`. @param {any} msg */
  _onFrame(msg) {
    this._emit('*', msg);
    this._onMessage(msg);
    const pending = typeof msg.seq === 'number' ? this._settle(msg.seq) : null;
    if (pending) {
      if (msg.type === 'error') pending.reject(frameError(msg));
      else pending.resolve(msg);
    } else if (msg.type === 'error') {
      this._emit('error', frameError(msg));
    } else {
      this._emit(msg.type, msg);
    }
  }

  /** Removes and returns the pending request `seq`. @param {number} seq */
  _settle(seq) {
    const p = this._pending.get(seq);
    if (!p) return null;
    clearTimeout(p.timer);
    this._pending.delete(seq);
    return p;
  }

  /** @param {GeogameError} err */
  _failPending(err) {
    for (const seq of [...this._pending.keys()]) {
      const e = new GeogameError(err.code, err.message, { seq, closeCode: err.closeCode });
      this._settle(seq)?.reject(e);
    }
  }

  /** The live socket closed. @param {number} code @param {string} reason */
  _dropped(code, reason) {
    this._ws = null;
    this._failPending(new GeogameError(ErrorCodes.UNAVAILABLE, `connection lost (close code ${code})`, { closeCode: code }));
    if (!this._wantOpen) return this._setStatus('closed', { code, reason });
    if (code === CloseCodes.REPLACED) {
      this._wantOpen = false;
      return this._setStatus('replaced', { code, reason });
    }
    if (code === CloseCodes.POLICY || code === CloseCodes.ERASED || !this.reconnect) {
      this._wantOpen = false;
      return this._setStatus('closed', { code, reason });
    }
    this._reconnectLoop(code, reason);
  }

  /** The wait before busy retry `attempt` (from 1): 1 s doubled per
   * attempt, capped at `backoff.maxMs` (but never under 1 s), then
   * stretched by up to 50 %. @param {number} attempt */
  _busyDelayMs(attempt) {
    return jitterUp(Math.max(BUSY_BASE_MS, Math.min(this.backoff.maxMs, BUSY_BASE_MS * 2 ** (attempt - 1))));
  }

  /** Waits `ms`, or less when `close()` wakes it; resolves true when woken.
   * @param {number} ms @returns {Promise<boolean>} */
  _sleep(ms) {
    return new Promise((resolve) => {
      const t = setTimeout(() => { this._wake = null; resolve(false); }, ms);
      this._wake = () => { clearTimeout(t); this._wake = null; resolve(true); };
    });
  }

  /** Redials with jittered exponential back-off until welcomed, closed,
   * replaced or refused. After a close 1013 (busy) the wait is at least
   * the busy wait of `_busyDelayMs`. @param {number | undefined} code @param {string} reason */
  async _reconnectLoop(code, reason) {
    let busy = 0;
    for (let attempt = 1; this._wantOpen; attempt++) {
      const full = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** (attempt - 1));
      let delayMs = Math.round(full / 2 + Math.random() * (full / 2));
      busy = code === CloseCodes.TRY_AGAIN_LATER ? busy + 1 : 0;
      if (busy) delayMs = Math.max(delayMs, this._busyDelayMs(busy));
      this._setStatus('reconnecting', { code, reason, attempt, delayMs });
      await this._sleep(delayMs);
      if (!this._wantOpen) return;
      try {
        await this._dialAuthed(true);
        return;
      } catch (err) {
        if (!this._wantOpen) return;
        const terminal = err.closeCode === CloseCodes.REPLACED ? 'replaced'
          : err.code === ErrorCodes.UNAUTHORIZED || err.code === ErrorCodes.SUSPENDED ? 'closed' : null;
        if (terminal) {
          this._wantOpen = false;
          this._setStatus(terminal, { code: err.closeCode, error: err });
          this._emit('error', err);
          return;
        }
        code = err.closeCode;
        reason = err.message;
      }
    }
  }
}

/**
 * The game client: auth over HTTP and the `/v1/play` socket. Pushes
 * (`despawn`, `session_event`, `session_ended`, `shutdown`) and replies that
 * match no pending request are emitted as events of their `type`; errors
 * without a pending seq as `error` (a `GeogameError`); every message as `*`.
 */
export class GeogameClient extends Channel {
  /** @param {GeogameClientOptions} [opts] */
  constructor(opts = {}) {
    const baseUrl = (opts.baseUrl ?? globalThis.location?.origin ?? '').replace(/\/+$/, '');
    if (!baseUrl && !opts.playUrl) throw new TypeError('geogame: baseUrl is required outside a browser');
    super(opts.playUrl ?? wsUrl(baseUrl, '/v1/play'), new Auth(baseUrl, opts.fetch, opts.requestTimeoutMs ?? 5000, opts), opts);
    this.baseUrl = baseUrl;
    this.lobbyUrl = opts.lobbyUrl ?? wsUrl(baseUrl, '/v1/lobby');
    /** How long after a reconnect's `welcome` to wait for the server's
     * `session_joined` push before re-sending `join_session` itself. */
    this.rejoinWaitMs = opts.rejoinWaitMs ?? 1500;
    this._opts = opts;
    /** @type {{type: string, [k: string]: unknown} | null} the last location sent, re-sent on reconnect */ this._lastLocation = null;
    /** @type {{token: string, id?: string} | null} the raid session to rejoin */ this._session = null;
    this._sessionPushed = false;
    this._rejoinTimer = undefined;
  }

  get refreshToken() { return this._auth.refreshToken; }
  get expiresAt() { return this._auth.expiresAt; }
  /** The id of the session this client is in, if any. */
  get sessionId() { return this._session?.id ?? null; }

  /** `POST /v1/auth/guest`; keeps the token. @param {string} deviceId */
  signInGuest(deviceId) { return this._auth.guest(deviceId); }
  /** `POST /v1/auth/register`; a guest keeps its player id. @param {string} email @param {string} password */
  register(email, password) { return this._auth.account('register', email, password); }
  /** `POST /v1/auth/login`. @param {string} email @param {string} password */
  login(email, password) { return this._auth.account('login', email, password); }
  /** `POST /v1/auth/refresh` with the stored refresh token. */
  refresh() { return this._auth.refresh(); }

  /** Uses an existing token. @param {string} token
   * @param {{expiresAt?: number, refreshToken?: string, playerId?: string}} [extra] */
  setToken(token, extra = {}) {
    Object.assign(this._auth, { token, expiresAt: extra.expiresAt ?? null, refreshToken: extra.refreshToken ?? null, deviceId: null });
    if (extra.playerId) this._auth.playerId = extra.playerId;
  }

  /** Reports the position; resolves with `nearby`. Takes `{lat, lon}` or a
   * browser `GeolocationCoordinates` (`latitude`, `longitude`).
   * @param {Position} pos */
  location(pos) {
    const p = /** @type {any} */ (pos);
    const msg = { type: 'location', ...defined({ lat: p.lat ?? p.latitude, lon: p.lon ?? p.longitude, heading: p.heading, speed: p.speed, accuracy: p.accuracy }) };
    this._lastLocation = msg;
    return this.request(msg);
  }

  /** @param {string} creatureId */
  catch(creatureId) { return this.request({ type: 'catch', creature_id: creatureId }); }
  /** @param {string} poiId */
  spin(poiId) { return this.request({ type: 'spin', poi_id: poiId }); }
  collection() { return this.request({ type: 'collection' }); }
  /** Confirms the player is a passenger, not the driver: above cycling
   * speed the server refuses catches and spins (`passenger_required`)
   * until this is sent; slowing down clears it. */
  passenger() { return this.request({ type: 'passenger' }); }

  /** Joins a matched session on this socket; resolves with `session_joined`.
   * @param {string} sessionToken */
  async joinSession(sessionToken) {
    const session = { token: sessionToken };
    this._session = session;
    try {
      return await this.request({ type: 'join_session', session_token: sessionToken });
    } catch (err) {
      // Keep the token only when the socket dropped: the reconnect retries.
      if (this._session === session && err.code !== ErrorCodes.UNAVAILABLE) this._session = null;
      throw err;
    }
  }

  /** Joins a lobby `match_found`, first moving to its `server` when that
   * is not this socket's URL. @param {{server?: string, session_token: string}} match */
  async joinMatch(match) {
    if (match.server && match.server !== this.url) {
      this.close();
      this.url = match.server;
      await this.connect();
      if (this._lastLocation) await this.request(this._lastLocation).catch(() => {});
    }
    return this.joinSession(match.session_token);
  }

  attack() { return this.request({ type: 'attack' }); }
  raidCatch() { return this.request({ type: 'raid_catch' }); }
  async leaveSession() {
    const reply = await this.request({ type: 'leave_session' });
    this._session = null;
    return reply;
  }

  /** A `LobbyClient` on this client's lobby URL and token.
   * @param {LobbyClientOptions} [opts] */
  lobby(opts = {}) { return new LobbyClient({ ...this._opts, ...opts, client: this }); }

  close() {
    clearTimeout(this._rejoinTimer);
    super.close();
  }

  /** @protected @param {any} msg */
  _onMessage(msg) {
    if (msg.type === 'session_joined') {
      this._sessionPushed = true;
      if (this._session) this._session.id = msg.session_id;
    } else if (msg.type === 'session_left' || (msg.type === 'session_ended' && msg.outcome !== 'victory')) {
      if (!this._session?.id || this._session.id === msg.session_id) this._session = null;
    }
  }

  /** After a reconnect: re-send the last position, and rejoin the raid
   * session unless the server puts the player back by itself.
   * @protected @param {any} welcome @param {boolean} isReconnect */
  _onWelcome(welcome, isReconnect) {
    this._sessionPushed = false;
    if (!isReconnect) return;
    if (this._lastLocation) {
      this.request(this._lastLocation).then((r) => this._emit('nearby', r), (e) => this._emit('error', e));
    }
    const session = this._session;
    if (!session) return;
    clearTimeout(this._rejoinTimer);
    this._rejoinTimer = setTimeout(() => {
      if (this._sessionPushed || this._session !== session || this.welcome !== welcome || this.status !== 'connected') return;
      this.joinSession(session.token).then((r) => this._emit('session_joined', r), (e) => this._emit('error', e));
    }, this.rejoinWaitMs);
  }
}

/** The matchmaker client over `/v1/lobby`; pushes `match_found` and
 * `expired` as events. Made by `GeogameClient.lobby()`, or on its own with
 * a `token` and a `baseUrl` or `url`. */
export class LobbyClient extends Channel {
  /** @param {LobbyClientOptions & {client?: GeogameClient}} [opts] */
  constructor(opts = {}) {
    const client = opts.client;
    const baseUrl = (opts.baseUrl ?? client?.baseUrl ?? globalThis.location?.origin ?? '').replace(/\/+$/, '');
    const url = opts.url ?? client?.lobbyUrl ?? (baseUrl && wsUrl(baseUrl, '/v1/lobby'));
    if (!url) throw new TypeError('geogame: LobbyClient needs a url or baseUrl');
    const auth = client?._auth ?? new Auth(baseUrl, opts.fetch, opts.requestTimeoutMs ?? 5000, opts);
    if (opts.token && !client) auth.token = opts.token;
    super(url, auth, opts);
  }

  /** Queues for a match; resolves with `queued` (its `ticket_id`).
   * @param {QueueRequest} ticket */
  queue(ticket) { return this.request({ type: 'queue', ...defined({ ...ticket, mode: ticket.mode ?? 'raid' }) }); }

  /** Leaves the queue; resolves with `cancelled`. @param {string} ticketId */
  cancel(ticketId) { return this.request({ type: 'cancel', ticket_id: ticketId }); }
}
