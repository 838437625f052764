//! Tests of the primitive encodings, with the examples of kafka-facts §1.4.

use bytes::{Bytes, BytesMut};

use super::*;

fn write(f: impl FnOnce(&mut Writer)) -> Vec<u8> {
    let mut w = Writer::new(BytesMut::new());
    f(&mut w);
    w.into_bytes_mut().to_vec()
}

#[test]
fn zigzag_varints_match_kafka() {
    for (v, bytes) in [
        (0, &[0x00][..]),
        (-1, &[0x01]),
        (1, &[0x02]),
        (-2, &[0x03]),
        (64, &[0x80, 0x01]),
        (300, &[0xd8, 0x04]),
    ] {
        assert_eq!(write(|w| w.varint(v)), bytes, "{v}");
        assert_eq!(varint_size(v), bytes.len());
        let b = Bytes::copy_from_slice(bytes);
        assert_eq!(Reader::new(&b).varint().unwrap(), v);
    }
    for v in [i32::MIN, i32::MAX] {
        let b = Bytes::from(write(|w| w.varint(v)));
        assert_eq!(b.len(), 5);
        assert_eq!(Reader::new(&b).varint().unwrap(), v);
    }
    for v in [i64::MIN, i64::MAX, 0, -1] {
        let b = Bytes::from(write(|w| w.varlong(v)));
        assert_eq!(b.len(), varlong_size(v));
        assert_eq!(Reader::new(&b).varlong().unwrap(), v);
    }
}

#[test]
fn unsigned_varints_are_bounded() {
    // Five bytes at most for 32 bits: a fifth byte with its continuation bit set is malformed.
    let b = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert_eq!(Reader::new(&b).uvarint().unwrap(), u32::MAX);
    let b = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert!(matches!(Reader::new(&b).uvarint(), Err(Error::Malformed { .. })));
    // 33 bits do not fit.
    let b = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0x1f]);
    assert!(matches!(Reader::new(&b).uvarint(), Err(Error::Malformed { .. })));
    // A varint cut short is incomplete.
    let b = Bytes::from_static(&[0x80, 0x80]);
    assert!(Reader::new(&b).uvarint().unwrap_err().is_incomplete());
    for v in [0u64, 127, 128, 16383, 16384, u64::from(u32::MAX), u64::MAX] {
        assert_eq!(write(|w| w.uvarint(v)).len(), uvarint_size(v), "{v}");
    }
}

#[test]
fn strings_and_arrays_use_compact_forms_when_flexible() {
    let classic = Cx {
        version: 0,
        flexible: false,
    };
    let flexible = Cx {
        version: 0,
        flexible: true,
    };
    let s = "kzero".to_string();
    assert_eq!(write(|w| s.write(w, classic).unwrap()), b"\x00\x05kzero");
    assert_eq!(write(|w| s.write(w, flexible).unwrap()), b"\x06kzero");
    let none: Option<String> = None;
    assert_eq!(write(|w| none.write(w, classic).unwrap()), [0xff, 0xff]);
    assert_eq!(write(|w| none.write(w, flexible).unwrap()), [0x00]);
    let v: Vec<i32> = vec![1, -1];
    assert_eq!(
        write(|w| v.write(w, classic).unwrap()),
        [0, 0, 0, 2, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]
    );
    assert_eq!(
        write(|w| v.write(w, flexible).unwrap()),
        [3, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff]
    );
    let null_array: Option<Vec<i32>> = None;
    assert_eq!(
        write(|w| null_array.write(w, classic).unwrap()),
        [0xff, 0xff, 0xff, 0xff]
    );
}

#[test]
fn oversized_strings_cannot_be_encoded() {
    let long = "x".repeat(40_000);
    let mut w = Writer::new(BytesMut::new());
    let err = long
        .write(
            &mut w,
            Cx {
                version: 0,
                flexible: false,
            },
        )
        .unwrap_err();
    assert!(matches!(err, Error::Unencodable { .. }), "{err}");
    // The compact form has no such limit.
    assert!(long
        .write(
            &mut w,
            Cx {
                version: 0,
                flexible: true
            }
        )
        .is_ok());
}

#[test]
fn nulls_in_non_nullable_fields_and_negative_lengths_are_malformed() {
    let classic = Cx {
        version: 0,
        flexible: false,
    };
    let b = Bytes::from_static(&[0xff, 0xff]);
    assert!(matches!(
        String::read(&mut Reader::new(&b), classic),
        Err(Error::Malformed { .. })
    ));
    let b = Bytes::from_static(&[0xff, 0xfe]);
    assert!(matches!(
        Option::<String>::read(&mut Reader::new(&b), classic),
        Err(Error::Malformed { .. })
    ));
    let b = Bytes::from_static(&[0x00]);
    assert!(matches!(
        Bytes::read(
            &mut Reader::new(&b),
            Cx {
                version: 0,
                flexible: true
            }
        ),
        Err(Error::Malformed { .. })
    ));
}

#[test]
fn tagged_fields_must_ascend() {
    let b = Bytes::from_static(&[2, 1, 0, 1, 0]);
    let mut unknown = TaggedFields::default();
    let err = Reader::new(&b)
        .tagged_fields(|_, _| Ok(false), &mut unknown)
        .unwrap_err();
    assert!(err.to_string().contains("out of order"), "{err}");
    let b = Bytes::from_static(&[2, 0, 1, 0xaa, 5, 0]);
    let mut unknown = TaggedFields::default();
    Reader::new(&b).tagged_fields(|_, _| Ok(false), &mut unknown).unwrap();
    assert_eq!(unknown.0.len(), 2);
    assert_eq!(unknown.0[0].data, Bytes::from_static(&[0xaa]));
}

#[test]
fn uuids_debug_in_hex() {
    let id = Uuid([
        0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0, 0xc0, 0x4f, 0xd4, 0x30, 0xc8,
    ]);
    assert_eq!(format!("{id:?}"), "Uuid(6ba7b810-9dad-11d1-80b4-00c04fd430c8)");
    assert_eq!(
        format!("{:#?}", Uuid::ZERO),
        "Uuid(00000000-0000-0000-0000-000000000000)"
    );
    assert!(Uuid::default().is_zero() && !id.is_zero());
}
