//! Random wire values for property tests (test builds only).
//!
//! `wire_struct!` implements [`Random`] for every message struct; a [`Gen`] seeded by proptest drives it,
//! so a failing case is reproducible from its seed.
//! Values respect the version: fields outside it keep their defaults, and nulls appear only where the
//! version allows them.

use bytes::Bytes;

use crate::wire::{Cx, RawTaggedField, Records, TaggedFields, Uuid};

/// A small deterministic generator (xorshift64*).
#[derive(Debug)]
pub struct Gen(u64);

impl Gen {
    pub fn new(seed: u64) -> Self {
        Gen(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }

    fn bytes(&mut self, max: u64) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.next() as u8).collect()
    }
}

pub trait Random: Sized {
    fn random(g: &mut Gen, cx: Cx) -> Self;
    fn random_non_null(g: &mut Gen, cx: Cx) -> Self {
        Self::random(g, cx)
    }
}

/// Integers are drawn mostly from edge values, so that signs and widths get exercised.
macro_rules! random_int {
    ($($t:ty),*) => {$(
        impl Random for $t {
            fn random(g: &mut Gen, _: Cx) -> Self {
                match g.below(5) {
                    0 => 0,
                    1 => -1,
                    2 => <$t>::MAX,
                    3 => <$t>::MIN,
                    _ => g.next() as $t,
                }
            }
        }
    )*};
}
random_int!(i8, i16, i32, i64);

impl Random for u16 {
    fn random(g: &mut Gen, _: Cx) -> Self {
        match g.below(3) {
            0 => 0,
            1 => u16::MAX,
            _ => g.next() as u16,
        }
    }
}

impl Random for bool {
    fn random(g: &mut Gen, _: Cx) -> Self {
        g.chance(2)
    }
}

impl Random for Uuid {
    fn random(g: &mut Gen, _: Cx) -> Self {
        let mut u = [0u8; 16];
        u[..8].copy_from_slice(&g.next().to_be_bytes());
        u[8..].copy_from_slice(&g.next().to_be_bytes());
        Uuid(u)
    }
}

impl Random for String {
    fn random(g: &mut Gen, _: Cx) -> Self {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789._-";
        let n = g.below(12);
        let mut s: String = (0..n)
            .map(|_| ALPHABET[g.below(ALPHABET.len() as u64) as usize] as char)
            .collect();
        if g.chance(8) {
            s.push('é');
        }
        s
    }
}

impl Random for Bytes {
    fn random(g: &mut Gen, _: Cx) -> Self {
        Bytes::from(g.bytes(24))
    }
}

impl Random for Records {
    fn random(g: &mut Gen, _: Cx) -> Self {
        Records::Inline(Bytes::from(g.bytes(64)))
    }
}

impl<T: Random> Random for Vec<T> {
    fn random(g: &mut Gen, cx: Cx) -> Self {
        let n = g.below(4);
        (0..n).map(|_| T::random(g, cx)).collect()
    }
}

impl<T: Random> Random for Option<T> {
    fn random(g: &mut Gen, cx: Cx) -> Self {
        if g.chance(4) {
            None
        } else {
            Some(T::random(g, cx))
        }
    }
    fn random_non_null(g: &mut Gen, cx: Cx) -> Self {
        Some(T::random(g, cx))
    }
}

/// Unknown tagged fields (tags 90 and up, above every known tag), in ascending order.
pub fn random_unknown_tags(g: &mut Gen) -> TaggedFields {
    let mut fields = Vec::new();
    let mut tag = 90;
    while g.chance(4) && fields.len() < 3 {
        tag += 1 + g.below(3) as u32;
        fields.push(RawTaggedField {
            tag,
            data: Bytes::from(g.bytes(6)),
        });
    }
    TaggedFields(fields)
}
