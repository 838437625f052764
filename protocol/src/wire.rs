//! Primitive wire encodings and the [`Field`] trait every wire value implements.
//!
//! ```text
//! INT8/16/32/64      big-endian, fixed width
//! STRING             INT16 len, bytes            COMPACT_STRING   UVARINT len+1, bytes (0 = null)
//! BYTES              INT32 len, bytes            COMPACT_BYTES    UVARINT len+1, bytes (0 = null)
//! ARRAY              INT32 n, elements           COMPACT_ARRAY    UVARINT n+1, elements (0 = null)
//! nullable STRUCT    INT8 marker (-1 = null, 1 = present), then the struct if present (in every version)
//! TAG_BUFFER         UVARINT count, then per field: UVARINT tag, UVARINT size, `size` bytes
//! VARINT / VARLONG   zig-zag, then UVARINT (used inside records, never for protocol lengths)
//! ```
//!
//! Reading works on a [`Bytes`] buffer so that byte fields (records, member metadata) are zero-copy slices
//! of the received frame.
//! Writing goes through a [`Writer`], which can also cut the output into pieces around records that live in
//! a file ([`Records::External`]) and can record an annotation for every field (for hex dumps).

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{Error, Result};

/// The encoding context of a value: the message version and whether that version is flexible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cx {
    /// The api version of the enclosing message.
    pub version: i16,
    /// True when that version uses compact encodings and tagged fields.
    pub flexible: bool,
}

impl Cx {
    /// A context for `version`, flexible when `version >= flexible_since`.
    pub fn new(version: i16, flexible_since: i16) -> Self {
        Cx {
            version,
            flexible: version >= flexible_since,
        }
    }
}

/// A value with a wire encoding that may depend on the message version.
pub trait Field: Sized {
    /// Reads a value; the reader is left just after it.
    fn read(r: &mut Reader<'_>, cx: Cx) -> Result<Self>;
    /// Appends the encoding of the value.
    fn write(&self, w: &mut Writer, cx: Cx) -> Result<()>;
    /// The exact number of bytes [`Field::write`] appends (file-backed records count with their length).
    fn size(&self, cx: Cx) -> usize;
    /// True if this value is a null (only `Option` values can be).
    fn is_null(&self) -> bool {
        false
    }
}

// ---------------------------------------------------------------------------------------------------------
// Reader

/// A cursor over a received message.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a Bytes,
    pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    /// A reader over the whole buffer.
    pub fn new(buf: &'a Bytes) -> Self {
        Reader {
            buf,
            pos: 0,
            end: buf.len(),
        }
    }

    /// The current offset from the start of the buffer.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Bytes left before the end of this reader.
    pub fn remaining(&self) -> usize {
        self.end - self.pos
    }

    fn need(&self, n: usize) -> Result<()> {
        if n > self.remaining() {
            Err(Error::incomplete(n - self.remaining(), self.pos))
        } else {
            Ok(())
        }
    }

    /// Takes the next `n` bytes as a slice.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        self.need(n)?;
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Takes the next `n` bytes as a zero-copy `Bytes`.
    pub fn take_bytes(&mut self, n: usize) -> Result<Bytes> {
        self.need(n)?;
        let b = self.buf.slice(self.pos..self.pos + n);
        self.pos += n;
        Ok(b)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// Reads an INT8.
    pub fn i8(&mut self) -> Result<i8> {
        Ok(i8::from_be_bytes(self.array()?))
    }
    /// Reads a big-endian INT16.
    pub fn i16(&mut self) -> Result<i16> {
        Ok(i16::from_be_bytes(self.array()?))
    }
    /// Reads a big-endian UINT16.
    pub fn u16(&mut self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    /// Reads a big-endian INT32.
    pub fn i32(&mut self) -> Result<i32> {
        Ok(i32::from_be_bytes(self.array()?))
    }
    /// Reads a big-endian INT64.
    pub fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    /// Reads an UNSIGNED_VARINT that must fit 32 bits (at most 5 bytes).
    pub fn uvarint(&mut self) -> Result<u32> {
        let start = self.pos;
        let v = self.uvarint_n(5)?;
        u32::try_from(v).map_err(|_| Error::malformed("unsigned varint does not fit 32 bits", start))
    }

    /// Reads an unsigned varint of at most `max_bytes` bytes (5 for 32-bit values, 10 for 64-bit values).
    fn uvarint_n(&mut self, max_bytes: usize) -> Result<u64> {
        let start = self.pos;
        let mut value: u64 = 0;
        for i in 0..max_bytes {
            let b = self.take(1)?[0];
            value |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Error::malformed(format!("varint longer than {max_bytes} bytes"), start))
    }

    /// Reads a zig-zag VARINT (32 bits).
    pub fn varint(&mut self) -> Result<i32> {
        let v = self.uvarint()?;
        Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
    }

    /// Reads a zig-zag VARLONG (64 bits).
    pub fn varlong(&mut self) -> Result<i64> {
        let v = self.uvarint_n(10)?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    /// Reads a length prefix: `None` is null. Flexible versions use UVARINT(len + 1), others INT16 or INT32.
    pub(crate) fn length(&mut self, cx: Cx, wide: bool) -> Result<Option<usize>> {
        let start = self.pos;
        if cx.flexible {
            let n = self.uvarint()?;
            return Ok(n.checked_sub(1).map(|n| n as usize));
        }
        let n = if wide { self.i32()? } else { i32::from(self.i16()?) };
        match n {
            -1 => Ok(None),
            n if n < 0 => Err(Error::malformed(format!("negative length {n}"), start)),
            n => Ok(Some(n as usize)),
        }
    }

    /// Reads a tag buffer, handing each field to `known`; fields it does not claim are kept in `unknown`.
    /// `known` gets a reader limited to exactly the field's bytes and must consume all of them.
    pub(crate) fn tagged_fields(
        &mut self,
        mut known: impl FnMut(u32, &mut Reader<'a>) -> Result<bool>,
        unknown: &mut TaggedFields,
    ) -> Result<()> {
        let count = self.uvarint()?;
        let mut previous: Option<u32> = None;
        for _ in 0..count {
            let at = self.pos;
            let tag = self.uvarint()?;
            if previous.is_some_and(|p| tag <= p) {
                return Err(Error::malformed(format!("tag {tag} is out of order or repeated"), at));
            }
            previous = Some(tag);
            let size = self.uvarint()? as usize;
            self.need(size)?;
            let mut sub = Reader {
                buf: self.buf,
                pos: self.pos,
                end: self.pos + size,
            };
            if known(tag, &mut sub).map_err(|e| e.in_field(tag_name(tag)))? {
                if sub.remaining() != 0 {
                    return Err(Error::malformed(
                        format!("tagged field {tag} has {} unread bytes", sub.remaining()),
                        sub.pos,
                    ));
                }
            } else {
                unknown.0.push(RawTaggedField {
                    tag,
                    data: self.buf.slice(self.pos..self.pos + size),
                });
            }
            self.pos += size;
        }
        Ok(())
    }
}

fn tag_name(tag: u32) -> &'static str {
    const NAMES: [&str; 8] = ["tag 0", "tag 1", "tag 2", "tag 3", "tag 4", "tag 5", "tag 6", "tag 7"];
    NAMES.get(tag as usize).copied().unwrap_or("tag")
}

/// The number of bytes of an unsigned varint.
pub fn uvarint_size(v: u64) -> usize {
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// The number of bytes of a zig-zag varint.
pub fn varint_size(v: i32) -> usize {
    uvarint_size(u64::from(((v << 1) ^ (v >> 31)) as u32))
}

/// The number of bytes of a zig-zag varlong.
pub fn varlong_size(v: i64) -> usize {
    uvarint_size(((v << 1) ^ (v >> 63)) as u64)
}

fn length_size(cx: Cx, wide: bool, len: Option<usize>) -> usize {
    if cx.flexible {
        uvarint_size(len.map_or(0, |n| n as u64 + 1))
    } else if wide {
        4
    } else {
        2
    }
}

// ---------------------------------------------------------------------------------------------------------
// Writer

/// One piece of a segmented encoding: bytes, or records the caller will send from elsewhere (a file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    /// Encoded bytes.
    Bytes(Bytes),
    /// `len` bytes of records identified by the caller's `id` (see [`Records::External`]).
    External {
        /// The caller's identifier for the records.
        id: usize,
        /// Their length in bytes.
        len: u32,
    },
}

/// An annotation: the field path that starts at a byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Offset in the encoding.
    pub offset: usize,
    /// Field path, e.g. `topics[0].partitions[1].records`.
    pub path: String,
}

/// The output of an encoder.
#[derive(Debug, Default)]
pub struct Writer {
    buf: BytesMut,
    /// Bytes already moved out of `buf` into `pieces`.
    flushed: usize,
    /// `Some` when file-backed records are allowed (segmented encoding).
    pieces: Option<Vec<Piece>>,
    /// `Some` when annotating.
    notes: Option<(Vec<Note>, Vec<String>)>,
}

impl Writer {
    /// A writer appending to `buf` (contiguous encoding: file-backed records are an error).
    pub fn new(buf: BytesMut) -> Self {
        Writer {
            buf,
            ..Writer::default()
        }
    }

    /// A writer producing pieces: file-backed records become [`Piece::External`].
    pub fn segmented() -> Self {
        Writer {
            pieces: Some(Vec::new()),
            ..Writer::default()
        }
    }

    /// A contiguous writer that records an annotation for every field.
    pub fn annotated() -> Self {
        Writer {
            notes: Some((Vec::new(), Vec::new())),
            ..Writer::default()
        }
    }

    /// The logical offset of the next byte written.
    pub fn offset(&self) -> usize {
        self.flushed + self.buf.len()
    }

    /// The contiguous output.
    pub fn into_bytes_mut(self) -> BytesMut {
        self.buf
    }

    /// The output of a segmented writer, in order.
    pub fn into_pieces(mut self) -> Vec<Piece> {
        let mut pieces = self.pieces.take().unwrap_or_default();
        if !self.buf.is_empty() {
            pieces.push(Piece::Bytes(self.buf.split().freeze()));
        }
        pieces
    }

    /// The output and annotations of an annotated writer.
    pub fn into_annotated(self) -> (Bytes, Vec<Note>) {
        let notes = self.notes.map(|(n, _)| n).unwrap_or_default();
        (self.buf.freeze(), notes)
    }

    /// Appends raw bytes.
    pub fn put(&mut self, b: &[u8]) {
        self.buf.put_slice(b);
    }

    /// Appends an INT8.
    pub fn i8(&mut self, v: i8) {
        self.buf.put_i8(v);
    }
    /// Appends a big-endian INT16.
    pub fn i16(&mut self, v: i16) {
        self.buf.put_i16(v);
    }
    /// Appends a big-endian UINT16.
    pub fn u16(&mut self, v: u16) {
        self.buf.put_u16(v);
    }
    /// Appends a big-endian INT32.
    pub fn i32(&mut self, v: i32) {
        self.buf.put_i32(v);
    }
    /// Appends a big-endian INT64.
    pub fn i64(&mut self, v: i64) {
        self.buf.put_i64(v);
    }

    /// Appends an unsigned varint.
    pub fn uvarint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.put_u8((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.put_u8(v as u8);
    }

    /// Appends a zig-zag varint.
    pub fn varint(&mut self, v: i32) {
        self.uvarint(u64::from(((v << 1) ^ (v >> 31)) as u32));
    }

    /// Appends a zig-zag varlong.
    pub fn varlong(&mut self, v: i64) {
        self.uvarint(((v << 1) ^ (v >> 63)) as u64);
    }

    /// Appends a length prefix (`None` = null) in the encoding `cx` and `wide` select.
    pub(crate) fn length(&mut self, cx: Cx, wide: bool, len: Option<usize>) -> Result<()> {
        if cx.flexible {
            self.uvarint(len.map_or(0, |n| n as u64 + 1));
            return Ok(());
        }
        let limit = if wide { i32::MAX as usize } else { i16::MAX as usize };
        match len {
            Some(n) if n > limit => Err(Error::unencodable(
                format!(
                    "length {n} does not fit the {} length prefix",
                    if wide { "INT32" } else { "INT16" }
                ),
                self.offset(),
            )),
            Some(n) if wide => {
                self.i32(n as i32);
                Ok(())
            }
            Some(n) => {
                self.i16(n as i16);
                Ok(())
            }
            None if wide => {
                self.i32(-1);
                Ok(())
            }
            None => {
                self.i16(-1);
                Ok(())
            }
        }
    }

    /// Marks `len` bytes of file-backed records identified by `id` at the current position.
    fn external(&mut self, id: usize, len: u32) -> Result<()> {
        let offset = self.offset();
        let Some(pieces) = self.pieces.as_mut() else {
            return Err(Error::unencodable(
                "file-backed records need a segmented encoding",
                offset,
            ));
        };
        if !self.buf.is_empty() {
            self.flushed += self.buf.len();
            pieces.push(Piece::Bytes(self.buf.split().freeze()));
        }
        pieces.push(Piece::External { id, len });
        self.flushed += len as usize;
        Ok(())
    }

    /// Starts the annotation of a named field (no-op unless annotating).
    #[inline]
    pub fn enter(&mut self, name: &str) {
        if let Some((notes, path)) = self.notes.as_mut() {
            let offset = self.buf.len();
            path.push(name.to_string());
            let mut p = String::new();
            for seg in path.iter() {
                if !p.is_empty() && !seg.starts_with('[') {
                    p.push('.');
                }
                p.push_str(seg);
            }
            notes.push(Note { offset, path: p });
        }
    }

    /// Starts the annotation of array element `i` (no-op unless annotating).
    #[inline]
    pub fn enter_index(&mut self, i: usize) {
        if self.notes.is_some() {
            self.enter(&format!("[{i}]"));
        }
    }

    /// Ends the innermost annotation (no-op unless annotating).
    #[inline]
    pub fn leave(&mut self) {
        if let Some((_, path)) = self.notes.as_mut() {
            path.pop();
        }
    }
}

// ---------------------------------------------------------------------------------------------------------
// Field implementations for primitives

macro_rules! fixed_int {
    ($($t:ty => $read:ident),* $(,)?) => {$(
        impl Field for $t {
            fn read(r: &mut Reader<'_>, _: Cx) -> Result<Self> {
                r.$read()
            }
            fn write(&self, w: &mut Writer, _: Cx) -> Result<()> {
                w.$read(*self);
                Ok(())
            }
            fn size(&self, _: Cx) -> usize {
                std::mem::size_of::<$t>()
            }
        }
    )*};
}
fixed_int!(i8 => i8, i16 => i16, u16 => u16, i32 => i32, i64 => i64);

impl Field for bool {
    fn read(r: &mut Reader<'_>, _: Cx) -> Result<Self> {
        // Kafka reads any non-zero byte as true.
        Ok(r.i8()? != 0)
    }
    fn write(&self, w: &mut Writer, _: Cx) -> Result<()> {
        w.i8(i8::from(*self));
        Ok(())
    }
    fn size(&self, _: Cx) -> usize {
        1
    }
}

/// A UUID (16 bytes, big-endian), as used for topic ids; all zeros means none.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// The zero UUID, which Kafka uses for "no topic id".
    pub const ZERO: Uuid = Uuid([0; 16]);

    /// True for the zero UUID.
    pub fn is_zero(&self) -> bool {
        *self == Uuid::ZERO
    }
}

impl std::fmt::Debug for Uuid {
    /// The usual 8-4-4-4-12 hex form, on one line even in `{:#?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Uuid(")?;
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

impl Field for Uuid {
    fn read(r: &mut Reader<'_>, _: Cx) -> Result<Self> {
        Ok(Uuid(r.array()?))
    }
    fn write(&self, w: &mut Writer, _: Cx) -> Result<()> {
        w.put(&self.0);
        Ok(())
    }
    fn size(&self, _: Cx) -> usize {
        16
    }
}

/// A value with a length prefix that may be null: strings, byte strings, arrays and records.
pub trait Nullable: Sized {
    /// True for INT32 prefixes (bytes, arrays), false for INT16 (strings), in non-flexible versions.
    const WIDE: bool;
    /// Reads the body after a non-null length prefix of `len`.
    fn read_body(r: &mut Reader<'_>, cx: Cx, len: usize) -> Result<Self>;
    /// Writes the body (without the prefix).
    fn write_body(&self, w: &mut Writer, cx: Cx) -> Result<()>;
    /// The length the prefix carries (bytes or elements).
    fn prefix_len(&self) -> usize;
    /// The size of the body (without the prefix).
    fn body_size(&self, cx: Cx) -> usize;
}

fn read_non_null<T: Nullable>(r: &mut Reader<'_>, cx: Cx) -> Result<T> {
    let at = r.position();
    match r.length(cx, T::WIDE)? {
        Some(len) => T::read_body(r, cx, len),
        None => Err(Error::malformed("null value in a non-nullable field", at)),
    }
}

macro_rules! non_null_field {
    ($($t:ty),*) => {$(
        impl Field for $t {
            fn read(r: &mut Reader<'_>, cx: Cx) -> Result<Self> {
                read_non_null(r, cx)
            }
            fn write(&self, w: &mut Writer, cx: Cx) -> Result<()> {
                w.length(cx, <$t as Nullable>::WIDE, Some(self.prefix_len()))?;
                self.write_body(w, cx)
            }
            fn size(&self, cx: Cx) -> usize {
                length_size(cx, <$t as Nullable>::WIDE, Some(self.prefix_len())) + self.body_size(cx)
            }
        }
    )*};
}
non_null_field!(String, Bytes, Records);

impl<T: Field> Field for Vec<T> {
    fn read(r: &mut Reader<'_>, cx: Cx) -> Result<Self> {
        read_non_null(r, cx)
    }
    fn write(&self, w: &mut Writer, cx: Cx) -> Result<()> {
        w.length(cx, true, Some(self.len()))?;
        self.write_body(w, cx)
    }
    fn size(&self, cx: Cx) -> usize {
        length_size(cx, true, Some(self.len())) + self.body_size(cx)
    }
}

impl<T: Nullable> Field for Option<T> {
    fn read(r: &mut Reader<'_>, cx: Cx) -> Result<Self> {
        match r.length(cx, T::WIDE)? {
            Some(len) => T::read_body(r, cx, len).map(Some),
            None => Ok(None),
        }
    }
    fn write(&self, w: &mut Writer, cx: Cx) -> Result<()> {
        match self {
            Some(v) => {
                w.length(cx, T::WIDE, Some(v.prefix_len()))?;
                v.write_body(w, cx)
            }
            None => w.length(cx, T::WIDE, None),
        }
    }
    fn size(&self, cx: Cx) -> usize {
        match self {
            Some(v) => length_size(cx, T::WIDE, Some(v.prefix_len())) + v.body_size(cx),
            None => length_size(cx, T::WIDE, None),
        }
    }
    fn is_null(&self) -> bool {
        self.is_none()
    }
}

impl Nullable for String {
    const WIDE: bool = false;
    fn read_body(r: &mut Reader<'_>, _: Cx, len: usize) -> Result<Self> {
        let at = r.position();
        let raw = r.take(len)?;
        String::from_utf8(raw.to_vec()).map_err(|_| Error::malformed("string is not valid UTF-8", at))
    }
    fn write_body(&self, w: &mut Writer, _: Cx) -> Result<()> {
        w.put(self.as_bytes());
        Ok(())
    }
    fn prefix_len(&self) -> usize {
        self.len()
    }
    fn body_size(&self, _: Cx) -> usize {
        self.len()
    }
}

impl Nullable for Bytes {
    const WIDE: bool = true;
    fn read_body(r: &mut Reader<'_>, _: Cx, len: usize) -> Result<Self> {
        r.take_bytes(len)
    }
    fn write_body(&self, w: &mut Writer, _: Cx) -> Result<()> {
        w.put(self);
        Ok(())
    }
    fn prefix_len(&self) -> usize {
        self.len()
    }
    fn body_size(&self, _: Cx) -> usize {
        self.len()
    }
}

impl<T: Field> Nullable for Vec<T> {
    const WIDE: bool = true;
    fn read_body(r: &mut Reader<'_>, cx: Cx, len: usize) -> Result<Self> {
        // INVARIANT: every element type we decode takes at least one byte, so a count larger than the bytes
        // left can never be satisfied; rejecting it early also bounds the allocation by the input size.
        if len > r.remaining() {
            return Err(Error::incomplete(len - r.remaining(), r.position()));
        }
        let mut v = Vec::with_capacity(len);
        for i in 0..len {
            v.push(T::read(r, cx).map_err(|e| e.in_field(index_name(i)))?);
        }
        Ok(v)
    }
    fn write_body(&self, w: &mut Writer, cx: Cx) -> Result<()> {
        for (i, item) in self.iter().enumerate() {
            w.enter_index(i);
            item.write(w, cx)?;
            w.leave();
        }
        Ok(())
    }
    fn prefix_len(&self) -> usize {
        self.len()
    }
    fn body_size(&self, cx: Cx) -> usize {
        self.iter().map(|x| x.size(cx)).sum()
    }
}

// ---------------------------------------------------------------------------------------------------------
// Nullable structs

/// The INT8 marker before a nullable struct that is present.
const STRUCT_PRESENT: i8 = 1;
/// The INT8 marker of a null struct.
const STRUCT_NULL: i8 = -1;

/// Reads a nullable struct: an INT8 marker, then the struct if the marker says present.
///
/// Kafka writes -1 for null and 1 for present, in every version (flexible or not).
/// Readers disagree on other markers (Kafka's generated Java reads any negative one as null and any other as
/// present, the `kafka-protocol` crate reads only 1 as present), so any other marker is `Malformed`: what
/// this codec decodes, those readers decode the same way.
///
/// As a tagged field, Kafka writes the marker of a present struct as UVARINT 1, which is the same byte.
/// Kafka does not write a null tagged struct whose default is null (ClassicMemberMetadata's case), and this
/// codec writes tagged fields only when they differ from their default, so neither writes one.
/// (Kafka would write the null of a tagged struct with a non-null default as UVARINT 0, which this reader
/// rejects; no such field exists in the schemas this crate implements.)
pub(crate) fn read_nullable_struct<T: Field>(r: &mut Reader<'_>, cx: Cx) -> Result<Option<T>> {
    let at = r.position();
    match r.i8()? {
        STRUCT_NULL => Ok(None),
        STRUCT_PRESENT => T::read(r, cx).map(Some),
        marker => Err(Error::malformed(
            format!("nullable struct marker {marker} is neither -1 (null) nor 1 (present)"),
            at,
        )),
    }
}

/// Writes a nullable struct: the INT8 marker (-1 null, 1 present), then the struct if present.
pub(crate) fn write_nullable_struct<T: Field>(value: &Option<T>, w: &mut Writer, cx: Cx) -> Result<()> {
    match value {
        None => {
            w.i8(STRUCT_NULL);
            Ok(())
        }
        Some(v) => {
            w.i8(STRUCT_PRESENT);
            v.write(w, cx)
        }
    }
}

/// The size of a nullable struct: one marker byte, plus the struct if present.
pub(crate) fn nullable_struct_size<T: Field>(value: &Option<T>, cx: Cx) -> usize {
    1 + value.as_ref().map_or(0, |v| v.size(cx))
}

fn index_name(i: usize) -> &'static str {
    const NAMES: [&str; 8] = ["[0]", "[1]", "[2]", "[3]", "[4]", "[5]", "[6]", "[7]"];
    NAMES.get(i).copied().unwrap_or("[n]")
}

// ---------------------------------------------------------------------------------------------------------
// Records and tagged fields

/// The value of a RECORDS field: record batches in memory, or a length of records the caller sends from a
/// file (the zero-copy fetch path).
///
/// Decoding always yields [`Records::Inline`] (a zero-copy slice of the frame).
/// [`Records::External`] can only be encoded segmented ([`crate::encode_response_segmented`]), which leaves a
/// [`Piece::External`] where the records go; every size field is still computed from `len`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Records {
    /// Record batches in memory.
    Inline(Bytes),
    /// `len` bytes of records the caller identifies by `id` and writes itself.
    External {
        /// The caller's identifier.
        id: usize,
        /// The length in bytes.
        len: u32,
    },
}

impl Default for Records {
    fn default() -> Self {
        Records::Inline(Bytes::new())
    }
}

impl Records {
    /// The length of the records in bytes.
    pub fn len(&self) -> usize {
        match self {
            Records::Inline(b) => b.len(),
            Records::External { len, .. } => *len as usize,
        }
    }

    /// True when there are no record bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Nullable for Records {
    const WIDE: bool = true;
    fn read_body(r: &mut Reader<'_>, _: Cx, len: usize) -> Result<Self> {
        r.take_bytes(len).map(Records::Inline)
    }
    fn write_body(&self, w: &mut Writer, _: Cx) -> Result<()> {
        match self {
            Records::Inline(b) => {
                w.put(b);
                Ok(())
            }
            Records::External { id, len } => w.external(*id, *len),
        }
    }
    fn prefix_len(&self) -> usize {
        self.len()
    }
    fn body_size(&self, _: Cx) -> usize {
        self.len()
    }
}

/// One tagged field kept as raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTaggedField {
    /// The tag number.
    pub tag: u32,
    /// The field's bytes.
    pub data: Bytes,
}

/// Tagged fields that the codec does not know, in ascending tag order, kept so that they round-trip.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaggedFields(pub Vec<RawTaggedField>);

impl TaggedFields {
    /// Writes one raw field (tag, size, bytes).
    pub(crate) fn write_raw(w: &mut Writer, f: &RawTaggedField) {
        w.uvarint(u64::from(f.tag));
        w.uvarint(f.data.len() as u64);
        w.put(&f.data);
    }

    /// The size of one raw field.
    pub(crate) fn raw_size(f: &RawTaggedField) -> usize {
        uvarint_size(u64::from(f.tag)) + uvarint_size(f.data.len() as u64) + f.data.len()
    }
}

#[cfg(test)]
mod tests;
