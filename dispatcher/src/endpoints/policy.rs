//! Who may call a public endpoint, and when: the address allow-list, the origin check and the
//! daily time window. Pure functions; the call path feeds them the stored endpoint.

use std::fmt;
use std::net::IpAddr;

/// One entry of the `ip` allow-list: an address, or a CIDR block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressRule {
    network: IpAddr,
    prefix: u8,
}

impl AddressRule {
    /// `10.0.0.1`, `10.0.0.0/8`, `2001:db8::/32`, `::1`; host bits in a block are refused
    /// (`10.0.0.1/8` is probably a typo for something else).
    pub fn parse(text: &str) -> Option<AddressRule> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.parse().ok()?;
        let width = match network {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        };
        let prefix = match prefix {
            None => width,
            Some(prefix) if prefix.bytes().all(|b| b.is_ascii_digit()) => prefix.parse().ok()?,
            Some(_) => return None,
        };
        if prefix > width {
            return None;
        }
        if bits(network) != bits(network) & mask(width, prefix) {
            return None;
        }
        Some(AddressRule { network, prefix })
    }

    /// Whether `address` is in this block (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = match address {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
            v4 => v4,
        };
        let width = match (self.network, address) {
            (IpAddr::V4(_), IpAddr::V4(_)) => 32,
            (IpAddr::V6(_), IpAddr::V6(_)) => 128,
            _ => return false,
        };
        let mask = mask(width, self.prefix);
        bits(address) & mask == bits(self.network) & mask
    }
}

impl fmt::Display for AddressRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = if self.network.is_ipv4() { 32 } else { 128 };
        if self.prefix == width {
            write!(f, "{}", self.network)
        } else {
            write!(f, "{}/{}", self.network, self.prefix)
        }
    }
}

fn bits(address: IpAddr) -> u128 {
    match address {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn mask(width: u8, prefix: u8) -> u128 {
    let all = if width == 32 {
        u128::from(u32::MAX)
    } else {
        u128::MAX
    };
    if prefix == 0 {
        0
    } else {
        all & !((1u128 << (width - prefix)) - 1)
    }
}

/// Whether a client address passes the allow-list (an empty list allows everyone).
pub fn address_allowed(rules: &[String], client: Option<IpAddr>) -> bool {
    if rules.is_empty() {
        return true;
    }
    let Some(client) = client else {
        return false;
    };
    rules
        .iter()
        .filter_map(|rule| AddressRule::parse(rule))
        .any(|rule| rule.contains(client))
}

/// The origin check: an empty list allows any caller. Otherwise the request's `Origin` must be
/// listed, or name this very host (the endpoint's own page). `Origin` is set by browsers and can
/// be forged by anything else: this keeps other web sites from calling the endpoint from their
/// visitors' browsers, it does not authenticate (use `ip` for that).
pub fn origin_allowed(allowed: &[String], origin: Option<&str>, host: Option<&str>) -> bool {
    if allowed.is_empty() {
        return true;
    }
    let Some(origin) = origin.and_then(super::body::normalise_origin) else {
        return false;
    };
    let same_host = host.is_some_and(|host| {
        origin
            .split_once("://")
            .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host))
    });
    same_host || allowed.contains(&origin)
}

/// `HH:MM` as minutes after midnight.
pub fn parse_clock(text: &str) -> Option<u16> {
    let (hours, minutes) = text.split_once(':')?;
    if hours.len() != 2 || minutes.len() != 2 {
        return None;
    }
    let hours: u16 = hours.parse().ok()?;
    let minutes: u16 = minutes.parse().ok()?;
    (hours < 24 && minutes < 60).then_some(hours * 60 + minutes)
}

/// Whether local time `now` (minutes after midnight) is inside `[from, to)`; a window whose
/// `from` is after its `to` spans midnight (22:00–06:00).
pub fn in_window(now: u16, from: u16, to: u16) -> bool {
    if from <= to {
        (from..to).contains(&now)
    } else {
        now >= from || now < to
    }
}

/// Minutes from `now` until the window opens (0 when open).
pub fn minutes_until_open(now: u16, from: u16, to: u16) -> u16 {
    if in_window(now, from, to) {
        0
    } else if now < from {
        from - now
    } else {
        24 * 60 - now + from
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    #[test]
    fn address_rules_match_single_addresses_and_blocks() {
        let block = AddressRule::parse("10.0.0.0/8").expect("a block");
        assert!(block.contains(ip("10.200.3.4")));
        assert!(!block.contains(ip("11.0.0.1")));
        assert!(block.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped");
        let one = AddressRule::parse("2001:db8::1").expect("an address");
        assert!(one.contains(ip("2001:db8::1")));
        assert!(!one.contains(ip("2001:db8::2")));
        let v6 = AddressRule::parse("2001:db8::/32").expect("a v6 block");
        assert!(v6.contains(ip("2001:db8:ffff::9")));
        assert!(!v6.contains(ip("10.0.0.1")));
        assert!(AddressRule::parse("0.0.0.0/0")
            .expect("all")
            .contains(ip("1.2.3.4")));
        for bad in [
            "10.0.0.1/8",
            "10.0.0.0/33",
            "300.0.0.1",
            "10.0.0.0/x",
            "",
            "::/129",
        ] {
            assert!(AddressRule::parse(bad).is_none(), "{bad}");
        }
        assert_eq!(block.to_string(), "10.0.0.0/8");
        assert_eq!(one.to_string(), "2001:db8::1");
    }

    #[test]
    fn an_empty_allow_list_allows_everyone_and_a_list_only_its_entries() {
        assert!(address_allowed(&[], None));
        let rules = vec!["127.0.0.1".to_owned()];
        assert!(address_allowed(&rules, Some(ip("127.0.0.1"))));
        assert!(!address_allowed(&rules, Some(ip("127.0.0.2"))));
        assert!(!address_allowed(&rules, None));
    }

    #[test]
    fn origins_must_be_listed_or_name_this_host() {
        let allowed = vec!["https://app.example.com".to_owned()];
        assert!(origin_allowed(&[], None, None));
        assert!(origin_allowed(
            &allowed,
            Some("https://app.example.com"),
            None
        ));
        assert!(!origin_allowed(
            &allowed,
            Some("https://evil.example"),
            None
        ));
        assert!(!origin_allowed(&allowed, None, None), "no Origin, no entry");
        assert!(origin_allowed(
            &allowed,
            Some("http://127.0.0.1:8080"),
            Some("127.0.0.1:8080")
        ));
    }

    #[test]
    fn windows_may_span_midnight() {
        let (nine, five) = (
            parse_clock("09:00").expect("9"),
            parse_clock("17:00").expect("17"),
        );
        assert!(in_window(nine, nine, five));
        assert!(!in_window(five, nine, five), "to is exclusive");
        assert_eq!(minutes_until_open(8 * 60, nine, five), 60);
        assert_eq!(minutes_until_open(18 * 60, nine, five), 15 * 60);
        let (ten_pm, six) = (
            parse_clock("22:00").expect("22"),
            parse_clock("06:00").expect("6"),
        );
        assert!(in_window(23 * 60, ten_pm, six));
        assert!(in_window(60, ten_pm, six));
        assert!(!in_window(12 * 60, ten_pm, six));
        for bad in ["24:00", "9:00", "09:60", "0900", "ab:cd"] {
            assert!(parse_clock(bad).is_none(), "{bad}");
        }
    }
}
