//! Black-box tests of the `kzero` command: each test spawns `kzero` as a user would, against a real
//! `kzero-server` started on a free port with a temporary data directory.

mod bench;
mod cluster;
mod dump_log;
mod errors;
mod groups;
mod help;
mod produce_consume;
mod security;
mod support;
mod topics;
