//! Code packages: an uploaded zip, tar or tar.gz is checked (paths, links, size, entry point) and
//! rewritten as a plain, deterministic tar, stored content-addressed by its sha256. Contents go
//! through temporary files, never whole into memory.

mod read;

use std::io::{BufReader, BufWriter, Cursor, Read, Seek, SeekFrom, Write};

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
    /// The dispatcher's own disk failed (not the upload's fault).
    #[error("cannot spool the upload: {0}")]
    Storage(String),
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
            ArchiveError::Storage(_) => "INTERNAL",
        }
    }
}

/// A checked code package.
#[derive(Debug)]
pub struct CodePackage {
    /// Plain tar (sorted entries, fixed owners and times) in an unnamed temporary file.
    pub tar: std::fs::File,
    /// Length of the tar in bytes.
    pub size: u64,
    pub sha256: String,
    pub files: usize,
    pub unpacked_bytes: u64,
    pub entry_point: String,
    pub format: &'static str,
}

impl CodePackage {
    /// The tar from its first byte.
    pub fn open_tar(&self) -> std::io::Result<std::fs::File> {
        let mut tar = self.tar.try_clone()?;
        tar.seek(SeekFrom::Start(0))?;
        Ok(tar)
    }
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

/// A file of the package: its content waits on disk (spilled while the upload was read) or,
/// for the small files the dispatcher adds, in memory.
pub(crate) struct File {
    path: String,
    executable: bool,
    data: Data,
}

pub(crate) enum Data {
    Spilled { path: std::path::PathBuf, len: u64 },
    Inline(Vec<u8>),
}

impl Data {
    fn len(&self) -> u64 {
        match self {
            Data::Spilled { len, .. } => *len,
            Data::Inline(data) => data.len() as u64,
        }
    }
}

/// Checks an upload held in memory and turns it into a code package for `lang`.
pub fn package(bytes: &[u8], lang: Lang) -> Result<CodePackage, ArchiveError> {
    package_from(Cursor::new(bytes), lang)
}

/// Checks an upload (a spooled file, say) and turns it into a code package for `lang`.
pub fn package_from(upload: impl Read + Seek, lang: Lang) -> Result<CodePackage, ArchiveError> {
    let entry = entry_point(lang);
    package_with_from(upload, &[entry.to_owned()], Vec::new())
}

/// [`package_with_from`] of an upload held in memory.
pub fn package_with(
    bytes: &[u8],
    entries: &[String],
    extra: Vec<(String, Vec<u8>)>,
) -> Result<CodePackage, ArchiveError> {
    package_with_from(Cursor::new(bytes), entries, extra)
}

/// Checks an upload (zip, tar or tar.gz) whose entry point is the first of `entries` present, and
/// adds `extra` files (path, content) to it, replacing any upload file of the same path. The
/// files are spilled to a temporary directory and the package written to a temporary file, so
/// memory holds only the entry list and I/O buffers, whatever the sizes.
pub fn package_with_from(
    mut upload: impl Read + Seek,
    entries: &[String],
    extra: Vec<(String, Vec<u8>)>,
) -> Result<CodePackage, ArchiveError> {
    let storage = |error: std::io::Error| ArchiveError::Storage(error.to_string());
    let mut head = [0u8; 262];
    let head_len = read_head(&mut upload, &mut head).map_err(storage)?;
    let head = &head[..head_len];
    upload.seek(SeekFrom::Start(0)).map_err(storage)?;
    let spill = tempfile::tempdir().map_err(storage)?;
    let (format, mut files) = if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06")
    {
        ("zip", read::zip(upload, spill.path())?)
    } else if head.starts_with(&[0x1f, 0x8b]) {
        let gz = flate2::read::GzDecoder::new(BufReader::new(upload));
        ("tar.gz", read::tar(gz, spill.path())?)
    } else if head.get(257..262) == Some(b"ustar".as_slice()) {
        ("tar", read::tar(BufReader::new(upload), spill.path())?)
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
        data: Data::Inline(data),
    }));
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let unpacked_bytes = files.iter().map(|file| file.data.len()).sum();
    let (tar, size, sha256) = write_tar(&files).map_err(storage)?;
    Ok(CodePackage {
        tar,
        size,
        sha256,
        files: files.len(),
        unpacked_bytes,
        entry_point: entry,
        format,
    })
}

fn read_head(upload: &mut impl Read, head: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < head.len() {
        match upload.read(&mut head[filled..])? {
            0 => break,
            read => filled += read,
        }
    }
    Ok(filled)
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

/// Writes the files as a tar to an unnamed temporary file, hashing it on the way; returns the
/// file (rewound), its length and its sha256.
fn write_tar(files: &[File]) -> std::io::Result<(std::fs::File, u64, String)> {
    let out = Hashing {
        inner: BufWriter::new(tempfile::tempfile()?),
        hasher: Sha256::new(),
        len: 0,
    };
    let mut builder = tar::Builder::new(out);
    for file in files {
        let mut header = tar::Header::new_ustar();
        header.set_size(file.data.len());
        header.set_mode(if file.executable { 0o755 } else { 0o644 });
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        match &file.data {
            Data::Inline(data) => builder.append_data(&mut header, &file.path, data.as_slice())?,
            Data::Spilled { path, .. } => {
                let data = BufReader::new(std::fs::File::open(path)?);
                builder.append_data(&mut header, &file.path, data)?
            }
        }
    }
    let Hashing { inner, hasher, len } = builder.into_inner()?;
    let mut tar = inner.into_inner().map_err(|error| error.into_error())?;
    tar.seek(SeekFrom::Start(0))?;
    Ok((tar, len, hex::encode(hasher.finalize())))
}

/// Counts and hashes what passes through to `inner`.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.len += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests;
