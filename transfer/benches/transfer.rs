//! Placeholder; the benchmark follows in the next commit.

fn main() {}
