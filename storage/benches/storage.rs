//! Storage benchmarks (written next).

fn main() {}
