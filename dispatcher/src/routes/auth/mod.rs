//! `/v1/auth/*`: register, activate, login, refresh, API key exchange and 2FA.

pub(super) mod attempts;
pub(super) mod login;
pub(super) mod logout;
pub(super) mod register;
pub(crate) mod reverify;
pub(super) mod session;
pub(super) mod twofa;

use actix_web::web;

pub(crate) use attempts::Attempt;
pub(crate) use login::reload_revocations;
pub(crate) use session::{check_twofa, TokenPair};
pub(crate) use twofa::account_gone;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(register::register)
        .service(register::activate)
        .service(login::login)
        .service(login::refresh)
        .service(login::api_key_login)
        .service(logout::logout)
        .service(twofa::start_twofa)
        .service(twofa::verify_twofa)
        .service(twofa::disable_twofa);
}
