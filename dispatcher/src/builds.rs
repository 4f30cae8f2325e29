//! Recording a checked code package as a function's build: the one place both upload paths
//! (`POST /v1/build`, the Serverledge facade's `/create`) store code. GO, RS and CS builds start
//! `PENDING` (a compile job, `crate::compiles`); the others are `SUCCESS` at once.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use canopy_shared::Lang;

use crate::db;
use crate::db::builds::NewBuild;
use crate::domain::archive::CodePackage;
use crate::quotas::{self, Quota, QuotaError};

/// An upload as it arrived.
#[derive(Debug, Clone, Copy)]
pub struct Upload<'a> {
    pub account_id: Uuid,
    pub function_id: Uuid,
    pub arch: &'a str,
    /// Bytes received (before unpacking).
    pub size: usize,
    pub received_at: DateTime<Utc>,
    /// The account's quota; its storage limit is checked before the code is kept.
    pub quota: Quota,
}

/// Whether builds of `lang` are compiled once by a compile job: GO, RS and CS, whose runtime
/// images have a compile-only mode (`start.sh --compile`).
pub fn compiled_once(lang: Lang) -> bool {
    matches!(lang, Lang::Go | Lang::Rs | Lang::Cs)
}

/// Stores an upload of a `lang` function: a `PENDING` build (compiled later, its tasks run the
/// source meanwhile) for GO, RS and CS, a `SUCCESS` build otherwise. Returns the build's id.
pub async fn store(
    conn: &mut PgConnection,
    upload: Upload<'_>,
    package: &CodePackage,
    lang: Lang,
) -> Result<Uuid, QuotaError> {
    if compiled_once(lang) {
        store_pending(conn, upload, package).await
    } else {
        store_success(conn, upload, package).await
    }
}

/// Stores the source package and a `PENDING` build that becomes the function's current one: its
/// tasks run the source (compiling at cold start) until a compile job replaces the artifact.
async fn store_pending(
    conn: &mut PgConnection,
    upload: Upload<'_>,
    package: &CodePackage,
) -> Result<Uuid, QuotaError> {
    let timeline = serde_json::json!([{"status": "PENDING", "time": upload.received_at}]);
    let id = store_build(&mut *conn, upload, package, "PENDING", timeline).await?;
    db::compiles::open_job(conn, id, &package.sha256).await?;
    tracing::info!(build.id = %canopy_shared::format_id(id), source.sha256 = %package.sha256, "build waits for a compile job");
    Ok(id)
}

/// Stores the artifact (content-addressed) and a `SUCCESS` build that becomes the function's
/// current one, unless that takes the account past its storage quota; returns the build's id.
/// Runs in the caller's transaction.
pub async fn store_success(
    conn: &mut PgConnection,
    upload: Upload<'_>,
    package: &CodePackage,
) -> Result<Uuid, QuotaError> {
    let timeline = serde_json::json!([
        {"status": "PENDING", "time": upload.received_at},
        {"status": "SUCCESS", "time": Utc::now()},
    ]);
    let id = store_build(conn, upload, package, "SUCCESS", timeline).await?;
    tracing::info!(build.id = %canopy_shared::format_id(id), artifact.sha256 = %package.sha256, "build succeeded");
    Ok(id)
}

/// The storage quota's check, the package (streamed into the content-addressed artifacts) and a
/// build row with `status`; returns the build's id.
async fn store_build(
    conn: &mut PgConnection,
    upload: Upload<'_>,
    package: &CodePackage,
    status: &str,
    timeline: serde_json::Value,
) -> Result<Uuid, QuotaError> {
    quotas::admit_code(
        conn,
        upload.account_id,
        upload.function_id,
        &upload.quota,
        usize::try_from(package.size).unwrap_or(usize::MAX),
    )
    .await?;
    let id = canopy_shared::new_id();
    let build = NewBuild {
        id,
        account_id: upload.account_id,
        function_id: upload.function_id,
        status,
        arch: upload.arch,
        artifact_sha256: Some(&package.sha256),
        entry_point: Some(&package.entry_point),
        timeline,
        log: received_log(upload, package),
    };
    let tar = tokio::fs::File::from_std(package.open_tar().map_err(sqlx::Error::Io)?);
    db::builds::store_artifact(&mut *conn, &package.sha256, package.size, tar).await?;
    db::builds::insert(conn, &build).await?;
    Ok(id)
}

fn received_log(upload: Upload<'_>, package: &CodePackage) -> Vec<String> {
    vec![
        format!("received {} bytes ({})", upload.size, package.format),
        format!(
            "{} files, {} bytes unpacked, entry point {}",
            package.files, package.unpacked_bytes, package.entry_point
        ),
        format!(
            "artifact sha256 {} ({} bytes)",
            package.sha256, package.size
        ),
    ]
}

/// The code package of a function created with a custom image and no code: an empty tar (two
/// zero blocks), so its tasks have a build to run and an empty `/app` until code is uploaded.
pub fn empty_package() -> std::io::Result<CodePackage> {
    use sha2::{Digest, Sha256};
    use std::io::Write;
    let bytes = [0_u8; 1024];
    let mut tar = tempfile::tempfile()?;
    tar.write_all(&bytes)?;
    Ok(CodePackage {
        tar,
        size: bytes.len() as u64,
        sha256: hex::encode(Sha256::digest(bytes)),
        files: 0,
        unpacked_bytes: 0,
        entry_point: "(the custom image's own command)".to_owned(),
        format: "no code: the custom image runs alone",
    })
}
