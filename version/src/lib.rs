//! The version line of the Canopy binaries: the crate version and the git commit they were
//! built from (`unknown` when built without git and without `CANOPY_GIT_COMMIT`).

/// The git commit, short form, or `unknown`.
pub const COMMIT: &str = env!("CANOPY_GIT_COMMIT");

/// What `--version` prints after the binary's name, e.g. `0.1.0 (commit 1a2b3c4)`.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("CANOPY_GIT_COMMIT"),
    ")"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_line_names_the_crate_version_and_the_commit() {
        assert!(VERSION.starts_with(env!("CARGO_PKG_VERSION")));
        assert!(VERSION.ends_with(&format!("(commit {COMMIT})")));
        assert!(!COMMIT.is_empty());
    }
}
