//! Code packages: an uploaded zip, tar or tar.gz is checked (paths, links, size, entry point) and
//! rewritten as a plain, deterministic tar, stored content-addressed by its sha256.

mod read;

use canopy_shared::Lang;
use sha2::{Digest, Sha256};

/// Largest total size of the files in a package, uncompressed.
pub const MAX_UNPACKED_BYTES: u64 = 200 * 1024 * 1024;
/// Most files (and directories) in a package.
pub const MAX_ENTRIES: usize = 10_000;

/// Why an upload was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArchiveError {
    #[error("the body is neither a zip nor a tar.gz archive")]
    UnknownFormat,
    #[error("the archive is corrupt: {0}")]
    Corrupt(String),
    #[error("entry {0:?} has an absolute path or `..`")]
    UnsafePath(String),
    #[error(
        "entry {0:?} is a link or a special file; only regular files and directories are allowed"
    )]
    Link(String),
    #[error(
        "the archive unpacks to more than {MAX_UNPACKED_BYTES} bytes or {MAX_ENTRIES} entries"
    )]
    TooLarge,
    #[error("the archive has no {0} at its root")]
    EntryPointMissing(String),
}

impl ArchiveError {
    /// The stable API code of this refusal.
    pub fn code(&self) -> &'static str {
        match self {
            ArchiveError::UnknownFormat => "UNSUPPORTED_ARCHIVE",
            ArchiveError::Corrupt(_) => "CORRUPT_ARCHIVE",
            ArchiveError::UnsafePath(_) | ArchiveError::Link(_) => "UNSAFE_ARCHIVE",
            ArchiveError::TooLarge => "ARCHIVE_TOO_LARGE",
            ArchiveError::EntryPointMissing(_) => "ENTRY_POINT_MISSING",
        }
    }
}

/// A checked code package.
#[derive(Debug)]
pub struct CodePackage {
    /// Plain tar: sorted entries, fixed owners and times.
    pub tar: Vec<u8>,
    pub sha256: String,
    pub files: usize,
    pub unpacked_bytes: u64,
    pub entry_point: String,
    pub format: &'static str,
}

/// The file a runtime loads (or compiles first) for a language (docs/runtime-contract.md).
pub fn entry_point(lang: Lang) -> &'static str {
    match lang {
        Lang::Go => "handler.go",
        Lang::Py => "handler.py",
        Lang::Js => "handler.js",
        Lang::Cs => "Handler.cs",
        Lang::Rb => "handler.rb",
        Lang::Rs => "handler.rs",
    }
}

pub(crate) struct File {
    path: String,
    executable: bool,
    data: Vec<u8>,
}

/// Checks an upload and turns it into a code package for `lang`.
pub fn package(bytes: &[u8], lang: Lang) -> Result<CodePackage, ArchiveError> {
    let entry = entry_point(lang);
    package_with(bytes, &[entry.to_owned()], Vec::new())
}

/// Checks an upload (zip, tar or tar.gz) whose entry point is the first of `entries` present, and
/// adds `extra` files (path, content) to it, replacing any upload file of the same path.
pub fn package_with(
    bytes: &[u8],
    entries: &[String],
    extra: Vec<(String, Vec<u8>)>,
) -> Result<CodePackage, ArchiveError> {
    let (format, mut files) =
        if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
            ("zip", read::zip(bytes)?)
        } else if bytes.starts_with(&[0x1f, 0x8b]) {
            ("tar.gz", read::tar(flate2::read::GzDecoder::new(bytes))?)
        } else if bytes.get(257..262) == Some(b"ustar".as_slice()) {
            ("tar", read::tar(bytes)?)
        } else {
            return Err(ArchiveError::UnknownFormat);
        };
    let entry = entries
        .iter()
        .find(|entry| strip_single_top_directory(&mut files, entry))
        .ok_or_else(|| {
            ArchiveError::EntryPointMissing(entries.first().cloned().unwrap_or_default())
        })?
        .clone();
    files.retain(|file| !extra.iter().any(|(path, _)| *path == file.path));
    files.extend(extra.into_iter().map(|(path, data)| File {
        path,
        executable: false,
        data,
    }));
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let unpacked_bytes = files.iter().map(|file| file.data.len() as u64).sum();
    let tar = write_tar(&files).map_err(|error| ArchiveError::Corrupt(error.to_string()))?;
    let sha256 = hex::encode(Sha256::digest(&tar));
    Ok(CodePackage {
        tar,
        sha256,
        files: files.len(),
        unpacked_bytes,
        entry_point: entry,
        format,
    })
}

/// Zipping a folder often wraps it in one directory; accept `dir/handler.py` as the root. True
/// when `entry` is then at the root.
fn strip_single_top_directory(files: &mut [File], entry: &str) -> bool {
    if files.iter().any(|file| file.path == entry) {
        return true;
    }
    let Some(top) = files
        .first()
        .and_then(|file| file.path.split_once('/'))
        .map(|(top, _)| format!("{top}/"))
    else {
        return false;
    };
    let wrapped = files.iter().all(|file| file.path.starts_with(&top))
        && files
            .iter()
            .any(|file| file.path == format!("{top}{entry}"));
    if wrapped {
        for file in files.iter_mut() {
            file.path = file.path[top.len()..].to_owned();
        }
    }
    wrapped
}

fn write_tar(files: &[File]) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for file in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(file.data.len() as u64);
        header.set_mode(if file.executable { 0o755 } else { 0o644 });
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, &file.path, file.data.as_slice())?;
    }
    builder.into_inner()
}

#[cfg(test)]
mod tests;
