//! The broker's black-box tests: real Kafka clients (confluent-kafka/librdkafka, kafka-python, kcat)
//! against a broker started by the test on free ports, and raw bytes over a socket.

mod binary;
mod clients;
mod cluster;
mod cluster_support;
mod groups;
mod observability;
mod offsets_topic;
mod protocol_rules;
mod raw;
mod replication;
mod sasl_session;
mod security;
mod support;
mod versions;
