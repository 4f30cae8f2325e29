//! Code packages: an uploaded zip or tar.gz is checked (paths, links, size, entry point) and
//! rewritten as a plain, deterministic tar, stored content-addressed by its sha256.

use std::io::{Cursor, Read};

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
    EntryPointMissing(&'static str),
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
    pub entry_point: &'static str,
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

struct File {
    path: String,
    executable: bool,
    data: Vec<u8>,
}

/// Checks an upload and turns it into a code package for `lang`.
pub fn package(bytes: &[u8], lang: Lang) -> Result<CodePackage, ArchiveError> {
    let entry = entry_point(lang);
    let (format, mut files) =
        if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
            ("zip", read_zip(bytes)?)
        } else if bytes.starts_with(&[0x1f, 0x8b]) {
            ("tar.gz", read_tar_gz(bytes)?)
        } else {
            return Err(ArchiveError::UnknownFormat);
        };
    strip_single_top_directory(&mut files, entry);
    if !files.iter().any(|file| file.path == entry) {
        return Err(ArchiveError::EntryPointMissing(entry));
    }
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

/// A relative, normalised path, or an error for absolute paths and `..`.
fn clean_path(raw: &str) -> Result<Option<String>, ArchiveError> {
    let unsafe_path = || ArchiveError::UnsafePath(raw.to_owned());
    if raw.starts_with('/')
        || raw.starts_with('\\')
        || raw.contains('\0')
        || raw.get(1..2) == Some(":")
    {
        return Err(unsafe_path());
    }
    let mut parts = Vec::new();
    for part in raw.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => return Err(unsafe_path()),
            other => parts.push(other),
        }
    }
    Ok((!parts.is_empty()).then(|| parts.join("/")))
}

fn read_limited(reader: impl Read, budget: &mut u64) -> Result<Vec<u8>, ArchiveError> {
    let mut data = Vec::new();
    reader
        .take(*budget + 1)
        .read_to_end(&mut data)
        .map_err(|error| ArchiveError::Corrupt(error.to_string()))?;
    *budget = budget
        .checked_sub(data.len() as u64)
        .ok_or(ArchiveError::TooLarge)?;
    Ok(data)
}

fn read_zip(bytes: &[u8]) -> Result<Vec<File>, ArchiveError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|error| ArchiveError::Corrupt(error.to_string()))?;
    if archive.len() > MAX_ENTRIES {
        return Err(ArchiveError::TooLarge);
    }
    let mut budget = MAX_UNPACKED_BYTES;
    let mut files = Vec::new();
    for index in 0..archive.len() {
        let file = archive
            .by_index(index)
            .map_err(|error| ArchiveError::Corrupt(error.to_string()))?;
        let name = file.name().to_owned();
        let mode = file.unix_mode().unwrap_or(0);
        if mode & 0o170000 == 0o120000 {
            return Err(ArchiveError::Link(name));
        }
        let path = clean_path(&name)?;
        if file.is_dir() {
            continue;
        }
        let Some(path) = path else { continue };
        let data = read_limited(file, &mut budget)?;
        files.push(File {
            path,
            executable: mode & 0o111 != 0,
            data,
        });
    }
    Ok(files)
}

fn read_tar_gz(bytes: &[u8]) -> Result<Vec<File>, ArchiveError> {
    let corrupt = |error: std::io::Error| ArchiveError::Corrupt(error.to_string());
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut budget = MAX_UNPACKED_BYTES;
    let mut files = Vec::new();
    for (index, entry) in archive.entries().map_err(corrupt)?.enumerate() {
        if index >= MAX_ENTRIES {
            return Err(ArchiveError::TooLarge);
        }
        let entry = entry.map_err(corrupt)?;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let kind = entry.header().entry_type();
        let path = clean_path(&name)?;
        if kind.is_dir()
            || kind.is_pax_global_extensions()
            || kind.is_pax_local_extensions()
            || kind.is_gnu_longname()
        {
            continue;
        }
        if !kind.is_file() {
            return Err(ArchiveError::Link(name));
        }
        let executable = entry.header().mode().is_ok_and(|mode| mode & 0o111 != 0);
        let Some(path) = path else { continue };
        let data = read_limited(entry, &mut budget)?;
        files.push(File {
            path,
            executable,
            data,
        });
    }
    Ok(files)
}

/// Zipping a folder often wraps it in one directory; accept `dir/handler.py` as the root.
fn strip_single_top_directory(files: &mut [File], entry: &str) {
    if files.iter().any(|file| file.path == entry) {
        return;
    }
    let Some(top) = files
        .first()
        .and_then(|file| file.path.split_once('/'))
        .map(|(top, _)| format!("{top}/"))
    else {
        return;
    };
    if files.iter().all(|file| file.path.starts_with(&top))
        && files
            .iter()
            .any(|file| file.path == format!("{top}{entry}"))
    {
        for file in files.iter_mut() {
            file.path = file.path[top.len()..].to_owned();
        }
    }
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
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, data) in entries {
            writer
                .start_file(*name, zip::write::SimpleFileOptions::default())
                .expect("start");
            writer.write_all(data).expect("write");
        }
        writer.finish().expect("finish").into_inner()
    }

    fn tar_gz_of(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        build(&mut builder);
        let tar = builder.into_inner().expect("tar");
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&tar).expect("gz");
        encoder.finish().expect("gz")
    }

    fn file_header(size: usize) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_size(size as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header
    }

    #[test]
    fn a_zip_with_the_entry_point_becomes_a_deterministic_tar() {
        let zip = zip_of(&[
            ("handler.py", b"def handle(r): return 'hi'"),
            ("lib/util.py", b"X = 1"),
        ]);
        let first = package(&zip, Lang::Py).expect("valid");
        assert_eq!(
            (first.files, first.entry_point, first.format),
            (2, "handler.py", "zip")
        );
        let again = package(&zip, Lang::Py).expect("valid");
        assert_eq!(first.sha256, again.sha256, "same content, same address");
        let mut archive = tar::Archive::new(first.tar.as_slice());
        let names: Vec<String> = archive
            .entries()
            .expect("entries")
            .map(|e| {
                e.expect("entry")
                    .path()
                    .expect("path")
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(names, vec!["handler.py", "lib/util.py"]);
    }

    #[test]
    fn a_single_wrapping_directory_is_stripped() {
        let zip = zip_of(&[
            ("myfn/handler.js", b"module.exports = () => 1"),
            ("myfn/package.json", b"{}"),
        ]);
        assert_eq!(package(&zip, Lang::Js).expect("valid").files, 2);
    }

    #[test]
    fn parent_and_absolute_paths_are_refused() {
        let zip = zip_of(&[("handler.py", b""), ("../evil.py", b"")]);
        assert_eq!(
            package(&zip, Lang::Py).err(),
            Some(ArchiveError::UnsafePath("../evil.py".into()))
        );
        let zip = zip_of(&[("handler.py", b""), ("/etc/passwd", b"")]);
        assert_eq!(
            package(&zip, Lang::Py).err().map(|e| e.code()),
            Some("UNSAFE_ARCHIVE")
        );
    }

    #[test]
    fn links_in_a_tar_gz_are_refused() {
        let archive = tar_gz_of(|builder| {
            let mut header = file_header(0);
            builder
                .append_data(&mut header, "handler.py", &b""[..])
                .expect("file");
            let mut link = tar::Header::new_gnu();
            link.set_entry_type(tar::EntryType::Symlink);
            link.set_size(0);
            builder
                .append_link(&mut link, "secrets", "/etc/shadow")
                .expect("link");
        });
        assert_eq!(
            package(&archive, Lang::Py).err(),
            Some(ArchiveError::Link("secrets".into()))
        );
    }

    #[test]
    fn a_tar_gz_with_the_entry_point_is_accepted() {
        let body = b"def handle(r):\n    return 1\n";
        let archive = tar_gz_of(|builder| {
            let mut header = file_header(body.len());
            builder
                .append_data(&mut header, "./handler.py", &body[..])
                .expect("file");
        });
        let package = package(&archive, Lang::Py).expect("valid");
        assert_eq!(
            (package.files, package.format, package.unpacked_bytes),
            (1, "tar.gz", body.len() as u64)
        );
    }

    #[test]
    fn missing_entry_points_and_unknown_formats_are_refused() {
        let zip = zip_of(&[("main.py", b"")]);
        assert_eq!(
            package(&zip, Lang::Py).err(),
            Some(ArchiveError::EntryPointMissing("handler.py"))
        );
        assert_eq!(
            package(b"just text", Lang::Py).err(),
            Some(ArchiveError::UnknownFormat)
        );
        assert_eq!(
            package(&zip_of(&[("main.go", b"")]), Lang::Go).err(),
            Some(ArchiveError::EntryPointMissing("handler.go"))
        );
        assert_eq!(
            package(&zip_of(&[("handler.rs", b"")]), Lang::Rs)
                .expect("valid")
                .entry_point,
            "handler.rs"
        );
        let truncated = &zip_of(&[("handler.py", b"x")])[..20];
        assert_eq!(
            package(truncated, Lang::Py).err().map(|e| e.code()),
            Some("CORRUPT_ARCHIVE")
        );
    }
}
