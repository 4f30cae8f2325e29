//! Opaque resource ids: UUIDv7 (time-ordered) rendered as 32 lowercase hex characters.

use uuid::Uuid;

/// Renders an id the way the API shows it: 32 lowercase hex characters, no dashes.
pub fn format_id(id: Uuid) -> String {
    id.simple().to_string()
}

/// Parses an id as the API shows it; the dashed UUID form is accepted too.
pub fn parse_id(text: &str) -> Option<Uuid> {
    if text.len() != 32 && text.len() != 36 {
        return None;
    }
    Uuid::try_parse(text).ok()
}

/// A new time-ordered id.
pub fn new_id() -> Uuid {
    Uuid::now_v7()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_text_form() {
        let id = new_id();
        let text = format_id(id);
        assert_eq!(text.len(), 32);
        assert!(text
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(parse_id(&text), Some(id));
        assert_eq!(parse_id(&id.hyphenated().to_string()), Some(id));
    }

    #[test]
    fn malformed_ids_are_refused() {
        assert_eq!(parse_id("63f47d24dab5eb85451f3b61"), None);
        assert_eq!(parse_id("zz"), None);
        assert_eq!(parse_id(&"g".repeat(32)), None);
    }
}
