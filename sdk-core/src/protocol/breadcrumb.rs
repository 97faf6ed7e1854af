//! Breadcrumbs: the trail of things that happened before an event (PROTOCOL.md §4.6).

use std::borrow::Cow;
use std::fmt;
use std::time::SystemTime;

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use smallvec::SmallVec;

use super::crumb_str::{CrumbStr, DataValue};
use super::level::Level;
use super::serde_helpers::timestamp;

/// One breadcrumb. Cheap to build and to clone as users write it: `type`, `category` and the
/// data keys are `Cow<'static, str>` and `message` a [`CrumbStr`], so string literals are
/// stored without allocating (an owned `String` is accepted too), and `data` is a small
/// insertion-ordered [`BreadcrumbData`] that holds two entries inline and scalar values
/// ([`DataValue`]) without allocating. The workload's breadcrumb below makes no heap
/// allocation at all.
///
/// ```
/// use sdk_core::protocol::{Breadcrumb, Level};
/// let crumb = Breadcrumb::new("user clicked checkout")
///     .with_category("ui.click")
///     .with_level(Level::Info)
///     .with_data("button", "checkout");
/// assert_eq!(crumb.category.as_deref(), Some("ui.click"));
/// assert_eq!(crumb.data.get("button"), Some(&"checkout".into()));
/// assert_eq!(crumb.message.as_deref(), Some("user clicked checkout"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breadcrumb {
    /// When it happened (seconds since the epoch on the wire).
    #[serde(with = "timestamp")]
    pub timestamp: SystemTime,
    /// The kind: `default`, `debug`, `error`, `navigation`, `http`, `info`, `query`,
    /// `transaction`, `ui`, `user`. Absent means `default`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub ty: Option<Cow<'static, str>>,
    /// A dotted category, e.g. `http` or `ui.click`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<Cow<'static, str>>,
    /// What happened. A `&'static str` or a short string is stored without allocating (see
    /// [`CrumbStr`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<CrumbStr>,
    /// Structured data (a JSON object on the wire).
    #[serde(default, skip_serializing_if = "BreadcrumbData::is_empty")]
    pub data: BreadcrumbData,
    /// How severe it was. Absent means `info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    /// What recorded it, e.g. `auto.http.reqwest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Cow<'static, str>>,
}

impl Default for Breadcrumb {
    /// An empty breadcrumb stamped now (the thread's derived wall-clock time: a real
    /// wall-clock read at most 100 ms old advanced by the monotonic clock, which is cheaper
    /// than reading the wall clock; see `performance::clock`). Inlined, so that
    /// `Breadcrumb { message, ..Default::default() }` builds the breadcrumb in place.
    #[inline]
    fn default() -> Breadcrumb {
        Breadcrumb {
            timestamp: crate::performance::clock::wall_now(),
            ty: None,
            category: None,
            message: None,
            data: BreadcrumbData::new(),
            level: None,
            origin: None,
        }
    }
}

impl Breadcrumb {
    /// A breadcrumb with a message, stamped now. A `&'static str` is stored without allocating.
    pub fn new(message: impl Into<CrumbStr>) -> Breadcrumb {
        Breadcrumb {
            message: Some(message.into()),
            ..Breadcrumb::default()
        }
    }

    /// Sets the category.
    pub fn with_category(mut self, category: impl Into<Cow<'static, str>>) -> Breadcrumb {
        self.category = Some(category.into());
        self
    }

    /// Sets the type.
    pub fn with_type(mut self, ty: impl Into<Cow<'static, str>>) -> Breadcrumb {
        self.ty = Some(ty.into());
        self
    }

    /// Sets the level.
    pub fn with_level(mut self, level: Level) -> Breadcrumb {
        self.level = Some(level);
        self
    }

    /// Adds one data entry (replacing an entry with the same key).
    pub fn with_data(
        mut self,
        key: impl Into<Cow<'static, str>>,
        value: impl Into<DataValue>,
    ) -> Breadcrumb {
        self.data.insert(key, value);
        self
    }
}

/// How many `data` entries a breadcrumb holds without a heap allocation.
pub const BREADCRUMB_DATA_INLINE: usize = 2;

type Entry = (Cow<'static, str>, DataValue);

/// A breadcrumb's `data`: a small map that keeps insertion order and holds each key once.
///
/// The first [`BREADCRUMB_DATA_INLINE`] entries are stored inline (no heap allocation; a
/// linear search beats a tree for a handful of entries); keys are `Cow<'static, str>`, so
/// literal keys do not allocate, and values are [`DataValue`]s, so numbers, booleans, literal
/// and short strings do not allocate either. Serialises as a JSON object and reads one back (a
/// repeated key keeps the last value, as `serde_json` does). Equality ignores order.
///
/// ```
/// use sdk_core::protocol::BreadcrumbData;
/// let mut data = BreadcrumbData::new();
/// data.insert("user_id", 42);
/// data.insert("path", "/api/items");
/// data.insert("user_id", 43); // replaces, keeps the position
/// assert_eq!(data.len(), 2);
/// assert_eq!(data.get("user_id").and_then(|v| v.as_u64()), Some(43));
/// assert_eq!(serde_json::to_string(&data).unwrap(), r#"{"user_id":43,"path":"/api/items"}"#);
/// ```
#[derive(Clone, Default)]
pub struct BreadcrumbData {
    entries: SmallVec<[Entry; BREADCRUMB_DATA_INLINE]>,
}

impl BreadcrumbData {
    /// An empty map (does not allocate).
    pub const fn new() -> BreadcrumbData {
        BreadcrumbData {
            entries: SmallVec::new_const(),
        }
    }

    /// An empty map with room for `capacity` entries.
    pub fn with_capacity(capacity: usize) -> BreadcrumbData {
        BreadcrumbData {
            entries: SmallVec::with_capacity(capacity),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the entries live on the heap (more than [`BREADCRUMB_DATA_INLINE`] of them).
    pub fn spilled(&self) -> bool {
        self.entries.spilled()
    }

    /// Sets `key` to `value`. An existing entry with that key keeps its position and its old
    /// value is returned; otherwise the entry is appended.
    #[inline(always)]
    pub fn insert(
        &mut self,
        key: impl Into<Cow<'static, str>>,
        value: impl Into<DataValue>,
    ) -> Option<DataValue> {
        self.insert_entry(key.into(), value.into())
    }

    // Always inlined: with literal keys (the usual case) the search folds away.
    #[inline(always)]
    fn insert_entry(&mut self, key: Cow<'static, str>, value: DataValue) -> Option<DataValue> {
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, slot)) => Some(std::mem::replace(slot, value)),
            None => {
                self.entries.push((key, value));
                None
            }
        }
    }

    /// The value of `key`, mutably, inserting `null` first when the key is absent: lets a
    /// caller write a value in place (e.g. [`DataValue::set_str_copied`]).
    ///
    /// ```
    /// use sdk_core::protocol::BreadcrumbData;
    /// let mut data = BreadcrumbData::new();
    /// data.value_mut("path").set_str_copied("/api/items");
    /// assert_eq!(data.get("path").and_then(|v| v.as_str()), Some("/api/items"));
    /// ```
    #[inline(always)]
    pub fn value_mut(&mut self, key: impl Into<Cow<'static, str>>) -> &mut DataValue {
        match key.into() {
            Cow::Borrowed(key) => self.static_value_mut(key),
            Cow::Owned(key) => self.owned_value_mut(key),
        }
    }

    /// [`BreadcrumbData::value_mut`] for a literal key: the key stays in registers and a new
    /// entry is written straight into place (no staging copy on the stack).
    #[inline]
    fn static_value_mut(&mut self, key: &'static str) -> &mut DataValue {
        let at = match self.entries.iter().position(|(k, _)| k.as_ref() == key) {
            Some(at) => at,
            None => {
                // built by the iterator after any growth: written straight into place, not
                // staged on the stack across the growth call
                self.entries.extend(std::iter::once_with(|| {
                    (Cow::Borrowed(key), DataValue::Null)
                }));
                self.entries.len() - 1
            }
        };
        // (always in bounds: found or just pushed)
        &mut self.entries[at].1
    }

    fn owned_value_mut(&mut self, key: String) -> &mut DataValue {
        let at = match self.entries.iter().position(|(k, _)| *k == key) {
            Some(at) => at,
            None => {
                self.entries.push((Cow::Owned(key), DataValue::Null));
                self.entries.len() - 1
            }
        };
        // (always in bounds: found or just pushed)
        &mut self.entries[at].1
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&DataValue> {
        self.entries.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The value of `key`, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut DataValue> {
        self.entries
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Whether `key` has an entry.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Removes `key`, returning its value; the other entries keep their order.
    pub fn remove(&mut self, key: &str) -> Option<DataValue> {
        let at = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(at).1)
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The entries in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &DataValue)> + '_ {
        self.entries.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// The keys in insertion order.
    pub fn keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.entries.iter().map(|(k, _)| k.as_ref())
    }
}

impl fmt::Debug for BreadcrumbData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl PartialEq for BreadcrumbData {
    fn eq(&self, other: &BreadcrumbData) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl<K: Into<Cow<'static, str>>, V: Into<DataValue>> FromIterator<(K, V)> for BreadcrumbData {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> BreadcrumbData {
        let mut data = BreadcrumbData::new();
        data.extend(iter);
        data
    }
}

impl<K: Into<Cow<'static, str>>, V: Into<DataValue>> Extend<(K, V)> for BreadcrumbData {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl From<serde_json::Map<String, Value>> for BreadcrumbData {
    fn from(map: serde_json::Map<String, Value>) -> BreadcrumbData {
        // A serde_json map has unique keys: no dedup needed.
        BreadcrumbData {
            entries: map
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k), DataValue::from(v)))
                .collect(),
        }
    }
}

impl From<BreadcrumbData> for serde_json::Map<String, Value> {
    fn from(data: BreadcrumbData) -> serde_json::Map<String, Value> {
        data.into_iter()
            .map(|(k, v)| (k.into_owned(), Value::from(v)))
            .collect()
    }
}

/// The entries of a [`BreadcrumbData`], in insertion order, by value.
pub struct DataIntoIter(smallvec::IntoIter<[Entry; BREADCRUMB_DATA_INLINE]>);

impl Iterator for DataIntoIter {
    type Item = (Cow<'static, str>, DataValue);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl IntoIterator for BreadcrumbData {
    type Item = (Cow<'static, str>, DataValue);
    type IntoIter = DataIntoIter;

    fn into_iter(self) -> DataIntoIter {
        DataIntoIter(self.entries.into_iter())
    }
}

impl Serialize for BreadcrumbData {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.entries.len()))?;
        for (k, v) in &self.entries {
            map.serialize_entry(k.as_ref(), v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for BreadcrumbData {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<BreadcrumbData, D::Error> {
        struct DataVisitor;

        impl<'de> Visitor<'de> for DataVisitor {
            type Value = BreadcrumbData;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of breadcrumb data")
            }

            fn visit_map<A: MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<BreadcrumbData, A::Error> {
                // Untrusted input: cap the up-front reservation, grow as entries arrive.
                let mut data =
                    BreadcrumbData::with_capacity(access.size_hint().unwrap_or(0).min(64));
                while let Some((k, v)) = access.next_entry::<String, DataValue>()? {
                    data.insert(k, v);
                }
                Ok(data)
            }
        }

        deserializer.deserialize_map(DataVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_strings_are_borrowed_not_allocated() {
        let crumb = Breadcrumb::new("clicked")
            .with_type("default")
            .with_category("ui.click")
            .with_data("user_id", 42);
        assert!(crumb.message.as_ref().is_some_and(CrumbStr::is_static));
        assert_eq!(crumb.message.as_deref(), Some("clicked"));
        assert!(matches!(crumb.ty, Some(Cow::Borrowed(_))));
        assert!(matches!(crumb.category, Some(Cow::Borrowed(_))));
        assert!(matches!(crumb.data.keys().next(), Some("user_id")));
        assert!(matches!(crumb.data.entries[0].0, Cow::Borrowed(_)));
        // owned strings are accepted too
        let owned = Breadcrumb::new(format!("crumb {}", 1)).with_category(String::from("x"));
        assert_eq!(owned.message.as_deref(), Some("crumb 1"));
    }

    #[test]
    fn data_keeps_insertion_order_and_one_entry_per_key() {
        let mut data = BreadcrumbData::new();
        assert_eq!(data.insert("b", 1), None);
        assert_eq!(data.insert("a", 2), None);
        assert_eq!(data.insert(String::from("b"), 3), Some(DataValue::from(1)));
        assert_eq!(data.keys().collect::<Vec<_>>(), ["b", "a"]);
        assert_eq!(
            serde_json::to_value(&data).unwrap(),
            serde_json::json!({"b": 3, "a": 2})
        );
        assert_eq!(data.remove("b"), Some(DataValue::from(3)));
        assert_eq!(data.keys().collect::<Vec<_>>(), ["a"]);
        assert!(!data.contains_key("b"));
    }

    #[test]
    fn data_reads_an_object_and_a_repeated_key_keeps_the_last_value() {
        let data: BreadcrumbData = serde_json::from_str(r#"{"x": 1, "y": "s", "x": 2}"#).unwrap();
        assert_eq!(data.len(), 2);
        assert_eq!(data.get("x"), Some(&DataValue::from(2)));
        assert_eq!(data.get("y"), Some(&DataValue::from("s")));
        let err = serde_json::from_str::<BreadcrumbData>("[1, 2]").unwrap_err();
        assert!(err.to_string().contains("breadcrumb data"), "{err}");
    }

    #[test]
    fn breadcrumb_wire_shape_round_trips() {
        let crumb = Breadcrumb::new("user clicked the checkout button")
            .with_type("default")
            .with_category("peer.bench")
            .with_level(Level::Info)
            .with_data("user_id", 42)
            .with_data("path", "/api/items");
        let json = serde_json::to_value(&crumb).unwrap();
        assert_eq!(json["type"], "default");
        assert_eq!(json["category"], "peer.bench");
        assert_eq!(json["message"], "user clicked the checkout button");
        assert_eq!(json["level"], "info");
        assert_eq!(
            json["data"],
            serde_json::json!({"user_id": 42, "path": "/api/items"})
        );
        assert!(json["timestamp"].is_number());
        assert!(json.get("origin").is_none());
        let back: Breadcrumb = serde_json::from_value(json).unwrap();
        assert_eq!(back.data, crumb.data);
        assert_eq!(back.message, crumb.message);
        // empty data is left out
        let bare = serde_json::to_value(Breadcrumb::new("m")).unwrap();
        assert!(bare.get("data").is_none());
    }

    #[test]
    fn converts_from_and_to_a_serde_json_map() {
        let mut map = serde_json::Map::new();
        map.insert("k".into(), Value::from(true));
        let data = BreadcrumbData::from(map.clone());
        assert_eq!(data.get("k"), Some(&DataValue::from(true)));
        assert_eq!(serde_json::Map::from(data), map);
    }

    #[test]
    fn the_workload_breadcrumb_needs_no_heap_allocation() {
        let mut data = BreadcrumbData::new();
        data.insert("user_id", 42);
        data.insert("path", "/api/items");
        assert!(!data.spilled());
        let crumb = Breadcrumb {
            ty: Some("default".into()),
            category: Some("peer.bench".into()),
            message: Some("user clicked the checkout button".into()),
            level: Some(Level::Info),
            data,
            ..Breadcrumb::default()
        };
        assert!(crumb.message.as_ref().is_some_and(CrumbStr::is_static));
        assert!(matches!(crumb.data.get("path"), Some(DataValue::Str(s)) if s.is_static()));
        assert_eq!(
            serde_json::to_value(&crumb.data).unwrap(),
            serde_json::json!({"user_id": 42, "path": "/api/items"})
        );
    }

    #[test]
    fn data_grows_past_the_inline_entries_and_keeps_order() {
        let mut data = BreadcrumbData::new();
        for (i, key) in ["a", "b", "c", "d", "e"].into_iter().enumerate() {
            data.insert(key, i);
        }
        assert!(data.spilled());
        assert_eq!(data.keys().collect::<Vec<_>>(), ["a", "b", "c", "d", "e"]);
        data.insert("c", "replaced");
        assert_eq!(data.len(), 5);
        assert_eq!(
            serde_json::to_string(&data).unwrap(),
            r#"{"a":0,"b":1,"c":"replaced","d":3,"e":4}"#
        );
        let back: BreadcrumbData =
            serde_json::from_str(r#"{"a":0,"b":1,"c":"replaced","d":3,"e":4}"#).unwrap();
        assert_eq!(back, data);
        let collected: Vec<_> = data.into_iter().map(|(k, _)| k.into_owned()).collect();
        assert_eq!(collected, ["a", "b", "c", "d", "e"]);
    }
}
