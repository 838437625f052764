//! The Kafka wire protocol, as kzero speaks it: framing, headers, messages and RecordBatch v2.
//!
//! This crate turns bytes into typed requests and responses and back, exactly as Kafka does.
//! It does **no I/O** (the [`FrameCodec`] plugs into `tokio_util` but never touches a socket itself),
//! it **never panics on input** (every malformed byte sequence is an [`Error`] with the api, version,
//! field and byte offset), and it never copies record bytes it does not have to: produce records are
//! zero-copy slices of the received frame, and fetch responses can be encoded around records that stay in
//! a file ([`Records::External`], [`encode_response_segmented`]).
//!
//! It deliberately does **not**: decide what a broker does with a request (that is `server`),
//! validate record batches beyond their own format (offsets and sequences are `storage`'s job),
//! or decompress records on a broker's hot path ([`record::RecordBatch::records`] is for tools and tests).
//!
//! Main types: [`Request`] / [`RequestBody`], [`ResponseBody`] with [`encode_response`], [`ApiKey`] and
//! [`API_TABLE`] (advertised vs implemented versions), [`ErrorCode`], [`FrameCodec`],
//! [`record::BatchHeader`] / [`record::RecordBatch`], and the `__consumer_offsets` record formats
//! ([`group_records::GroupRecord`]).
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use protocol::{ApiKey, Request, RequestBody, RequestHeader, ApiVersionsResponse, ResponseBody};
//!
//! // A client encodes a request frame…
//! let request = Request {
//!     header: RequestHeader::new(ApiKey::ApiVersions, 3, 7),
//!     body: RequestBody::ApiVersions(Default::default()),
//! };
//! let mut frame = BytesMut::new();
//! request.encode(&mut frame).unwrap();
//!
//! // …a broker decodes it (after the 4-byte size prefix) and answers.
//! let decoded = Request::decode(Bytes::copy_from_slice(&frame[4..])).unwrap();
//! assert_eq!(decoded, request);
//! let mut out = BytesMut::new();
//! let body = ResponseBody::ApiVersions(ApiVersionsResponse::supported());
//! protocol::encode_response(&decoded.header, &body, &mut out).unwrap();
//! assert_eq!(&out[4..8], &7i32.to_be_bytes()); // correlation id, header v0
//! ```
#![deny(missing_docs)]

mod api;
mod error;
mod error_code;
mod frame;
pub mod group_records;
mod messages;
pub mod record;
mod schema;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
mod wire;

pub use api::{
    annotate_request, annotate_response, decode_request_body, decode_response_body, encode_request_body,
    encode_response, encode_response_body, encode_response_segmented, put_frame, request_body_size, response_body_size,
    ApiInfo, ApiKey, Request, RequestBody, RequestHeader, RequestPrefix, Response, ResponseBody, ResponseHeader,
    API_TABLE,
};
pub use error::{Context, Error, Result};
pub use error_code::ErrorCode;
pub use frame::{FrameCodec, DEFAULT_MAX_FRAME_SIZE};
pub use messages::*;
pub use wire::{Note, Piece, RawTaggedField, Records, TaggedFields, Uuid};
