//! Just enough JSON output for `consume --json` and the bench results: strings, bytes and objects.
//!
//! Record keys, values and header values are bytes. Valid UTF-8 is written as a JSON string; anything
//! else as `{"base64": "..."}` (standard alphabet, padded), so that no byte is lost or altered.

use std::fmt::Write;

/// Appends `s` as a JSON string literal.
pub fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends nullable bytes: `null`, a string, or `{"base64": "..."}`.
pub fn bytes(out: &mut String, b: Option<&[u8]>) {
    match b {
        None => out.push_str("null"),
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => string(out, s),
            Err(_) => {
                out.push_str("{\"base64\":\"");
                base64(out, b);
                out.push_str("\"}");
            }
        },
    }
}

fn base64(out: &mut String, b: &[u8]) {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for chunk in b.chunks(3) {
        let n = chunk.iter().fold(0u32, |acc, &x| acc << 8 | u32::from(x)) << (8 * (3 - chunk.len()));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
}

/// A number that is finite, or `null`.
pub fn number(out: &mut String, x: f64) {
    if x.is_finite() {
        // Three decimals are plenty for rates and milliseconds; integers print without a fraction.
        if x.fract() == 0.0 && x.abs() < 1e15 {
            let _ = write!(out, "{}", x as i64);
        } else {
            let _ = write!(out, "{x:.3}");
        }
    } else {
        out.push_str("null");
    }
}

/// Builds one JSON object field by field.
#[derive(Debug)]
pub struct Object {
    out: String,
    first: bool,
}

impl Object {
    /// An empty object.
    pub fn new() -> Object {
        Object {
            out: String::from("{"),
            first: true,
        }
    }

    fn key(&mut self, k: &str) -> &mut String {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        string(&mut self.out, k);
        self.out.push(':');
        &mut self.out
    }

    /// A string field.
    pub fn str(mut self, k: &str, v: &str) -> Self {
        string(self.key(k), v);
        self
    }

    /// An integer field.
    pub fn int(mut self, k: &str, v: i64) -> Self {
        let _ = write!(self.key(k), "{v}");
        self
    }

    /// A floating-point field (`null` if not finite).
    pub fn num(mut self, k: &str, v: f64) -> Self {
        number(self.key(k), v);
        self
    }

    /// Nullable bytes (see the module docs).
    pub fn bytes(mut self, k: &str, v: Option<&[u8]>) -> Self {
        bytes(self.key(k), v);
        self
    }

    /// A field whose value is already JSON (an object, an array, or `null`).
    pub fn raw(mut self, k: &str, json: &str) -> Self {
        self.key(k).push_str(json);
        self
    }

    /// The finished object.
    pub fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

#[cfg(test)]
mod tests;
