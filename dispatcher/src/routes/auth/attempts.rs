//! Limits on guessing secrets: passwords and 2FA codes, at log-in and when a signed-in caller
//! re-verifies (2FA setup and removal, password change). Failures slow down the client address
//! that makes them, per key (an email, or an account for re-verification) and overall, with
//! growing delays: an attacker elsewhere never locks the owner out (docs/security.md).

use actix_web::HttpRequest;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::db;
use crate::db::login_failures::Failures;
use crate::error::{ApiError, ApiResult};
use crate::settings::AuthSettings;

/// Who is guessing what: the key counted per address (`email`, or `account:<id>` once signed in)
/// and the client address.
#[derive(Debug, Clone)]
pub struct Attempt {
    key: String,
    client_addr: String,
}

impl Attempt {
    /// A log-in for `email` (already trimmed and lowercased).
    pub fn login(req: &HttpRequest, email: &str) -> Attempt {
        Attempt {
            key: email.to_owned(),
            client_addr: client_addr(req),
        }
    }

    /// A signed-in account re-verifying its password or a 2FA code.
    pub fn reverify(req: &HttpRequest, account: Uuid) -> Attempt {
        Attempt {
            key: format!("account:{}", canopy_shared::format_id(account)),
            client_addr: client_addr(req),
        }
    }

    /// Guesses of password-reset codes from this address (any account: the code names it).
    pub fn reset_code(req: &HttpRequest) -> Attempt {
        Attempt {
            key: "password-reset".to_owned(),
            client_addr: client_addr(req),
        }
    }

    /// 429 `TOO_MANY_ATTEMPTS` (with `Retry-After`) while this address must wait.
    pub async fn guard(&self, conn: &mut PgConnection, limits: &AuthSettings) -> ApiResult<()> {
        let (pair, addr) = db::login_failures::count_recent(
            conn,
            &self.key,
            &self.client_addr,
            limits.login_window_s,
        )
        .await?;
        let wait_s = wait_s(
            pair,
            limits.login_max_failures_per_email,
            limits.login_window_s,
        )
        .max(wait_s(
            addr,
            limits.login_max_failures_per_addr,
            limits.login_window_s,
        ));
        if wait_s == 0 {
            return Ok(());
        }
        tracing::warn!(client.addr = %self.client_addr, wait_s, "secret-guessing limit reached");
        Err(ApiError::too_many_requests(
            "TOO_MANY_ATTEMPTS",
            "too many failed attempts from this address; wait before trying again",
            wait_s,
        ))
    }

    /// Counts a wrong password or code.
    pub async fn failed(&self, conn: &mut PgConnection, limits: &AuthSettings) -> ApiResult<()> {
        db::login_failures::record(conn, &self.key, &self.client_addr, limits.login_window_s)
            .await?;
        Ok(())
    }

    /// Forgets this address's failures for the key after a success.
    pub async fn succeeded(&self, conn: &mut PgConnection) -> ApiResult<()> {
        db::login_failures::clear_pair(conn, &self.key, &self.client_addr).await?;
        Ok(())
    }
}

fn client_addr(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|addr| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Seconds to wait before the next try after `failures`: none up to `allowed` failures, then 1 s
/// after the last failure, doubling with each further failure, at most the window.
fn wait_s(failures: Failures, allowed: i64, window_s: i64) -> u64 {
    if failures.count < allowed {
        return 0;
    }
    let doublings = u32::try_from(failures.count - allowed)
        .unwrap_or(u32::MAX)
        .min(20);
    let delay_s = (1u64 << doublings).min(window_s.unsigned_abs()) as f64;
    let left = delay_s - failures.since_last_s;
    if left > 0.0 {
        left.ceil() as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::wait_s;
    use crate::db::login_failures::Failures;

    fn after(count: i64, since_last_s: f64) -> u64 {
        wait_s(
            Failures {
                count,
                since_last_s,
            },
            5,
            900,
        )
    }

    #[test]
    fn delays_start_at_the_limit_double_and_are_capped_by_the_window() {
        assert_eq!(after(4, 0.0), 0);
        assert_eq!(after(5, 0.0), 1);
        assert_eq!(after(6, 0.5), 2);
        assert_eq!(after(8, 0.0), 8);
        assert_eq!(after(8, 8.5), 0);
        assert_eq!(after(40, 0.0), 900);
    }
}
