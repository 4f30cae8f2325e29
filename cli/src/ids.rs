//! Ids on the command line go into URL paths: anything but letters, digits, `-` and `_` could
//! leave its path segment (`../user`, `x?y`), so it is refused before any request. Ids of the
//! right alphabet but unknown are left to the API (its 404 names the resource).

/// Longest id accepted (the API's are 32 hex characters, or 36 with dashes).
const MAX_LEN: usize = 64;

/// A clap value parser for ids.
pub fn parse_id(text: &str) -> Result<String, String> {
    let valid = !text.is_empty()
        && text.len() <= MAX_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "INVALID_ID: {text:?} is not an id (letters, digits, - and _, at most {MAX_LEN})"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_stay_within_one_path_segment() {
        assert!(parse_id("01a23cf288e57173a17f293e16219665").is_ok());
        assert!(parse_id("01a23cf2-88e5-7173-a17f-293e16219665").is_ok());
        for bad in [
            "",
            "../user",
            "a/b",
            "x?y=1",
            "a#b",
            "%2e%2e",
            "a b",
            &"a".repeat(65),
        ] {
            assert!(parse_id(bad).is_err(), "{bad:?}");
        }
    }
}
