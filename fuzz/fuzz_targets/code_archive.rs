//! The code archive reader (zip, tar, tar.gz uploads and Serverledge's `TarFunctionCode`) never
//! panics on any bytes, and a package it accepts is accepted again, unchanged: its own output
//! is a valid upload with the same hash.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;

#[path = "../../dispatcher/src/domain/archive/mod.rs"]
#[allow(dead_code)]
mod archive;

fuzz_target!(|bytes: &[u8]| {
    let entries = ["handler.py".to_owned(), "index.js".to_owned()];
    let Ok(package) = archive::package_with(bytes, &entries, Vec::new()) else {
        return;
    };
    let mut tar = Vec::new();
    package
        .open_tar()
        .and_then(|mut file| file.read_to_end(&mut tar))
        .expect("the package reads back");
    let again = archive::package_with(&tar, &entries, Vec::new())
        .expect("an accepted package is a valid upload");
    assert_eq!(again.sha256, package.sha256);
    assert_eq!(again.files, package.files);
});
