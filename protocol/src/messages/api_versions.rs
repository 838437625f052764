//! ApiVersions (key 18): version negotiation, [KIP-511] for v3+.
//!
//! The response always goes out with response header v0, even for flexible versions.
//!
//! [KIP-511]: https://cwiki.apache.org/confluence/display/KAFKA/KIP-511%3A+Collect+and+Expose+Client%27s+Name+and+Version+in+the+Brokers

use crate::schema::wire_struct;

wire_struct! {
    /// ApiVersions request ([protocol](https://kafka.apache.org/protocol#The_Messages_ApiVersions)).
    pub struct ApiVersionsRequest {
        /// The name of the client.
        pub client_software_name: String [3..=99];
        /// The version of the client.
        pub client_software_version: String [3..=99];
    }
}

impl ApiVersionsRequest {
    /// Kafka's check of the KIP-511 names: `[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?`.
    /// A request that fails it gets `INVALID_REQUEST`.
    pub fn has_valid_software_names(&self) -> bool {
        fn valid(s: &str) -> bool {
            let b = s.as_bytes();
            let alnum = |c: &u8| c.is_ascii_alphanumeric();
            match (b.first(), b.last()) {
                (Some(first), Some(last)) => {
                    alnum(first) && alnum(last) && b.iter().all(|c| alnum(c) || *c == b'-' || *c == b'.')
                }
                _ => false,
            }
        }
        valid(&self.client_software_name) && valid(&self.client_software_version)
    }
}

wire_struct! {
    /// ApiVersions response ([protocol](https://kafka.apache.org/protocol#The_Messages_ApiVersions)).
    pub struct ApiVersionsResponse {
        /// The top-level error code.
        pub error_code: i16 [0..=99];
        /// The APIs supported by the broker.
        pub api_keys: Vec<ApiVersion> [0..=99];
        /// The throttle time in milliseconds.
        pub throttle_time_ms: i32 [1..=99];
        /// Features supported by the broker.
        pub supported_features: Vec<SupportedFeatureKey> [3..=99], tag 0;
        /// The epoch of the finalized features, -1 when unknown.
        pub finalized_features_epoch: i64 [3..=99] = -1, tag 1;
        /// Cluster-wide finalized features.
        pub finalized_features: Vec<FinalizedFeatureKey> [3..=99], tag 2;
        /// Set by a KRaft controller ready for ZooKeeper migration.
        pub zk_migration_ready: bool [3..=99], tag 3;
    }
}

wire_struct! {
    /// One API and its supported version range.
    pub struct ApiVersion {
        /// The API key.
        pub api_key: i16 [0..=99];
        /// The lowest supported version.
        pub min_version: i16 [0..=99];
        /// The highest supported version.
        pub max_version: i16 [0..=99];
    }
}

wire_struct! {
    /// A feature the broker supports.
    pub struct SupportedFeatureKey {
        /// The feature name.
        pub name: String [3..=99];
        /// The lowest supported version.
        pub min_version: i16 [3..=99];
        /// The highest supported version.
        pub max_version: i16 [3..=99];
    }
}

wire_struct! {
    /// A cluster-wide finalized feature.
    pub struct FinalizedFeatureKey {
        /// The feature name.
        pub name: String [3..=99];
        /// The finalized max version level.
        pub max_version_level: i16 [3..=99];
        /// The finalized min version level.
        pub min_version_level: i16 [3..=99];
    }
}

impl ApiVersionsResponse {
    /// The response to a supported ApiVersions request: every API in [`crate::API_TABLE`] with its
    /// advertised range.
    pub fn supported() -> Self {
        ApiVersionsResponse {
            api_keys: crate::API_TABLE
                .iter()
                .map(|a| ApiVersion {
                    api_key: a.key as i16,
                    min_version: a.advertised.0,
                    max_version: a.advertised.1,
                    ..ApiVersion::default()
                })
                .collect(),
            ..ApiVersionsResponse::default()
        }
    }

    /// Kafka's answer to an ApiVersions request of a version it does not know: `UNSUPPORTED_VERSION`
    /// with only the ApiVersions range, encoded as v0 (see [`crate::Request::response_version`]).
    /// The client retries with the highest version it shares with that range.
    pub fn unsupported_version() -> Self {
        let api = crate::ApiKey::ApiVersions.info();
        ApiVersionsResponse {
            error_code: crate::ErrorCode::UnsupportedVersion.code(),
            api_keys: vec![ApiVersion {
                api_key: api.key as i16,
                min_version: api.advertised.0,
                max_version: api.advertised.1,
                ..ApiVersion::default()
            }],
            ..ApiVersionsResponse::default()
        }
    }
}
