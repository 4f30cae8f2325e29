//! Packing a function's folder as the tar.gz `POST /v1/build/{id}` takes: files sorted, paths
//! relative, times zeroed so the same code packs to the same bytes, `.canopyignore` honoured.

use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;

use crate::error::{CliError, CliResult};
use crate::ignore::{IgnoreRules, IGNORE_FILE};

/// A packed folder.
#[derive(Debug)]
pub struct Packed {
    pub archive: Vec<u8>,
    /// Relative paths of the files packed, in order.
    pub files: Vec<String>,
    /// Links left out: the API refuses archives with links.
    pub skipped_links: Vec<String>,
}

/// Packs `dir` without what its `.canopyignore` (and the built-in rules) leave out.
pub fn pack(dir: &Path) -> CliResult<Packed> {
    let rules = match std::fs::read_to_string(dir.join(IGNORE_FILE)) {
        Ok(text) => IgnoreRules::parse(&text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => IgnoreRules::parse(""),
        Err(error) => return Err(CliError::io(format!("reading {IGNORE_FILE}"))(error)),
    };
    let mut files = Vec::new();
    let mut skipped_links = Vec::new();
    walk(dir, "", &rules, &mut files, &mut skipped_links)?;
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    for relative in &files {
        let path = dir.join(relative);
        let data =
            std::fs::read(&path).map_err(CliError::io(format!("reading {}", path.display())))?;
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(if is_executable(&path) { 0o755 } else { 0o644 });
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, relative, data.as_slice())
            .map_err(CliError::io(format!("packing {relative}")))?;
    }
    let archive = builder
        .into_inner()
        .and_then(GzEncoder::finish)
        .map_err(CliError::io("finishing the archive"))?;
    Ok(Packed {
        archive,
        files,
        skipped_links,
    })
}

fn walk(
    root: &Path,
    prefix: &str,
    rules: &IgnoreRules,
    files: &mut Vec<String>,
    links: &mut Vec<String>,
) -> CliResult<()> {
    let dir = root.join(prefix);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .map_err(CliError::io(format!("listing {}", dir.display())))?
        .collect::<Result<_, _>>()
        .map_err(CliError::io(format!("listing {}", dir.display())))?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        let relative = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let kind = entry
            .file_type()
            .map_err(CliError::io(format!("reading {relative}")))?;
        if rules.is_ignored(&relative, kind.is_dir()) {
            continue;
        }
        if kind.is_symlink() {
            links.push(relative);
        } else if kind.is_dir() {
            walk(root, &relative, rules, files, links)?;
        } else if kind.is_file() {
            files.push(relative);
        }
    }
    Ok(())
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|meta| meta.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_: &Path) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn entries(archive: &[u8]) -> Vec<(String, String)> {
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
        let mut out = Vec::new();
        for entry in tar.entries().expect("entries") {
            let mut entry = entry.expect("entry");
            let path = entry.path().expect("path").to_string_lossy().into_owned();
            let mut text = String::new();
            entry.read_to_string(&mut text).expect("text");
            out.push((path, text));
        }
        out
    }

    #[test]
    fn a_folder_packs_without_ignored_files_and_the_same_code_packs_the_same() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        std::fs::write(root.join("handler.py"), "def handle(r): pass\n").expect("w");
        std::fs::write(root.join(".canopy.toml"), "id = \"x\"\n").expect("w");
        std::fs::write(root.join(IGNORE_FILE), "*.log\nbuild/\n").expect("w");
        std::fs::write(root.join("debug.log"), "noise").expect("w");
        std::fs::create_dir_all(root.join("lib/build")).expect("d");
        std::fs::write(root.join("lib/util.py"), "X = 1\n").expect("w");
        std::fs::write(root.join("lib/build/out.bin"), "bin").expect("w");

        let packed = pack(root).expect("packed");
        assert_eq!(packed.files, vec!["handler.py", "lib/util.py"]);
        assert_eq!(
            entries(&packed.archive),
            vec![
                ("handler.py".into(), "def handle(r): pass\n".into()),
                ("lib/util.py".into(), "X = 1\n".into())
            ]
        );
        assert_eq!(pack(root).expect("again").archive, packed.archive);
    }

    #[cfg(unix)]
    #[test]
    fn links_are_left_out_and_reported() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("handler.py"), "x").expect("w");
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("passwd")).expect("link");
        let packed = pack(dir.path()).expect("packed");
        assert_eq!(packed.files, vec!["handler.py"]);
        assert_eq!(packed.skipped_links, vec!["passwd"]);
    }
}
