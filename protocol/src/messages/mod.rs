//! Every Kafka message kzero speaks, declared field by field from Kafka's JSON schemas
//! (`clients/src/main/resources/common/message/*.json`).
//!
//! Fields are declared for the versions this crate implements (see [`crate::API_TABLE`]);
//! fields that only exist in later versions are left out until those versions are implemented.
//! Field names are Kafka's, in snake case.

mod acls;
mod api_versions;
mod cluster;
mod configs;
mod consumer_groups;
mod fetch;
mod groups;
mod list_offsets;
mod metadata;
mod offsets;
mod produce;
mod sasl;
mod scram;
mod topics;
mod transactions;

pub use acls::*;
pub use api_versions::*;
pub use cluster::*;
pub use configs::*;
pub use consumer_groups::*;
pub use fetch::*;
pub use groups::*;
pub use list_offsets::*;
pub use metadata::*;
pub use offsets::*;
pub use produce::*;
pub use sasl::*;
pub use scram::*;
pub use topics::*;
pub use transactions::*;
