//! Sends account emails (activation codes): over SMTP when configured, otherwise to the log,
//! so local use works without a mail server.

use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::settings::SmtpSettings;

/// Where account emails go.
#[derive(Clone)]
pub enum Mailer {
    Smtp {
        transport: Box<AsyncSmtpTransport<Tokio1Executor>>,
        from: Mailbox,
    },
    Log,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mailer::Smtp { from, .. } => write!(f, "Mailer::Smtp(from {from})"),
            Mailer::Log => write!(f, "Mailer::Log"),
        }
    }
}

impl Mailer {
    /// An SMTP mailer when settings are given, otherwise the log mailer.
    pub fn from_settings(smtp: Option<&SmtpSettings>) -> anyhow::Result<Self> {
        let Some(smtp) = smtp else {
            return Ok(Mailer::Log);
        };
        let from: Mailbox = smtp
            .from
            .parse()
            .map_err(|error| anyhow::anyhow!("invalid SMTP from address: {error}"))?;
        let builder = if smtp.starttls {
            AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)?
        } else {
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
        };
        let mut builder = builder.port(smtp.port);
        if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
            builder =
                builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()));
        }
        Ok(Mailer::Smtp {
            transport: Box::new(builder.build()),
            from,
        })
    }

    /// Sends the activation code for a new account.
    pub async fn send_activation_code(&self, to: &str, code: &str) -> anyhow::Result<()> {
        let body = format!("Your Canopy activation code is {code}\n\nPOST it to /v1/auth/activate as {{\"code\": \"{code}\"}}.\n");
        self.send(
            to,
            "Activate your Canopy account",
            body,
            ("activation", code),
        )
        .await
    }

    /// Sends a password-reset code.
    pub async fn send_password_reset_code(&self, to: &str, code: &str) -> anyhow::Result<()> {
        let body = format!(
            "Your Canopy password reset code is {code} (valid for 30 minutes).\n\nPOST {{\"code\": \"{code}\", \"password\": \"<new password>\"}} to /v1/user/resetPassword/confirm.\nIf you did not ask for it, ignore this mail: your password is unchanged.\n"
        );
        self.send(
            to,
            "Reset your Canopy password",
            body,
            ("password reset", code),
        )
        .await
    }

    /// Mails `body`; without SMTP the log is the only way the code reaches the user.
    async fn send(
        &self,
        to: &str,
        subject: &str,
        body: String,
        (purpose, code): (&str, &str),
    ) -> anyhow::Result<()> {
        match self {
            Mailer::Log => {
                tracing::info!(
                    email.to = to,
                    code.purpose = purpose,
                    code = code,
                    "code (no SMTP configured)"
                );
                Ok(())
            }
            Mailer::Smtp { transport, from } => {
                let message = Message::builder()
                    .from(from.clone())
                    .to(to
                        .parse()
                        .map_err(|error| anyhow::anyhow!("invalid recipient: {error}"))?)
                    .subject(subject)
                    .body(body)?;
                transport.send(message).await?;
                Ok(())
            }
        }
    }
}
