//! Large bodies (code uploads) spooled to an unnamed temporary file as they arrive, so a body
//! never sits whole in memory; the size limit is enforced while streaming.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::HttpRequest;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::error::{ApiError, ApiResult};

/// Buffer between the socket and the spool file.
const SPOOL_BUFFER: usize = 256 * 1024;

/// A body on disk: the file (rewound) and its length.
#[derive(Debug)]
pub struct SpooledBody {
    pub file: std::fs::File,
    pub len: u64,
}

/// Streams the whole body to a temporary file (in `TMPDIR`), refusing (413
/// `PAYLOAD_TOO_LARGE`) a declared or received size over `limit` bytes as soon as it shows.
pub async fn spool_body(
    req: &HttpRequest,
    mut payload: Payload,
    limit: usize,
) -> ApiResult<SpooledBody> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ApiError::payload_too_large(limit));
    }
    let spool = |error: std::io::Error| {
        ApiError::internal(anyhow::anyhow!("while spooling an upload: {error}"))
    };
    let file = tokio::task::spawn_blocking(tempfile::tempfile)
        .await
        .map_err(|error| ApiError::internal(anyhow::anyhow!("while spooling: {error}")))?
        .map_err(spool)?;
    let mut out =
        tokio::io::BufWriter::with_capacity(SPOOL_BUFFER, tokio::fs::File::from_std(file));
    let mut len = 0usize;
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|error| ApiError::bad_request("BODY_UNREADABLE", error.to_string()))?;
        len += chunk.len();
        if len > limit {
            return Err(ApiError::payload_too_large(limit));
        }
        out.write_all(&chunk).await.map_err(spool)?;
    }
    out.flush().await.map_err(spool)?;
    let mut file = out.into_inner().into_std().await;
    std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(0)).map_err(spool)?;
    Ok(SpooledBody {
        file,
        len: len as u64,
    })
}

/// `spool_body` that gives up with 408 `UPLOAD_TIMEOUT` when the body takes longer than
/// `within` (a slow sender must not hold an upload turn for ever).
pub async fn spool_body_within(
    req: &HttpRequest,
    payload: Payload,
    limit: usize,
    within: std::time::Duration,
) -> ApiResult<SpooledBody> {
    tokio::time::timeout(within, spool_body(req, payload, limit))
        .await
        .map_err(|_| {
            ApiError::request_timeout(
                "UPLOAD_TIMEOUT",
                format!("the body did not arrive within {} s", within.as_secs()),
            )
        })?
}
