//! The broker's black-box tests: real Kafka clients (confluent-kafka/librdkafka, kafka-python, kcat)
//! against a broker started by the test on free ports, and raw bytes over a socket.

mod clients;
mod raw;
mod support;
