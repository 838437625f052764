//! Tests of the primitive encodings.
