//! Strings and values that breadcrumbs hold without allocating: [`CrumbStr`] and
//! [`DataValue`].

use std::borrow::{Borrow, Cow};
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// How many bytes a [`CrumbStr`] holds inline, without a heap allocation.
pub const CRUMB_STR_INLINE: usize = 22;

#[derive(Clone)]
enum Repr {
    Static(&'static str),
    Inline {
        len: u8,
        bytes: [u8; CRUMB_STR_INLINE],
    },
    Heap(Box<str>),
}

/// An immutable string for breadcrumbs that avoids heap allocations where it can: a
/// `&'static str` is stored as a reference, a string of up to [`CRUMB_STR_INLINE`] bytes is
/// copied inline, and only longer owned strings live on the heap. 24 bytes, like a `String`.
///
/// It dereferences to `str`, compares with `&str` and `String`, and serialises as a JSON
/// string.
///
/// ```
/// use sdk_core::protocol::CrumbStr;
/// let literal = CrumbStr::from("user clicked the checkout button"); // borrowed, no copy
/// let short = CrumbStr::copied(&String::from("GET /api")); // copied inline, no allocation
/// let formatted = CrumbStr::from_fmt(format_args!("item {}", 42)); // inline too
/// assert_eq!(literal, "user clicked the checkout button");
/// assert!(!short.is_allocated() && !formatted.is_allocated());
/// assert_eq!(formatted.len(), 7);
/// assert_eq!(serde_json::to_string(&short).unwrap(), r#""GET /api""#);
/// ```
#[derive(Clone)]
pub struct CrumbStr(Repr);

impl CrumbStr {
    /// The empty string.
    pub const EMPTY: CrumbStr = CrumbStr(Repr::Static(""));

    /// A string literal (or any `&'static str`), stored as a reference.
    pub const fn from_static(s: &'static str) -> CrumbStr {
        CrumbStr(Repr::Static(s))
    }

    /// A copy of `s`: inline when it is at most [`CRUMB_STR_INLINE`] bytes, else on the heap.
    pub fn copied(s: &str) -> CrumbStr {
        match inline(s) {
            Some(repr) => CrumbStr(repr),
            None => CrumbStr(Repr::Heap(Box::from(s))),
        }
    }

    /// Formats `args` (e.g. `format_args!("{value:?}")`) into a new string, inline when the
    /// result is short. A `Debug` or `Display` implementation that fails leaves what it wrote.
    pub fn from_fmt(args: fmt::Arguments<'_>) -> CrumbStr {
        if let Some(s) = args.as_str() {
            return CrumbStr::from_static(s);
        }
        let mut writer = InlineWriter::default();
        let _ = fmt::write(&mut writer, args);
        writer.finish()
    }

    /// Replaces this string with a copy of `s`, written in place (inline when short): cheaper
    /// than building a new value and moving it in.
    #[inline]
    pub fn set_copied(&mut self, s: &str) {
        if s.len() <= CRUMB_STR_INLINE {
            self.0 = Repr::Inline {
                len: s.len() as u8,
                bytes: [0; CRUMB_STR_INLINE],
            };
            if let Repr::Inline { bytes, .. } = &mut self.0 {
                if let Some(room) = bytes.get_mut(..s.len()) {
                    room.copy_from_slice(s.as_bytes());
                }
            }
        } else {
            self.0 = Repr::Heap(Box::from(s));
        }
    }

    /// Replaces this string with the formatted `args`, written in place (inline when the result
    /// is short). A `Debug` or `Display` implementation that fails leaves what it wrote.
    pub fn set_fmt(&mut self, args: fmt::Arguments<'_>) {
        if let Some(s) = args.as_str() {
            self.0 = Repr::Static(s);
            return;
        }
        self.0 = Repr::Inline {
            len: 0,
            bytes: [0; CRUMB_STR_INLINE],
        };
        let mut writer = InPlace {
            target: self,
            heap: None,
        };
        let _ = fmt::write(&mut writer, args);
        if let Some(heap) = writer.heap {
            self.0 = Repr::Heap(heap.into_boxed_str());
        }
    }

    /// The string.
    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(s) => s,
            // Only ever filled from whole `&str`s, so always valid; `unwrap_or` keeps this free
            // of panics without `unsafe`.
            Repr::Inline { len, bytes } => {
                std::str::from_utf8(bytes.get(..usize::from(*len)).unwrap_or(&[])).unwrap_or("")
            }
            Repr::Heap(s) => s,
        }
    }

    /// Whether this string holds a heap allocation (only owned strings longer than
    /// [`CRUMB_STR_INLINE`] bytes do).
    pub fn is_allocated(&self) -> bool {
        matches!(self.0, Repr::Heap(_))
    }

    /// Whether this is a borrowed `&'static str`.
    pub fn is_static(&self) -> bool {
        matches!(self.0, Repr::Static(_))
    }

    /// Converts into a `String`.
    pub fn into_string(self) -> String {
        match self.0 {
            Repr::Heap(s) => s.into_string(),
            other => CrumbStr(other).as_str().to_owned(),
        }
    }
}

fn inline(s: &str) -> Option<Repr> {
    let len = u8::try_from(s.len()).ok()?;
    let mut bytes = [0u8; CRUMB_STR_INLINE];
    bytes.get_mut(..s.len())?.copy_from_slice(s.as_bytes());
    Some(Repr::Inline { len, bytes })
}

/// Collects formatted output inline, moving to a `String` only when it outgrows the buffer.
#[derive(Default)]
struct InlineWriter {
    bytes: [u8; CRUMB_STR_INLINE],
    len: usize,
    heap: Option<String>,
}

impl fmt::Write for InlineWriter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if let Some(heap) = &mut self.heap {
            heap.push_str(s);
            return Ok(());
        }
        let end = self.len + s.len();
        match self.bytes.get_mut(self.len..end) {
            Some(room) => {
                room.copy_from_slice(s.as_bytes());
                self.len = end;
            }
            None => {
                let mut heap = String::with_capacity(end.max(2 * CRUMB_STR_INLINE));
                heap.push_str(std::str::from_utf8(&self.bytes[..self.len]).unwrap_or(""));
                heap.push_str(s);
                self.heap = Some(heap);
            }
        }
        Ok(())
    }
}

/// Appends formatted output to an inline [`CrumbStr`] in place, moving to a `String` only when
/// it outgrows the inline room.
struct InPlace<'a> {
    target: &'a mut CrumbStr,
    heap: Option<String>,
}

impl fmt::Write for InPlace<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if let Some(heap) = &mut self.heap {
            heap.push_str(s);
            return Ok(());
        }
        if let Repr::Inline { len, bytes } = &mut self.target.0 {
            let start = usize::from(*len);
            let end = start + s.len();
            if let Some(room) = bytes.get_mut(start..end) {
                room.copy_from_slice(s.as_bytes());
                // end <= CRUMB_STR_INLINE (22)
                *len = end as u8;
                return Ok(());
            }
        }
        let mut heap =
            String::with_capacity((self.target.len() + s.len()).max(2 * CRUMB_STR_INLINE));
        heap.push_str(self.target.as_str());
        heap.push_str(s);
        self.heap = Some(heap);
        Ok(())
    }
}

impl InlineWriter {
    fn finish(self) -> CrumbStr {
        match self.heap {
            Some(heap) => CrumbStr(Repr::Heap(heap.into_boxed_str())),
            None => CrumbStr(Repr::Inline {
                // at most CRUMB_STR_INLINE (22)
                len: self.len as u8,
                bytes: self.bytes,
            }),
        }
    }
}

impl Default for CrumbStr {
    fn default() -> CrumbStr {
        CrumbStr::EMPTY
    }
}

impl Deref for CrumbStr {
    type Target = str;
    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for CrumbStr {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for CrumbStr {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for CrumbStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for CrumbStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq for CrumbStr {
    fn eq(&self, other: &CrumbStr) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for CrumbStr {}

impl PartialOrd for CrumbStr {
    fn partial_cmp(&self, other: &CrumbStr) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for CrumbStr {
    fn cmp(&self, other: &CrumbStr) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for CrumbStr {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialEq<str> for CrumbStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for CrumbStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for CrumbStr {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<CrumbStr> for &str {
    fn eq(&self, other: &CrumbStr) -> bool {
        *self == other.as_str()
    }
}

impl From<&'static str> for CrumbStr {
    #[inline]
    fn from(s: &'static str) -> CrumbStr {
        CrumbStr::from_static(s)
    }
}

impl From<String> for CrumbStr {
    fn from(s: String) -> CrumbStr {
        match inline(&s) {
            Some(repr) => CrumbStr(repr),
            None => CrumbStr(Repr::Heap(s.into_boxed_str())),
        }
    }
}

impl From<Box<str>> for CrumbStr {
    fn from(s: Box<str>) -> CrumbStr {
        CrumbStr(Repr::Heap(s))
    }
}

impl From<Cow<'static, str>> for CrumbStr {
    fn from(s: Cow<'static, str>) -> CrumbStr {
        match s {
            Cow::Borrowed(s) => CrumbStr::from_static(s),
            Cow::Owned(s) => CrumbStr::from(s),
        }
    }
}

impl From<CrumbStr> for String {
    fn from(s: CrumbStr) -> String {
        s.into_string()
    }
}

impl Serialize for CrumbStr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CrumbStr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<CrumbStr, D::Error> {
        String::deserialize(deserializer).map(CrumbStr::from)
    }
}

/// One value of a breadcrumb's `data`: JSON scalars stored without allocating (strings as
/// [`CrumbStr`]), and any other JSON (arrays, objects) as a boxed [`serde_json::Value`].
///
/// Serialises exactly as the equivalent `serde_json::Value` does; numbers compare as
/// `serde_json` numbers do (`42i64 == 42u64`, `1.0 != 1`).
///
/// ```
/// use sdk_core::protocol::DataValue;
/// assert_eq!(DataValue::from(42), DataValue::from(42u64));
/// assert_eq!(DataValue::from("/api/items").as_str(), Some("/api/items"));
/// assert_eq!(DataValue::from(f64::NAN), DataValue::Null); // as serde_json does
/// assert_eq!(DataValue::from(1.5), serde_json::json!(1.5));
/// ```
#[derive(Clone, Debug, Default)]
pub enum DataValue {
    /// `null`.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A signed integer.
    I64(i64),
    /// An unsigned integer.
    U64(u64),
    /// A finite float (non-finite floats become [`DataValue::Null`], as in `serde_json`).
    F64(f64),
    /// A string.
    Str(CrumbStr),
    /// Any other JSON (arrays and objects).
    Json(Box<Value>),
}

impl DataValue {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            DataValue::Str(s) => Some(s.as_str()),
            DataValue::Json(v) => v.as_str(),
            _ => None,
        }
    }

    /// The integer, if this is one that fits an `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            DataValue::I64(n) => Some(n),
            DataValue::U64(n) => i64::try_from(n).ok(),
            DataValue::Json(ref v) => v.as_i64(),
            _ => None,
        }
    }

    /// The integer, if this is one that fits a `u64`.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            DataValue::I64(n) => u64::try_from(n).ok(),
            DataValue::U64(n) => Some(n),
            DataValue::Json(ref v) => v.as_u64(),
            _ => None,
        }
    }

    /// The number as a float, if this is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            DataValue::I64(n) => Some(n as f64),
            DataValue::U64(n) => Some(n as f64),
            DataValue::F64(n) => Some(n),
            DataValue::Json(ref v) => v.as_f64(),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            DataValue::Bool(b) => Some(b),
            DataValue::Json(ref v) => v.as_bool(),
            _ => None,
        }
    }

    /// Whether this is `null`.
    pub fn is_null(&self) -> bool {
        match self {
            DataValue::Null => true,
            DataValue::Json(v) => v.is_null(),
            _ => false,
        }
    }

    /// The equivalent `serde_json::Value`.
    pub fn to_value(&self) -> Value {
        self.clone().into()
    }

    /// Replaces this value with a copy of the string `s`, written in place (inline when short).
    #[inline]
    pub fn set_str_copied(&mut self, s: &str) {
        match self {
            DataValue::Str(current) => current.set_copied(s),
            other => {
                *other = DataValue::Str(CrumbStr::EMPTY);
                if let DataValue::Str(current) = other {
                    current.set_copied(s);
                }
            }
        }
    }

    /// Replaces this value with the formatted `args` as a string, written in place (inline
    /// when short).
    pub fn set_fmt(&mut self, args: fmt::Arguments<'_>) {
        if !matches!(self, DataValue::Str(_)) {
            *self = DataValue::Str(CrumbStr::EMPTY);
        }
        if let DataValue::Str(current) = self {
            current.set_fmt(args);
        }
    }

    /// Rough size of the JSON, for the transport queue's byte bound.
    pub(crate) fn json_size_hint(&self) -> Option<usize> {
        match self {
            DataValue::Str(s) => Some(s.len() + 2),
            DataValue::Json(_) => None,
            _ => Some(8),
        }
    }
}

impl PartialEq for DataValue {
    fn eq(&self, other: &DataValue) -> bool {
        use DataValue::{Bool, Json, Null, Str, F64, I64, U64};
        match (self, other) {
            (Null, Null) => true,
            (Bool(a), Bool(b)) => a == b,
            (Str(a), Str(b)) => a == b,
            (F64(a), F64(b)) => a == b,
            (I64(a), I64(b)) => a == b,
            (U64(a), U64(b)) => a == b,
            (I64(a), U64(b)) | (U64(b), I64(a)) => u64::try_from(*a).is_ok_and(|a| a == *b),
            (Json(a), Json(b)) => a == b,
            (Json(a), b) | (b, Json(a)) => **a == b.to_value(),
            _ => false,
        }
    }
}

impl PartialEq<Value> for DataValue {
    fn eq(&self, other: &Value) -> bool {
        self.to_value() == *other
    }
}

impl PartialEq<DataValue> for Value {
    fn eq(&self, other: &DataValue) -> bool {
        *self == other.to_value()
    }
}

macro_rules! from_signed {
    ($($t:ty),*) => {$(
        impl From<$t> for DataValue {
            #[inline]
            fn from(n: $t) -> DataValue {
                DataValue::I64(i64::from(n))
            }
        }
    )*};
}
from_signed!(i8, i16, i32, i64);

macro_rules! from_unsigned {
    ($($t:ty),*) => {$(
        impl From<$t> for DataValue {
            #[inline]
            fn from(n: $t) -> DataValue {
                DataValue::U64(u64::from(n))
            }
        }
    )*};
}
from_unsigned!(u8, u16, u32, u64);

impl From<isize> for DataValue {
    fn from(n: isize) -> DataValue {
        // isize is at most 64 bits on every supported target
        DataValue::I64(n as i64)
    }
}

impl From<usize> for DataValue {
    fn from(n: usize) -> DataValue {
        DataValue::U64(n as u64)
    }
}

impl From<f64> for DataValue {
    fn from(n: f64) -> DataValue {
        if n.is_finite() {
            DataValue::F64(n)
        } else {
            DataValue::Null
        }
    }
}

impl From<f32> for DataValue {
    fn from(n: f32) -> DataValue {
        // the same conversion serde_json's `Value::from(f32)` makes
        Value::from(n).into()
    }
}

impl From<bool> for DataValue {
    fn from(b: bool) -> DataValue {
        DataValue::Bool(b)
    }
}

impl From<&'static str> for DataValue {
    #[inline]
    fn from(s: &'static str) -> DataValue {
        DataValue::Str(CrumbStr::from_static(s))
    }
}

impl From<String> for DataValue {
    fn from(s: String) -> DataValue {
        DataValue::Str(s.into())
    }
}

impl From<Cow<'static, str>> for DataValue {
    fn from(s: Cow<'static, str>) -> DataValue {
        DataValue::Str(s.into())
    }
}

impl From<CrumbStr> for DataValue {
    fn from(s: CrumbStr) -> DataValue {
        DataValue::Str(s)
    }
}

impl<T: Into<DataValue>> From<Option<T>> for DataValue {
    fn from(v: Option<T>) -> DataValue {
        v.map_or(DataValue::Null, Into::into)
    }
}

impl From<Value> for DataValue {
    fn from(v: Value) -> DataValue {
        match v {
            Value::Null => DataValue::Null,
            Value::Bool(b) => DataValue::Bool(b),
            Value::String(s) => DataValue::Str(s.into()),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    DataValue::U64(u)
                } else if let Some(i) = n.as_i64() {
                    DataValue::I64(i)
                } else {
                    n.as_f64().map_or(DataValue::Null, DataValue::from)
                }
            }
            other => DataValue::Json(Box::new(other)),
        }
    }
}

impl From<DataValue> for Value {
    fn from(v: DataValue) -> Value {
        match v {
            DataValue::Null => Value::Null,
            DataValue::Bool(b) => Value::Bool(b),
            DataValue::I64(n) => Value::from(n),
            DataValue::U64(n) => Value::from(n),
            DataValue::F64(n) => Value::from(n),
            DataValue::Str(s) => Value::String(s.into_string()),
            DataValue::Json(v) => *v,
        }
    }
}

impl Serialize for DataValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            DataValue::Null => serializer.serialize_unit(),
            DataValue::Bool(b) => serializer.serialize_bool(*b),
            DataValue::I64(n) => serializer.serialize_i64(*n),
            DataValue::U64(n) => serializer.serialize_u64(*n),
            DataValue::F64(n) => serializer.serialize_f64(*n),
            DataValue::Str(s) => serializer.serialize_str(s),
            DataValue::Json(v) => v.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for DataValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<DataValue, D::Error> {
        Value::deserialize(deserializer).map(DataValue::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sizes_stay_small() {
        assert_eq!(std::mem::size_of::<CrumbStr>(), 24);
        assert_eq!(std::mem::size_of::<Option<CrumbStr>>(), 24);
        assert!(std::mem::size_of::<DataValue>() <= 24);
    }

    #[test]
    fn strings_are_borrowed_inline_or_on_the_heap_by_length() {
        let literal = CrumbStr::from("a string literal that is longer than the inline room");
        assert!(literal.is_static() && !literal.is_allocated());
        let short = CrumbStr::copied("exactly 22 bytes long!");
        assert_eq!(short.len(), CRUMB_STR_INLINE);
        assert!(!short.is_allocated() && !short.is_static());
        assert_eq!(short, "exactly 22 bytes long!");
        let long = CrumbStr::copied("twenty-three bytes long");
        assert!(long.is_allocated());
        assert_eq!(long, "twenty-three bytes long");
        assert_eq!(CrumbStr::from(String::from("owned")), "owned");
        assert!(!CrumbStr::from(String::from("owned")).is_allocated());
        assert_eq!(CrumbStr::from(Cow::Borrowed("cow")), "cow");
        assert_eq!(String::from(long.clone()), "twenty-three bytes long");
        assert_eq!(CrumbStr::default(), "");
        // multi-byte characters stay whole
        let accents = CrumbStr::copied("café crème");
        assert_eq!(accents.as_str(), "café crème");
    }

    #[test]
    fn formatting_stays_inline_until_it_outgrows_the_room() {
        let short = CrumbStr::from_fmt(format_args!("{} + {}", 1, 2));
        assert_eq!(short, "1 + 2");
        assert!(!short.is_allocated());
        let literal = CrumbStr::from_fmt(format_args!("no arguments"));
        assert!(literal.is_static());
        let (a, b) = (String::from("first part"), 12_345);
        let long = CrumbStr::from_fmt(format_args!("{a}-second-{b}"));
        assert_eq!(long, "first part-second-12345");
        assert!(long.is_allocated());
        let debug = CrumbStr::from_fmt(format_args!("{:?}", "quoted"));
        assert_eq!(debug, "\"quoted\"");
        // a failing Debug keeps what it wrote, no panic
        struct Fails;
        impl fmt::Debug for Fails {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("partial")?;
                Err(fmt::Error)
            }
        }
        assert_eq!(CrumbStr::from_fmt(format_args!("{:?}", Fails)), "partial");
    }

    #[test]
    fn values_serialise_like_serde_json_values() {
        let cases: Vec<(DataValue, Value)> = vec![
            (42.into(), json!(42)),
            ((-7i64).into(), json!(-7)),
            (u64::MAX.into(), json!(u64::MAX)),
            (1.5.into(), json!(1.5)),
            (1.0.into(), json!(1.0)),
            (f64::INFINITY.into(), Value::from(f64::INFINITY)),
            (0.1f32.into(), Value::from(0.1f32)),
            (true.into(), json!(true)),
            ("/api/items".into(), json!("/api/items")),
            (String::from("owned").into(), json!("owned")),
            (None::<u8>.into(), json!(null)),
            (json!([1, "a"]).into(), json!([1, "a"])),
            (json!({"k": {"n": 1}}).into(), json!({"k": {"n": 1}})),
        ];
        for (ours, theirs) in cases {
            assert_eq!(
                serde_json::to_string(&ours).unwrap(),
                serde_json::to_string(&theirs).unwrap()
            );
            assert_eq!(ours, theirs);
            assert_eq!(DataValue::from(theirs.clone()), ours);
            assert_eq!(ours.to_value(), theirs);
            let back: DataValue = serde_json::from_value(theirs).unwrap();
            assert_eq!(back, ours);
        }
    }

    #[test]
    fn numbers_compare_as_serde_json_numbers() {
        assert_eq!(DataValue::I64(5), DataValue::U64(5));
        assert_ne!(DataValue::I64(-1), DataValue::U64(u64::MAX));
        assert_ne!(DataValue::F64(1.0), DataValue::U64(1));
        assert_eq!(DataValue::Json(Box::new(json!("s"))), DataValue::from("s"));
        assert_eq!(DataValue::from(3u8).as_i64(), Some(3));
        assert_eq!(DataValue::from(-3).as_u64(), None);
        assert_eq!(DataValue::from(2).as_f64(), Some(2.0));
        assert_eq!(DataValue::from(false).as_bool(), Some(false));
        assert!(DataValue::Null.is_null());
        assert_eq!(DataValue::from("x").as_str(), Some("x"));
    }

    #[test]
    fn in_place_setters_match_the_constructors() {
        let mut s = CrumbStr::from("static");
        s.set_copied("short");
        assert_eq!(s, "short");
        assert!(!s.is_allocated());
        s.set_copied("a string longer than twenty-two bytes");
        assert_eq!(s, "a string longer than twenty-two bytes");
        assert!(s.is_allocated());
        let n = 42;
        s.set_fmt(format_args!("n = {n}"));
        assert_eq!(s, "n = 42");
        assert!(!s.is_allocated());
        s.set_fmt(format_args!("{n} is more than {} bytes long, so heap", 22));
        assert_eq!(s, "42 is more than 22 bytes long, so heap");
        s.set_fmt(format_args!("literal"));
        assert!(s.is_static());
        let mut v = DataValue::from(7);
        v.set_str_copied("/api/items");
        assert_eq!(v, DataValue::from("/api/items"));
        v.set_fmt(format_args!("{:?}", Some(n)));
        assert_eq!(v.as_str(), Some("Some(42)"));
        let mut w = DataValue::Null;
        w.set_fmt(format_args!("{}", "x".repeat(30)));
        assert_eq!(w.as_str().map(str::len), Some(30));
    }
}
