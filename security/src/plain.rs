//! The PLAIN mechanism ([RFC 4616]) as Kafka's `PlainSaslServer` speaks it, checked against the salted
//! SCRAM credentials kzero stores instead of a table of passwords.
//!
//! The client sends one token, `[authzid] NUL authcid NUL passwd` in UTF-8; the server answers an empty
//! token on success, and the principal is `User:<authcid>`. [`parse`] reads the token, [`verify_plain`]
//! checks a password against a [`Credential`], and [`authenticate`] does both in Kafka's order.
//!
//! # Checking a password without storing it
//!
//! Kafka's PLAIN looks the password up in a JAAS `user_<name>=<password>` table and compares the clear
//! texts. kzero keeps no clear passwords: a user has the salted SCRAM credentials of
//! [`crate::scram`] (salt, StoredKey, ServerKey, iterations), made by AlterUserScramCredentials. So a PLAIN
//! password is checked by deriving the credential again from it, with the stored salt and iteration count,
//! and comparing both StoredKey and ServerKey with the stored ones in constant time. Either mechanism's
//! credential will do. This costs one PBKDF2 run (4096 to 16384 HMAC rounds) per PLAIN authentication,
//! which the broker should not run on a thread that serves other connections' I/O.
//!
//! # Kafka's behaviour mirrored
//!
//! - The token is decoded as UTF-8, invalid sequences replaced (Java's `new String(bytes, UTF_8)`), then
//!   split at NUL into at most four pieces; anything but exactly three fails with "Invalid SASL/PLAIN
//!   response: expected 3 tokens, got N".
//! - An empty user name or password fails; then the password is checked; then a non-empty authzid must
//!   equal the user name. The authzid is therefore only judged once the password is right.
//! - Every failure is a `SaslAuthenticationException` in Kafka, so its own text reaches the client:
//!   [`PlainError::client_message`].
//!
//! [RFC 4616]: https://www.rfc-editor.org/rfc/rfc4616

use std::fmt;
use std::num::NonZeroU32;

use crate::scram::{constant_time_eq, salted_password, Credential, Mechanism};

/// The SASL mechanism name a client sends in SaslHandshake.
pub const MECHANISM: &str = "PLAIN";

/// A PLAIN token, split into its three parts. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct PlainMessage {
    /// The authorization identity; empty when the client sent none.
    pub authzid: String,
    /// The authentication identity: the user name. Never empty.
    pub username: String,
    /// The password. Never empty.
    pub password: String,
}

impl fmt::Debug for PlainMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlainMessage")
            .field("authzid", &self.authzid)
            .field("username", &self.username)
            .field("password", &"[hidden]")
            .finish()
    }
}

/// Why a PLAIN authentication failed. The broker answers SASL_AUTHENTICATION_FAILED with
/// [`client_message`](PlainError::client_message) (or, after SaslHandshake v0, just closes) and then
/// closes the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlainError {
    /// The token does not split at NUL into exactly three parts.
    #[error("invalid sasl/plain response: expected 3 tokens, got {tokens}")]
    WrongTokenCount {
        /// How many parts Kafka would count: 1 to 4 (it stops splitting after four).
        tokens: usize,
    },
    /// The user name is empty.
    #[error("authentication failed: username not specified")]
    EmptyUsername,
    /// The password is empty.
    #[error("authentication failed: password not specified")]
    EmptyPassword,
    /// The user has no credential, or the password does not match it.
    #[error("authentication failed: invalid username or password")]
    InvalidCredentials,
    /// The authzid is neither empty nor the user name.
    #[error("authentication failed: client requested an authorization id that is different from username")]
    AuthorizationIdMismatch,
}

impl PlainError {
    /// The `ErrorMessage` Kafka puts in the SaslAuthenticate response for this failure, word for word.
    pub fn client_message(&self) -> String {
        match self {
            PlainError::WrongTokenCount { tokens } => {
                format!("Invalid SASL/PLAIN response: expected 3 tokens, got {tokens}")
            }
            PlainError::EmptyUsername => "Authentication failed: username not specified".to_string(),
            PlainError::EmptyPassword => "Authentication failed: password not specified".to_string(),
            PlainError::InvalidCredentials => "Authentication failed: Invalid username or password".to_string(),
            PlainError::AuthorizationIdMismatch => {
                "Authentication failed: Client requested an authorization id that is different from username"
                    .to_string()
            }
        }
    }
}

/// Splits a PLAIN token into authzid, user name and password, and refuses an empty user name or
/// password, as `PlainSaslServer.evaluateResponse` does before it checks the password.
pub fn parse(token: &[u8]) -> Result<PlainMessage, PlainError> {
    let text = String::from_utf8_lossy(token);
    let parts: Vec<&str> = text.splitn(4, '\0').collect();
    let [authzid, username, password] = parts.as_slice() else {
        return Err(PlainError::WrongTokenCount { tokens: parts.len() });
    };
    if username.is_empty() {
        return Err(PlainError::EmptyUsername);
    }
    if password.is_empty() {
        return Err(PlainError::EmptyPassword);
    }
    Ok(PlainMessage {
        authzid: (*authzid).to_string(),
        username: (*username).to_string(),
        password: (*password).to_string(),
    })
}

/// Whether `password` is the one `credential` was made from (of either SCRAM mechanism): the credential is
/// derived again from `password` with the stored salt and iteration count, and its StoredKey and ServerKey
/// are compared with the stored ones in constant time.
///
/// Costs one PBKDF2 run of `credential.iterations` rounds. A credential with zero iterations matches
/// nothing.
pub fn verify_plain(password: &[u8], credential: &Credential) -> bool {
    let Some(iterations) = NonZeroU32::new(credential.iterations) else {
        return false;
    };
    let salted = salted_password(credential.mechanism, password, &credential.salt, iterations);
    let derived =
        Credential::from_salted_password(credential.mechanism, &credential.salt, &salted, credential.iterations);
    // Both comparisons run, whatever the first finds.
    let stored = constant_time_eq(&derived.stored_key, &credential.stored_key);
    let server = constant_time_eq(&derived.server_key, &credential.server_key);
    stored & server
}

/// One PLAIN authentication, in `PlainSaslServer`'s order: [`parse`], then `lookup` of the user name and
/// [`verify_plain`], then the authzid. On success, the authenticated user name; the broker answers an
/// empty token.
///
/// `lookup` returns one of the user's SCRAM credentials (either mechanism), or `None` when the user has
/// none; it is not called for a malformed token.
pub fn authenticate(token: &[u8], lookup: impl FnOnce(&str) -> Option<Credential>) -> Result<String, PlainError> {
    let message = parse(token)?;
    let verified = match lookup(&message.username) {
        Some(credential) => verify_plain(message.password.as_bytes(), &credential),
        None => {
            // As much work as a known user's check, so that the time taken does not tell which users exist.
            let iterations = NonZeroU32::new(crate::scram::MIN_ITERATIONS).unwrap_or(NonZeroU32::MIN);
            let _ = salted_password(
                Mechanism::Sha512,
                message.password.as_bytes(),
                b"no such user",
                iterations,
            );
            false
        }
    };
    if !verified {
        return Err(PlainError::InvalidCredentials);
    }
    if !message.authzid.is_empty() && message.authzid != message.username {
        return Err(PlainError::AuthorizationIdMismatch);
    }
    Ok(message.username)
}
