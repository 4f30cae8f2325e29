//! `GET /v1/worker/artifact/{sha256}`: a code package streamed from Postgres in chunks, so a
//! download holds one chunk whatever the package's size.

use std::sync::Arc;

use actix_web::{get, web, HttpRequest, HttpResponse};

use super::authenticate_node;
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::gates::Turn;
use crate::state::AppState;

/// Bytes read from Postgres per step of a download (`gates::DOWNLOAD_WORKING_SET` covers it).
const CHUNK: i64 = 1024 * 1024;

/// A download in progress: what is left to send, and its turn (released when the response
/// ends or the worker goes away).
struct Download {
    state: Arc<AppState>,
    sha256: String,
    offset: i64,
    size: i64,
    _turn: Turn,
}

/// A code package by its sha256, for a worker that holds a live assignment of a task using it.
#[get("/worker/artifact/{sha256}")]
pub(super) async fn artifact(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let node = authenticate_node(req.headers(), &state).await?;
    let sha256 = path.into_inner();
    let not_found = || ApiError::not_found("ARTIFACT_NOT_FOUND", format!("no artifact {sha256:?}"));
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(not_found());
    }
    let turn = state.gates.artifact().await?;
    let mut conn = state.pool.acquire().await?;
    // Same answer for "not yours" and "does not exist": a hash reveals nothing.
    if !db::builds::node_holds_artifact(&mut conn, node, &sha256).await? {
        tracing::warn!(node.id = %canopy_shared::format_id(node), artifact.sha256 = %sha256, "artifact asked for without an assignment");
        return Err(not_found());
    }
    let size = db::builds::artifact_size(&mut conn, &sha256)
        .await?
        .ok_or_else(not_found)?;
    drop(conn);
    let download = Download {
        state: state.into_inner(),
        sha256,
        offset: 0,
        size,
        _turn: turn,
    };
    Ok(HttpResponse::Ok()
        .content_type("application/x-tar")
        .insert_header(("Cache-Control", "private, max-age=31536000, immutable"))
        .no_chunking(u64::try_from(size).unwrap_or(0))
        .streaming(futures_util::stream::try_unfold(download, next_chunk)))
}

/// The next chunk of the package, or the end; a failure cuts the response short (the worker
/// sees fewer bytes than announced and refuses the package).
async fn next_chunk(
    mut download: Download,
) -> Result<Option<(web::Bytes, Download)>, std::io::Error> {
    if download.offset >= download.size {
        return Ok(None);
    }
    let len = (download.size - download.offset).min(CHUNK);
    let chunk = read_chunk(&download, len).await.map_err(|error| {
        tracing::warn!(artifact.sha256 = %download.sha256, offset = download.offset, %error, "artifact download cut short");
        std::io::Error::other(error)
    })?;
    download.offset += len;
    Ok(Some((web::Bytes::from(chunk), download)))
}

async fn read_chunk(download: &Download, len: i64) -> anyhow::Result<Vec<u8>> {
    let offset = i32::try_from(download.offset)?;
    let len = i32::try_from(len)?;
    let mut conn = download.state.pool.acquire().await?;
    let chunk = db::builds::artifact_chunk(&mut conn, &download.sha256, offset, len)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the artifact is gone"))?;
    anyhow::ensure!(
        chunk.len() == len as usize,
        "read {} bytes, expected {len}",
        chunk.len()
    );
    Ok(chunk)
}
