//! Short-lived access tokens: HS256 JWTs signed with a key all replicas share.

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const ISSUER: &str = "canopy";

/// Claims carried by an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Account id (32 hex).
    pub sub: String,
    pub role: String,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub jti: String,
    /// The login (refresh-token family) or API key the token came from; revoking it revokes
    /// the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// Why a presented token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is malformed or its signature is invalid")]
    Invalid,
}

/// Signs and checks access tokens.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl_s: i64,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("ttl_s", &self.ttl_s)
            .finish_non_exhaustive()
    }
}

impl TokenKeys {
    pub fn new(secret: &[u8], ttl_s: i64) -> Self {
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl_s,
        }
    }

    /// Lifetime of an access token in seconds (the `expiresIn` of login responses).
    pub fn ttl_s(&self) -> i64 {
        self.ttl_s
    }

    /// A signed token for the account, from `session` (a login or an API key).
    pub fn issue(&self, account_id: Uuid, role: &str, session: Uuid) -> anyhow::Result<String> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: canopy_shared::format_id(account_id),
            role: role.to_owned(),
            iat: now,
            exp: now + self.ttl_s,
            iss: ISSUER.to_owned(),
            jti: canopy_shared::format_id(canopy_shared::new_id()),
            sid: Some(canopy_shared::format_id(session)),
        };
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &self.encoding,
        )?)
    }

    /// The claims of a valid, unexpired token.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_token_verifies_with_the_same_key_only() -> anyhow::Result<()> {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef", 3600);
        let account = canopy_shared::new_id();
        let token = keys.issue(account, "user", canopy_shared::new_id())?;
        let claims = keys.verify(&token).map_err(anyhow::Error::new)?;
        assert_eq!(claims.sub, canopy_shared::format_id(account));
        assert_eq!(claims.exp - claims.iat, 3600);
        let other = TokenKeys::new(b"another key another key another!!", 3600);
        assert_eq!(other.verify(&token).err(), Some(TokenError::Invalid));
        Ok(())
    }

    #[test]
    fn an_expired_token_is_reported_as_expired() -> anyhow::Result<()> {
        let keys = TokenKeys::new(b"0123456789abcdef0123456789abcdef", -10);
        let token = keys.issue(canopy_shared::new_id(), "user", canopy_shared::new_id())?;
        assert_eq!(keys.verify(&token).err(), Some(TokenError::Expired));
        Ok(())
    }
}
