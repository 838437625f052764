//! SASL authentication: SaslHandshake (key 17, [KIP-43]) and SaslAuthenticate (key 36, [KIP-152], session
//! lifetime from [KIP-368]).
//!
//! ```text
//! SaslHandshake     v0-1, never flexible; the same fields in both versions
//! SaslAuthenticate  v0-2, flexible 2+; v1+ SessionLifetimeMs in the response
//! ```
//!
//! The version of the handshake tells what follows it on the connection: after v0, raw SASL tokens framed
//! by an INT32 size alone (no Kafka header); after v1, SaslAuthenticate requests carrying the tokens.
//! That is the broker's concern: the codec only encodes the messages.
//!
//! [KIP-43]: https://cwiki.apache.org/confluence/display/KAFKA/KIP-43%3A+Kafka+SASL+enhancements
//! [KIP-152]: https://cwiki.apache.org/confluence/display/KAFKA/KIP-152+-+Improve+diagnostics+for+SASL+authentication+failures
//! [KIP-368]: https://cwiki.apache.org/confluence/display/KAFKA/KIP-368%3A+Allow+SASL+Connections+to+Periodically+Re-Authenticate

use bytes::Bytes;

use crate::schema::wire_struct;

wire_struct! {
    /// SaslHandshake request ([protocol](https://kafka.apache.org/protocol#The_Messages_SaslHandshake)).
    pub struct SaslHandshakeRequest {
        /// The SASL mechanism the client chose, e.g. `PLAIN` or `SCRAM-SHA-256`.
        pub mechanism: String [0..=99];
    }
}

wire_struct! {
    /// SaslHandshake response ([protocol](https://kafka.apache.org/protocol#The_Messages_SaslHandshake)).
    pub struct SaslHandshakeResponse {
        /// The error code, or 0.
        pub error_code: i16 [0..=99];
        /// The mechanisms the broker has enabled.
        pub mechanisms: Vec<String> [0..=99];
    }
}

wire_struct! {
    /// SaslAuthenticate request ([protocol](https://kafka.apache.org/protocol#The_Messages_SaslAuthenticate)).
    pub struct SaslAuthenticateRequest {
        /// The client's SASL bytes, as the mechanism defines them.
        pub auth_bytes: Bytes [0..=99];
    }
}

wire_struct! {
    /// SaslAuthenticate response ([protocol](https://kafka.apache.org/protocol#The_Messages_SaslAuthenticate)).
    pub struct SaslAuthenticateResponse {
        /// The error code, or 0.
        pub error_code: i16 [0..=99];
        /// The error message, or null.
        pub error_message: Option<String> [0..=99];
        /// The server's SASL bytes, as the mechanism defines them.
        pub auth_bytes: Bytes [0..=99];
        /// After how many milliseconds the client must re-authenticate on this connection (v1+); 0 for no
        /// limit.
        pub session_lifetime_ms: i64 [1..=99];
    }
}
