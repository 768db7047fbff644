// Types for geogame.js, the geogame JavaScript client SDK. The wire shapes
// follow docs/protocol.md (protocol version 1).

// ---------------------------------------------------------------- errors

export declare const ErrorCodes: Readonly<{
  INVALID_MESSAGE: 'invalid_message';
  UNAUTHORIZED: 'unauthorized';
  RATE_LIMITED: 'rate_limited';
  TOO_FAST: 'too_fast';
  NOT_FOUND: 'not_found';
  UNAVAILABLE: 'unavailable';
  INTERNAL: 'internal';
  TOO_FAR: 'too_far';
  CONFLICT: 'conflict';
  PASSENGER_REQUIRED: 'passenger_required';
  SUSPENDED: 'suspended';
  BAD_REQUEST: 'bad_request';
  TIMEOUT: 'timeout';
}>;

/** A code of `ErrorCodes`; a newer server may send others. */
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes] | (string & {});

export declare const CloseCodes: Readonly<{
  NORMAL: 1000;
  GOING_AWAY: 1001;
  PROTOCOL_ERROR: 1002;
  UNSUPPORTED_DATA: 1003;
  INVALID_DATA: 1007;
  POLICY: 1008;
  TOO_BIG: 1009;
  /** The server is too busy to take the player; `connect()` redials after a wait. */
  TRY_AGAIN_LATER: 1013;
  REPLACED: 4001;
  ERASED: 4003;
}>;

export interface GeogameErrorDetails {
  seq?: number;
  status?: number;
  closeCode?: number;
  data?: unknown;
  cause?: unknown;
}

/** A refusal from the server (an `error` frame or an HTTP error body), or a
 * transport failure (`unavailable`). */
export declare class GeogameError extends Error {
  constructor(code: ErrorCode, message: string, details?: GeogameErrorDetails);
  readonly code: ErrorCode;
  /** The request's seq, for socket errors. */
  readonly seq?: number;
  /** The HTTP status, for HTTP errors. */
  readonly status?: number;
  /** The close code, when the socket closed. */
  closeCode?: number;
  /** The raw `error` frame or HTTP body. */
  readonly data?: unknown;
}

/** No reply within the request timeout; `code` is `'timeout'`. */
export declare class TimeoutError extends GeogameError {
  constructor(message: string, details?: { seq?: number });
  readonly code: 'timeout';
}

// ---------------------------------------------------------------- messages

export interface AuthReply {
  player_id: string;
  token: string;
  /** Unix seconds. */
  expires_at: number;
  /** Present for accounts (register, login, refresh). */
  refresh_token?: string;
}

export interface Welcome {
  type: 'welcome';
  player_id: string;
  server_id: string;
  protocol: number;
}

export type Rarity = 'common' | 'uncommon' | 'rare' | 'epic' | 'legendary';

export interface Creature {
  id: string;
  species: string;
  rarity: Rarity;
  lat: number;
  lon: number;
  distance_m: number;
  bearing_deg: number;
  expires_at: number;
}

export interface Poi {
  id: string;
  name: string;
  lat: number;
  lon: number;
  distance_m: number;
  sponsor?: string;
}

export interface Nearby { type: 'nearby'; seq?: number; creatures: Creature[]; pois: Poi[] }
export interface CatchResult { type: 'catch_result'; seq?: number; creature_id: string; outcome: 'caught' | 'fled' | 'gone' | 'too_far' }
export interface SpinResult { type: 'spin_result'; seq?: number; poi_id: string; outcome: 'ok' | 'cooldown' | 'too_far'; items: Record<string, number> }
export interface CollectedCreature { id: string; species: string; rarity: Rarity; caught_at: number }
export interface Collection { type: 'collection'; seq?: number; creatures: CollectedCreature[]; items: Record<string, number> }
export interface Pong { type: 'pong'; seq?: number }

export interface Boss { species: string; rarity: Rarity; hp: number; max_hp: number }
export interface SessionJoined { type: 'session_joined'; seq?: number; session_id: string; boss: Boss; members: string[]; ends_at: number }
export interface AttackResult { type: 'attack_result'; seq?: number; damage: number; boss_hp: number }
export interface SessionLeft { type: 'session_left'; seq?: number; session_id: string }
export interface SessionEvent {
  type: 'session_event';
  session_id: string;
  player_id: string;
  action: 'joined' | 'attack' | 'left' | 'caught' | 'fled';
  damage?: number;
  boss_hp: number;
}
export interface SessionEnded { type: 'session_ended'; session_id: string; outcome: 'victory' | 'timeout' }
export interface Despawn { type: 'despawn'; creature_id: string; reason: 'caught' | 'expired' | 'excluded' }
export interface Shutdown { type: 'shutdown'; in_s: number }
export interface ErrorFrame { type: 'error'; seq?: number; code: ErrorCode; message: string }

export interface Queued { type: 'queued'; seq?: number; ticket_id: string }
export interface Cancelled { type: 'cancelled'; seq?: number; ticket_id: string }
export interface MatchFound {
  type: 'match_found';
  ticket_id: string;
  session_id: string;
  players: string[];
  /** The WebSocket URL of the game server hosting the session. */
  server: string;
  session_token: string;
}
export interface Expired { type: 'expired'; ticket_id: string }

/** Any message the server sends; unknown types arrive as `{type: string}`. */
export type ServerMessage =
  | Welcome | Nearby | CatchResult | SpinResult | Collection | Pong
  | SessionJoined | AttackResult | SessionLeft | SessionEvent | SessionEnded
  | Despawn | Shutdown | ErrorFrame | Queued | Cancelled | MatchFound | Expired
  | { type: string; seq?: number; [field: string]: unknown };

// ---------------------------------------------------------------- requests

/** `{lat, lon}` plus optional motion, or a browser `GeolocationCoordinates`. */
export type Position =
  | { lat: number; lon: number; heading?: number | null; speed?: number | null; accuracy?: number | null }
  | { latitude: number; longitude: number; heading?: number | null; speed?: number | null; accuracy?: number | null };

export interface QueueRequest {
  /** Defaults to `'raid'`. */
  mode?: 'raid' | 'pvp';
  /** Required for a raid. */
  poi_id?: string;
  lat: number;
  lon: number;
  level?: number;
  /** Player ids of friends on the sender's ticket (at most 32). */
  party?: string[];
}

export interface RequestOptions {
  /** Overrides the client's `requestTimeoutMs` for this request. */
  timeoutMs?: number;
}

// ---------------------------------------------------------------- clients

export type Status = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed' | 'replaced';

export interface StatusEvent {
  status: Status;
  /** The close code that led here, when a socket closed. */
  code?: number;
  reason?: string;
  /** For `reconnecting`, and for `connecting` after a close 1013 (busy
   * server): the attempt number (from 1) and the wait before it. */
  attempt?: number;
  delayMs?: number;
  /** Why a connect or reconnect gave up. */
  error?: GeogameError;
}

export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: any) => void) | null;
}

export interface ChannelOptions {
  /** Defaults to `globalThis.WebSocket`. */
  WebSocket?: new (url: string) => WebSocketLike;
  /** Defaults to `globalThis.fetch`. */
  fetch?: typeof fetch;
  /** For every request, the welcome and HTTP calls; default 5000. */
  requestTimeoutMs?: number;
  /** Redial after a dropped socket (not after `close()`, 1008 or 4001); default true. */
  reconnect?: boolean;
  /** Jittered exponential back-off; default `{initialMs: 250, maxMs: 10000}`.
   * `maxMs` also caps the busy waits (but they are never under 1 s or
   * the server's `Retry-After`). */
  backoff?: { initialMs?: number; maxMs?: number };
  /** How often to retry a busy server: an auth call answered 503 with
   * `Retry-After`, and a first `connect()` closed with 1013. 0 disables;
   * default 4. Reconnects after a 1013 always wait at least the busy wait.
   * On a lobby client made by `GeogameClient.lobby()`, HTTP calls use the
   * game client's setting. */
  busyRetries?: number;
}

export interface GeogameClientOptions extends ChannelOptions {
  /** The game server's http(s) origin; defaults to the page's origin in a browser. */
  baseUrl?: string;
  /** Defaults to `baseUrl` + `/v1/play` as ws(s). */
  playUrl?: string;
  /** Defaults to `baseUrl` + `/v1/lobby` as ws(s). */
  lobbyUrl?: string;
  /** After a reconnect, how long to wait for the server's `session_joined`
   * push before re-sending `join_session`; default 1500. */
  rejoinWaitMs?: number;
}

export interface LobbyClientOptions extends ChannelOptions {
  baseUrl?: string;
  /** The lobby WebSocket URL; defaults to `baseUrl` + `/v1/lobby`. */
  url?: string;
  /** A player token, for a lobby client made on its own. */
  token?: string;
}

type Listener<T> = (payload: T) => void;

export interface PlayEvents {
  status: StatusEvent;
  welcome: Welcome;
  /** Error frames that answer no pending request; failures of the SDK's own resume requests. */
  error: GeogameError;
  despawn: Despawn;
  session_event: SessionEvent;
  session_ended: SessionEnded;
  shutdown: Shutdown;
  /** Pushed by the server after a reconnect, or the reply to the SDK's own rejoin. */
  session_joined: SessionJoined;
  /** The reply to the position the SDK re-sends after a reconnect. */
  nearby: Nearby;
  /** Every message the server sends, matched replies included. */
  '*': ServerMessage;
}

export interface LobbyEvents {
  status: StatusEvent;
  welcome: Welcome;
  error: GeogameError;
  match_found: MatchFound;
  expired: Expired;
  '*': ServerMessage;
}

/** The socket machinery both clients share. */
declare class Channel<Events> {
  /** The WebSocket URL. */
  url: string;
  readonly status: Status;
  /** The last `welcome`, or null before the first. */
  readonly welcome: Welcome | null;
  readonly token: string | null;
  readonly playerId: string | null;
  requestTimeoutMs: number;
  reconnect: boolean;
  backoff: { initialMs: number; maxMs: number };
  /** Redials of a first `connect()` closed with 1013 (busy). */
  busyRetries: number;

  /** Opens the socket, says hello, resolves with `welcome`. */
  connect(): Promise<Welcome>;
  /** Closes the socket; no reconnect until the next `connect()`. */
  close(): void;
  /** Sends `msg` with a fresh seq; resolves with the reply of that seq. */
  request<T = ServerMessage>(msg: { type: string; [field: string]: unknown }, opts?: RequestOptions): Promise<T>;
  ping(): Promise<Pong>;
  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(type: K, fn: Listener<Events[K]>): () => void;
  on(type: string, fn: Listener<ServerMessage>): () => void;
  off<K extends keyof Events>(type: K, fn: Listener<Events[K]>): void;
  off(type: string, fn: Listener<ServerMessage>): void;
}

/** The game client: auth over HTTP and the `/v1/play` socket. */
export declare class GeogameClient extends Channel<PlayEvents> {
  constructor(opts?: GeogameClientOptions);
  readonly baseUrl: string;
  readonly lobbyUrl: string;
  rejoinWaitMs: number;
  readonly refreshToken: string | null;
  /** Unix seconds, when known. */
  readonly expiresAt: number | null;
  /** The session this client is in, once joined. */
  readonly sessionId: string | null;

  signInGuest(deviceId: string): Promise<AuthReply>;
  register(email: string, password: string): Promise<AuthReply>;
  login(email: string, password: string): Promise<AuthReply>;
  refresh(): Promise<AuthReply>;
  setToken(token: string, extra?: { expiresAt?: number; refreshToken?: string; playerId?: string }): void;

  location(pos: Position): Promise<Nearby>;
  catch(creatureId: string): Promise<CatchResult>;
  spin(poiId: string): Promise<SpinResult>;
  collection(): Promise<Collection>;
  /** Confirms the player is a passenger; resolves with `passenger_confirmed`. */
  passenger(): Promise<{ type: 'passenger_confirmed'; seq?: number }>;
  joinSession(sessionToken: string): Promise<SessionJoined>;
  /** `joinSession`, after moving to `match.server` when it is another URL. */
  joinMatch(match: Pick<MatchFound, 'session_token'> & { server?: string }): Promise<SessionJoined>;
  attack(): Promise<AttackResult>;
  /** After a victory; resolves with an ordinary `catch_result`. */
  raidCatch(): Promise<CatchResult>;
  leaveSession(): Promise<SessionLeft>;

  /** A lobby client on this client's lobby URL and token. */
  lobby(opts?: LobbyClientOptions): LobbyClient;
}

/** The matchmaker client over `/v1/lobby`. */
export declare class LobbyClient extends Channel<LobbyEvents> {
  constructor(opts?: LobbyClientOptions & { client?: GeogameClient });
  queue(ticket: QueueRequest): Promise<Queued>;
  cancel(ticketId: string): Promise<Cancelled>;
}

export {};
