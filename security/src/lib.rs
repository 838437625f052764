//! Who a client is and what it may do, as rules without I/O: the server side of the SASL mechanisms
//! Kafka clients speak (PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 per RFC 5802/7677 and Kafka's
//! `ScramFormatter`) and the client side of SCRAM, SCRAM credentials as Kafka stores them (salted,
//! iterated; never the password), the principal a client certificate names (Kafka's
//! `ssl.principal.mapping.rules`), and Kafka's ACL model with its authorizer's decision rules.
//!
//! It must never: open sockets, spawn tasks, read clocks or files, or draw randomness itself (nonces and
//! salts are passed in, so that every exchange can be replayed in a test). The broker carries the bytes,
//! stores the credentials and ACLs in the cluster metadata, and asks these rules.
//!
//! - [`scram`]: SCRAM credentials and both sides of a SCRAM exchange.
//! - [`plain`]: the PLAIN mechanism (RFC 4616).
//! - [`principal`]: the principal of a client certificate (its subject as Java prints it, and Kafka's
//!   `ssl.principal.mapping.rules`).
//! - [`acl`]: resources, patterns, operations, ACL bindings and filters, and the authorizer.
#![deny(missing_docs)]

pub mod acl;
pub mod plain;
pub mod principal;
pub mod scram;
