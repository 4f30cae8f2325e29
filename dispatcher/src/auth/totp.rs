//! TOTP (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits) for two-factor login.

use hmac::{Hmac, Mac};
use sha1::Sha1;

const STEP_SECONDS: i64 = 30;
const DIGITS: u32 = 6;
/// Steps accepted either side of now, for clock drift between server and phone.
const DRIFT_STEPS: i64 = 1;

/// A new seed: 20 random bytes as 32 base32 characters (what authenticator apps expect).
pub fn new_seed() -> String {
    data_encoding::BASE32_NOPAD.encode(&super::secret::random_bytes(20))
}

/// The `otpauth://` URL an authenticator app can scan.
pub fn provisioning_url(seed: &str, account_email: &str) -> String {
    let label: String = account_email
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "@.-_".contains(c) {
                c.to_string()
            } else {
                format!("%{:02X}", c as u32 & 0xff)
            }
        })
        .collect();
    format!("otpauth://totp/Canopy:{label}?secret={seed}&issuer=Canopy&algorithm=SHA1&digits=6&period=30")
}

/// The code for one time step.
pub fn code_at_step(seed: &str, step: i64) -> Option<String> {
    let key = data_encoding::BASE32_NOPAD.decode(seed.as_bytes()).ok()?;
    let mut mac = Hmac::<Sha1>::new_from_slice(&key).ok()?;
    mac.update(&step.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let chunk = [
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ];
    let value = u32::from_be_bytes(chunk) % 10u32.pow(DIGITS);
    Some(format!("{value:0width$}", width = DIGITS as usize))
}

/// The time step containing `unix_seconds`.
pub fn step_of(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// The step at which `code` is valid near `unix_seconds`, if any. The caller refuses steps at or
/// before the last one accepted, so a code cannot be replayed.
pub fn matching_step(seed: &str, code: &str, unix_seconds: i64) -> Option<i64> {
    let now = step_of(unix_seconds);
    (now - DRIFT_STEPS..=now + DRIFT_STEPS)
        .find(|&step| code_at_step(seed, step).as_deref() == Some(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B: the SHA1 seed "12345678901234567890".
    const RFC_SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    #[test]
    fn codes_match_the_rfc_6238_test_vectors() {
        assert_eq!(
            code_at_step(RFC_SEED, step_of(59)).as_deref(),
            Some("287082")
        );
        assert_eq!(
            code_at_step(RFC_SEED, step_of(1_111_111_109)).as_deref(),
            Some("081804")
        );
        assert_eq!(
            code_at_step(RFC_SEED, step_of(1_234_567_890)).as_deref(),
            Some("005924")
        );
        assert_eq!(
            code_at_step(RFC_SEED, step_of(2_000_000_000)).as_deref(),
            Some("279037")
        );
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_not_further() {
        let now = 1_700_000_000;
        let code = code_at_step(RFC_SEED, step_of(now)).unwrap_or_default();
        assert_eq!(matching_step(RFC_SEED, &code, now), Some(step_of(now)));
        assert!(matching_step(RFC_SEED, &code, now + 30).is_some());
        assert!(matching_step(RFC_SEED, &code, now + 90).is_none());
        assert!(matching_step(RFC_SEED, "000000x", now).is_none());
    }

    #[test]
    fn seeds_are_32_base32_characters() {
        let seed = new_seed();
        assert_eq!(seed.len(), 32);
        assert!(code_at_step(&seed, 1).is_some());
        assert!(provisioning_url(&seed, "a b@x.io").contains("a%20b@x.io"));
    }
}
