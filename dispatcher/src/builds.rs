//! Recording a checked code package as a function's successful build: the one place both upload
//! paths (`POST /v1/build`, the Serverledge facade's `/create`) store code.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

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

/// Stores the artifact (content-addressed) and a `SUCCESS` build that becomes the function's
/// current one, unless that takes the account past its storage quota; returns the build's id.
/// Runs in the caller's transaction.
pub async fn store_success(
    conn: &mut PgConnection,
    upload: Upload<'_>,
    package: &CodePackage,
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
        status: "SUCCESS",
        arch: upload.arch,
        artifact_sha256: Some(&package.sha256),
        entry_point: Some(&package.entry_point),
        timeline: serde_json::json!([
            {"status": "PENDING", "time": upload.received_at},
            {"status": "SUCCESS", "time": Utc::now()},
        ]),
        log: vec![
            format!("received {} bytes ({})", upload.size, package.format),
            format!(
                "{} files, {} bytes unpacked, entry point {}",
                package.files, package.unpacked_bytes, package.entry_point
            ),
            format!(
                "artifact sha256 {} ({} bytes)",
                package.sha256, package.size
            ),
        ],
    };
    let tar = tokio::fs::File::from_std(package.open_tar().map_err(sqlx::Error::Io)?);
    db::builds::store_artifact(&mut *conn, &package.sha256, package.size, tar).await?;
    db::builds::insert(conn, &build).await?;
    tracing::info!(build.id = %canopy_shared::format_id(id), artifact.sha256 = %package.sha256, "build succeeded");
    Ok(id)
}
