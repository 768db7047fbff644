//! The browser surfaces every game server serves: the player's web client
//! at `/`, the operator console at `/console`, their scripts under `/web/`,
//! the JavaScript SDK under `/clients/js/`, and `/v1/client-config`, which
//! tells a page the tile URL, the lobby and where the world is.
//!
//! The files live in `clients/` at the repository root. Release builds
//! embed them; debug builds read them from disk on each request, so a page
//! edit shows on reload.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use protocol::http::{ClientConfig, LatLon};
use rust_embed::{EmbeddedFile, RustEmbed};
use service_kit::{ApiError, json_response};

use crate::state::GameState;

/// The pages and their scripts: `clients/web/`, without its tests.
#[derive(RustEmbed)]
#[folder = "../clients/web/"]
#[include = "*.html"]
#[include = "*.js"]
#[include = "*.css"]
#[include = "*.svg"]
#[include = "*.png"]
#[exclude = "test/*"]
#[exclude = "node_modules/*"]
struct Pages;

/// The SDK: `clients/js/geogame.js` and its type declarations.
#[derive(RustEmbed)]
#[folder = "../clients/js/"]
#[include = "geogame.js"]
#[include = "geogame.d.ts"]
struct Sdk;

/// Where a player starts when a world has no POIs yet: the demo world's
/// neighbourhood.
const FALLBACK_CENTER: LatLon = LatLon {
    lat: 47.6072,
    lon: -122.0354,
};

/// `/`, `/console`, `/web/{file}`, `/clients/js/{file}` and
/// `/v1/client-config`.
pub(crate) fn router(state: Arc<GameState>) -> Router {
    Router::new()
        .route(
            "/",
            get(|h: HeaderMap| async move { page("index.html", &h) }),
        )
        .route(
            "/console",
            get(|h: HeaderMap| async move { page("console.html", &h) }),
        )
        .route(
            "/web/{*file}",
            get(|Path(f): Path<String>, h: HeaderMap| async move { page(&f, &h) }),
        )
        .route(
            "/clients/js/{file}",
            get(|Path(f): Path<String>, h: HeaderMap| async move {
                file_response(Sdk::get(&f), &f, &h)
            }),
        )
        .route("/v1/client-config", get(client_config))
        .with_state(state)
}

fn page(name: &str, headers: &HeaderMap) -> Response {
    file_response(Pages::get(name), name, headers)
}

/// A file with its content type, or 404. Files are revalidated on every
/// load (`no-cache` with an ETag), so a new release is never served stale
/// and an unchanged file costs a 304.
fn file_response(file: Option<EmbeddedFile>, name: &str, headers: &HeaderMap) -> Response {
    let Some(file) = file else {
        return ApiError::not_found(format!("no such file: {name}")).into_response();
    };
    let etag = format!(
        "\"{}\"",
        service_kit::hex(&file.metadata.sha256_hash()[..16])
    );
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        file.data.into_owned().into_response()
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(name)),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    resp
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("ts") => "text/plain; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "application/octet-stream",
    }
}

async fn client_config(State(state): State<Arc<GameState>>) -> Response {
    let cfg = &state.cfg;
    let center = {
        let world = state.world.read();
        let (n, lat, lon) = world.pois().fold((0u32, 0.0, 0.0), |(n, lat, lon), p| {
            (n + 1, lat + p.lat, lon + p.lon)
        });
        if n == 0 {
            FALLBACK_CENTER
        } else {
            LatLon {
                lat: lat / f64::from(n),
                lon: lon / f64::from(n),
            }
        }
    };
    json_response(
        StatusCode::OK,
        &ClientConfig {
            tile_url: cfg.tile_url.clone(),
            lobby_url: cfg.lobby_url.clone(),
            center,
            view_radius_m: cfg.view_radius_m,
            catch_range_m: cfg.catch_range_m,
            spin_range_m: cfg.spin_range_m,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("map.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("style.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("geogame.d.ts"), "text/plain; charset=utf-8");
        assert_eq!(content_type("noext"), "application/octet-stream");
    }

    #[test]
    fn the_sdk_and_both_pages_are_there() {
        assert!(Sdk::get("geogame.js").is_some());
        assert!(Pages::get("index.html").is_some());
        assert!(Pages::get("console.html").is_some());
        // Tests and anything outside the folder are never served.
        assert!(Pages::get("../js/geogame.js").is_none());
        assert!(Sdk::get("test/server.mjs").is_none());
    }
}
