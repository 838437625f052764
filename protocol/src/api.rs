//! The API table, request and response headers, and the [`Request`] / [`Response`] dispatch.
//!
//! ```text
//! request frame:   INT32 size | api_key INT16 | api_version INT16 | correlation_id INT32
//!                  | client_id NULLABLE_STRING (INT16 length, also in header v2) | [TAG_BUFFER in v2] | body
//! response frame:  INT32 size | correlation_id INT32 | [TAG_BUFFER in v1] | body
//! ```
//! The request header is v2 when the API version is flexible, else v1.
//! The response header is v1 when the API version is flexible, else v0, except that ApiVersions responses
//! always use v0 (KIP-511).
//!
//! # Versions: advertised and implemented
//! [`API_TABLE`] states per API the range kzero advertises in ApiVersions and the range it implements.
//! The broker advertises only the APIs it has a handler for (its dispatch table); an API in this table
//! without a broker handler is encoded and tested here but never advertised.
//! The advertised minimum is as low as Kafka's own (librdkafka before 2.11.1 enables features only when
//! exact old versions fall in the advertised range, kafka-facts §2.3).
//! INVARIANT: advertised ⊆ implemented, with one exception Kafka makes too: Produce advertises v0-2, which
//! it rejects (KAFKA-18659; librdkafka before 2.11.1 needs them advertised to enable compression).
//! The advertised range equals the implemented one, Kafka 4.1's: a broker implements the semantics of every
//! version it advertises. A broker still checks the advertised range itself before it handles a decoded
//! request (the codec may implement a version before the broker does).
//! The codec implements every version Kafka 4.1 accepts for the APIs in this table (JoinGroup from v0 again,
//! as Kafka 4.0.1+ advertises it for librdkafka before 2.11).
//! A request for an advertised but unimplemented version is rejected as Kafka rejects it:
//! ApiVersions of any unknown version is answered in v0 with `UNSUPPORTED_VERSION`
//! ([`Request::response_version`]); any other API gets [`Error::UnsupportedVersion`] and the caller closes
//! the connection without a response.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{Error, Result};
use crate::messages::*;
use crate::wire::{Cx, Field, Piece, Reader, TaggedFields, Writer};

/// Version information for one API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiInfo {
    /// The API.
    pub key: ApiKey,
    /// The range advertised in ApiVersions responses, inclusive.
    pub advertised: (i16, i16),
    /// The range this crate encodes and decodes, inclusive; it contains `advertised`, except Produce v0-2,
    /// which Kafka advertises but rejects (see the module docs).
    pub implemented: (i16, i16),
    /// The first flexible version (compact encodings, tagged fields), or `i16::MAX` when none is implemented.
    pub flexible_since: i16,
}

macro_rules! apis {
    ($(
        $(#[$doc:meta])*
        $variant:ident = $key:literal, $name:literal, $snake:literal, $req:ident, $resp:ident,
        advertised $amin:literal ..= $amax:literal, implemented $imin:literal ..= $imax:literal, flexible $flex:literal;
    )*) => {
        /// The Kafka APIs kzero speaks.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(i16)]
        #[non_exhaustive]
        pub enum ApiKey {
            $( $(#[$doc])* $variant = $key, )*
        }

        /// Every API kzero speaks: advertised and implemented version ranges (see the module docs).
        pub const API_TABLE: &[ApiInfo] = &[
            $( ApiInfo {
                key: ApiKey::$variant,
                advertised: ($amin, $amax),
                implemented: ($imin, $imax),
                flexible_since: $flex,
            }, )*
        ];

        impl ApiKey {
            /// The API with this key, if kzero speaks it.
            pub fn from_i16(key: i16) -> Option<ApiKey> {
                match key {
                    $( $key => Some(ApiKey::$variant), )*
                    _ => None,
                }
            }

            /// Kafka's name for the API.
            pub fn name(self) -> &'static str {
                match self {
                    $( ApiKey::$variant => $name, )*
                }
            }

            /// The name in snake case, e.g. `api_versions` (for file names and metric labels).
            pub fn snake_name(self) -> &'static str {
                match self {
                    $( ApiKey::$variant => $snake, )*
                }
            }

            /// The version information of the API.
            pub fn info(self) -> &'static ApiInfo {
                match self {
                    $( ApiKey::$variant => &API_TABLE[ApiKey::$variant.index()], )*
                }
            }

            fn index(self) -> usize {
                let mut i = 0;
                $( if self == ApiKey::$variant { return i; } i += 1; )*
                i
            }
        }

        /// A decoded request body.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum RequestBody {
            $( #[doc = concat!("A ", $name, " request.")] $variant($req), )*
        }

        /// A response body.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum ResponseBody {
            $( #[doc = concat!("A ", $name, " response.")] $variant($resp), )*
        }

        impl RequestBody {
            /// The API of this body.
            pub fn api_key(&self) -> ApiKey {
                match self {
                    $( RequestBody::$variant(_) => ApiKey::$variant, )*
                }
            }

            fn read(api: ApiKey, r: &mut Reader<'_>, cx: Cx) -> Result<Self> {
                Ok(match api {
                    $( ApiKey::$variant => RequestBody::$variant(Field::read(r, cx)?), )*
                })
            }

            fn write(&self, w: &mut Writer, cx: Cx) -> Result<()> {
                match self {
                    $( RequestBody::$variant(m) => m.write(w, cx), )*
                }
            }

            fn size(&self, cx: Cx) -> usize {
                match self {
                    $( RequestBody::$variant(m) => m.size(cx), )*
                }
            }
        }

        impl ResponseBody {
            /// The API of this body.
            pub fn api_key(&self) -> ApiKey {
                match self {
                    $( ResponseBody::$variant(_) => ApiKey::$variant, )*
                }
            }

            fn read(api: ApiKey, r: &mut Reader<'_>, cx: Cx) -> Result<Self> {
                Ok(match api {
                    $( ApiKey::$variant => ResponseBody::$variant(Field::read(r, cx)?), )*
                })
            }

            fn write(&self, w: &mut Writer, cx: Cx) -> Result<()> {
                match self {
                    $( ResponseBody::$variant(m) => m.write(w, cx), )*
                }
            }

            fn size(&self, cx: Cx) -> usize {
                match self {
                    $( ResponseBody::$variant(m) => m.size(cx), )*
                }
            }
        }

        $(
            impl From<$req> for RequestBody {
                fn from(m: $req) -> Self {
                    RequestBody::$variant(m)
                }
            }
            impl From<$resp> for ResponseBody {
                fn from(m: $resp) -> Self {
                    ResponseBody::$variant(m)
                }
            }
        )*

        #[cfg(test)]
        pub(crate) fn random_request(api: ApiKey, g: &mut crate::testing::Gen, cx: Cx) -> RequestBody {
            match api {
                $( ApiKey::$variant => RequestBody::$variant(crate::testing::Random::random(g, cx)), )*
            }
        }

        #[cfg(test)]
        pub(crate) fn random_response(api: ApiKey, g: &mut crate::testing::Gen, cx: Cx) -> ResponseBody {
            match api {
                $( ApiKey::$variant => ResponseBody::$variant(crate::testing::Random::random(g, cx)), )*
            }
        }
    };
}

apis! {
    /// Produce (0).
    Produce = 0, "Produce", "produce", ProduceRequest, ProduceResponse,
        advertised 0..=13, implemented 3..=13, flexible 9;
    /// Fetch (1).
    Fetch = 1, "Fetch", "fetch", FetchRequest, FetchResponse,
        advertised 4..=18, implemented 4..=18, flexible 12;
    /// ListOffsets (2).
    ListOffsets = 2, "ListOffsets", "list_offsets", ListOffsetsRequest, ListOffsetsResponse,
        advertised 1..=10, implemented 1..=10, flexible 6;
    /// Metadata (3).
    Metadata = 3, "Metadata", "metadata", MetadataRequest, MetadataResponse,
        advertised 0..=13, implemented 0..=13, flexible 9;
    /// OffsetCommit (8). Kafka 4.1 accepts 2-9; its v10 (topics by id, for the KIP-848 consumer) is still
    /// unstable there.
    OffsetCommit = 8, "OffsetCommit", "offset_commit", OffsetCommitRequest, OffsetCommitResponse,
        advertised 2..=9, implemented 2..=9, flexible 8;
    /// OffsetFetch (9). Kafka 4.1 accepts 1-9; its v10 (topics by id) is still unstable there.
    OffsetFetch = 9, "OffsetFetch", "offset_fetch", OffsetFetchRequest, OffsetFetchResponse,
        advertised 1..=9, implemented 1..=9, flexible 6;
    /// FindCoordinator (10).
    FindCoordinator = 10, "FindCoordinator", "find_coordinator", FindCoordinatorRequest, FindCoordinatorResponse,
        advertised 0..=6, implemented 0..=6, flexible 3;
    /// JoinGroup (11).
    JoinGroup = 11, "JoinGroup", "join_group", JoinGroupRequest, JoinGroupResponse,
        advertised 0..=9, implemented 0..=9, flexible 6;
    /// Heartbeat (12).
    Heartbeat = 12, "Heartbeat", "heartbeat", HeartbeatRequest, HeartbeatResponse,
        advertised 0..=4, implemented 0..=4, flexible 4;
    /// LeaveGroup (13).
    LeaveGroup = 13, "LeaveGroup", "leave_group", LeaveGroupRequest, LeaveGroupResponse,
        advertised 0..=5, implemented 0..=5, flexible 4;
    /// SyncGroup (14).
    SyncGroup = 14, "SyncGroup", "sync_group", SyncGroupRequest, SyncGroupResponse,
        advertised 0..=5, implemented 0..=5, flexible 4;
    /// DescribeGroups (15).
    DescribeGroups = 15, "DescribeGroups", "describe_groups", DescribeGroupsRequest, DescribeGroupsResponse,
        advertised 0..=6, implemented 0..=6, flexible 5;
    /// ListGroups (16).
    ListGroups = 16, "ListGroups", "list_groups", ListGroupsRequest, ListGroupsResponse,
        advertised 0..=5, implemented 0..=5, flexible 3;
    /// SaslHandshake (17); no version is flexible. v0 means raw SASL tokens follow on the socket, v1 that
    /// SaslAuthenticate requests carry them (a broker concern, not the codec's).
    SaslHandshake = 17, "SaslHandshake", "sasl_handshake", SaslHandshakeRequest, SaslHandshakeResponse,
        advertised 0..=1, implemented 0..=1, flexible 32767; // i16::MAX: none
    /// ApiVersions (18).
    ApiVersions = 18, "ApiVersions", "api_versions", ApiVersionsRequest, ApiVersionsResponse,
        advertised 0..=4, implemented 0..=4, flexible 3;
    /// CreateTopics (19).
    CreateTopics = 19, "CreateTopics", "create_topics", CreateTopicsRequest, CreateTopicsResponse,
        advertised 2..=7, implemented 2..=7, flexible 5;
    /// DeleteTopics (20).
    DeleteTopics = 20, "DeleteTopics", "delete_topics", DeleteTopicsRequest, DeleteTopicsResponse,
        advertised 1..=6, implemented 1..=6, flexible 4;
    /// DeleteRecords (21).
    DeleteRecords = 21, "DeleteRecords", "delete_records", DeleteRecordsRequest, DeleteRecordsResponse,
        advertised 0..=2, implemented 0..=2, flexible 2;
    /// InitProducerId (22).
    InitProducerId = 22, "InitProducerId", "init_producer_id", InitProducerIdRequest, InitProducerIdResponse,
        advertised 0..=5, implemented 0..=5, flexible 2;
    /// OffsetForLeaderEpoch (23).
    OffsetForLeaderEpoch = 23, "OffsetForLeaderEpoch", "offset_for_leader_epoch", OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse,
        advertised 2..=4, implemented 2..=4, flexible 4;
    /// DescribeAcls (29). Kafka 4.0 removed v0.
    DescribeAcls = 29, "DescribeAcls", "describe_acls", DescribeAclsRequest, DescribeAclsResponse,
        advertised 1..=3, implemented 1..=3, flexible 2;
    /// CreateAcls (30). Kafka 4.0 removed v0.
    CreateAcls = 30, "CreateAcls", "create_acls", CreateAclsRequest, CreateAclsResponse,
        advertised 1..=3, implemented 1..=3, flexible 2;
    /// DeleteAcls (31). Kafka 4.0 removed v0.
    DeleteAcls = 31, "DeleteAcls", "delete_acls", DeleteAclsRequest, DeleteAclsResponse,
        advertised 1..=3, implemented 1..=3, flexible 2;
    /// DescribeConfigs (32).
    DescribeConfigs = 32, "DescribeConfigs", "describe_configs", DescribeConfigsRequest, DescribeConfigsResponse,
        advertised 1..=4, implemented 1..=4, flexible 4;
    /// AlterConfigs (33).
    AlterConfigs = 33, "AlterConfigs", "alter_configs", AlterConfigsRequest, AlterConfigsResponse,
        advertised 0..=2, implemented 0..=2, flexible 2;
    /// DescribeLogDirs (35).
    DescribeLogDirs = 35, "DescribeLogDirs", "describe_log_dirs", DescribeLogDirsRequest, DescribeLogDirsResponse,
        advertised 1..=4, implemented 1..=4, flexible 2;
    /// SaslAuthenticate (36).
    SaslAuthenticate = 36, "SaslAuthenticate", "sasl_authenticate", SaslAuthenticateRequest, SaslAuthenticateResponse,
        advertised 0..=2, implemented 0..=2, flexible 2;
    /// CreatePartitions (37).
    CreatePartitions = 37, "CreatePartitions", "create_partitions", CreatePartitionsRequest, CreatePartitionsResponse,
        advertised 0..=3, implemented 0..=3, flexible 2;
    /// DeleteGroups (42).
    DeleteGroups = 42, "DeleteGroups", "delete_groups", DeleteGroupsRequest, DeleteGroupsResponse,
        advertised 0..=2, implemented 0..=2, flexible 2;
    /// IncrementalAlterConfigs (44).
    IncrementalAlterConfigs = 44, "IncrementalAlterConfigs", "incremental_alter_configs", IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse,
        advertised 0..=1, implemented 0..=1, flexible 1;
    /// OffsetDelete (47); no version is flexible.
    OffsetDelete = 47, "OffsetDelete", "offset_delete", OffsetDeleteRequest, OffsetDeleteResponse,
        advertised 0..=0, implemented 0..=0, flexible 32767; // i16::MAX: none
    /// DescribeUserScramCredentials (50, KIP-554); every version is flexible.
    DescribeUserScramCredentials = 50, "DescribeUserScramCredentials", "describe_user_scram_credentials", DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
        advertised 0..=0, implemented 0..=0, flexible 0;
    /// AlterUserScramCredentials (51, KIP-554); every version is flexible.
    AlterUserScramCredentials = 51, "AlterUserScramCredentials", "alter_user_scram_credentials", AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
        advertised 0..=0, implemented 0..=0, flexible 0;
    /// DescribeQuorum (55); every version is flexible.
    DescribeQuorum = 55, "DescribeQuorum", "describe_quorum", DescribeQuorumRequest, DescribeQuorumResponse,
        advertised 0..=2, implemented 0..=2, flexible 0;
    /// DescribeCluster (60); every version is flexible.
    DescribeCluster = 60, "DescribeCluster", "describe_cluster", DescribeClusterRequest, DescribeClusterResponse,
        advertised 0..=2, implemented 0..=2, flexible 0;
    /// DescribeProducers (61); every version is flexible.
    DescribeProducers = 61, "DescribeProducers", "describe_producers", DescribeProducersRequest, DescribeProducersResponse,
        advertised 0..=0, implemented 0..=0, flexible 0;
    /// ConsumerGroupHeartbeat (68, KIP-848); every version is flexible; not handled by the broker yet.
    ConsumerGroupHeartbeat = 68, "ConsumerGroupHeartbeat", "consumer_group_heartbeat", ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse,
        advertised 0..=1, implemented 0..=1, flexible 0;
    /// ConsumerGroupDescribe (69, KIP-848); every version is flexible; not handled by the broker yet.
    ConsumerGroupDescribe = 69, "ConsumerGroupDescribe", "consumer_group_describe", ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse,
        advertised 0..=1, implemented 0..=1, flexible 0;
}

impl ApiKey {
    /// True if `version` is implemented.
    pub fn is_implemented(self, version: i16) -> bool {
        let (lo, hi) = self.info().implemented;
        (lo..=hi).contains(&version)
    }

    /// The encoding context of `version`.
    pub fn cx(self, version: i16) -> Cx {
        Cx::new(version, self.info().flexible_since)
    }

    /// The request header version for `version`: 2 when flexible, else 1.
    pub fn request_header_version(self, version: i16) -> i16 {
        if self.header_flexible(version) {
            2
        } else {
            1
        }
    }

    /// The response header version for `version`: 1 when flexible, else 0; always 0 for ApiVersions.
    pub fn response_header_version(self, version: i16) -> i16 {
        if self != ApiKey::ApiVersions && self.header_flexible(version) {
            1
        } else {
            0
        }
    }

    /// Whether the header of `version` is flexible. Versions beyond what we implement count by Kafka's
    /// schema (so that an unknown ApiVersions v5 still parses its v2 header).
    fn header_flexible(self, version: i16) -> bool {
        let flex = match self {
            ApiKey::ApiVersions => 3,
            _ => self.info().flexible_since,
        };
        version >= flex
    }
}

// ---------------------------------------------------------------------------------------------------------
// Headers

/// A request header (v1 or v2).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestHeader {
    /// The API.
    pub api_key: ApiKey,
    /// The API version the body uses.
    pub api_version: i16,
    /// Echoed in the response.
    pub correlation_id: i32,
    /// The client id; INT16-length even in header v2. Null is kept as `None`.
    pub client_id: Option<String>,
    /// Tagged fields of header v2.
    pub unknown_tagged_fields: TaggedFields,
}

impl RequestHeader {
    /// A header with no client id.
    pub fn new(api_key: ApiKey, api_version: i16, correlation_id: i32) -> Self {
        RequestHeader {
            api_key,
            api_version,
            correlation_id,
            client_id: None,
            unknown_tagged_fields: TaggedFields::default(),
        }
    }

    fn header_cx(&self) -> Cx {
        Cx {
            version: self.api_version,
            flexible: self.api_key.request_header_version(self.api_version) == 2,
        }
    }

    fn write(&self, w: &mut Writer) -> Result<()> {
        let cx = self.header_cx();
        w.enter("header");
        w.i16(self.api_key as i16);
        w.i16(self.api_version);
        w.i32(self.correlation_id);
        // The client id keeps its INT16 length in header v2, so that any broker can read it.
        self.client_id.write(w, Cx { flexible: false, ..cx })?;
        if cx.flexible {
            write_tags(w, &self.unknown_tagged_fields);
        }
        w.leave();
        Ok(())
    }

    fn size(&self) -> usize {
        let cx = self.header_cx();
        8 + self.client_id.size(Cx { flexible: false, ..cx })
            + if cx.flexible {
                tags_size(&self.unknown_tagged_fields)
            } else {
                0
            }
    }
}

/// The start of a request, readable before anything else: what [`Request::decode`] uses to pick a decoder,
/// and what a server logs when it rejects a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestPrefix {
    /// The api key as sent.
    pub api_key: i16,
    /// The api version as sent.
    pub api_version: i16,
    /// The correlation id.
    pub correlation_id: i32,
}

impl RequestPrefix {
    /// Reads the first 8 bytes of a request frame (after the size prefix).
    pub fn peek(frame: &[u8]) -> Result<Self> {
        if frame.len() < 8 {
            return Err(Error::incomplete(8 - frame.len(), frame.len()).in_field("header"));
        }
        Ok(RequestPrefix {
            api_key: i16::from_be_bytes([frame[0], frame[1]]),
            api_version: i16::from_be_bytes([frame[2], frame[3]]),
            correlation_id: i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]),
        })
    }
}

/// A response header (v0 or v1).
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseHeader {
    /// The correlation id of the request.
    pub correlation_id: i32,
    /// Tagged fields of header v1.
    pub unknown_tagged_fields: TaggedFields,
}

fn write_tags(w: &mut Writer, tags: &TaggedFields) {
    w.enter("_tagged_fields");
    w.uvarint(tags.0.len() as u64);
    for t in &tags.0 {
        TaggedFields::write_raw(w, t);
    }
    w.leave();
}

fn tags_size(tags: &TaggedFields) -> usize {
    crate::wire::uvarint_size(tags.0.len() as u64) + tags.0.iter().map(TaggedFields::raw_size).sum::<usize>()
}

fn read_tags(r: &mut Reader<'_>) -> Result<TaggedFields> {
    let mut tags = TaggedFields::default();
    r.tagged_fields(|_, _| Ok(false), &mut tags)?;
    Ok(tags)
}

// ---------------------------------------------------------------------------------------------------------
// Requests

/// A decoded request: header and body.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The header.
    pub header: RequestHeader,
    /// The body.
    pub body: RequestBody,
}

impl Request {
    /// Decodes a request frame (the bytes after the INT32 size prefix).
    ///
    /// Unknown api keys and unimplemented versions are errors, except an ApiVersions request of any
    /// version: as Kafka does, an unknown version decodes as an empty v0 body, and
    /// [`Request::response_version`] tells the caller to answer in v0 (with
    /// [`ApiVersionsResponse::unsupported_version`]).
    /// The body must use every byte of the frame.
    pub fn decode(frame: Bytes) -> Result<Request> {
        let prefix = RequestPrefix::peek(&frame)?;
        let Some(api) = ApiKey::from_i16(prefix.api_key) else {
            return Err(Error::UnknownApiKey {
                api_key: prefix.api_key,
                correlation_id: prefix.correlation_id,
            });
        };
        let version = prefix.api_version;
        let supported = api.is_implemented(version);
        if !supported && api != ApiKey::ApiVersions {
            let (min, max) = api.info().implemented;
            return Err(Error::UnsupportedVersion {
                api_key: prefix.api_key,
                version,
                min,
                max,
                correlation_id: prefix.correlation_id,
            });
        }
        let at = |e: Error| e.in_api(prefix.api_key, version);
        let mut r = Reader::new(&frame);
        r.take(8)?;
        let header_flexible = api.request_header_version(version) == 2;
        let client_id = Option::<String>::read(
            &mut r,
            Cx {
                version,
                flexible: false,
            },
        )
        .map_err(|e| at(e.in_field("client_id").in_field("header")))?;
        let unknown_tagged_fields = if header_flexible {
            read_tags(&mut r).map_err(|e| at(e.in_field("header")))?
        } else {
            TaggedFields::default()
        };
        let header = RequestHeader {
            api_key: api,
            api_version: version,
            correlation_id: prefix.correlation_id,
            client_id,
            unknown_tagged_fields,
        };
        let body = if supported {
            // Bytes after the body are ignored, as Kafka ignores them (it never checks that a request was
            // read to its end): librdkafka's Metadata v9+ request for all topics leaves a 4-byte
            // placeholder where a 1-byte null array belongs, so 3 bytes follow its body.
            RequestBody::read(api, &mut r, api.cx(version)).map_err(at)?
        } else {
            // Kafka parses an unknown ApiVersions version as an empty v0 request and ignores the rest.
            RequestBody::ApiVersions(ApiVersionsRequest::default())
        };
        Ok(Request { header, body })
    }

    /// The version the response must be encoded in: the request's version, except 0 for an ApiVersions
    /// request of an unimplemented version.
    pub fn response_version(&self) -> i16 {
        response_version(&self.header)
    }

    /// Appends the whole frame (INT32 size prefix, header, body) to `buf`.
    pub fn encode(&self, buf: &mut BytesMut) -> Result<()> {
        let h = &self.header;
        if self.body.api_key() != h.api_key {
            return Err(Error::unencodable("the header and the body are for different APIs", 0));
        }
        // An ApiVersions request of an unknown version decodes as an empty v0 body (as Kafka parses it), so
        // it encodes that way too: header as sent, v0 body.
        let body_version = if h.api_key == ApiKey::ApiVersions && !h.api_key.is_implemented(h.api_version) {
            if self.body != RequestBody::ApiVersions(ApiVersionsRequest::default()) {
                return Err(Error::unencodable(
                    "an ApiVersions request of an unknown version has no body",
                    0,
                ));
            }
            0
        } else {
            check_implemented(h.api_key, h.api_version)?;
            h.api_version
        };
        let cx = h.api_key.cx(body_version);
        let size = h.size() + self.body.size(cx);
        let size = frame_size(size)?;
        let mut w = Writer::new(std::mem::take(buf));
        w.i32(size);
        let r = h.write(&mut w).and_then(|()| self.body.write(&mut w, cx));
        *buf = w.into_bytes_mut();
        r.map_err(|e| e.in_api(h.api_key as i16, h.api_version))
    }
}

fn response_version(h: &RequestHeader) -> i16 {
    if h.api_key == ApiKey::ApiVersions && !h.api_key.is_implemented(h.api_version) {
        0
    } else {
        h.api_version
    }
}

fn check_implemented(api: ApiKey, version: i16) -> Result<()> {
    if api.is_implemented(version) {
        Ok(())
    } else {
        let (lo, hi) = api.info().implemented;
        Err(Error::unencodable(
            format!("{} v{version} is not implemented (only {lo}-{hi})", api.name()),
            0,
        ))
    }
}

fn frame_size(size: usize) -> Result<i32> {
    i32::try_from(size)
        .map_err(|_| Error::unencodable(format!("a frame of {size} bytes is larger than an INT32 size"), 0))
}

// ---------------------------------------------------------------------------------------------------------
// Responses

/// A response: the request's correlation id and a body.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The header.
    pub header: ResponseHeader,
    /// The body.
    pub body: ResponseBody,
}

impl Response {
    /// Decodes a response frame (after the size prefix) to a request of `api` at `version`.
    pub fn decode(api: ApiKey, version: i16, frame: Bytes) -> Result<Response> {
        let at = |e: Error| e.in_api(api as i16, version);
        if !api.is_implemented(version) {
            let (min, max) = api.info().implemented;
            return Err(Error::UnsupportedVersion {
                api_key: api as i16,
                version,
                min,
                max,
                correlation_id: -1,
            });
        }
        let mut r = Reader::new(&frame);
        let correlation_id = r.i32().map_err(|e| at(e.in_field("header")))?;
        let unknown_tagged_fields = if api.response_header_version(version) == 1 {
            read_tags(&mut r).map_err(|e| at(e.in_field("header")))?
        } else {
            TaggedFields::default()
        };
        let body = ResponseBody::read(api, &mut r, api.cx(version)).map_err(at)?;
        if r.remaining() != 0 {
            return Err(at(Error::malformed(
                format!("{} bytes left after the response body", r.remaining()),
                r.position(),
            )));
        }
        Ok(Response {
            header: ResponseHeader {
                correlation_id,
                unknown_tagged_fields,
            },
            body,
        })
    }
}

fn response_parts(request: &RequestHeader, body: &ResponseBody) -> Result<(Cx, bool, usize)> {
    let api = request.api_key;
    if body.api_key() != api {
        return Err(Error::unencodable(
            "the response body is for another API than the request",
            0,
        ));
    }
    let version = response_version(request);
    check_implemented(api, version)?;
    let cx = api.cx(version);
    let header_flexible = api.response_header_version(version) == 1;
    let size = 4 + usize::from(header_flexible) + body.size(cx);
    Ok((cx, header_flexible, size))
}

fn write_response(
    w: &mut Writer,
    request: &RequestHeader,
    body: &ResponseBody,
    cx: Cx,
    header_flexible: bool,
    size: usize,
) -> Result<()> {
    w.i32(frame_size(size)?);
    w.enter("header");
    w.i32(request.correlation_id);
    if header_flexible {
        w.uvarint(0);
    }
    w.leave();
    body.write(w, cx)
        .map_err(|e| e.in_api(request.api_key as i16, cx.version))
}

/// Appends the whole response frame (size prefix, header, body) answering `request` to `buf`.
/// The version and header version follow the request ([`Request::response_version`]).
pub fn encode_response(request: &RequestHeader, body: &ResponseBody, buf: &mut BytesMut) -> Result<()> {
    let (cx, header_flexible, size) = response_parts(request, body)?;
    buf.reserve(size + 4);
    let mut w = Writer::new(std::mem::take(buf));
    let r = write_response(&mut w, request, body, cx, header_flexible, size);
    *buf = w.into_bytes_mut();
    r
}

/// Encodes the response frame answering `request` as pieces: encoded bytes, with a
/// [`Piece::External`] wherever the body holds [`crate::Records::External`].
/// The size prefix and every length field count the external records; the caller writes them in place.
pub fn encode_response_segmented(request: &RequestHeader, body: &ResponseBody) -> Result<Vec<Piece>> {
    let (cx, header_flexible, size) = response_parts(request, body)?;
    let mut w = Writer::segmented();
    write_response(&mut w, request, body, cx, header_flexible, size)?;
    Ok(w.into_pieces())
}

/// Appends a raw frame: the INT32 size prefix, then `frame`.
pub fn put_frame(buf: &mut BytesMut, frame: &[u8]) -> Result<()> {
    buf.put_i32(frame_size(frame.len())?);
    buf.put_slice(frame);
    Ok(())
}

/// Encodes a request body alone with field annotations, for hex dumps in tests and tools.
pub fn annotate_request(body: &RequestBody, version: i16) -> Result<(Bytes, Vec<crate::wire::Note>)> {
    let mut w = Writer::annotated();
    body.write(&mut w, body.api_key().cx(version))?;
    Ok(w.into_annotated())
}

/// Encodes a response body alone with field annotations, for hex dumps in tests and tools.
pub fn annotate_response(body: &ResponseBody, version: i16) -> Result<(Bytes, Vec<crate::wire::Note>)> {
    let mut w = Writer::annotated();
    body.write(&mut w, body.api_key().cx(version))?;
    Ok(w.into_annotated())
}

/// Decodes a request body alone (no header) at `version`; the whole buffer must be used.
pub fn decode_request_body(api: ApiKey, version: i16, body: Bytes) -> Result<RequestBody> {
    let mut r = Reader::new(&body);
    let b = RequestBody::read(api, &mut r, api.cx(version)).map_err(|e| e.in_api(api as i16, version))?;
    if r.remaining() != 0 {
        return Err(
            Error::malformed(format!("{} bytes left after the body", r.remaining()), r.position())
                .in_api(api as i16, version),
        );
    }
    Ok(b)
}

/// Decodes a response body alone (no header) at `version`; the whole buffer must be used.
pub fn decode_response_body(api: ApiKey, version: i16, body: Bytes) -> Result<ResponseBody> {
    let mut r = Reader::new(&body);
    let b = ResponseBody::read(api, &mut r, api.cx(version)).map_err(|e| e.in_api(api as i16, version))?;
    if r.remaining() != 0 {
        return Err(
            Error::malformed(format!("{} bytes left after the body", r.remaining()), r.position())
                .in_api(api as i16, version),
        );
    }
    Ok(b)
}

/// Encodes a request body alone (no header) at `version`.
pub fn encode_request_body(body: &RequestBody, version: i16, buf: &mut BytesMut) -> Result<()> {
    check_implemented(body.api_key(), version)?;
    let cx = body.api_key().cx(version);
    let mut w = Writer::new(std::mem::take(buf));
    let r = body.write(&mut w, cx);
    *buf = w.into_bytes_mut();
    r.map_err(|e| e.in_api(body.api_key() as i16, version))
}

/// Encodes a response body alone (no header) at `version`.
pub fn encode_response_body(body: &ResponseBody, version: i16, buf: &mut BytesMut) -> Result<()> {
    check_implemented(body.api_key(), version)?;
    let cx = body.api_key().cx(version);
    let mut w = Writer::new(std::mem::take(buf));
    let r = body.write(&mut w, cx);
    *buf = w.into_bytes_mut();
    r.map_err(|e| e.in_api(body.api_key() as i16, version))
}

/// The exact encoded size of a request body at `version`.
pub fn request_body_size(body: &RequestBody, version: i16) -> usize {
    body.size(body.api_key().cx(version))
}

/// The exact encoded size of a response body at `version`.
pub fn response_body_size(body: &ResponseBody, version: i16) -> usize {
    body.size(body.api_key().cx(version))
}
