//! Black-box tests of the security crate: one integration binary, one module per area.

mod plain;
mod scram;
mod scram_client;
