use super::*;
use std::io::{Cursor, Write};

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
        (first.files, first.entry_point.as_str(), first.format),
        (2, "handler.py", "zip")
    );
    let again = package(&zip, Lang::Py).expect("valid");
    assert_eq!(first.sha256, again.sha256, "same content, same address");
    let mut archive = tar::Archive::new(first.open_tar().expect("tar"));
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
        Some(ArchiveError::EntryPointMissing("handler.py".into()))
    );
    assert_eq!(
        package(b"just text", Lang::Py).err(),
        Some(ArchiveError::UnknownFormat)
    );
    assert_eq!(
        package(&zip_of(&[("main.go", b"")]), Lang::Go).err(),
        Some(ArchiveError::EntryPointMissing("handler.go".into()))
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

#[test]
fn a_plain_tar_with_another_entry_point_gets_the_extra_files() {
    let body = b"def handler(params, context):\n    return 1\n";
    let mut builder = tar::Builder::new(Vec::new());
    for path in ["pkg/isprime.py", "pkg/.canopy/serverledge.json"] {
        builder
            .append_data(&mut file_header(body.len()), path, &body[..])
            .expect("file");
    }
    let tar = builder.into_inner().expect("tar");
    let manifest = (".canopy/serverledge.json".to_owned(), b"{}".to_vec());
    let entries = ["isprime/__init__.py".to_owned(), "isprime.py".to_owned()];
    let package = package_with(&tar, &entries, vec![manifest]).expect("valid");
    assert_eq!(
        (package.format, package.entry_point.as_str(), package.files),
        ("tar", "isprime.py", 2),
        "the wrapping directory is stripped and the upload's own manifest replaced"
    );
    assert_eq!(package.unpacked_bytes, body.len() as u64 + 2);
    assert_eq!(
        package_with(&tar, &["other.py".to_owned()], Vec::new()).err(),
        Some(ArchiveError::EntryPointMissing("other.py".into()))
    );
}
