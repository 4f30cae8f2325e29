//! Request bodies of `/v1/trigger`.

pub use canopy_shared::api::trigger::{CreateTrigger, UpdateTrigger};

use crate::domain::rules;
use crate::error::FieldError;

/// Checks `status`, `tag` and `description`, shared by create and update.
pub fn check_common(
    status: Option<i64>,
    tag: Option<&[String]>,
    description: Option<&str>,
) -> Result<Option<i32>, Vec<FieldError>> {
    let mut errors = Vec::new();
    let status = status.and_then(|status| {
        let valid = i32::try_from(status)
            .ok()
            .filter(|status| *status == 0 || (100..=599).contains(status));
        if valid.is_none() {
            errors.push(FieldError::new(
                "status",
                "must be an HTTP status 100-599, or 0 for any end",
            ));
        }
        valid
    });
    if let Some(tags) = tag {
        if tags.len() > 64 {
            errors.push(FieldError::new("tag", "must list at most 64 tags"));
        } else if let Err(error) = rules::unique_ids(tags) {
            let message = error.message.map(|m| m.to_string()).unwrap_or_default();
            errors.push(FieldError::new("tag", message));
        }
    }
    if let Some(description) = description {
        if description.chars().count() > 256 || rules::printascii(description).is_err() {
            errors.push(FieldError::new(
                "description",
                "must be at most 256 printable ASCII characters",
            ));
        }
    }
    if errors.is_empty() {
        Ok(status)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_http_codes_or_zero() {
        assert_eq!(check_common(Some(200), None, None), Ok(Some(200)));
        assert_eq!(check_common(Some(0), None, None), Ok(Some(0)));
        assert_eq!(check_common(None, None, None), Ok(None));
        for bad in [-1, 99, 600, i64::MAX] {
            assert!(check_common(Some(bad), None, None).is_err(), "{bad}");
        }
        assert!(check_common(None, Some(&["x".to_owned()]), None).is_err());
        assert!(check_common(None, None, Some("caf\u{e9}")).is_err());
    }
}
