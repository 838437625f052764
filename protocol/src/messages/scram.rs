//! SCRAM credentials: DescribeUserScramCredentials (key 50) and AlterUserScramCredentials (key 51), both
//! from [KIP-554].
//!
//! ```text
//! DescribeUserScramCredentials  v0 only, flexible
//! AlterUserScramCredentials     v0 only, flexible
//! ```
//!
//! A mechanism is an INT8: 1 is SCRAM-SHA-256, 2 is SCRAM-SHA-512 (0 is unknown).
//! The client salts and hashes the password itself: an upsertion carries the salt and the salted password,
//! never the password.
//!
//! [KIP-554]: https://cwiki.apache.org/confluence/display/KAFKA/KIP-554%3A+Add+Broker-side+SCRAM+Config+API

use bytes::Bytes;

use crate::schema::wire_struct;

wire_struct! {
    /// DescribeUserScramCredentials request
    /// ([protocol](https://kafka.apache.org/protocol#The_Messages_DescribeUserScramCredentials)).
    pub struct DescribeUserScramCredentialsRequest {
        /// The users to describe; null or empty for all users.
        pub users: Option<Vec<ScramUserName>> [0..=99] = Some(Vec::new());
    }
}

wire_struct! {
    /// A user in a DescribeUserScramCredentials request (Kafka's `UserName`).
    pub struct ScramUserName {
        /// The user name.
        pub name: String [0..=99];
    }
}

wire_struct! {
    /// DescribeUserScramCredentials response
    /// ([protocol](https://kafka.apache.org/protocol#The_Messages_DescribeUserScramCredentials)).
    pub struct DescribeUserScramCredentialsResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [0..=99];
        /// The message-level error code: 0 except for authorization or infrastructure failures.
        pub error_code: i16 [0..=99];
        /// The message-level error message, if any.
        pub error_message: Option<String> [0..=99];
        /// One result per user.
        pub results: Vec<DescribeUserScramCredentialsResult> [0..=99];
    }
}

wire_struct! {
    /// One user in a DescribeUserScramCredentials response.
    pub struct DescribeUserScramCredentialsResult {
        /// The user name.
        pub user: String [0..=99];
        /// The user-level error code.
        pub error_code: i16 [0..=99];
        /// The user-level error message, if any.
        pub error_message: Option<String> [0..=99];
        /// The user's credentials: mechanism and iterations, never the secrets.
        pub credential_infos: Vec<CredentialInfo> [0..=99];
    }
}

wire_struct! {
    /// One SCRAM credential of a user.
    pub struct CredentialInfo {
        /// The SCRAM mechanism.
        pub mechanism: i8 [0..=99];
        /// The number of iterations of the credential.
        pub iterations: i32 [0..=99];
    }
}

wire_struct! {
    /// AlterUserScramCredentials request
    /// ([protocol](https://kafka.apache.org/protocol#The_Messages_AlterUserScramCredentials)).
    pub struct AlterUserScramCredentialsRequest {
        /// The credentials to remove.
        pub deletions: Vec<ScramCredentialDeletion> [0..=99];
        /// The credentials to add or replace.
        pub upsertions: Vec<ScramCredentialUpsertion> [0..=99];
    }
}

wire_struct! {
    /// A credential to remove.
    pub struct ScramCredentialDeletion {
        /// The user name.
        pub name: String [0..=99];
        /// The SCRAM mechanism.
        pub mechanism: i8 [0..=99];
    }
}

wire_struct! {
    /// A credential to add or replace.
    pub struct ScramCredentialUpsertion {
        /// The user name.
        pub name: String [0..=99];
        /// The SCRAM mechanism.
        pub mechanism: i8 [0..=99];
        /// The number of iterations.
        pub iterations: i32 [0..=99];
        /// A random salt the client generated.
        pub salt: Bytes [0..=99];
        /// The salted password.
        pub salted_password: Bytes [0..=99];
    }
}

wire_struct! {
    /// AlterUserScramCredentials response
    /// ([protocol](https://kafka.apache.org/protocol#The_Messages_AlterUserScramCredentials)).
    pub struct AlterUserScramCredentialsResponse {
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [0..=99];
        /// One result per affected user.
        pub results: Vec<AlterUserScramCredentialsResult> [0..=99];
    }
}

wire_struct! {
    /// One user in an AlterUserScramCredentials response.
    pub struct AlterUserScramCredentialsResult {
        /// The user name.
        pub user: String [0..=99];
        /// The error code.
        pub error_code: i16 [0..=99];
        /// The error message, if any.
        pub error_message: Option<String> [0..=99];
    }
}
