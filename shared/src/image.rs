//! Custom function images: the reference a function names (`repo[:tag][@sha256:<64 hex>]`)
//! and what a worker reports when it pins one (docs/runtime-contract.md, "Custom images").

use serde::{Deserialize, Serialize};

/// Longest image reference accepted (Docker's own limit on a repository name is 255).
pub const MAX_REFERENCE_LEN: usize = 255;

/// The image a function runs in instead of its language's runtime image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomImage {
    /// As the function names it, e.g. `registry.example:5000/team/fn:1`.
    pub reference: String,
    /// The image id (`sha256:…`) the first worker resolved the reference to; every later start
    /// must resolve to it. `None` until a worker has run the function once (or when the
    /// reference carries its own `@sha256:` digest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
}

/// What a worker resolved an unpinned reference to, reported with the attempt's result so the
/// dispatcher records it on the function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImagePin {
    pub reference: String,
    /// The local image id, `sha256:<64 hex>`.
    pub id: String,
}

/// Whether the reference carries its own digest (then it is used as is, never pinned again).
pub fn has_digest(reference: &str) -> bool {
    reference.contains("@sha256:")
}

/// Checks `repo[:tag][@sha256:<64 hex>]`; the error says what is wrong.
pub fn check_reference(reference: &str) -> Result<(), &'static str> {
    if reference.is_empty() {
        return Err("must not be empty");
    }
    if reference.len() > MAX_REFERENCE_LEN {
        return Err("must be at most 255 characters");
    }
    let name = match reference.split_once('@') {
        Some((name, digest)) => {
            let hex = digest
                .strip_prefix("sha256:")
                .ok_or("a digest must be sha256:<64 hex>")?;
            if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
                return Err("a digest must be sha256:<64 lowercase hex>");
            }
            name
        }
        None => reference,
    };
    // A tag is after the last ':' that follows the last '/' (a ':' before it is a registry port).
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    };
    if let Some(tag) = tag {
        let valid = !tag.is_empty()
            && tag.len() <= 128
            && !tag.starts_with(['.', '-'])
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !valid {
            return Err("a tag must be 1 to 128 letters, digits, '_', '.' or '-'");
        }
    }
    check_repository(repo)
}

fn check_repository(repo: &str) -> Result<(), &'static str> {
    let mut parts: Vec<&str> = repo.split('/').collect();
    // A first part with '.' or ':' or `localhost` is a registry host, when more parts follow.
    if parts.len() > 1 && (parts[0].contains(['.', ':']) || parts[0] == "localhost") {
        let host = parts.remove(0);
        let (name, port) = host.split_once(':').unwrap_or((host, "0"));
        let valid = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
            && !port.is_empty()
            && port.bytes().all(|b| b.is_ascii_digit());
        if !valid {
            return Err("the registry host must be a host name with an optional :port");
        }
    }
    for part in parts {
        if !path_component(part) {
            return Err(
                "a repository must be lowercase letters and digits, separated by '/', '.', '_' or '-'",
            );
        }
    }
    Ok(())
}

/// `[a-z0-9]+` joined by single separators (`.`, `_`, `__`, `-`…), as Docker accepts.
fn path_component(part: &str) -> bool {
    let is_alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = part.as_bytes();
    !bytes.is_empty()
        && bytes.first().copied().is_some_and(is_alnum)
        && bytes.last().copied().is_some_and(is_alnum)
        && bytes
            .iter()
            .all(|&b| is_alnum(b) || matches!(b, b'.' | b'_' | b'-'))
        && !part.contains("..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_docker_accepts_are_accepted() {
        let digest = format!("sha256:{}", "a".repeat(64));
        for good in [
            "alpine".to_owned(),
            "canopy-runtime-python:1".to_owned(),
            "team/fn_name:v1.2-rc".to_owned(),
            "registry.example:5000/team/fn:1".to_owned(),
            "localhost/fn".to_owned(),
            format!("alpine@{digest}"),
            format!("ghcr.io/x/y:2@{digest}"),
        ] {
            assert_eq!(check_reference(&good), Ok(()), "{good}");
        }
    }

    #[test]
    fn malformed_references_are_refused() {
        for bad in [
            "",
            "Upper/case",
            "fn:",
            "fn:-tag",
            "fn@sha256:abc",
            "fn@md5:0123",
            "fn:1 2",
            "/fn",
            "a//b",
            "host:port/fn",
            "fn;rm -rf",
        ] {
            assert!(check_reference(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(check_reference(&"a".repeat(256)).is_err());
    }

    #[test]
    fn only_a_sha256_digest_counts_as_one() {
        assert!(has_digest(&format!("fn@sha256:{}", "0".repeat(64))));
        assert!(!has_digest("fn:1"));
    }
}
