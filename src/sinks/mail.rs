//! E-mail out: an SMTP client (lettre, rustls with ring) that says, for each message, how far it
//! got, precisely enough for at-most-once delivery. One connection carries a batch: connecting,
//! TLS and authentication fail before any message is handed over (nothing was sent; try again
//! later); a message's own 4xx or 5xx answer is definite; a connection lost in the middle of a
//! message is not (the server may have queued it), and is said so.

use crate::settings::{MailSettings, MailTls};
use lettre::message::{Mailbox, Message, MultiPart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("mail.from `{0}` is not an address (`Name <name@domain>` or `name@domain`)")]
    From(String),
    #[error("mail.ca_file does not hold a PEM certificate: {0}")]
    Ca(String),
    #[error("TLS for {server}: {reason}")]
    Tls { server: String, reason: String },
}

/// How one message ended at the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// 250 to its data: the server took it. The server's words.
    Accepted(String),
    /// A 4xx answer: not taken, may be tried again.
    Transient(String),
    /// A 5xx answer (or an address or message the client cannot send): never taken.
    Permanent(String),
    /// The connection broke while the message was under way: it may or may not have been taken.
    Unknown(String),
}

/// The SMTP server the settings name.
pub struct Mailer {
    server: String,
    port: u16,
    tls: MailTls,
    tls_parameters: Option<TlsParameters>,
    credentials: Option<Credentials>,
    from: Mailbox,
    timeout: Duration,
    hello: ClientId,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("server", &self.server)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("from", &self.from.to_string())
            .field("authenticated", &self.credentials.is_some())
            .finish()
    }
}

/// An open connection, ready for messages.
pub struct Connection<'a> {
    mailer: &'a Mailer,
    inner: AsyncSmtpConnection,
}

impl Mailer {
    /// `ca_pem`: the CA file's contents, read by `configuration`; `password`: the SMTP password.
    pub fn new(
        settings: &MailSettings,
        ca_pem: Option<&[u8]>,
        password: Option<SecretString>,
    ) -> Result<Mailer, MailError> {
        let from: Mailbox = settings
            .from
            .parse()
            .map_err(|_| MailError::From(settings.from.clone()))?;
        let tls_parameters = match settings.tls {
            MailTls::None => None,
            MailTls::Starttls | MailTls::Implicit => {
                let mut builder = TlsParameters::builder(settings.server.clone());
                if let Some(pem) = ca_pem {
                    builder = builder.add_root_certificate(
                        Certificate::from_pem(pem).map_err(|e| MailError::Ca(e.to_string()))?,
                    );
                }
                Some(builder.build_rustls().map_err(|e| MailError::Tls {
                    server: settings.server.clone(),
                    reason: e.to_string(),
                })?)
            }
        };
        let credentials = settings.username.as_ref().map(|user| {
            Credentials::new(
                user.clone(),
                password
                    .as_ref()
                    .map(|p| p.expose_secret().to_owned())
                    .unwrap_or_default(),
            )
        });
        Ok(Mailer {
            server: settings.server.clone(),
            port: settings.port,
            tls: settings.tls,
            tls_parameters,
            credentials,
            from,
            timeout: Duration::from_secs(settings.timeout_seconds.max(1)),
            hello: ClientId::default(),
        })
    }

    /// The sender's address.
    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// Connects, secures and signs in; nothing is sent yet. An error says what failed.
    #[tracing::instrument(name = "mail.connect", skip_all, fields(server = %self.server, port = self.port))]
    pub async fn connect(&self) -> Result<Connection<'_>, String> {
        let implicit = match self.tls {
            MailTls::Implicit => self.tls_parameters.clone(),
            _ => None,
        };
        let mut inner = AsyncSmtpConnection::connect_tokio1(
            (self.server.as_str(), self.port),
            Some(self.timeout),
            &self.hello,
            implicit,
            None,
        )
        .await
        .map_err(|e| format!("cannot reach {}:{}: {}", self.server, self.port, chain(&e)))?;
        if let (MailTls::Starttls, Some(params)) = (self.tls, &self.tls_parameters) {
            if !inner.can_starttls() {
                inner.abort().await;
                return Err(format!(
                    "{} does not offer STARTTLS; refusing to send in clear (mail.tls)",
                    self.server
                ));
            }
            inner
                .starttls(params.clone(), &self.hello)
                .await
                .map_err(|e| format!("STARTTLS with {}: {}", self.server, chain(&e)))?;
        }
        if let Some(credentials) = &self.credentials {
            inner
                .auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(|e| format!("{} refused the login: {}", self.server, chain(&e)))?;
        }
        Ok(Connection {
            mailer: self,
            inner,
        })
    }
}

impl Connection<'_> {
    /// Sends one message: plain text and HTML alternatives, UTF-8, with a Message-ID made from
    /// `key` (a resent message carries the same one).
    #[tracing::instrument(name = "mail.send", skip_all, fields(to = %to))]
    pub async fn send(
        &mut self,
        key: &str,
        to: &str,
        subject: &str,
        text: &str,
        html: &str,
    ) -> Sent {
        let to: Mailbox = match to.parse() {
            Ok(m) => m,
            Err(e) => return Sent::Permanent(format!("`{to}` is not an address: {e}")),
        };
        let domain = self.mailer.from.email.domain().to_owned();
        let id = {
            use sha2::Digest;
            let digest = sha2::Sha256::digest(key.as_bytes());
            let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
            format!("<{hex}@{domain}>")
        };
        let message = Message::builder()
            .from(self.mailer.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(id))
            .multipart(MultiPart::alternative_plain_html(
                text.to_owned(),
                html.to_owned(),
            ));
        let message = match message {
            Ok(m) => m,
            Err(e) => return Sent::Permanent(format!("the message cannot be built: {e}")),
        };
        match self
            .inner
            .send(message.envelope(), &message.formatted())
            .await
        {
            Ok(answer) => Sent::Accepted(answer_text(answer.code().to_string(), answer.message())),
            Err(e) if e.is_transient() => Sent::Transient(chain(&e)),
            Err(e) if e.is_permanent() || e.is_client() => Sent::Permanent(chain(&e)),
            Err(e) => Sent::Unknown(chain(&e)),
        }
    }

    /// Whether the connection can carry another message.
    pub fn broken(&self) -> bool {
        self.inner.has_broken()
    }

    pub async fn quit(mut self) {
        let _ = self.inner.quit().await;
    }
}

fn answer_text<'a>(code: String, lines: impl Iterator<Item = &'a str>) -> String {
    let words: Vec<&str> = lines.collect();
    format!("{code} {}", words.join(" ")).trim().to_owned()
}

/// An error with its causes, on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}
