//! Reading uploads: zip, tar and tar.gz, with the path, link and size checks.

use std::io::{BufReader, Read, Seek, Write};
use std::path::Path;

use super::{ArchiveError, Data, File, MAX_ENTRIES, MAX_UNPACKED_BYTES};

/// A relative, normalised path, or an error for absolute paths and `..`.
pub(super) fn clean_path(raw: &str) -> Result<Option<String>, ArchiveError> {
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

/// Copies an entry's content to a new spill file within the remaining unpacked `budget`.
fn spill_limited(
    reader: impl Read,
    budget: &mut u64,
    spill: &Path,
    index: usize,
) -> Result<Data, ArchiveError> {
    let path = spill.join(index.to_string());
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(&path).map_err(|error| ArchiveError::Storage(error.to_string()))?,
    );
    let len = std::io::copy(&mut reader.take(*budget + 1), &mut file)
        .map_err(|error| ArchiveError::Corrupt(error.to_string()))?;
    file.flush()
        .map_err(|error| ArchiveError::Storage(error.to_string()))?;
    *budget = budget.checked_sub(len).ok_or(ArchiveError::TooLarge)?;
    Ok(Data::Spilled { path, len })
}

pub(super) fn zip(upload: impl Read + Seek, spill: &Path) -> Result<Vec<File>, ArchiveError> {
    let mut archive = zip::ZipArchive::new(BufReader::new(upload))
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
        let data = spill_limited(file, &mut budget, spill, index)?;
        files.push(File {
            path,
            executable: mode & 0o111 != 0,
            data,
        });
    }
    Ok(files)
}

/// A tar stream, compressed or not.
pub(super) fn tar(stream: impl Read, spill: &Path) -> Result<Vec<File>, ArchiveError> {
    let corrupt = |error: std::io::Error| ArchiveError::Corrupt(error.to_string());
    let mut archive = ::tar::Archive::new(stream);
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
        let data = spill_limited(entry, &mut budget, spill, index)?;
        files.push(File {
            path,
            executable,
            data,
        });
    }
    Ok(files)
}
