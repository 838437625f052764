//! SASL authentication of a connection, right after ApiVersions, as Kafka's Java client does it:
//! SaslHandshake v1 naming the mechanism, then the mechanism's tokens in SaslAuthenticate requests (v2
//! when the broker advertises it, else its highest).
//!
//! - PLAIN ([RFC 4616]): one token, `\0<user>\0<password>` (no authorization id); the broker answers an
//!   empty token.
//! - SCRAM-SHA-256 / SCRAM-SHA-512: the client-first message, then the client-final message with the
//!   proof, and the broker's signature in the server-final message is checked
//!   ([`security::scram::ClientExchange`]); the client nonce comes from the system's random generator.
//!
//! Any failure is one line, `authentication failed at HOST:PORT: <why>`, where the reason is the
//! broker's own error message when it sent one.
//!
//! [RFC 4616]: https://www.rfc-editor.org/rfc/rfc4616

use std::fmt;

use anyhow::{anyhow, bail, Result};
use bytes::Bytes;
use protocol::{
    ApiKey, ErrorCode, ResponseBody, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
};
use ring::rand::{SecureRandom, SystemRandom};
use security::scram::{client_nonce, ClientExchange, Mechanism};

use crate::client::{code_name, Conn};

/// A SASL mechanism the client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaslMechanism {
    /// `PLAIN`.
    Plain,
    /// `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    Scram(Mechanism),
}

impl SaslMechanism {
    /// Parses a mechanism name, ignoring case: `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    pub fn parse(name: &str) -> Result<SaslMechanism, String> {
        let upper = name.to_ascii_uppercase();
        if upper == security::plain::MECHANISM {
            return Ok(SaslMechanism::Plain);
        }
        Mechanism::from_name(&upper)
            .map(SaslMechanism::Scram)
            .ok_or_else(|| format!("unknown SASL mechanism {name:?}: expected PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"))
    }

    /// The name sent in SaslHandshake.
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => security::plain::MECHANISM,
            SaslMechanism::Scram(m) => m.name(),
        }
    }
}

impl fmt::Display for SaslMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Who to authenticate as. `Debug` hides the password.
#[derive(Clone)]
pub struct SaslConfig {
    /// The mechanism.
    pub mechanism: SaslMechanism,
    /// The user name.
    pub username: String,
    /// The password.
    pub password: String,
}

impl fmt::Debug for SaslConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaslConfig")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("password", &"[hidden]")
            .finish()
    }
}

/// Random bytes from the system's generator.
pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut bytes = [0; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| anyhow!("the system's random number generator failed"))?;
    Ok(bytes)
}

/// The PLAIN token: no authorization id, then the user name and the password, each after a NUL.
pub fn plain_token(username: &str, password: &str) -> Vec<u8> {
    format!("\0{username}\0{password}").into_bytes()
}

/// Authenticates `conn`, which has just negotiated versions.
pub fn authenticate(conn: &mut Conn, config: &SaslConfig) -> Result<()> {
    let password = config.password.as_str();
    let addr = conn.addr.clone();
    let failed = |why: String| anyhow!("authentication failed at {addr}: {why}");
    let handshake_version = conn
        .version(ApiKey::SaslHandshake)
        .map_err(|_| failed("the broker does not support SASL (it does not advertise SaslHandshake)".into()))?;
    if handshake_version < 1 {
        return Err(failed(
            "the broker supports only SaslHandshake v0 (raw SASL tokens), which kzero does not speak".into(),
        ));
    }
    let request = SaslHandshakeRequest {
        mechanism: config.mechanism.name().to_string(),
        ..Default::default()
    };
    let ResponseBody::SaslHandshake(r) = conn.call(request).map_err(|e| failed(format!("{e:#}")))? else {
        bail!("unexpected response to SaslHandshake");
    };
    match ErrorCode::from_code(r.error_code) {
        _ if r.error_code == 0 => {}
        Some(ErrorCode::UnsupportedSaslMechanism) => {
            return Err(failed(format!(
                "the broker does not enable {} (it enables {})",
                config.mechanism,
                if r.mechanisms.is_empty() {
                    "none".to_string()
                } else {
                    r.mechanisms.join(", ")
                }
            )))
        }
        Some(ErrorCode::IllegalSaslState) => {
            return Err(failed(
                "the listener does not expect SASL (ILLEGAL_SASL_STATE): is it a SASL listener?".into(),
            ))
        }
        _ => return Err(failed(code_name(r.error_code))),
    }

    let mut token = |bytes: Vec<u8>| -> Result<Bytes> {
        let request = SaslAuthenticateRequest {
            auth_bytes: Bytes::from(bytes),
            ..Default::default()
        };
        let answer = conn.call(request).map_err(|e| failed(format!("{e:#}")))?;
        let ResponseBody::SaslAuthenticate(r) = answer else {
            bail!("unexpected response to SaslAuthenticate");
        };
        check_authenticate(r).map_err(&failed)
    };
    match config.mechanism {
        SaslMechanism::Plain => {
            token(plain_token(&config.username, password))?;
        }
        SaslMechanism::Scram(mechanism) => {
            let nonce = client_nonce(&random_bytes::<24>()?);
            let mut exchange = ClientExchange::new(mechanism, &config.username, password, &nonce);
            let server_first = token(exchange.client_first())?;
            let client_final = exchange
                .server_first(&server_first)
                .map_err(|e| failed(e.to_string()))?;
            let server_final = token(client_final)?;
            exchange
                .server_final(&server_final)
                .map_err(|e| failed(e.to_string()))?;
        }
    }
    Ok(())
}

/// The server's token, or why the broker refused: its error message, else the error code's name.
fn check_authenticate(r: SaslAuthenticateResponse) -> Result<Bytes, String> {
    if r.error_code == 0 {
        return Ok(r.auth_bytes);
    }
    Err(match r.error_message.filter(|m| !m.is_empty()) {
        Some(message) => message,
        None => code_name(r.error_code),
    })
}

#[cfg(test)]
mod tests;
