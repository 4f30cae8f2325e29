//! `canopy-dispatcher admin …`: account administration from the command line.

use sqlx::PgPool;

use crate::auth::password;
use crate::cli::CreateAdmin;
use crate::db;
use crate::db::accounts::NewAccount;
use crate::domain::rules;

/// Creates an active admin, or promotes an existing account with that email and resets its password.
pub async fn create_admin(pool: &PgPool, args: &CreateAdmin) -> anyhow::Result<String> {
    rules::password(&args.password).map_err(|error| {
        anyhow::anyhow!(
            "--password {}",
            error.message.as_deref().unwrap_or("is not acceptable")
        )
    })?;
    anyhow::ensure!(args.email.contains('@'), "--email must be an email address");
    let password_hash = password::hash_blocking(args.password.clone()).await?;
    let mut tx = pool.begin().await?;
    let outcome = if db::accounts::promote_to_admin(&mut tx, &args.email, &password_hash).await? {
        format!(
            "existing account {} is now an admin with the given password",
            args.email
        )
    } else {
        let account = NewAccount {
            id: canopy_shared::new_id(),
            email: &args.email,
            name: &args.name,
            surname: &args.surname,
            password_hash: &password_hash,
            role: "admin",
            activated: true,
        };
        db::accounts::insert_account(&mut tx, &account).await?;
        format!("admin {} created", args.email)
    };
    tx.commit().await?;
    Ok(outcome)
}
