//! Records the git commit the binaries are built from, as `CANOPY_GIT_COMMIT`.
//!
//! Order: the `CANOPY_GIT_COMMIT` variable (image builds pass it, having no `.git`), then
//! `git rev-parse --short HEAD`, then "unknown" (a source tarball, no git installed).
//! Only this small crate reruns when HEAD moves, so a commit relinks the binaries without
//! recompiling the dispatcher's or the worker's library.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

fn main() {
    println!("cargo:rerun-if-env-changed=CANOPY_GIT_COMMIT");
    let from_env = std::env::var("CANOPY_GIT_COMMIT")
        .ok()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty());
    let commit = from_env
        .or_else(|| git(&["rev-parse", "--short", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=CANOPY_GIT_COMMIT={commit}");

    // A new commit changes the branch's ref (a checkout changes HEAD itself); worktrees keep
    // HEAD in their own git dir and refs in the common one, which --git-path resolves.
    let mut watched = vec!["HEAD".to_owned(), "packed-refs".to_owned()];
    if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(reference);
    }
    for name in watched {
        if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
            if Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
}
