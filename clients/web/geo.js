// Small geodesy and Web Mercator helpers shared by the player page and the
// operator console. Distances are great-circle (haversine) on a spherical
// Earth, which is what the server uses for `distance_m` and `bearing_deg`.

const EARTH_RADIUS_M = 6371008.8;
const TILE_SIZE = 256;
const MAX_MERCATOR_LAT = 85.05112878;

const toRad = (deg) => (deg * Math.PI) / 180;
const toDeg = (rad) => (rad * 180) / Math.PI;

/** Great-circle distance in metres between two `{lat, lon}` points. */
export function distanceM(a, b) {
  const dLat = toRad(b.lat - a.lat);
  const dLon = toRad(b.lon - a.lon);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(toRad(a.lat)) * Math.cos(toRad(b.lat)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Initial bearing from `a` to `b`, degrees clockwise from north in [0, 360). */
export function bearingDeg(a, b) {
  const lat1 = toRad(a.lat);
  const lat2 = toRad(b.lat);
  const dLon = toRad(b.lon - a.lon);
  const y = Math.sin(dLon) * Math.cos(lat2);
  const x = Math.cos(lat1) * Math.sin(lat2) - Math.sin(lat1) * Math.cos(lat2) * Math.cos(dLon);
  return normalizeHeading(toDeg(Math.atan2(y, x)));
}

/** The point `distance` metres from `p` along `bearing` degrees. */
export function destination(p, bearing, distance) {
  const angle = distance / EARTH_RADIUS_M;
  const theta = toRad(bearing);
  const lat1 = toRad(p.lat);
  const lon1 = toRad(p.lon);
  const lat2 = Math.asin(Math.sin(lat1) * Math.cos(angle) + Math.cos(lat1) * Math.sin(angle) * Math.cos(theta));
  const lon2 =
    lon1 +
    Math.atan2(Math.sin(theta) * Math.sin(angle) * Math.cos(lat1), Math.cos(angle) - Math.sin(lat1) * Math.sin(lat2));
  return { lat: toDeg(lat2), lon: ((toDeg(lon2) + 540) % 360) - 180 };
}

/** A heading in [0, 360): the protocol refuses 360 itself. */
export function normalizeHeading(deg) {
  const h = ((deg % 360) + 360) % 360;
  return h >= 360 ? 0 : h;
}

const COMPASS = ['north', 'north-east', 'east', 'south-east', 'south', 'south-west', 'west', 'north-west'];

/** "north-east" for 45°, one of eight compass points. */
export function compassWord(bearing) {
  return COMPASS[Math.round(normalizeHeading(bearing) / 45) % 8];
}

/** "12 m", "1.4 km". */
export function formatDistance(m) {
  if (m < 1000) return `${Math.round(m)} m`;
  return `${(m / 1000).toFixed(m < 10000 ? 1 : 0)} km`;
}

/** "12 m, north-east"; "here" when closer than a metre. */
export function describeOffset(distance, bearing) {
  if (distance < 1) return 'here';
  return `${formatDistance(distance)}, ${compassWord(bearing)}`;
}

// ---- Web Mercator (EPSG:3857) in "world pixels" at a zoom level --------

/** Size of the whole world in pixels at zoom `z`. */
export const worldSize = (z) => TILE_SIZE * 2 ** z;

/** `{lat, lon}` to world pixel `{x, y}` at zoom `z` (y grows southward). */
export function toWorld(p, z) {
  const size = worldSize(z);
  const lat = Math.max(-MAX_MERCATOR_LAT, Math.min(MAX_MERCATOR_LAT, p.lat));
  const sin = Math.sin(toRad(lat));
  return {
    x: ((p.lon + 180) / 360) * size,
    y: (0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)) * size,
  };
}

/** World pixel `{x, y}` at zoom `z` back to `{lat, lon}`. */
export function fromWorld(w, z) {
  const size = worldSize(z);
  const lon = (w.x / size) * 360 - 180;
  const n = Math.PI - (2 * Math.PI * w.y) / size;
  return { lat: toDeg(Math.atan(Math.sinh(n))), lon };
}

/** Ground metres covered by one pixel at latitude `lat` and zoom `z`. */
export function metresPerPixel(lat, z) {
  return (Math.cos(toRad(lat)) * 2 * Math.PI * EARTH_RADIUS_M) / worldSize(z);
}

export { TILE_SIZE };
