// The page's view of the server: `/v1/client-config`, with the contract's
// defaults when the server is older and does not serve it.

/** The centre of the demo world's points of interest (geogame/demo/world.geojson). */
export const DEMO_CENTER = Object.freeze({ lat: 47.60722, lon: -122.0354 });

const DEFAULTS = Object.freeze({
  tile_url: null,
  lobby_url: null,
  center: DEMO_CENTER,
  view_radius_m: 200,
  catch_range_m: 50,
  spin_range_m: 40,
});

/** The server's client config merged over the defaults; never throws. */
export async function loadClientConfig(baseUrl = location.origin) {
  try {
    const res = await fetch(new URL('/v1/client-config', baseUrl), { cache: 'no-store' });
    if (!res.ok) return { ...DEFAULTS };
    const cfg = await res.json();
    return {
      ...DEFAULTS,
      ...Object.fromEntries(Object.entries(cfg).filter(([, v]) => v !== undefined)),
      center: validPoint(cfg.center) ? cfg.center : DEFAULTS.center,
    };
  } catch {
    return { ...DEFAULTS };
  }
}

/** `{lat, lon}` from `?lat=&lon=` when both are valid numbers, else null. */
export function pointFromQuery(params = new URLSearchParams(location.search)) {
  const p = { lat: Number.parseFloat(params.get('lat')), lon: Number.parseFloat(params.get('lon')) };
  return validPoint(p) ? p : null;
}

export function validPoint(p) {
  return (
    p != null && Number.isFinite(p.lat) && Number.isFinite(p.lon) && Math.abs(p.lat) <= 90 && Math.abs(p.lon) <= 180
  );
}
