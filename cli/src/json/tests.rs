//! Tests of the JSON writer against exact expected text.

use super::*;

fn check(b: Option<&[u8]>, expect: &str) {
    let mut out = String::new();
    bytes(&mut out, b);
    assert_eq!(out, expect);
}

#[test]
fn strings_escape_quotes_backslashes_and_controls() {
    check(Some(b"plain"), r#""plain""#);
    check(Some(b"a\"b\\c\nd\te\x01"), r#""a\"b\\c\nd\te\u0001""#);
    check(Some("é€😀".as_bytes()), "\"é€😀\"");
    check(None, "null");
}

#[test]
fn invalid_utf8_is_base64() {
    check(Some(&[0xff]), r#"{"base64":"/w=="}"#);
    check(Some(&[0xff, 0xfe]), r#"{"base64":"//4="}"#);
    check(Some(&[0xff, 0xfe, 0xfd]), r#"{"base64":"//79"}"#);
    check(Some(&[0xc3, 0x28, 0x41, 0x42]), r#"{"base64":"wyhBQg=="}"#);
}

#[test]
fn objects_and_numbers() {
    let o = Object::new()
        .str("a", "x")
        .int("b", -3)
        .num("c", 1.5)
        .num("d", 2.0)
        .num("e", f64::NAN)
        .raw("g", "[1]")
        .finish();
    assert_eq!(o, r#"{"a":"x","b":-3,"c":1.500,"d":2,"e":null,"g":[1]}"#);
}
