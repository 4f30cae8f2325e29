//! The admin dashboard's static files, embedded in the binary (no build step, no npm) and served
//! at `/dashboard/`; `/` leads there. The page talks only to the public `/v1` API.
//!
//! Every response carries a strict Content Security Policy (scripts and styles from this origin
//! only, no inline code, no framing) so an injected string can never run as code. Files are
//! revalidated on each load (`no-cache` + `ETag`): they change only with the binary, and a 304
//! costs one small round trip.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One embedded file.
struct Asset {
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    etag: String,
}

macro_rules! assets {
    ($(($path:literal, $kind:expr)),* $(,)?) => {
        vec![$(Asset::new($path, $kind, include_bytes!(concat!("../../dashboard/", $path)))),*]
    };
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    assets![
        ("index.html", HTML),
        ("app.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
        ("js/main.js", JS),
        ("js/api.js", JS),
        ("js/session.js", JS),
        ("js/dom.js", JS),
        ("js/format.js", JS),
        ("js/chart.js", JS),
        ("js/pages/signin.js", JS),
        ("js/pages/overview.js", JS),
        ("js/pages/nodes.js", JS),
        ("js/pages/functions.js", JS),
        ("js/pages/function.js", JS),
        ("js/pages/invoke.js", JS),
        ("js/pages/tasks.js", JS),
        ("js/pages/task.js", JS),
        ("js/pages/tags.js", JS),
        ("js/pages/keys.js", JS),
        ("js/pages/account.js", JS),
        ("js/pages/admin.js", JS),
        ("js/pages/quota.js", JS),
        ("js/pages/function_edit.js", JS),
        ("js/pages/pools.js", JS),
    ]
});

impl Asset {
    fn new(path: &'static str, content_type: &'static str, body: &'static [u8]) -> Asset {
        let digest = Sha256::digest(body);
        let etag = format!("\"{}\"", hex::encode(&digest[..12]));
        Asset {
            path,
            content_type,
            body,
            etag,
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(to_dashboard))
        .route("/dashboard", web::get().to(to_dashboard))
        .route("/dashboard/{path:.*}", web::get().to(asset));
}

/// `/` and `/dashboard` lead to the dashboard's page.
async fn to_dashboard() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, "/dashboard/"))
        .finish()
}

async fn asset(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let wanted = match path.as_str() {
        "" => "index.html",
        other => other,
    };
    let asset = ASSETS
        .iter()
        .find(|asset| asset.path == wanted)
        .ok_or_else(|| {
            ApiError::not_found(
                "ROUTE_NOT_FOUND",
                format!("the dashboard has no file {wanted:?}"),
            )
        })?;
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == asset.etag));
    let mut response = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response
        .insert_header((header::ETAG, asset.etag.clone()))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"));
    if fresh {
        return Ok(response.finish());
    }
    Ok(response
        .insert_header((header::CONTENT_TYPE, asset.content_type))
        .body(asset.body))
}

#[cfg(test)]
mod tests {
    use super::ASSETS;

    #[test]
    fn every_module_a_page_imports_is_embedded() {
        // A missing file would only show as a broken page in a browser; catch it here.
        for asset in ASSETS.iter().filter(|asset| asset.path.ends_with(".js")) {
            let text = std::str::from_utf8(asset.body).expect("utf-8 source");
            for line in text
                .lines()
                .filter(|line| line.trim_start().starts_with("import "))
            {
                let Some(spec) = line.split(['\'', '"']).nth(1) else {
                    continue;
                };
                let dir = asset.path.rsplit_once('/').map_or("", |(dir, _)| dir);
                let resolved = resolve(dir, spec);
                assert!(
                    ASSETS.iter().any(|other| other.path == resolved),
                    "{} imports {spec} ({resolved}), which is not embedded",
                    asset.path
                );
            }
        }
    }

    fn resolve(dir: &str, spec: &str) -> String {
        let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
        for part in spec.split('/') {
            match part {
                "." => {}
                ".." => {
                    parts.pop();
                }
                other => parts.push(other),
            }
        }
        parts.join("/")
    }
}
