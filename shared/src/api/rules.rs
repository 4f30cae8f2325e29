//! Field rules of the GreenCloud contract (go-playground names: alphanum, printascii, hexcolor)
//! as `validator` custom functions.

use std::borrow::Cow;

use validator::ValidationError;

fn error(code: &'static str, message: impl Into<Cow<'static, str>>) -> ValidationError {
    ValidationError::new(code).with_message(message.into())
}

/// `required alphanum`: one or more ASCII letters or digits.
pub fn alphanum(value: &str) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Err(error("required", "must not be empty"));
    }
    if !value.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(error(
            "alphanum",
            "must contain only ASCII letters and digits",
        ));
    }
    Ok(())
}

/// `printascii`: printable ASCII characters only (space to tilde).
pub fn printascii(value: &str) -> Result<(), ValidationError> {
    if !value.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err(error(
            "printascii",
            "must contain only printable ASCII characters",
        ));
    }
    Ok(())
}

/// `required ascii`, printable: for tag names.
pub fn required_printascii(value: &str) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        return Err(error("required", "must not be empty"));
    }
    printascii(value)
}

/// `hexcolor`: `#` and 3, 4, 6 or 8 hex digits.
pub fn hexcolor(value: &str) -> Result<(), ValidationError> {
    let valid = value.strip_prefix('#').is_some_and(|digits| {
        matches!(digits.len(), 3 | 4 | 6 | 8) && digits.bytes().all(|b| b.is_ascii_hexdigit())
    });
    if !valid {
        return Err(error("hexcolor", "must be a hex colour such as #00ff80"));
    }
    Ok(())
}

/// A resource id as the API shows it (32 hex characters).
pub fn resource_id(value: &str) -> Result<(), ValidationError> {
    if crate::parse_id(value).is_none() {
        return Err(error("id", "must be an id of 32 hex characters"));
    }
    Ok(())
}

/// `dive unique alphanum` for tag id lists: every entry an id, no repeats.
pub fn unique_ids(values: &[String]) -> Result<(), ValidationError> {
    let mut seen = std::collections::HashSet::new();
    for value in values {
        resource_id(value)?;
        if !seen.insert(value.to_ascii_lowercase()) {
            return Err(error("unique", format!("lists {value} more than once")));
        }
    }
    Ok(())
}

/// Passwords: 8–128 characters with a digit and one of `!@#$%&*` (the GreenCloud rule).
pub fn password(value: &str) -> Result<(), ValidationError> {
    let length = value.chars().count();
    if !(8..=128).contains(&length) {
        return Err(error("length", "must be 8 to 128 characters long"));
    }
    if !value.chars().any(|c| c.is_ascii_digit()) {
        return Err(error("digit", "must contain a digit"));
    }
    if !value.chars().any(|c| "!@#$%&*".contains(c)) {
        return Err(error("symbol", "must contain one of ! @ # $ % & *"));
    }
    Ok(())
}

/// Person names: letters (any script), spaces, hyphens and apostrophes.
pub fn person_name(value: &str) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        return Err(error("required", "must not be empty"));
    }
    if !value
        .chars()
        .all(|c| c.is_alphabetic() || " -'".contains(c))
    {
        return Err(error(
            "alpha",
            "must contain only letters, spaces, hyphens and apostrophes",
        ));
    }
    Ok(())
}

/// A custom image reference: `repo[:tag][@sha256:<64 hex>]` (`crate::image`).
pub fn image_reference(value: &str) -> Result<(), ValidationError> {
    crate::image::check_reference(value).map_err(|message| error("image", message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alphanum_accepts_letters_and_digits_only() {
        assert!(alphanum("MyFunction2").is_ok());
        assert!(alphanum("").is_err());
        assert!(alphanum("my-function").is_err());
        assert!(alphanum("My Function").is_err());
        assert!(alphanum("Funktion\u{e4}").is_err());
    }

    #[test]
    fn printascii_refuses_control_and_non_ascii_characters() {
        assert!(printascii("My function description ~!").is_ok());
        assert!(printascii("tab\there").is_err());
        assert!(printascii("caf\u{e9}").is_err());
    }

    #[test]
    fn hexcolor_needs_a_hash_and_hex_digits() {
        for good in ["#00ff80", "#FFF", "#abcd", "#00ff80aa"] {
            assert!(hexcolor(good).is_ok(), "{good}");
        }
        for bad in ["00ff80", "#00ff8", "#00gg80", "green", "#"] {
            assert!(hexcolor(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_need_length_digit_and_symbol() {
        assert!(password("Secr3t!pass").is_ok());
        assert!(password("S3t!").is_err());
        assert!(password("Secret!pass").is_err());
        assert!(password("Secr3tpass").is_err());
        assert!(password(&format!("1!{}", "a".repeat(127))).is_err());
    }

    #[test]
    fn tag_id_lists_must_be_ids_without_repeats() {
        let id = crate::format_id(crate::new_id());
        assert!(unique_ids(std::slice::from_ref(&id)).is_ok());
        assert!(unique_ids(&[id.clone(), id.to_uppercase()]).is_err());
        assert!(unique_ids(&["63fe131f02975e4956238b39".to_owned()]).is_err());
    }
}
