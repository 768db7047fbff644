//! The flags every listener shares: `--tls-cert`/`--tls-key` (see
//! [`crate::tls`]) and `--cors-origin`, which other origins' browser pages
//! may call a service's HTTP API. Same-origin pages need no grant and
//! always work; an origin not listed gets no `Access-Control-Allow-Origin`
//! and the browser blocks the response.

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

/// The flags every binary that listens shares.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct HttpFlags {
    /// Let browser pages from this origin (e.g. `https://play.example.com`)
    /// call the HTTP API; repeatable. Other origins get no CORS grant.
    #[arg(long = "cors-origin", value_name = "ORIGIN")]
    pub cors_origins: Vec<String>,
    /// Serve HTTPS and wss:// with this certificate chain (PEM); needs
    /// --tls-key. A renewed file is picked up within seconds.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
}

impl HttpFlags {
    /// The TLS files, checked to load, or none for plain HTTP.
    pub fn tls(&self) -> Result<Option<crate::tls::TlsFiles>, String> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => {
                let files = crate::tls::TlsFiles {
                    cert: cert.clone(),
                    key: key.clone(),
                };
                files
                    .load()
                    .map_err(|e| format!("--tls-cert/--tls-key: {e}"))?;
                Ok(Some(files))
            }
            (None, None) => Ok(None),
            _ => Err("--tls-cert and --tls-key go together".into()),
        }
    }

    /// Checks the flags; the error names the flag and the bad value.
    pub fn cors(&self) -> Result<Cors, String> {
        Cors::new(&self.cors_origins)
    }
}

/// The validated origin list, applied to a router with [`Cors::apply`].
#[derive(Debug, Clone, Default)]
pub struct Cors {
    origins: Vec<HeaderValue>,
}

impl Cors {
    /// Validates each origin: `http` or `https`, a host, an optional port,
    /// and nothing after it (an origin has no path).
    pub fn new(origins: &[String]) -> Result<Cors, String> {
        let origins = origins
            .iter()
            .map(|o| {
                let o = o.trim_end_matches('/');
                let rest = o
                    .strip_prefix("https://")
                    .or_else(|| o.strip_prefix("http://"))
                    .ok_or_else(|| {
                        format!("--cors-origin {o}: must start with http:// or https://")
                    })?;
                if rest.is_empty() || rest.contains(['/', '?', '#', ' ', '*']) {
                    return Err(format!(
                        "--cors-origin {o}: an origin is scheme://host[:port], with no path"
                    ));
                }
                HeaderValue::from_str(o)
                    .map_err(|_| format!("--cors-origin {o}: not a valid origin"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Cors { origins })
    }

    /// The router with CORS answers (preflights included) for the listed
    /// origins; unchanged when none is listed.
    pub fn apply(&self, router: Router) -> Router {
        if self.origins.is_empty() {
            return router;
        }
        router.layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(self.origins.clone()))
                .allow_methods([
                    Method::GET,
                    Method::POST,
                    Method::PUT,
                    Method::PATCH,
                    Method::DELETE,
                ])
                .allow_headers([
                    header::AUTHORIZATION,
                    header::CONTENT_TYPE,
                    HeaderName::from_static("if-none-match"),
                ])
                .max_age(Duration::from_secs(600)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_checked() {
        assert!(Cors::new(&["https://play.example.com".into()]).is_ok());
        assert!(Cors::new(&["http://127.0.0.1:5173/".into()]).is_ok());
        for bad in [
            "play.example.com",
            "https://",
            "https://x.com/app",
            "https://*.x.com",
            "ftp://x",
        ] {
            let e = Cors::new(&[bad.into()]).unwrap_err();
            assert!(e.contains("--cors-origin"), "{bad}: {e}");
        }
    }
}
