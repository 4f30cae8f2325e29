//! A node's answer to its compile job: `PUT /v1/worker/compile/{buildId}?sha256=` with the compiled
//! package (a tar: the source, `.canopy/function`, `.canopy/compiled`), or
//! `POST /v1/worker/compile/{buildId}/failure` with the compiler's output. Node token; only the
//! node holding the job may answer, once.

use std::io::{Read, Seek, SeekFrom};

use actix_web::{post, put, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;
use validator::Validate;

use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::extract::{spool_body_within, ValidJson};
use crate::gateway::authenticate_node;
use crate::quotas::{self, QuotaError};
use crate::routes::path_id;
use crate::state::AppState;

/// Compiler output kept at most, bytes.
pub const MAX_LOG_BYTES: usize = 64 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(upload_compiled).service(report_failure);
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompiledQuery {
    sha256: String,
}

/// The compiler's output of a failed compile job.
#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct CompileFailure {
    pub log: String,
}

/// Checks that `node` holds the job of `build`, still open; the job.
async fn check_job(state: &AppState, build: Uuid, node: Uuid) -> ApiResult<db::compiles::JobState> {
    let mut conn = state.pool.acquire().await?;
    let job = db::compiles::job_state(&mut conn, build)
        .await?
        .ok_or_else(|| ApiError::not_found("BUILD_NOT_FOUND", "no compile job for this build"))?;
    if job.compile_node_id != Some(node) {
        return Err(ApiError::forbidden(
            "NOT_YOUR_COMPILE_JOB",
            "this build's compile job was not given to this node",
        ));
    }
    if job.status != "PENDING" {
        return Err(ApiError::conflict(
            "BUILD_NOT_PENDING",
            format!("the build is already {}", job.status),
        ));
    }
    Ok(job)
}

/// Stores the compiled package content-addressed; the build is `SUCCESS` and its new tasks run it.
#[put("/worker/compile/{buildId}")]
#[tracing::instrument(skip_all, fields(node.id, build.id = %path.as_str()))]
async fn upload_compiled(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<CompiledQuery>,
) -> ApiResult<HttpResponse> {
    let node = authenticate_node(req.headers(), &state).await?;
    let build = path_id(&path, "BUILD_NOT_FOUND", "build")?;
    let expected = query.into_inner().sha256;
    if expected.len() != 64
        || !expected
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(ApiError::invalid_field(
            "sha256",
            "must be 64 lowercase hex",
        ));
    }
    let job = check_job(&state, build, node).await?;
    // Like a code upload: spooled to disk, within the transfer gates, so a 128 MiB package never
    // sits in memory and a crowd of compile nodes cannot exhaust it.
    let _turn = state.gates.build().await?;
    let body = spool_body_within(
        &req,
        payload.into_inner(),
        state.dispatch.compiled_package_limit,
        std::time::Duration::from_secs(state.dispatch.upload_timeout_s),
    )
    .await?;
    let size = body.len;
    let (file, actual, is_package) = tokio::task::spawn_blocking(move || inspect(body.file))
        .await
        .map_err(|error| anyhow::anyhow!("while reading a compiled package: {error}"))?
        .map_err(|error| anyhow::anyhow!("while reading a compiled package: {error}"))?;
    if actual != expected {
        return Err(ApiError::bad_request(
            "HASH_MISMATCH",
            format!("the body hashes to {actual}, not {expected}"),
        )
        .with_field("sha256", "does not match the body"));
    }
    if !is_package {
        return Err(ApiError::bad_request(
            "NOT_A_COMPILED_PACKAGE",
            "expected a tar with .canopy/compiled and .canopy/function",
        ));
    }
    let log = vec![format!(
        "compiled on node {} into {actual} ({size} bytes)",
        canopy_shared::format_id(node),
    )];
    let content = tokio::io::BufReader::new(tokio::fs::File::from_std(file));
    let quota = state.quotas.quota(&state.pool, job.account_id).await?;
    let mut tx = state.pool.begin().await?;
    // The compiled package replaces the source as the code the account keeps: past its storage
    // quota the build fails, saying so, as an upload of that size would have been refused.
    let bytes = usize::try_from(size).unwrap_or(usize::MAX);
    match quotas::admit_code(&mut tx, job.account_id, job.function_id, &quota, bytes).await {
        Ok(()) => {}
        Err(QuotaError::Exceeded(exceeded)) => {
            let log = [format!("compiled into {size} bytes, but {exceeded}")];
            db::compiles::finish(&mut tx, build, node, "FAILED", None, &log).await?;
            tx.commit().await?;
            tracing::info!("compiled package refused: storage quota");
            return Ok(HttpResponse::NoContent().finish());
        }
        Err(QuotaError::Database(error)) => return Err(error.into()),
    }
    db::builds::store_artifact(&mut tx, &actual, size, content).await?;
    if !db::compiles::finish(&mut tx, build, node, "SUCCESS", Some(&actual), &log).await? {
        return Err(ApiError::conflict(
            "BUILD_NOT_PENDING",
            "the job ended meanwhile",
        ));
    }
    tx.commit().await?;
    tracing::info!(artifact.sha256 = %actual, "build compiled");
    Ok(HttpResponse::NoContent().finish())
}

/// Marks the build `FAILED` with the compiler's output (its last 64 KiB); its tasks get a 409.
#[post("/worker/compile/{buildId}/failure")]
#[tracing::instrument(skip_all, fields(build.id = %path.as_str()))]
async fn report_failure(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: ValidJson<CompileFailure>,
) -> ApiResult<HttpResponse> {
    let node = authenticate_node(req.headers(), &state).await?;
    let build = path_id(&path, "BUILD_NOT_FOUND", "build")?;
    check_job(&state, build, node).await?;
    let log = failure_log(&body.0.log);
    let mut conn = state.pool.acquire().await?;
    if !db::compiles::finish(&mut conn, build, node, "FAILED", None, &log).await? {
        return Err(ApiError::conflict(
            "BUILD_NOT_PENDING",
            "the job ended meanwhile",
        ));
    }
    tracing::info!("build failed to compile");
    Ok(HttpResponse::NoContent().finish())
}

/// The build log lines of a compiler's output: its tail within [`MAX_LOG_BYTES`].
fn failure_log(output: &str) -> Vec<String> {
    let mut start = output.len().saturating_sub(MAX_LOG_BYTES);
    while !output.is_char_boundary(start) {
        start += 1;
    }
    std::iter::once("compile failed:".to_owned())
        .chain(output[start..].lines().map(str::to_owned))
        .collect()
}

/// Whether `bytes` is a tar holding the compiled marker and binary.
/// The spooled package's SHA-256 and whether it is a compiled package, the file rewound.
fn inspect(mut file: std::fs::File) -> std::io::Result<(std::fs::File, String, bool)> {
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
    file.seek(SeekFrom::Start(0))?;
    let is_package = is_compiled_package(&file);
    file.seek(SeekFrom::Start(0))?;
    Ok((file, hex::encode(hasher.finalize()), is_package))
}

fn is_compiled_package(bytes: impl Read) -> bool {
    let mut archive = tar::Archive::new(bytes);
    let Ok(entries) = archive.entries() else {
        return false;
    };
    let (mut marker, mut binary) = (false, false);
    for entry in entries {
        let Ok(entry) = entry else {
            return false;
        };
        let Ok(path) = entry.path() else {
            return false;
        };
        let path = path.to_string_lossy();
        let path = path.trim_start_matches("./");
        marker |= path == ".canopy/compiled";
        binary |= path == ".canopy/function";
    }
    marker && binary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_log_keeps_the_tail_within_the_bound() {
        let output = format!("{}\nlast line", "x".repeat(MAX_LOG_BYTES * 2));
        let log = failure_log(&output);
        assert_eq!(log[0], "compile failed:");
        assert_eq!(log.last().map(String::as_str), Some("last line"));
        assert!(log.iter().map(String::len).sum::<usize>() <= MAX_LOG_BYTES + 16);
    }

    #[test]
    fn a_tar_without_the_marker_is_not_a_compiled_package() {
        assert!(!is_compiled_package(&b"not a tar"[..]));
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(0);
        builder
            .append_data(&mut header, ".canopy/function", &[][..])
            .expect("append");
        let only_binary = builder.into_inner().expect("tar");
        assert!(!is_compiled_package(&only_binary[..]));
    }
}
