//! Request bodies of `/v1/trigger`.

use serde::Deserialize;
use utoipa::ToSchema;
use validator::Validate;

use crate::domain::rules;
use crate::error::FieldError;

/// Body of `POST /v1/trigger`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CreateTrigger {
    /// The source function.
    pub function_id: String,
    /// The function a task is submitted to.
    pub next_id: String,
    /// Pass the source's response (body and content type) as the next task's body.
    pub include_result: bool,
    /// The source's HTTP status that fires the trigger (100–599); 0 or absent: any end but a
    /// cancel, including failures without a response.
    pub status: Option<i64>,
    pub tag: Option<Vec<String>>,
    pub description: Option<String>,
}

/// Body of `PATCH /v1/trigger/{id}`: source and target are fixed; what is omitted is kept.
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UpdateTrigger {
    pub include_result: Option<bool>,
    pub status: Option<i64>,
    pub tag: Option<Vec<String>>,
    pub description: Option<String>,
}

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
