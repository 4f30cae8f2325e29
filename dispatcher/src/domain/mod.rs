//! Validated request types and the rules behind them. No actix, no sqlx.

pub mod account;
pub mod archive;
pub mod function;
pub mod rules;
pub mod tag;
