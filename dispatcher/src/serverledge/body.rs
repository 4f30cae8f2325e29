//! Request bodies as Serverledge reads them: a JSON object whose keys match the field names
//! case-insensitively (Go's `encoding/json`), unknown keys ignored, an empty body meaning `{}`.
//! Anything else is a 400 naming the problem, never a 5xx.

use actix_web::{web, HttpRequest};
use serde::de::DeserializeOwned;

use super::FacadeError;
use crate::extract::{read_body, spool_body_within};
use crate::gates::{Gates, MemoryHold};

/// What parsing a body held whole costs beyond its size: the parsed strings, a copy without
/// whitespace and the decoded code (see `create`).
const PARSE_FACTOR: u64 = 4;

/// Reads and parses a body of at most `limit` bytes into `T`, whose serde names are lowercase.
pub async fn read<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<T, FacadeError> {
    let bytes = read_body(req, payload.into_inner(), limit).await?;
    parse(&bytes)
}

/// `read` for a body that may be large (a code archive as base64): spooled to disk first, then
/// parsed only once the transfer memory budget holds `PARSE_FACTOR` times its size; the hold
/// is returned and must live as long as the parsed value. A body the whole budget could not
/// hold is refused (413) however large `limit` is: memory stays within `--transfer-memory-mb`.
pub async fn read_large<T: DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    within: std::time::Duration,
    gates: &Gates,
) -> Result<(T, MemoryHold), FacadeError> {
    let fits = usize::try_from(gates.holdable_bytes() / PARSE_FACTOR).unwrap_or(usize::MAX);
    let spooled = spool_body_within(req, payload.into_inner(), limit.min(fits), within).await?;
    let hold = gates.hold(spooled.len.saturating_mul(PARSE_FACTOR)).await?;
    let mut file = tokio::fs::File::from_std(spooled.file);
    let mut bytes = Vec::with_capacity(usize::try_from(spooled.len).unwrap_or(0));
    tokio::io::AsyncReadExt::read_to_end(&mut file, &mut bytes)
        .await
        .map_err(FacadeError::unavailable)?;
    Ok((parse(&bytes)?, hold))
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
