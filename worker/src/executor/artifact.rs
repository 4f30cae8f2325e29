//! Code packages: fetched from the dispatcher by sha256 with the node token, verified, cached as
//! `artifacts/<sha256>.tar`, and extracted (safely, world-readable) to `code/<sha256>/`.

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use std::sync::Arc;

use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use super::artifact_cache::{self, CodeLease, Usage};
use crate::config::Secret;

/// Largest code package accepted.
pub const MAX_ARTIFACT_BYTES: u64 = 256 * 1024 * 1024;

/// Why a code package cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("`{0}` is not a sha256 (64 lowercase hex)")]
    BadHash(String),
    #[error("artifact {0} is unknown to every dispatcher")]
    NotFound(String),
    #[error("artifact download failed: {0}")]
    Download(String),
    #[error("artifact is larger than {MAX_ARTIFACT_BYTES} bytes")]
    TooLarge,
    #[error("artifact hash mismatch: expected {expected}, got {actual}")]
    HashMismatch { expected: String, actual: String },
    #[error("unsafe entry in code package: {0}")]
    UnsafeEntry(String),
    #[error("cannot store artifact: {0}")]
    Io(#[from] std::io::Error),
}

/// Checks that `data` hashes to `expected` (hex).
pub fn verify_sha256(data: &[u8], expected: &str) -> Result<(), ArtifactError> {
    let actual = hex::encode(Sha256::digest(data));
    if actual == expected {
        Ok(())
    } else {
        Err(ArtifactError::HashMismatch {
            expected: expected.to_owned(),
            actual,
        })
    }
}

fn check_hash(sha256: &str) -> Result<(), ArtifactError> {
    let valid = sha256.len() == 64
        && sha256
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if valid {
        Ok(())
    } else {
        Err(ArtifactError::BadHash(sha256.to_owned()))
    }
}

/// Extracts a plain tar into `dest`, refusing absolute paths, `..`, links and special files,
/// and making everything world-readable (the container runs as 65534).
pub fn extract_tar(reader: impl Read, dest: &Path) -> Result<(), ArtifactError> {
    fs::create_dir_all(dest)?;
    fs::set_permissions(dest, fs::Permissions::from_mode(0o755))?;
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        let shown = path.display().to_string();
        if path
            .components()
            .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(ArtifactError::UnsafeEntry(shown));
        }
        let target = dest.join(&path);
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            fs::create_dir_all(&target)?;
            fs::set_permissions(&target, fs::Permissions::from_mode(0o755))?;
        } else if kind.is_file() {
            if let Some(parent) = target.parent() {
                fs::create_dir_all(parent)?;
            }
            let executable = entry.header().mode().unwrap_or(0o644) & 0o111 != 0;
            entry.unpack(&target)?;
            let mode = if executable { 0o755 } else { 0o644 };
            fs::set_permissions(&target, fs::Permissions::from_mode(mode))?;
        } else {
            return Err(ArtifactError::UnsafeEntry(format!(
                "{shown} ({kind:?} is not a regular file or directory)"
            )));
        }
    }
    Ok(())
}

/// The on-disk artifact cache and its downloader.
#[derive(Debug)]
pub struct ArtifactStore {
    root: PathBuf,
    http: reqwest::Client,
    dispatchers: Vec<String>,
    token: Secret,
    /// Serializes downloads, extractions and trims (cache hits skip it).
    fill: Mutex<()>,
    usage: Arc<Usage>,
    /// Disk the cache may take (bytes) before unused packages are removed.
    budget: u64,
}

/// A package's extracted code and the lease that keeps it in the cache.
#[derive(Debug)]
pub struct LeasedCode {
    pub path: PathBuf,
    pub lease: CodeLease,
}

impl ArtifactStore {
    /// A cache under `root` that downloads from the dispatcher base URLs in order (no budget).
    pub fn new(
        root: PathBuf,
        http: reqwest::Client,
        dispatchers: Vec<String>,
        token: Secret,
    ) -> Self {
        ArtifactStore {
            root,
            http,
            dispatchers,
            token,
            fill: Mutex::new(()),
            usage: Arc::default(),
            budget: u64::MAX,
        }
    }

    /// Keeps the cache within `mb` megabytes (least recently used unused packages go first).
    pub fn with_budget_mb(mut self, mb: u64) -> Self {
        self.budget = mb.saturating_mul(1024 * 1024);
        self
    }

    /// The extracted code directory of `sha256`, downloading and extracting it when missing,
    /// with a lease that keeps it in the cache while held.
    pub async fn code_dir(&self, sha256: &str) -> Result<LeasedCode, ArtifactError> {
        check_hash(sha256)?;
        let lease = self.usage.lease(sha256);
        let code = self.root.join("code").join(sha256);
        if code.is_dir() {
            return Ok(LeasedCode { path: code, lease });
        }
        let _guard = self.fill.lock().await;
        if code.is_dir() {
            return Ok(LeasedCode { path: code, lease });
        }
        let tar_path = self.root.join("artifacts").join(format!("{sha256}.tar"));
        let cached = fs::File::open(&tar_path)
            .and_then(|file| sha256_of(file).map_err(std::io::Error::other))
            .is_ok_and(|(actual, _)| actual == sha256);
        if !cached {
            self.download(sha256, &tar_path).await?;
        }
        let staging = self.root.join("code").join(format!(".{sha256}.partial"));
        let _ = fs::remove_dir_all(&staging);
        let extracted = fs::File::open(&tar_path)
            .map_err(ArtifactError::from)
            .and_then(|file| extract_tar(std::io::BufReader::new(file), &staging))
            .and_then(|()| {
                fs::rename(&staging, &code)?;
                Ok(())
            });
        if extracted.is_err() {
            let _ = fs::remove_dir_all(&staging);
        }
        extracted?;
        if let Err(error) = self.trim_locked() {
            tracing::warn!(%error, "could not trim the code package cache");
        }
        Ok(LeasedCode { path: code, lease })
    }

    /// Removes least recently used packages that nothing holds until the cache fits its budget;
    /// returns how many bytes it takes afterwards.
    pub async fn trim(&self) -> std::io::Result<u64> {
        let _guard = self.fill.lock().await;
        self.trim_locked()
    }

    fn trim_locked(&self) -> std::io::Result<u64> {
        let cached = artifact_cache::scan(&self.root, &self.usage)?;
        let mut total: u64 = cached.iter().map(|entry| entry.bytes).sum();
        let usage = &self.usage;
        for entry in artifact_cache::to_evict(cached, self.budget, &|sha| usage.in_use(sha)) {
            let removed = usage.remove_unless_leased(&entry.sha256, || {
                artifact_cache::remove(&self.root, &entry.sha256)
            })?;
            if removed {
                total -= entry.bytes;
                tracing::info!(artifact.sha256 = %entry.sha256, bytes = entry.bytes, "removed from the code cache");
            }
        }
        Ok(total)
    }

    /// Streams the package to `tar_path` (through a temp file), hashing and counting as it
    /// arrives, so a download holds one chunk in memory.
    async fn download(&self, sha256: &str, tar_path: &Path) -> Result<(), ArtifactError> {
        let mut last = ArtifactError::NotFound(sha256.to_owned());
        for base in &self.dispatchers {
            let url = format!("{base}/v1/worker/artifact/{sha256}");
            let response = self
                .http
                .get(&url)
                .bearer_auth(self.token.expose())
                .send()
                .await;
            match response {
                Ok(response) if response.status().is_success() => {
                    return save_verified(response, sha256, tar_path).await;
                }
                Ok(response) if response.status() == reqwest::StatusCode::NOT_FOUND => {
                    last = ArtifactError::NotFound(sha256.to_owned());
                }
                Ok(response) => {
                    last = ArtifactError::Download(format!("{url}: HTTP {}", response.status()));
                }
                Err(error) => last = ArtifactError::Download(format!("{url}: {error}")),
            }
        }
        Err(last)
    }
}

impl ArtifactStore {
    /// Uploads a compile job's package (`PUT /v1/worker/compile/{buildId}?sha256=`), trying the
    /// dispatchers in order.
    pub async fn upload_compiled(&self, build_id: &str, tar: Vec<u8>) -> Result<(), ArtifactError> {
        let sha256 = hex::encode(Sha256::digest(&tar));
        self.answer_compile(|http, base| {
            http.put(format!(
                "{base}/v1/worker/compile/{build_id}?sha256={sha256}"
            ))
            .header("content-type", "application/x-tar")
            .body(tar.clone())
        })
        .await
    }

    /// Reports a compile job's failure with the compiler's output.
    pub async fn report_compile_failure(
        &self,
        build_id: &str,
        log: &str,
    ) -> Result<(), ArtifactError> {
        let body = serde_json::json!({ "log": log });
        self.answer_compile(|http, base| {
            http.post(format!("{base}/v1/worker/compile/{build_id}/failure"))
                .json(&body)
        })
        .await
    }

    /// Sends the request `make` builds to the first dispatcher that answers it.
    async fn answer_compile(
        &self,
        make: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    ) -> Result<(), ArtifactError> {
        let mut last = ArtifactError::Download("no dispatcher".to_owned());
        for base in &self.dispatchers {
            let response = make(&self.http, base)
                .bearer_auth(self.token.expose())
                .send()
                .await;
            match response {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => {
                    let status = response.status();
                    let body = response.text().await.unwrap_or_default();
                    // The dispatcher judged the answer: another one would judge the same.
                    return Err(ArtifactError::Download(format!(
                        "{base}: HTTP {status}: {body}"
                    )));
                }
                Err(error) => last = ArtifactError::Download(format!("{base}: {error}")),
            }
        }
        Err(last)
    }
}

/// Writes the response body to `tar_path` once it is complete, within the size limit and of
/// the expected hash; nothing is left behind otherwise.
async fn save_verified(
    mut response: reqwest::Response,
    sha256: &str,
    tar_path: &Path,
) -> Result<(), ArtifactError> {
    if response.content_length().unwrap_or(0) > MAX_ARTIFACT_BYTES {
        return Err(ArtifactError::TooLarge);
    }
    if let Some(parent) = tar_path.parent() {
        fs::create_dir_all(parent)?;
    }
    let temp = tar_path.with_extension(format!("tar.{}.partial", std::process::id()));
    let written = async {
        let mut file = tokio::fs::File::create(&temp).await?;
        let mut hasher = Sha256::new();
        let mut size: u64 = 0;
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| ArtifactError::Download(e.to_string()))?
        {
            size += chunk.len() as u64;
            if size > MAX_ARTIFACT_BYTES {
                return Err(ArtifactError::TooLarge);
            }
            hasher.update(&chunk);
            file.write_all(&chunk).await?;
        }
        file.flush().await?;
        let actual = hex::encode(hasher.finalize());
        if actual != sha256 {
            return Err(ArtifactError::HashMismatch {
                expected: sha256.to_owned(),
                actual,
            });
        }
        tokio::fs::rename(&temp, tar_path).await?;
        Ok(())
    }
    .await;
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

/// The hex sha256 and length of everything `reader` yields.
pub fn sha256_of(mut reader: impl Read) -> Result<(String, u64), ArtifactError> {
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut reader, &mut hasher)?;
    Ok((hex::encode(hasher.finalize()), size))
}

#[cfg(test)]
#[path = "artifact_tests.rs"]
mod tests;
