//! Code packages: fetched from the dispatcher by sha256 with the node token, verified, cached as
//! `artifacts/<sha256>.tar`, and extracted (safely, world-readable) to `code/<sha256>/`.

use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

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
    /// Serializes downloads and extractions (cache hits skip it).
    fill: Mutex<()>,
}

impl ArtifactStore {
    /// A cache under `root` that downloads from the dispatcher base URLs in order.
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
        }
    }

    /// The extracted code directory of `sha256`, downloading and extracting it when missing.
    pub async fn code_dir(&self, sha256: &str) -> Result<PathBuf, ArtifactError> {
        check_hash(sha256)?;
        let code = self.root.join("code").join(sha256);
        if code.is_dir() {
            return Ok(code);
        }
        let _guard = self.fill.lock().await;
        if code.is_dir() {
            return Ok(code);
        }
        let tar_path = self.root.join("artifacts").join(format!("{sha256}.tar"));
        let bytes = match fs::read(&tar_path) {
            Ok(bytes) if verify_sha256(&bytes, sha256).is_ok() => bytes,
            _ => {
                let bytes = self.download(sha256).await?;
                verify_sha256(&bytes, sha256)?;
                write_atomically(&tar_path, &bytes)?;
                bytes
            }
        };
        let staging = self.root.join("code").join(format!(".{sha256}.partial"));
        let _ = fs::remove_dir_all(&staging);
        let extracted = extract_tar(bytes.as_slice(), &staging).and_then(|()| {
            fs::rename(&staging, &code)?;
            Ok(())
        });
        if extracted.is_err() {
            let _ = fs::remove_dir_all(&staging);
        }
        extracted.map(|()| code)
    }

    async fn download(&self, sha256: &str) -> Result<Vec<u8>, ArtifactError> {
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
                    if response.content_length().unwrap_or(0) > MAX_ARTIFACT_BYTES {
                        return Err(ArtifactError::TooLarge);
                    }
                    let bytes = response
                        .bytes()
                        .await
                        .map_err(|e| ArtifactError::Download(e.to_string()))?;
                    if bytes.len() as u64 > MAX_ARTIFACT_BYTES {
                        return Err(ArtifactError::TooLarge);
                    }
                    return Ok(bytes.to_vec());
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

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let temp = path.with_extension(format!("tar.{}.partial", std::process::id()));
    fs::write(&temp, bytes)?;
    fs::rename(&temp, path)
}

#[cfg(test)]
#[path = "artifact_tests.rs"]
mod tests;
