//! Request bodies of `/v1/endpoint` and their checks, with field paths (`origin[1]`,
//! `timeLimit.from`). GreenCloud's own docs send `origin` as a string and call `timeLimit` a
//! string; the string form of `origin` is accepted, the object form of `timeLimit` is required.

pub use canopy_shared::api::endpoint::{EndpointBody, TimeLimit};

use super::policy::{parse_clock, AddressRule};
use crate::domain::rules;
use crate::error::FieldError;

/// Most origins, addresses or tags one endpoint lists.
const MAX_LIST: usize = 64;
/// Longest description (GreenCloud: max 256).
const MAX_DESCRIPTION: usize = 256;

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

/// Checks every field of a body; all problems at once.
pub fn check(body: EndpointBody) -> Result<EndpointChange, Vec<FieldError>> {
    let mut errors = Vec::new();
    if let Some(description) = &body.description {
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
    if let Some(tags) = &body.tag {
        if tags.len() > MAX_LIST {
            errors.push(FieldError::new("tag", "must list at most 64 tags"));
        } else if let Err(error) = rules::unique_ids(tags) {
            let message = error.message.map(|m| m.to_string()).unwrap_or_default();
            errors.push(FieldError::new("tag", message));
        }
    }
    let daily_limit = body.daily_limit.and_then(|limit| {
        let valid = i32::try_from(limit).ok().filter(|limit| *limit >= -1);
        if valid.is_none() {
            errors.push(FieldError::new(
                "dailyLimit",
                "must be -1 (unlimited) or a number of calls up to 2147483647",
            ));
        }
        valid
    });
    let origins = body.origin.map(|origins| {
        let origins = origins.into_vec();
        check_list(&origins, "origin", &mut errors, |origin| {
            normalise_origin(origin).ok_or("must be an origin such as https://example.com")
        })
    });
    let ips = body.ip.map(|ips| {
        check_list(&ips, "ip", &mut errors, |ip| {
            AddressRule::parse(ip)
                .map(|rule| rule.to_string())
                .ok_or("must be an IPv4 or IPv6 address, or a CIDR block such as 10.0.0.0/8")
        })
    });
    if let Some(Some(limit)) = &body.time_limit {
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
        description: body.description,
        tags: body.tag,
        daily_limit,
        origins,
        ips,
        time_limit: body.time_limit,
    })
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
        check(body(json))
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
        let absent = check(body("{}")).expect("valid");
        assert_eq!(absent.time_limit, None);
        let null = check(body(r#"{"timeLimit": null}"#)).expect("valid");
        assert_eq!(null.time_limit, Some(None));
        let one = check(body(
            r#"{"origin": "https://a.com", "ip": ["10.0.0.0/8", "::1"]}"#,
        ))
        .expect("valid");
        assert_eq!(one.origins, Some(vec!["https://a.com".to_owned()]));
        assert_eq!(
            one.ips,
            Some(vec!["10.0.0.0/8".to_owned(), "::1".to_owned()])
        );
    }
}
