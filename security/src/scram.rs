//! SCRAM-SHA-256 and SCRAM-SHA-512 ([RFC 5802], [RFC 7677]) as a Kafka broker speaks them: the
//! mechanisms, the credentials a broker stores, the checks AlterUserScramCredentials applies before it
//! stores one, and both sides of one authentication exchange.
//!
//! - [`Mechanism`] mirrors Kafka's `ScramMechanism` (both the SASL one in
//!   `common.security.scram.internals` and the admin one with its type ids, [KIP-554]).
//! - [`Credential`] is what Kafka keeps per user and mechanism (`ScramCredential`, the
//!   `UserScramCredentialRecord` of the metadata log): salt, StoredKey, ServerKey and iteration count,
//!   never the password. [`Credential::new`] derives one from a password, as `ScramFormatter` does;
//!   [`Credential::from_salted_password`] derives one from the SaltedPassword an AlterUserScramCredentials
//!   upsertion carries, as `ScramControlManager.finishUpsertion` does.
//! - [`validate_upsertion`] and [`validate_deletion`] are the checks of
//!   `ScramControlManager.validateUpsertion` and `validateDeletion`, with Kafka's error messages.
//! - [`ServerExchange`] is the server side of one exchange, Kafka's `ScramSaslServer` with the message
//!   grammar of `ScramMessages`: it reads the client-first message, answers the server-first message,
//!   reads the client-final message, checks the proof and answers the server-final message.
//!   The server nonce is a parameter (see [`server_nonce`]); this module draws no randomness.
//! - [`ClientExchange`] is the client side, Kafka's `ScramSaslClient`: it makes the client-first
//!   message, answers the server-first message with the proof, and checks the server's signature in the
//!   server-final message. The client nonce is a parameter (see [`client_nonce`]).
//!
//! # Exchange
//!
//! ```text
//! client-first   n,[a=<authzid>],n=<saslname>,r=<client nonce>[,<ext>=<value>...]
//! server-first   r=<client nonce><server nonce>,s=<base64 salt>,i=<iterations>
//! client-final   c=<base64 gs2 header>,r=<client nonce><server nonce>[,<ext>=<value>...],p=<base64 proof>
//! server-final   v=<base64 ServerSignature>
//!
//! SaltedPassword  = Hi(password, salt, i)            (PBKDF2 with HMAC-SHA-256 or HMAC-SHA-512)
//! ClientKey       = HMAC(SaltedPassword, "Client Key")
//! StoredKey       = H(ClientKey)
//! ServerKey       = HMAC(SaltedPassword, "Server Key")
//! AuthMessage     = client-first-bare "," server-first "," client-final-without-proof
//! ClientSignature = HMAC(StoredKey, AuthMessage)
//! ClientProof     = ClientKey XOR ClientSignature     (the server checks H(proof XOR signature) == StoredKey)
//! ServerSignature = HMAC(ServerKey, AuthMessage)
//! ```
//!
//! # What the exchange accepts, as Kafka does
//!
//! - Only the gs2 flag `n` (no channel binding), with an optional authzid that must name the user.
//! - User names, authzids and extension values are ASCII (`0x01`-`0x7F`), as Kafka's `ScramMessages`
//!   patterns require; `=2C` and `=3D` are the only escapes in a saslname.
//! - Nonces are printable ASCII (`0x21`-`0x7E`) other than `,`.
//! - Extensions are accepted and ignored, except `tokenauth=true` (delegation-token credentials), which
//!   fails the exchange as Kafka does when it knows no such token: kzero has no delegation tokens.
//! - An unknown user fails at the client-first message (Kafka does not carry on with a fake credential),
//!   and so does a credential with fewer than [`MIN_ITERATIONS`] iterations.
//!
//! Every failure is an [`Err`] value and leaves the exchange failed; no input makes this module panic.
//! [`ScramError::client_message`] gives the text Kafka puts in the SaslAuthenticate response.
//!
//! # Where this differs from Kafka, deliberately
//!
//! - The AuthMessage is built from the messages as received (RFC 5802). Kafka rebuilds it from parsed
//!   fields: it drops a `m=` reserved attribute and client-final extensions, and re-serializes client-first
//!   extensions from a map. For every message a real client sends the two are the same bytes.
//! - A client-first message with the reserved `m=` attribute is refused at once. Kafka accepts it and then
//!   fails the proof, since its AuthMessage leaves the attribute out; the client sees the same failure.
//! - The `c=` attribute of the client-final message must be the base64 of the gs2 header the client sent
//!   (`biws` for `n,,`), as RFC 5802 asks. Kafka does not compare it; a client that follows the RFC always
//!   sends exactly that.
//! - An authzid is unescaped before it is compared with the user name. Kafka compares the escaped
//!   authzid, so it refuses an authzid for a user name that contains `,` or `=`.
//!
//! [RFC 5802]: https://www.rfc-editor.org/rfc/rfc5802
//! [RFC 7677]: https://www.rfc-editor.org/rfc/rfc7677
//! [KIP-554]: https://cwiki.apache.org/confluence/display/KAFKA/KIP-554%3A+Add+Broker-side+SCRAM+Config+API

use std::fmt;
use std::num::NonZeroU32;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ring::{digest, hmac, pbkdf2};

/// The fewest iterations Kafka accepts for a SCRAM credential (`ScramMechanism.minIterations`), both
/// when it stores one and when a client authenticates with one.
pub const MIN_ITERATIONS: u32 = 4096;

/// The most iterations AlterUserScramCredentials accepts (`ScramControlManager.MAX_ITERATIONS`).
pub const MAX_ITERATIONS: u32 = 16384;

/// A SCRAM mechanism Kafka supports, Kafka's `ScramMechanism`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    /// `SCRAM-SHA-256`: SHA-256 and HMAC-SHA-256 ([RFC 7677]), type id 1.
    ///
    /// [RFC 7677]: https://www.rfc-editor.org/rfc/rfc7677
    Sha256,
    /// `SCRAM-SHA-512`: SHA-512 and HMAC-SHA-512, type id 2.
    Sha512,
}

impl Mechanism {
    /// Both mechanisms, in type-id order.
    pub const ALL: [Mechanism; 2] = [Mechanism::Sha256, Mechanism::Sha512];

    /// The SASL mechanism name a client sends in SaslHandshake: `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    pub const fn name(self) -> &'static str {
        match self {
            Mechanism::Sha256 => "SCRAM-SHA-256",
            Mechanism::Sha512 => "SCRAM-SHA-512",
        }
    }

    /// The mechanism with this SASL name. The match is exact and case-sensitive, as Kafka's lookup is.
    pub fn from_name(name: &str) -> Option<Mechanism> {
        Mechanism::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The type id DescribeUserScramCredentials and AlterUserScramCredentials carry in their
    /// `Mechanism` field, and the metadata log's `UserScramCredentialRecord` stores: 1 for SCRAM-SHA-256,
    /// 2 for SCRAM-SHA-512 (Kafka's admin `ScramMechanism.type`; 0 is `UNKNOWN`).
    pub const fn type_id(self) -> i8 {
        match self {
            Mechanism::Sha256 => 1,
            Mechanism::Sha512 => 2,
        }
    }

    /// The mechanism with this type id; `None` for any other id, which Kafka calls `UNKNOWN`.
    pub const fn from_type_id(id: i8) -> Option<Mechanism> {
        match id {
            1 => Some(Mechanism::Sha256),
            2 => Some(Mechanism::Sha512),
            _ => None,
        }
    }

    /// The fewest iterations accepted for this mechanism: [`MIN_ITERATIONS`] for both.
    pub const fn min_iterations(self) -> u32 {
        MIN_ITERATIONS
    }

    /// The most iterations AlterUserScramCredentials accepts for this mechanism: [`MAX_ITERATIONS`].
    pub const fn max_iterations(self) -> u32 {
        MAX_ITERATIONS
    }

    /// The length in bytes of this mechanism's hash, and so of every key and proof: 32 or 64.
    pub const fn output_len(self) -> usize {
        match self {
            Mechanism::Sha256 => 32,
            Mechanism::Sha512 => 64,
        }
    }

    fn digest(self) -> &'static digest::Algorithm {
        match self {
            Mechanism::Sha256 => &digest::SHA256,
            Mechanism::Sha512 => &digest::SHA512,
        }
    }

    fn hmac(self) -> hmac::Algorithm {
        match self {
            Mechanism::Sha256 => hmac::HMAC_SHA256,
            Mechanism::Sha512 => hmac::HMAC_SHA512,
        }
    }

    fn pbkdf2(self) -> pbkdf2::Algorithm {
        match self {
            Mechanism::Sha256 => pbkdf2::PBKDF2_HMAC_SHA256,
            Mechanism::Sha512 => pbkdf2::PBKDF2_HMAC_SHA512,
        }
    }

    /// `HMAC(key, message)` with this mechanism's hash.
    fn sign(self, key: &[u8], message: &[u8]) -> hmac::Tag {
        hmac::sign(&hmac::Key::new(self.hmac(), key), message)
    }

    /// `ClientKey = HMAC(SaltedPassword, "Client Key")`.
    fn client_key(self, salted_password: &[u8]) -> hmac::Tag {
        self.sign(salted_password, b"Client Key")
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `Hi(password, salt, iterations)` of RFC 5802, i.e. PBKDF2 with the mechanism's HMAC and an output as
/// long as its hash: the SaltedPassword.
///
/// The password is used as given. Kafka applies no SASLprep: it takes the UTF-8 bytes of the password
/// (`ScramFormatter.normalize`). An AlterUserScramCredentials client computes this value itself and sends
/// it with the salt; a client authenticating computes it to build its proof.
pub fn salted_password(mechanism: Mechanism, password: &[u8], salt: &[u8], iterations: NonZeroU32) -> Vec<u8> {
    let mut out = vec![0; mechanism.output_len()];
    pbkdf2::derive(mechanism.pbkdf2(), iterations, salt, password, &mut out);
    out
}

/// A server nonce suffix made from random bytes the caller drew: their base64 without padding.
///
/// Kafka prints a random 130-bit integer in base 36 (`ScramFormatter.secureRandomString`); any printable
/// string without `,` is valid, so kzero prints the bytes in base64. Pass at least 16 random bytes.
pub fn server_nonce(random: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(random)
}

/// A client nonce made from random bytes the caller drew, printed as [`server_nonce`] prints them (Kafka's
/// client uses the same base-36 string as its server). Pass at least 16 random bytes.
pub fn client_nonce(random: &[u8]) -> String {
    server_nonce(random)
}

/// A SCRAM credential as Kafka stores it for one user and one mechanism (`ScramCredential`, and the
/// `UserScramCredentialRecord` of the metadata log): enough to check a client's proof and to prove the
/// server knows it, but not the password nor anything a client could log in with.
///
/// `Debug` prints the mechanism and iteration count only. `PartialEq` is an ordinary comparison, for
/// bookkeeping such as telling whether an upsertion changes anything; it is not how secrets are checked.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// The mechanism whose hash the keys were made with.
    pub mechanism: Mechanism,
    /// The salt, sent to clients in the server-first message. Kafka generates it as the UTF-8 bytes of a
    /// random base-36 string; clients that upsert a credential choose their own.
    pub salt: Vec<u8>,
    /// `H(HMAC(SaltedPassword, "Client Key"))`: checks a client's proof.
    pub stored_key: Vec<u8>,
    /// `HMAC(SaltedPassword, "Server Key")`: signs the server-final message.
    pub server_key: Vec<u8>,
    /// The iteration count of `Hi`, sent to clients in the server-first message.
    pub iterations: u32,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("mechanism", &self.mechanism)
            .field("salt", &"[hidden]")
            .field("stored_key", &"[hidden]")
            .field("server_key", &"[hidden]")
            .field("iterations", &self.iterations)
            .finish()
    }
}

impl Credential {
    /// The credential for `password` with this salt and iteration count, as `ScramFormatter` derives it.
    ///
    /// The iteration count must lie within Kafka's bounds, [`MIN_ITERATIONS`] to [`MAX_ITERATIONS`]
    /// (the same bounds and errors as [`validate_upsertion`]), so that no credential is made that Kafka
    /// would refuse to store or to authenticate with.
    pub fn new(
        mechanism: Mechanism,
        password: &[u8],
        salt: &[u8],
        iterations: u32,
    ) -> Result<Credential, CredentialError> {
        check_iterations(mechanism, i64::from(iterations))?;
        // The bounds check above rules out zero.
        let Some(count) = NonZeroU32::new(iterations) else {
            return Err(CredentialError::TooFewIterations {
                iterations: i64::from(iterations),
            });
        };
        let salted = salted_password(mechanism, password, salt, count);
        Ok(Credential::from_salted_password(mechanism, salt, &salted, iterations))
    }

    /// The credential for a SaltedPassword computed elsewhere, as `ScramControlManager.finishUpsertion`
    /// turns an AlterUserScramCredentials upsertion (`Salt`, `SaltedPassword`, `Iterations`, [KIP-554])
    /// into the stored record: `StoredKey = H(HMAC(SaltedPassword, "Client Key"))` and
    /// `ServerKey = HMAC(SaltedPassword, "Server Key")`.
    ///
    /// Nothing is checked here (Kafka checks nothing about the salt or the SaltedPassword either); call
    /// [`validate_upsertion`] first.
    ///
    /// [KIP-554]: https://cwiki.apache.org/confluence/display/KAFKA/KIP-554%3A+Add+Broker-side+SCRAM+Config+API
    pub fn from_salted_password(
        mechanism: Mechanism,
        salt: &[u8],
        salted_password: &[u8],
        iterations: u32,
    ) -> Credential {
        let client_key = mechanism.client_key(salted_password);
        let stored_key = digest::digest(mechanism.digest(), client_key.as_ref());
        let server_key = mechanism.sign(salted_password, b"Server Key");
        Credential {
            mechanism,
            salt: salt.to_vec(),
            stored_key: stored_key.as_ref().to_vec(),
            server_key: server_key.as_ref().to_vec(),
            iterations,
        }
    }
}

/// Why a credential cannot be stored or deleted: the checks of Kafka's `ScramControlManager`.
///
/// Each variant is answered in the AlterUserScramCredentials result for that user with
/// [`error_code`](CredentialError::error_code) and [`kafka_message`](CredentialError::kafka_message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// The user name is empty (UNACCEPTABLE_CREDENTIAL).
    #[error("user name must not be empty")]
    EmptyUsername,
    /// The mechanism type id is neither 1 nor 2 (UNSUPPORTED_SASL_MECHANISM).
    #[error("unknown scram mechanism type {mechanism}")]
    UnknownMechanism {
        /// The type id received.
        mechanism: i8,
    },
    /// Fewer than [`MIN_ITERATIONS`] iterations (UNACCEPTABLE_CREDENTIAL).
    #[error("too few iterations: {iterations}")]
    TooFewIterations {
        /// The iteration count received.
        iterations: i64,
    },
    /// More than [`MAX_ITERATIONS`] iterations (UNACCEPTABLE_CREDENTIAL).
    #[error("too many iterations: {iterations}")]
    TooManyIterations {
        /// The iteration count received.
        iterations: i64,
    },
}

impl CredentialError {
    /// Kafka's error code for this failure: UNACCEPTABLE_CREDENTIAL (93) or, for an unknown mechanism,
    /// UNSUPPORTED_SASL_MECHANISM (33).
    pub const fn error_code(&self) -> i16 {
        match self {
            CredentialError::UnknownMechanism { .. } => 33,
            CredentialError::EmptyUsername
            | CredentialError::TooFewIterations { .. }
            | CredentialError::TooManyIterations { .. } => 93,
        }
    }

    /// Kafka's error message for this failure, exactly as `ScramControlManager` words it.
    pub const fn kafka_message(&self) -> &'static str {
        match self {
            CredentialError::EmptyUsername => "Username must not be empty",
            CredentialError::UnknownMechanism { .. } => "Unknown SCRAM mechanism",
            CredentialError::TooFewIterations { .. } => "Too few iterations",
            CredentialError::TooManyIterations { .. } => "Too many iterations",
        }
    }
}

fn check_iterations(mechanism: Mechanism, iterations: i64) -> Result<(), CredentialError> {
    if iterations < i64::from(mechanism.min_iterations()) {
        Err(CredentialError::TooFewIterations { iterations })
    } else if iterations > i64::from(mechanism.max_iterations()) {
        Err(CredentialError::TooManyIterations { iterations })
    } else {
        Ok(())
    }
}

/// The checks `ScramControlManager.validateUpsertion` applies to one AlterUserScramCredentials upsertion,
/// in Kafka's order: a non-empty user name, a known mechanism type id, then
/// [`MIN_ITERATIONS`] ≤ `iterations` ≤ [`MAX_ITERATIONS`]. On success, the mechanism.
///
/// The broker still answers DUPLICATE_RESOURCE ("A user credential cannot be altered twice in the same
/// request") when a request names a user twice; that check spans the whole request.
pub fn validate_upsertion(name: &str, mechanism: i8, iterations: i32) -> Result<Mechanism, CredentialError> {
    let mechanism = validate_deletion(name, mechanism)?;
    check_iterations(mechanism, i64::from(iterations))?;
    Ok(mechanism)
}

/// The checks `ScramControlManager.validateDeletion` applies to one AlterUserScramCredentials deletion
/// before it looks the credential up: a non-empty user name and a known mechanism type id. On success,
/// the mechanism.
///
/// The broker then answers RESOURCE_NOT_FOUND ("Attempt to delete a user credential that does not
/// exist") when the user has no credential for that mechanism.
pub fn validate_deletion(name: &str, mechanism: i8) -> Result<Mechanism, CredentialError> {
    if name.is_empty() {
        return Err(CredentialError::EmptyUsername);
    }
    Mechanism::from_type_id(mechanism).ok_or(CredentialError::UnknownMechanism { mechanism })
}

/// Kafka's message for an authentication that failed with a plain `SaslException`, which
/// `SaslServerAuthenticator.handleSaslToken` sends instead of the exception's own text so that nothing
/// (such as whether the user exists) leaks: "Authentication failed during authentication due to invalid
/// credentials with SASL mechanism SCRAM-SHA-256", with "re-authentication" in place of the first
/// "authentication" during a re-authentication (KIP-368).
pub fn generic_failure_message(mechanism_name: &str, reauthentication: bool) -> String {
    let phase = if reauthentication {
        "re-authentication"
    } else {
        "authentication"
    };
    format!("Authentication failed during {phase} due to invalid credentials with SASL mechanism {mechanism_name}")
}

/// Why a SCRAM exchange failed. The exchange is over: the broker answers SASL_AUTHENTICATION_FAILED with
/// [`client_message`](ScramError::client_message) (or, after SaslHandshake v0, just closes) and then
/// closes the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScramError {
    /// The client-first message does not follow Kafka's grammar (Kafka: "Invalid SCRAM client first
    /// message format").
    #[error("invalid scram client first message format")]
    MalformedClientFirst,
    /// The client asked for delegation-token authentication (`tokenauth=true`); kzero has no delegation
    /// tokens, so, like Kafka finding no such token, it fails ("Token Authentication failed: Invalid
    /// tokenId").
    #[error("token authentication failed: no delegation token is known")]
    TokenAuthentication,
    /// No credential for this user and mechanism (Kafka: "Authentication failed: Invalid user
    /// credentials").
    #[error("authentication failed: invalid user credentials")]
    UnknownUser,
    /// The client-first message names an authzid other than the user. Kafka raises a
    /// `SaslAuthenticationException` here, so this is the one failure whose own text reaches the client.
    #[error("authentication failed: client requested an authorization id that is different from username")]
    AuthorizationIdMismatch,
    /// The stored credential has fewer than [`MIN_ITERATIONS`] iterations.
    #[error("iterations {iterations} is less than the minimum {minimum} for {mechanism}")]
    TooFewIterations {
        /// The credential's iteration count.
        iterations: u32,
        /// The mechanism's minimum.
        minimum: u32,
        /// The mechanism.
        mechanism: Mechanism,
    },
    /// The server nonce suffix given to [`ServerExchange::new`] is empty or has a character other than
    /// printable ASCII without `,` (a broker bug, reported as a failed authentication).
    #[error("invalid server nonce")]
    InvalidServerNonce,
    /// The client-final message does not follow Kafka's grammar, or its proof is not valid base64.
    #[error("invalid scram client final message format")]
    MalformedClientFinal,
    /// The `c=` attribute is not the base64 of the gs2 header of the client-first message.
    #[error("channel binding does not match the gs2 header")]
    ChannelBindingMismatch,
    /// The nonce of the client-final message is not the one of the server-first message (Kafka:
    /// "Invalid client nonce in the final client message.").
    #[error("invalid client nonce in the final client message")]
    NonceMismatch,
    /// The proof is wrong: a wrong password, or a proof of the wrong length (Kafka: "Invalid client
    /// credentials").
    #[error("invalid client credentials")]
    InvalidProof,
    /// A message arrived when the exchange expected none of that kind: a client-final before the
    /// client-first, or any message after the exchange completed or failed (Kafka's
    /// `IllegalSaslStateException`, "Unexpected challenge in Sasl server state").
    #[error("unexpected message in scram server state {state}")]
    UnexpectedMessage {
        /// The state the exchange was in.
        state: &'static str,
    },
}

impl ScramError {
    /// The `ErrorMessage` Kafka puts in the SaslAuthenticate response (error SASL_AUTHENTICATION_FAILED)
    /// for this failure.
    ///
    /// Only [`AuthorizationIdMismatch`](ScramError::AuthorizationIdMismatch) carries its own text
    /// ("Authentication failed: Client requested an authorization id that is different from username");
    /// every other failure is a `SaslException` in Kafka and gets [`generic_failure_message`].
    pub fn client_message(&self, mechanism: Mechanism, reauthentication: bool) -> String {
        match self {
            ScramError::AuthorizationIdMismatch => {
                "Authentication failed: Client requested an authorization id that is different from username"
                    .to_string()
            }
            _ => generic_failure_message(mechanism.name(), reauthentication),
        }
    }
}

/// The server side of one SCRAM exchange, Kafka's `ScramSaslServer`: a state machine fed with the
/// client's two messages.
///
/// ```text
/// AwaitingClientFirst --client_first--> AwaitingClientFinal --client_final--> Complete
///          \__________________________________\_______________________________> Failed (on any error)
/// ```
///
/// The broker creates one per SaslHandshake naming a SCRAM mechanism, passes each SaslAuthenticate token
/// to [`client_first`](ServerExchange::client_first) then [`client_final`](ServerExchange::client_final)
/// (or both to [`evaluate_response`](ServerExchange::evaluate_response)), and returns what they return as
/// the response token. After the client-final message the exchange is complete and
/// [`authenticated_user`](ServerExchange::authenticated_user) names the principal `User:<name>`.
#[derive(Debug)]
pub struct ServerExchange {
    mechanism: Mechanism,
    server_nonce_suffix: String,
    state: State,
}

#[derive(Debug)]
enum State {
    AwaitingClientFirst,
    AwaitingClientFinal(Box<AwaitingFinal>),
    Complete { username: String },
    Failed,
}

impl State {
    fn name(&self) -> &'static str {
        match self {
            State::AwaitingClientFirst => "RECEIVE_CLIENT_FIRST_MESSAGE",
            State::AwaitingClientFinal(_) => "RECEIVE_CLIENT_FINAL_MESSAGE",
            State::Complete { .. } => "COMPLETE",
            State::Failed => "FAILED",
        }
    }
}

/// What the client-final message is checked against.
#[derive(Debug)]
struct AwaitingFinal {
    username: String,
    credential: Credential,
    /// INVARIANT: the base64 of the gs2 header as received, which `c=` must equal.
    channel_binding: String,
    /// INVARIANT: the client nonce followed by the server nonce suffix, as sent in server-first.
    nonce: Vec<u8>,
    /// INVARIANT: client-first-bare "," server-first ",", the start of the AuthMessage.
    auth_message_prefix: Vec<u8>,
}

impl ServerExchange {
    /// A new exchange for `mechanism`, which will append `server_nonce_suffix` to the client's nonce.
    ///
    /// The suffix must be fresh and unpredictable for every exchange (see [`server_nonce`]) and consist
    /// of printable ASCII without `,`; otherwise [`client_first`](ServerExchange::client_first) fails with
    /// [`ScramError::InvalidServerNonce`].
    pub fn new(mechanism: Mechanism, server_nonce_suffix: &str) -> ServerExchange {
        ServerExchange {
            mechanism,
            server_nonce_suffix: server_nonce_suffix.to_string(),
            state: State::AwaitingClientFirst,
        }
    }

    /// The mechanism of this exchange.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// Whether the exchange completed: the client proved it knows the password.
    pub fn is_complete(&self) -> bool {
        matches!(self.state, State::Complete { .. })
    }

    /// Whether the exchange failed. A failed exchange refuses every further message.
    pub fn is_failed(&self) -> bool {
        matches!(self.state, State::Failed)
    }

    /// The authenticated user name (unescaped), once the exchange is complete.
    pub fn authenticated_user(&self) -> Option<&str> {
        match &self.state {
            State::Complete { username } => Some(username),
            _ => None,
        }
    }

    /// The next client message, whichever it is, like Kafka's `SaslServer.evaluateResponse`: the
    /// client-first message first (`lookup` is called only then), the client-final message next.
    pub fn evaluate_response(
        &mut self,
        message: &[u8],
        lookup: impl FnOnce(&str) -> Option<Credential>,
    ) -> Result<Vec<u8>, ScramError> {
        match self.state {
            State::AwaitingClientFirst => self.client_first(message, lookup),
            _ => self.client_final(message),
        }
    }

    /// Reads the client-first message and answers the server-first message.
    ///
    /// `lookup` receives the user name (unescaped) and returns the user's credential for this exchange's
    /// mechanism, or `None` when there is none. It is not called when the message is malformed or asks
    /// for token authentication. A credential of another mechanism counts as none.
    ///
    /// Checks, in Kafka's order: the grammar; `tokenauth`; the credential exists; the authzid, if any,
    /// names the user; the credential has at least [`MIN_ITERATIONS`] iterations.
    pub fn client_first(
        &mut self,
        message: &[u8],
        lookup: impl FnOnce(&str) -> Option<Credential>,
    ) -> Result<Vec<u8>, ScramError> {
        let result = match self.state {
            State::AwaitingClientFirst => self.read_client_first(message, lookup),
            _ => Err(ScramError::UnexpectedMessage {
                state: self.state.name(),
            }),
        };
        match result {
            Ok((awaiting, server_first)) => {
                self.state = State::AwaitingClientFinal(Box::new(awaiting));
                Ok(server_first)
            }
            Err(e) => {
                self.state = State::Failed;
                Err(e)
            }
        }
    }

    fn read_client_first(
        &self,
        message: &[u8],
        lookup: impl FnOnce(&str) -> Option<Credential>,
    ) -> Result<(AwaitingFinal, Vec<u8>), ScramError> {
        let first = parse_client_first(message).ok_or(ScramError::MalformedClientFirst)?;
        if first.token_auth {
            return Err(ScramError::TokenAuthentication);
        }
        let credential = lookup(&first.username)
            .filter(|c| c.mechanism == self.mechanism)
            .ok_or(ScramError::UnknownUser)?;
        if let Some(authzid) = &first.authzid {
            if *authzid != first.username {
                return Err(ScramError::AuthorizationIdMismatch);
            }
        }
        if credential.iterations < self.mechanism.min_iterations() {
            return Err(ScramError::TooFewIterations {
                iterations: credential.iterations,
                minimum: self.mechanism.min_iterations(),
                mechanism: self.mechanism,
            });
        }
        let suffix = self.server_nonce_suffix.as_bytes();
        if !is_printable(suffix) {
            return Err(ScramError::InvalidServerNonce);
        }

        let mut nonce = first.nonce.to_vec();
        nonce.extend_from_slice(suffix);
        let mut server_first = b"r=".to_vec();
        server_first.extend_from_slice(&nonce);
        server_first.extend_from_slice(b",s=");
        server_first.extend_from_slice(BASE64.encode(&credential.salt).as_bytes());
        server_first.extend_from_slice(format!(",i={}", credential.iterations).as_bytes());

        let mut auth_message_prefix = first.bare.to_vec();
        auth_message_prefix.push(b',');
        auth_message_prefix.extend_from_slice(&server_first);
        auth_message_prefix.push(b',');

        let awaiting = AwaitingFinal {
            username: first.username,
            credential,
            channel_binding: BASE64.encode(first.gs2_header),
            nonce,
            auth_message_prefix,
        };
        Ok((awaiting, server_first))
    }

    /// Reads the client-final message, checks the proof and answers the server-final message
    /// `v=<base64 ServerSignature>`. On success the exchange is complete.
    ///
    /// Checks, in order: the grammar; the nonce is the server-first nonce; `c=` is the base64 of the gs2
    /// header; `H(proof XOR ClientSignature)` equals StoredKey, compared in constant time. Kafka's server
    /// never sends the `e=` error form; it fails the exchange, and so does this.
    pub fn client_final(&mut self, message: &[u8]) -> Result<Vec<u8>, ScramError> {
        let state = std::mem::replace(&mut self.state, State::Failed);
        let State::AwaitingClientFinal(awaiting) = state else {
            return Err(ScramError::UnexpectedMessage { state: state.name() });
        };
        let server_final = self.read_client_final(&awaiting, message)?;
        self.state = State::Complete {
            username: awaiting.username,
        };
        Ok(server_final)
    }

    fn read_client_final(&self, awaiting: &AwaitingFinal, message: &[u8]) -> Result<Vec<u8>, ScramError> {
        let last = parse_client_final(message).ok_or(ScramError::MalformedClientFinal)?;
        // Kafka checks that the nonce *ends with* the server-first nonce (`ScramSaslServer`), which
        // librdkafka before 2.1 needs: it sends the client nonce twice in the client-final message.
        if !last.nonce.ends_with(awaiting.nonce.as_slice()) {
            return Err(ScramError::NonceMismatch);
        }
        if last.channel_binding != awaiting.channel_binding.as_bytes() {
            return Err(ScramError::ChannelBindingMismatch);
        }
        let proof = BASE64
            .decode(last.proof)
            .map_err(|_| ScramError::MalformedClientFinal)?;

        let credential = &awaiting.credential;
        let mut auth_message = awaiting.auth_message_prefix.clone();
        auth_message.extend_from_slice(last.without_proof);

        let client_signature = self.mechanism.sign(&credential.stored_key, &auth_message);
        if proof.len() != client_signature.as_ref().len() {
            return Err(ScramError::InvalidProof);
        }
        let client_key: Vec<u8> = proof
            .iter()
            .zip(client_signature.as_ref())
            .map(|(p, s)| p ^ s)
            .collect();
        let computed = digest::digest(self.mechanism.digest(), &client_key);
        if !constant_time_eq(computed.as_ref(), &credential.stored_key) {
            return Err(ScramError::InvalidProof);
        }

        let server_signature = self.mechanism.sign(&credential.server_key, &auth_message);
        let mut server_final = b"v=".to_vec();
        server_final.extend_from_slice(BASE64.encode(server_signature.as_ref()).as_bytes());
        Ok(server_final)
    }
}

/// Why the client side of a SCRAM exchange failed. The exchange is over; the client should close the
/// connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScramClientError {
    /// A server message arrived when the exchange expected none of that kind: the server-first message
    /// before the client-first one was made, the server-final message before the server-first one, or
    /// any message after the exchange completed or failed.
    #[error("unexpected message in scram client state {state}")]
    UnexpectedMessage {
        /// The state the exchange was in.
        state: &'static str,
    },
    /// The server-first message does not follow the grammar `r=<nonce>,s=<base64 salt>,i=<iterations>`
    /// (with optional extensions after it).
    #[error("invalid scram server first message format")]
    MalformedServerFirst,
    /// The server's nonce does not start with the client's (Kafka: "Invalid server nonce: does not start
    /// with client nonce").
    #[error("invalid server nonce: does not start with client nonce")]
    InvalidServerNonce,
    /// The server asked for fewer iterations than the mechanism's minimum (Kafka: "Requested iterations
    /// N is less than the minimum 4096 for SCRAM-SHA-256").
    #[error("requested iterations {iterations} is less than the minimum {minimum} for {mechanism}")]
    TooFewIterations {
        /// The iteration count the server sent.
        iterations: u32,
        /// The mechanism's minimum.
        minimum: u32,
        /// The mechanism.
        mechanism: Mechanism,
    },
    /// The server asked for more iterations than any credential Kafka stores has ([`MAX_ITERATIONS`]): a
    /// server that makes the client burn CPU (kzero's check; Kafka's client has none).
    #[error("requested iterations {iterations} is more than the maximum {maximum} for {mechanism}")]
    TooManyIterations {
        /// The iteration count the server sent.
        iterations: u32,
        /// The mechanism's maximum.
        maximum: u32,
        /// The mechanism.
        mechanism: Mechanism,
    },
    /// The server-final message is neither `e=<error>` nor `v=<base64 signature>`.
    #[error("invalid scram server final message format")]
    MalformedServerFinal,
    /// The server-final message reports an error, `e=<message>`.
    #[error("the server failed the scram exchange: {message}")]
    ServerError {
        /// The server's error value.
        message: String,
    },
    /// The server's signature is not the one the password gives: the server does not know the
    /// credential (Kafka: "Invalid server signature in server final message").
    #[error("invalid server signature in server final message")]
    InvalidServerSignature,
}

/// The client side of one SCRAM exchange, as Kafka's `ScramSaslClient` runs it: no channel binding
/// (gs2 header `n,,`), no authzid, no extensions.
///
/// ```text
/// Initial --client_first--> AwaitingServerFirst --server_first--> AwaitingServerFinal --server_final--> Complete
///                                     \_________________________________\_______________________________> Failed
/// ```
///
/// The client nonce is a parameter (see [`client_nonce`]): this crate draws no randomness. It must be
/// printable ASCII without `,`, or the server refuses the client-first message.
///
/// ```
/// use security::scram::{ClientExchange, Credential, Mechanism, ServerExchange};
///
/// let credential = Credential::new(Mechanism::Sha512, b"alice-secret", b"salt", 4096).unwrap();
/// let mut client = ClientExchange::new(Mechanism::Sha512, "alice", "alice-secret", "cnonce");
/// let mut server = ServerExchange::new(Mechanism::Sha512, "snonce");
///
/// let server_first = server.client_first(&client.client_first(), |_| Some(credential.clone())).unwrap();
/// let client_final = client.server_first(&server_first).unwrap();
/// let server_final = server.client_final(&client_final).unwrap();
/// client.server_final(&server_final).unwrap();
/// assert!(client.is_complete() && server.is_complete());
/// ```
pub struct ClientExchange {
    mechanism: Mechanism,
    username: String,
    password: Vec<u8>,
    /// INVARIANT: `n=<saslname>,r=<client nonce>`, the client-first message without its gs2 header.
    client_first_bare: String,
    client_nonce: String,
    state: ClientState,
}

impl fmt::Debug for ClientExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientExchange")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("password", &"[hidden]")
            .field("state", &self.state.name())
            .finish()
    }
}

enum ClientState {
    Initial,
    AwaitingServerFirst,
    /// INVARIANT: the ServerSignature the server-final message must carry.
    AwaitingServerFinal(hmac::Tag),
    Complete,
    Failed,
}

impl ClientState {
    fn name(&self) -> &'static str {
        match self {
            ClientState::Initial => "SEND_CLIENT_FIRST_MESSAGE",
            ClientState::AwaitingServerFirst => "RECEIVE_SERVER_FIRST_MESSAGE",
            ClientState::AwaitingServerFinal(_) => "RECEIVE_SERVER_FINAL_MESSAGE",
            ClientState::Complete => "COMPLETE",
            ClientState::Failed => "FAILED",
        }
    }
}

/// The gs2 header of every client-first message this client sends: no channel binding, no authzid.
const GS2_HEADER: &str = "n,,";

impl ClientExchange {
    /// A new exchange for `username` with `password` and `client_nonce`.
    pub fn new(mechanism: Mechanism, username: &str, password: &str, client_nonce: &str) -> ClientExchange {
        ClientExchange {
            mechanism,
            username: username.to_string(),
            password: password.as_bytes().to_vec(),
            client_first_bare: format!("n={},r={client_nonce}", encode_saslname(username)),
            client_nonce: client_nonce.to_string(),
            state: ClientState::Initial,
        }
    }

    /// The mechanism of this exchange.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// Whether the exchange completed: the server proved it knows the credential.
    pub fn is_complete(&self) -> bool {
        matches!(self.state, ClientState::Complete)
    }

    /// Whether the exchange failed. A failed exchange refuses every further message.
    pub fn is_failed(&self) -> bool {
        matches!(self.state, ClientState::Failed)
    }

    /// The client-first message, `n,,n=<saslname>,r=<client nonce>`, with `,` and `=` in the user name
    /// escaped as `=2C` and `=3D`. The first call starts the exchange; a later call returns the same
    /// message and changes nothing.
    pub fn client_first(&mut self) -> Vec<u8> {
        if matches!(self.state, ClientState::Initial) {
            self.state = ClientState::AwaitingServerFirst;
        }
        format!("{GS2_HEADER}{}", self.client_first_bare).into_bytes()
    }

    /// Reads the server-first message and answers the client-final message
    /// `c=biws,r=<nonce>,p=<base64 ClientProof>`.
    ///
    /// Checks, as Kafka's `ScramSaslClient` does: the grammar; the server's nonce starts with the client
    /// nonce; at least the mechanism's [`min_iterations`](Mechanism::min_iterations). The proof costs one
    /// PBKDF2 run with the server's iteration count.
    pub fn server_first(&mut self, message: &[u8]) -> Result<Vec<u8>, ScramClientError> {
        let state = std::mem::replace(&mut self.state, ClientState::Failed);
        if !matches!(state, ClientState::AwaitingServerFirst) {
            return Err(ScramClientError::UnexpectedMessage { state: state.name() });
        }
        let first = parse_server_first(message).ok_or(ScramClientError::MalformedServerFirst)?;
        if !first.nonce.starts_with(self.client_nonce.as_bytes()) {
            return Err(ScramClientError::InvalidServerNonce);
        }
        let minimum = self.mechanism.min_iterations();
        let iterations = NonZeroU32::new(first.iterations).filter(|i| i.get() >= minimum).ok_or(
            ScramClientError::TooFewIterations {
                iterations: first.iterations,
                minimum,
                mechanism: self.mechanism,
            },
        )?;
        let maximum = self.mechanism.max_iterations();
        if first.iterations > maximum {
            return Err(ScramClientError::TooManyIterations {
                iterations: first.iterations,
                maximum,
                mechanism: self.mechanism,
            });
        }

        let salted = salted_password(self.mechanism, &self.password, &first.salt, iterations);
        let credential = Credential::from_salted_password(self.mechanism, &first.salt, &salted, first.iterations);
        let mut without_proof = format!("c={},r=", BASE64.encode(GS2_HEADER)).into_bytes();
        without_proof.extend_from_slice(first.nonce);

        let mut auth_message = self.client_first_bare.as_bytes().to_vec();
        auth_message.push(b',');
        auth_message.extend_from_slice(message);
        auth_message.push(b',');
        auth_message.extend_from_slice(&without_proof);

        let client_key = self.mechanism.client_key(&salted);
        let client_signature = self.mechanism.sign(&credential.stored_key, &auth_message);
        let proof: Vec<u8> = client_key
            .as_ref()
            .iter()
            .zip(client_signature.as_ref())
            .map(|(k, s)| k ^ s)
            .collect();
        let server_signature = self.mechanism.sign(&credential.server_key, &auth_message);

        let mut client_final = without_proof;
        client_final.extend_from_slice(b",p=");
        client_final.extend_from_slice(BASE64.encode(proof).as_bytes());
        self.state = ClientState::AwaitingServerFinal(server_signature);
        Ok(client_final)
    }

    /// Reads the server-final message: `v=<base64 ServerSignature>` completes the exchange when the
    /// signature is the expected one (compared in constant time); `e=<message>` is the server's refusal.
    pub fn server_final(&mut self, message: &[u8]) -> Result<(), ScramClientError> {
        let state = std::mem::replace(&mut self.state, ClientState::Failed);
        let ClientState::AwaitingServerFinal(expected) = state else {
            return Err(ScramClientError::UnexpectedMessage { state: state.name() });
        };
        if let Some(error) = message.strip_prefix(b"e=") {
            let end = error.iter().position(|&b| b == b',').unwrap_or(error.len());
            return Err(ScramClientError::ServerError {
                message: String::from_utf8_lossy(&error[..end]).into_owned(),
            });
        }
        let mut fields = message.split(|&b| b == b',');
        let verifier = fields
            .next()
            .and_then(|f| f.strip_prefix(b"v="))
            .filter(|v| !v.is_empty() && v.iter().copied().all(is_base64_char))
            .and_then(|v| BASE64_ANY_PADDING.decode(v).ok())
            .ok_or(ScramClientError::MalformedServerFinal)?;
        if fields.any(|field| parse_extension(field).is_none()) {
            return Err(ScramClientError::MalformedServerFinal);
        }
        if !constant_time_eq(&verifier, expected.as_ref()) {
            return Err(ScramClientError::InvalidServerSignature);
        }
        self.state = ClientState::Complete;
        Ok(())
    }
}

/// Base64 that accepts the padding or its absence (as Java's decoder does) for what a server sends.
const BASE64_ANY_PADDING: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// A server-first message, parsed.
struct ServerFirst<'a> {
    nonce: &'a [u8],
    salt: Vec<u8>,
    iterations: u32,
}

/// Parses `r=<printable>,s=<base64>,i=<digits>[,<alpha>=<value>]*`, Kafka's
/// `ScramMessages.ServerFirstMessage` pattern without its `m=` reserved attribute (which RFC 5802 says a
/// client must refuse).
fn parse_server_first(message: &[u8]) -> Option<ServerFirst<'_>> {
    let mut fields = message.split(|&b| b == b',');
    let nonce = fields.next()?.strip_prefix(b"r=")?;
    if !is_printable(nonce) {
        return None;
    }
    let salt = fields.next()?.strip_prefix(b"s=")?;
    if salt.is_empty() || !salt.iter().copied().all(is_base64_char) {
        return None;
    }
    let salt = BASE64_ANY_PADDING.decode(salt).ok()?;
    let iterations = fields.next()?.strip_prefix(b"i=")?;
    if iterations.is_empty() || !iterations.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let iterations = std::str::from_utf8(iterations).ok()?.parse().ok()?;
    for field in fields {
        parse_extension(field)?;
    }
    Some(ServerFirst {
        nonce,
        salt,
        iterations,
    })
}

/// Whether `a` and `b` are equal, in time that does not depend on where they differ.
///
/// ring's supported constant-time comparison is `hmac::verify`, so both sides go through one HMAC
/// ("double HMAC"): the tags compared are unrelated to the secrets' bytes, and ring compares them in
/// constant time. The key need not be secret for that; it is fixed because this crate draws no randomness.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let key = hmac::Key::new(hmac::HMAC_SHA256, b"kzero security constant-time comparison");
    let tag = hmac::sign(&key, b);
    hmac::verify(&key, a, tag.as_ref()).is_ok()
}

/// A client-first message, parsed.
struct ClientFirst<'a> {
    /// INVARIANT: `gs2_header` followed by `bare` is the whole message.
    gs2_header: &'a [u8],
    bare: &'a [u8],
    authzid: Option<String>,
    username: String,
    nonce: &'a [u8],
    /// The last `tokenauth` extension says `true`, ignoring case (Java's `Boolean.parseBoolean`).
    token_auth: bool,
}

/// Parses `n,[a=<saslname>],n=<saslname>,r=<printable>[,<alpha>=<value>]*`, Kafka's
/// `ScramMessages.ClientFirstMessage` pattern without its `m=` reserved attribute.
fn parse_client_first(message: &[u8]) -> Option<ClientFirst<'_>> {
    let after_flag = message.strip_prefix(b"n,")?;
    let comma = after_flag.iter().position(|&b| b == b',')?;
    let (authzid_field, rest) = after_flag.split_at(comma);
    let authzid = if authzid_field.is_empty() {
        None
    } else {
        Some(decode_saslname(authzid_field.strip_prefix(b"a=")?)?)
    };
    let bare = &rest[1..];
    let gs2_header = &message[..message.len() - bare.len()];

    let mut fields = bare.split(|&b| b == b',');
    let username = decode_saslname(fields.next()?.strip_prefix(b"n=")?)?;
    let nonce = fields.next()?.strip_prefix(b"r=")?;
    if !is_printable(nonce) {
        return None;
    }
    let mut token_auth = false;
    for field in fields {
        let (key, value) = parse_extension(field)?;
        if key == b"tokenauth" {
            token_auth = value.eq_ignore_ascii_case(b"true");
        }
    }
    Some(ClientFirst {
        gs2_header,
        bare,
        authzid,
        username,
        nonce,
        token_auth,
    })
}

/// A client-final message, parsed.
struct ClientFinal<'a> {
    channel_binding: &'a [u8],
    nonce: &'a [u8],
    /// Everything before `,p=`.
    without_proof: &'a [u8],
    proof: &'a [u8],
}

/// Parses `c=<base64>,r=<printable>[,<alpha>=<value>]*,p=<base64>`, Kafka's
/// `ScramMessages.ClientFinalMessage` pattern. The proof's base64 is checked when it is decoded.
fn parse_client_final(message: &[u8]) -> Option<ClientFinal<'_>> {
    let proof_comma = message.iter().rposition(|&b| b == b',')?;
    let (without_proof, proof_field) = message.split_at(proof_comma);
    let proof = proof_field.strip_prefix(b",p=")?;
    if !proof.iter().copied().all(is_base64_char) {
        return None;
    }
    let mut fields = without_proof.split(|&b| b == b',');
    let channel_binding = fields.next()?.strip_prefix(b"c=")?;
    if !channel_binding.iter().copied().all(is_base64_char) {
        return None;
    }
    let nonce = fields.next()?.strip_prefix(b"r=")?;
    if !is_printable(nonce) {
        return None;
    }
    for field in fields {
        parse_extension(field)?;
    }
    Some(ClientFinal {
        channel_binding,
        nonce,
        without_proof,
        proof,
    })
}

/// `<alpha>+ "=" <value>`, where a value is one or more of `0x01`-`0x7F` other than `,`.
fn parse_extension(field: &[u8]) -> Option<(&[u8], &[u8])> {
    let eq = field.iter().position(|&b| b == b'=')?;
    let (key, value) = (&field[..eq], &field[eq + 1..]);
    let key_ok = !key.is_empty() && key.iter().all(u8::is_ascii_alphabetic);
    let value_ok = !value.is_empty() && value.iter().all(|&b| (0x01..=0x7F).contains(&b));
    (key_ok && value_ok).then_some((key, value))
}

/// Escapes a user name as a saslname: `=` as `=3D` and `,` as `=2C`.
fn encode_saslname(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

/// Unescapes a saslname: one or more of `0x01`-`0x7F` other than `,` and `=`, or the escapes `=2C`
/// (`,`) and `=3D` (`=`).
fn decode_saslname(name: &[u8]) -> Option<String> {
    if name.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'=' {
            let (escape, tail) = (tail.get(..2)?, &tail[2..]);
            match escape {
                b"2C" => out.push(','),
                b"3D" => out.push('='),
                _ => return None,
            }
            rest = tail;
        } else if (0x01..=0x7F).contains(&b) && b != b',' {
            out.push(char::from(b));
            rest = tail;
        } else {
            return None;
        }
    }
    Some(out)
}

/// One or more printable ASCII characters (`0x21`-`0x7E`) other than `,`: a nonce.
fn is_printable(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|&b| (0x21..=0x7E).contains(&b) && b != b',')
}

fn is_base64_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'='
}
