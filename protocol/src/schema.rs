//! The `wire_struct!` macro: one declaration per Kafka message struct, mirroring Kafka's JSON schemas.
//!
//! Each field is declared with the versions it exists in, and optionally the first version where it may be
//! null, its default value (used when the version lacks the field), and its tag (for tagged fields):
//!
//! ```text
//! pub topics: Option<Vec<MetadataRequestTopic>> [0..=99] nullable 1;
//! pub allow_auto_topic_creation: bool [4..=99] = true;
//! pub supported_features: Vec<SupportedFeatureKey> [3..=99], tag 0;
//! ```
//!
//! The wire type follows from the Rust type (see [`crate::wire`]): `String` is STRING, `Option<String>` is
//! NULLABLE_STRING, `Bytes` is BYTES, `Vec<T>` is ARRAY, `Option<Vec<T>>` a nullable array,
//! `Option<Records>` is RECORDS, and each becomes its compact form in flexible versions.
//! A struct declared with this macro is a nested STRUCT, and `Option<S>` of such a struct `S` is a nullable
//! struct: an INT8 marker, -1 for null or 1 for present, then the struct (the macro implements
//! [`crate::wire::Field`] for `Option<S>` as well as for `S`).
//! Every struct gets `unknown_tagged_fields`, and in flexible versions ends with a tag buffer in which known
//! tagged fields with non-default values and unknown ones are written in ascending tag order.
//! Fields outside the version are neither read nor written, and keep their default when decoding.
//! A field declared `nullable N` may be null only from version N on: a null below N is `Malformed` when
//! decoding and `Unencodable` when encoding (Kafka's generated code throws in both directions).

/// True when `v` is within `lo..=hi` (a function, so that open ranges do not trip comparison lints).
#[inline]
pub(crate) const fn in_range(v: i16, lo: i16, hi: i16) -> bool {
    v >= lo && v <= hi
}

/// True when tag `a` sorts before tag `b` (a function, so that tag 0 does not trip comparison lints).
#[inline]
pub(crate) const fn tag_before(a: u32, b: u32) -> bool {
    a < b
}

macro_rules! wire_struct {
    (
        $(#[$attr:meta])*
        pub struct $name:ident {
            $(
                $(#[$fattr:meta])*
                pub $f:ident : $t:ty [$lo:literal ..= $hi:literal] $(nullable $nlo:literal)? $(= $def:expr)? $(, tag $tag:literal)? ;
            )*
        }
    ) => {
        $(#[$attr])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name {
            $( $(#[$fattr])* pub $f: $t, )*
            /// Tagged fields this codec does not know, kept so that they round-trip.
            pub unknown_tagged_fields: $crate::wire::TaggedFields,
        }

        impl Default for $name {
            fn default() -> Self {
                Self {
                    $( $f: wire_struct!(@default $($def)?), )*
                    unknown_tagged_fields: Default::default(),
                }
            }
        }

        impl $crate::wire::Field for $name {
            #[allow(unused_variables, unused_mut)]
            fn read(r: &mut $crate::wire::Reader<'_>, cx: $crate::wire::Cx) -> $crate::Result<Self> {
                let mut this = Self::default();
                $( wire_struct!(@read this r cx $f [$lo $hi] [$($nlo)?] [$($tag)?]); )*
                if cx.flexible {
                    let mut unknown = $crate::wire::TaggedFields::default();
                    r.tagged_fields(
                        |tag, sub| match tag {
                            $( $( $tag if $crate::schema::in_range(cx.version, $lo, $hi) => {
                                this.$f = $crate::wire::Field::read(sub, cx).map_err(|e| e.in_field(stringify!($f)))?;
                                Ok(true)
                            } )? )*
                            _ => Ok(false),
                        },
                        &mut unknown,
                    )
                    .map_err(|e| e.in_field("_tagged_fields"))?;
                    this.unknown_tagged_fields = unknown;
                }
                Ok(this)
            }

            #[allow(unused_variables, unused_mut)]
            fn write(&self, w: &mut $crate::wire::Writer, cx: $crate::wire::Cx) -> $crate::Result<()> {
                $( wire_struct!(@write self w cx $f [$lo $hi] [$($nlo)?] [$($tag)?]); )*
                if cx.flexible {
                    let d = Self::default();
                    let mut n = self.unknown_tagged_fields.0.len();
                    $( $( let _ = $tag; if $crate::schema::in_range(cx.version, $lo, $hi) && self.$f != d.$f { n += 1; } )? )*
                    w.enter("_tagged_fields");
                    w.uvarint(n as u64);
                    let mut unknown = self.unknown_tagged_fields.0.iter().peekable();
                    $( $(
                        if $crate::schema::in_range(cx.version, $lo, $hi) && self.$f != d.$f {
                            while let Some(u) = unknown.next_if(|u| $crate::schema::tag_before(u.tag, $tag)) {
                                $crate::wire::TaggedFields::write_raw(w, u);
                            }
                            w.enter(stringify!($f));
                            w.uvarint($tag);
                            w.uvarint($crate::wire::Field::size(&self.$f, cx) as u64);
                            $crate::wire::Field::write(&self.$f, w, cx).map_err(|e| e.in_field(stringify!($f)))?;
                            w.leave();
                        }
                    )? )*
                    for u in unknown {
                        $crate::wire::TaggedFields::write_raw(w, u);
                    }
                    w.leave();
                }
                Ok(())
            }

            #[allow(unused_variables, unused_mut)]
            fn size(&self, cx: $crate::wire::Cx) -> usize {
                let mut s = 0;
                $( s += wire_struct!(@size self cx $f [$lo $hi] [$($tag)?]); )*
                if cx.flexible {
                    let d = Self::default();
                    let mut n = self.unknown_tagged_fields.0.len();
                    s += self.unknown_tagged_fields.0.iter().map($crate::wire::TaggedFields::raw_size).sum::<usize>();
                    $( $(
                        if $crate::schema::in_range(cx.version, $lo, $hi) && self.$f != d.$f {
                            n += 1;
                            let fs = $crate::wire::Field::size(&self.$f, cx);
                            s += $crate::wire::uvarint_size($tag) + $crate::wire::uvarint_size(fs as u64) + fs;
                        }
                    )? )*
                    s += $crate::wire::uvarint_size(n as u64);
                }
                s
            }
        }

        /// A nullable struct: an INT8 marker (-1 null, 1 present), then the struct.
        impl $crate::wire::Field for Option<$name> {
            fn read(r: &mut $crate::wire::Reader<'_>, cx: $crate::wire::Cx) -> $crate::Result<Self> {
                $crate::wire::read_nullable_struct(r, cx)
            }

            fn write(&self, w: &mut $crate::wire::Writer, cx: $crate::wire::Cx) -> $crate::Result<()> {
                $crate::wire::write_nullable_struct(self, w, cx)
            }

            fn size(&self, cx: $crate::wire::Cx) -> usize {
                $crate::wire::nullable_struct_size(self, cx)
            }

            fn is_null(&self) -> bool {
                self.is_none()
            }
        }

        #[cfg(test)]
        impl $crate::testing::Random for $name {
            fn random(g: &mut $crate::testing::Gen, cx: $crate::wire::Cx) -> Self {
                let mut this = Self::default();
                $(
                    if $crate::schema::in_range(cx.version, $lo, $hi) {
                        this.$f = wire_struct!(@random g cx $t [$($nlo)?]);
                    }
                )*
                if cx.flexible {
                    this.unknown_tagged_fields = $crate::testing::random_unknown_tags(g);
                }
                this
            }
        }
    };

    (@default) => { Default::default() };
    (@default $def:expr) => { $def };

    (@read $this:ident $r:ident $cx:ident $f:ident [$lo:literal $hi:literal] [$($nlo:literal)?] []) => {
        if $crate::schema::in_range($cx.version, $lo, $hi) {
            let _at = $r.position();
            $this.$f = $crate::wire::Field::read($r, $cx).map_err(|e| e.in_field(stringify!($f)))?;
            $(
                if $cx.version < $nlo && $crate::wire::Field::is_null(&$this.$f) {
                    return Err($crate::Error::malformed("null in a field that is not nullable in this version", _at)
                        .in_field(stringify!($f)));
                }
            )?
        }
    };
    (@read $this:ident $r:ident $cx:ident $f:ident [$lo:literal $hi:literal] [$($nlo:literal)?] [$tag:literal]) => {};

    (@write $s:ident $w:ident $cx:ident $f:ident [$lo:literal $hi:literal] [$($nlo:literal)?] []) => {
        if $crate::schema::in_range($cx.version, $lo, $hi) {
            $(
                if $cx.version < $nlo && $crate::wire::Field::is_null(&$s.$f) {
                    return Err($crate::Error::unencodable(
                        "null in a field that is not nullable in this version",
                        $w.offset(),
                    )
                    .in_field(stringify!($f)));
                }
            )?
            $w.enter(stringify!($f));
            $crate::wire::Field::write(&$s.$f, $w, $cx).map_err(|e| e.in_field(stringify!($f)))?;
            $w.leave();
        }
    };
    (@write $s:ident $w:ident $cx:ident $f:ident [$lo:literal $hi:literal] [$($nlo:literal)?] [$tag:literal]) => {};

    (@size $s:ident $cx:ident $f:ident [$lo:literal $hi:literal] []) => {
        if $crate::schema::in_range($cx.version, $lo, $hi) { $crate::wire::Field::size(&$s.$f, $cx) } else { 0 }
    };
    (@size $s:ident $cx:ident $f:ident [$lo:literal $hi:literal] [$tag:literal]) => { 0 };

    (@random $g:ident $cx:ident $t:ty []) => { <$t as $crate::testing::Random>::random($g, $cx) };
    (@random $g:ident $cx:ident $t:ty [$nlo:literal]) => {
        if $cx.version < $nlo {
            <$t as $crate::testing::Random>::random_non_null($g, $cx)
        } else {
            <$t as $crate::testing::Random>::random($g, $cx)
        }
    };
}

pub(crate) use wire_struct;
