//! Request bodies as Serverledge reads them: a JSON object whose keys match the field names
//! case-insensitively (Go's `encoding/json`), unknown keys ignored, an empty body meaning `{}`.
//! Anything else is a 400 naming the problem, never a 5xx.

use actix_web::{web, HttpRequest};
use serde::de::DeserializeOwned;

use super::FacadeError;
use crate::extract::read_body;

/// Reads and parses a body of at most `limit` bytes into `T`, whose serde names are lowercase.
pub async fn read<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<T, FacadeError> {
    let bytes = read_body(req, payload.into_inner(), limit).await?;
    parse(&bytes)
}

pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, FacadeError> {
    let value = if bytes.iter().all(u8::is_ascii_whitespace) {
        serde_json::Value::Object(serde_json::Map::new())
    } else {
        serde_json::from_slice(bytes).map_err(|error| {
            FacadeError::bad_request("INVALID_JSON", format!("Invalid request body: {error}"))
        })?
    };
    let serde_json::Value::Object(fields) = value else {
        return Err(FacadeError::bad_request(
            "INVALID_JSON",
            "Invalid request body: a JSON object is required",
        ));
    };
    let lowered: serde_json::Map<String, serde_json::Value> = fields
        .into_iter()
        .map(|(key, value)| (key.to_ascii_lowercase(), value))
        .collect();
    serde_path_to_error::deserialize(serde_json::Value::Object(lowered)).map_err(|error| {
        let field = error.path().to_string();
        FacadeError::bad_request(
            "INVALID_FIELD",
            format!(
                "Invalid request body: field {field}: {}",
                error.into_inner()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    struct Sample {
        name: String,
        #[serde(default)]
        memorymb: i64,
    }

    #[test]
    fn keys_match_case_insensitively_and_unknown_keys_are_ignored() {
        let parsed: Sample = parse(br#"{"Name": "f", "MEMORYMB": 3, "Other": 1}"#).expect("ok");
        assert_eq!(
            parsed,
            Sample {
                name: "f".into(),
                memorymb: 3
            }
        );
    }

    #[test]
    fn malformed_bodies_are_400_with_a_code() {
        for (body, code) in [
            (&b"{"[..], "INVALID_JSON"),
            (b"[1]", "INVALID_JSON"),
            (b"{\"Name\": 5}", "INVALID_FIELD"),
            (b"", "INVALID_FIELD"),
        ] {
            let error = parse::<Sample>(body).expect_err("refused");
            assert_eq!(error.code(), code, "{body:?}");
        }
    }
}
