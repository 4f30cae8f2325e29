//! Request bodies of `/v1/endpoint` and their checks, with field paths (`origin[1]`,
//! `timeLimit.from`). GreenCloud's own docs send `origin` as a string and call `timeLimit` a
//! string; the string form of `origin` is accepted, the object form of `timeLimit` is required.

use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;
use validator::Validate;

use super::policy::{parse_clock, AddressRule};
use crate::domain::rules;
use crate::error::FieldError;

/// Most origins, addresses or tags one endpoint lists.
const MAX_LIST: usize = 64;
/// Longest description (GreenCloud: max 256).
const MAX_DESCRIPTION: usize = 256;

/// One daily window in an IANA timezone; `from` > `to` spans midnight.
#[derive(Debug, Clone, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TimeLimit {
    /// `HH:MM`, local time.
    pub from: String,
    /// `HH:MM`, local time (exclusive).
    pub to: String,
    /// IANA name, e.g. `Europe/Rome`.
    pub timezone: String,
}

/// `origin`: a list, or one string as GreenCloud's example sends it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Origins {
    One(String),
    Many(Vec<String>),
}

impl Origins {
    fn into_vec(self) -> Vec<String> {
        match self {
            Origins::One(one) if one.trim().is_empty() => Vec::new(),
            Origins::One(one) => vec![one],
            Origins::Many(many) => many,
        }
    }
}

/// Body of `POST /v1/endpoint/{functionId}` and `PATCH /v1/endpoint/{id}` (every field optional;
/// on PATCH an omitted field keeps its value and `timeLimit: null` removes the window).
#[derive(Debug, Default, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EndpointBody {
    /// Printable ASCII, at most 256 characters.
    pub description: Option<String>,
    /// Ids of the caller's tags.
    pub tag: Option<Vec<String>>,
    /// Calls per day; -1 (the default) is unlimited.
    pub daily_limit: Option<i64>,
    /// Allowed browser origins (`https://host[:port]`); empty allows any.
    #[schema(value_type = Option<Vec<String>>)]
    pub origin: Option<Origins>,
    /// Allowed client addresses: IPv4 or IPv6, single or CIDR; empty allows any.
    pub ip: Option<Vec<String>>,
    /// One daily window in which calls are accepted.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<TimeLimit>)]
    pub time_limit: Option<Option<TimeLimit>>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// A body that passed its checks, normalised.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EndpointChange {
    pub description: Option<String>,
    pub tags: Option<Vec<String>>,
    pub daily_limit: Option<i32>,
    pub origins: Option<Vec<String>>,
    pub ips: Option<Vec<String>>,
    pub time_limit: Option<Option<TimeLimit>>,
}

impl EndpointBody {
    /// Checks every field; all problems at once.
    pub fn check(self) -> Result<EndpointChange, Vec<FieldError>> {
        let mut errors = Vec::new();
        if let Some(description) = &self.description {
            if description.chars().count() > MAX_DESCRIPTION {
                errors.push(FieldError::new(
                    "description",
                    "must be at most 256 characters",
                ));
            } else if rules::printascii(description).is_err() {
                errors.push(FieldError::new(
                    "description",
                    "must contain only printable ASCII characters",
                ));
            }
        }
        if let Some(tags) = &self.tag {
            if tags.len() > MAX_LIST {
                errors.push(FieldError::new("tag", "must list at most 64 tags"));
            } else if let Err(error) = rules::unique_ids(tags) {
                let message = error.message.map(|m| m.to_string()).unwrap_or_default();
                errors.push(FieldError::new("tag", message));
            }
        }
        let daily_limit = self.daily_limit.and_then(|limit| {
            let valid = i32::try_from(limit).ok().filter(|limit| *limit >= -1);
            if valid.is_none() {
                errors.push(FieldError::new(
                    "dailyLimit",
                    "must be -1 (unlimited) or a number of calls up to 2147483647",
                ));
            }
            valid
        });
        let origins = self.origin.map(|origins| {
            let origins = origins.into_vec();
            check_list(&origins, "origin", &mut errors, |origin| {
                normalise_origin(origin).ok_or("must be an origin such as https://example.com")
            })
        });
        let ips = self.ip.map(|ips| {
            check_list(&ips, "ip", &mut errors, |ip| {
                AddressRule::parse(ip)
                    .map(|rule| rule.to_string())
                    .ok_or("must be an IPv4 or IPv6 address, or a CIDR block such as 10.0.0.0/8")
            })
        });
        if let Some(Some(limit)) = &self.time_limit {
            for (field, value) in [("from", &limit.from), ("to", &limit.to)] {
                if parse_clock(value).is_none() {
                    errors.push(FieldError::new(
                        format!("timeLimit.{field}"),
                        "must be a time HH:MM (00:00 to 23:59)",
                    ));
                }
            }
            if limit.from == limit.to {
                errors.push(FieldError::new(
                    "timeLimit.to",
                    "must differ from from (an empty window)",
                ));
            }
            if limit.timezone.is_empty() || limit.timezone.len() > 64 {
                errors.push(FieldError::new(
                    "timeLimit.timezone",
                    "must be an IANA timezone such as Europe/Rome",
                ));
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(EndpointChange {
            description: self.description,
            tags: self.tag,
            daily_limit,
            origins,
            ips,
            time_limit: self.time_limit,
        })
    }
}

/// Checks and normalises each entry of a list field (at most 64, no repeats).
fn check_list(
    values: &[String],
    field: &str,
    errors: &mut Vec<FieldError>,
    normalise: impl Fn(&str) -> Result<String, &'static str>,
) -> Vec<String> {
    if values.len() > MAX_LIST {
        errors.push(FieldError::new(field, "must list at most 64 entries"));
        return Vec::new();
    }
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for (index, value) in values.iter().enumerate() {
        match normalise(value.trim()) {
            Ok(normal) if out.contains(&normal) => errors.push(FieldError::new(
                format!("{field}[{index}]"),
                "is listed more than once",
            )),
            Ok(normal) => out.push(normal),
            Err(message) => errors.push(FieldError::new(format!("{field}[{index}]"), message)),
        }
    }
    out
}

/// `scheme://host[:port]` in lowercase, as browsers send `Origin`; `http` is allowed for local
/// development. Paths, queries, credentials and wildcards are refused.
pub fn normalise_origin(origin: &str) -> Option<String> {
    let lower = origin.trim_end_matches('/').to_ascii_lowercase();
    let (scheme, authority) = lower.split_once("://")?;
    if !matches!(scheme, "https" | "http") || authority.is_empty() {
        return None;
    }
    let (host_ok, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (inside, after) = bracketed.split_once(']')?;
            let port = match after {
                "" => None,
                after => Some(after.strip_prefix(':')?),
            };
            (inside.parse::<std::net::Ipv6Addr>().is_ok(), port)
        }
        None => {
            let (host, port) = match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            };
            let host_ok = !host.is_empty()
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.".contains(&b));
            (host_ok, port)
        }
    };
    let port_ok = port.is_none_or(|port| port.parse::<u16>().is_ok_and(|port| port > 0));
    (host_ok && port_ok).then_some(lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(json: &str) -> EndpointBody {
        serde_json::from_str(json).expect("a body")
    }

    fn fields(json: &str) -> Vec<String> {
        body(json)
            .check()
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|e| e.field)
            .collect()
    }

    #[test]
    fn origins_are_normalised_and_paths_refused() {
        assert_eq!(
            normalise_origin("https://App.Example.com/").as_deref(),
            Some("https://app.example.com")
        );
        assert!(normalise_origin("http://localhost:3000").is_some());
        assert!(normalise_origin("https://[::1]:8443").is_some());
        assert!(normalise_origin("https://[::1]").is_some());
        for bad in [
            "example.com",
            "ftp://x",
            "https://x/path",
            "https://*.x.com",
            "https://x:0",
            "https://u@x",
        ] {
            assert!(normalise_origin(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn every_bad_field_is_named_with_its_path() {
        assert_eq!(fields(r#"{"dailyLimit": -2}"#), ["dailyLimit"]);
        assert_eq!(
            fields(r#"{"origin": ["https://a.com", "nope"]}"#),
            ["origin[1]"]
        );
        assert_eq!(fields(r#"{"origin": "nope"}"#), ["origin[0]"]);
        assert_eq!(fields(r#"{"ip": ["10.0.0.1", "10.0.0.1"]}"#), ["ip[1]"]);
        assert_eq!(fields(r#"{"ip": ["300.1.1.1"]}"#), ["ip[0]"]);
        assert_eq!(
            fields(r#"{"timeLimit": {"from": "25:00", "to": "09:00", "timezone": "UTC"}}"#),
            ["timeLimit.from"]
        );
        assert_eq!(fields(r#"{"description": "caf\u00e9"}"#), ["description"]);
        assert_eq!(fields(r#"{"tag": ["xyz"]}"#), ["tag"]);
    }

    #[test]
    fn an_absent_time_limit_differs_from_null() {
        let absent = body("{}").check().expect("valid");
        assert_eq!(absent.time_limit, None);
        let null = body(r#"{"timeLimit": null}"#).check().expect("valid");
        assert_eq!(null.time_limit, Some(None));
        let one = body(r#"{"origin": "https://a.com", "ip": ["10.0.0.0/8", "::1"]}"#)
            .check()
            .expect("valid");
        assert_eq!(one.origins, Some(vec!["https://a.com".to_owned()]));
        assert_eq!(
            one.ips,
            Some(vec!["10.0.0.0/8".to_owned(), "::1".to_owned()])
        );
    }
}
