//! [`SpanData`]: the data (attributes) of a span or transaction.

use std::borrow::Cow;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

/// The data (attributes) of a span or a transaction's root span: JSON values by name.
///
/// A small map kept as a list: names are `Cow<'static, str>`, so a `&'static str` name (as
/// instrumentation usually has, e.g. a `tracing` field name) costs no allocation, and a span
/// with a few attributes costs one allocation for all of them. Setting a name again replaces
/// its value. It is written as a JSON object with its keys in sorted order.
///
/// ```
/// use sdk_core::performance::SpanData;
/// let mut data = SpanData::new();
/// data.insert("db.system", "postgresql");
/// data.insert("rows", 3);
/// data.insert(String::from("cache.hit"), true);
/// assert_eq!(data["rows"], 3);
/// assert_eq!(data.get("db.system").and_then(|v| v.as_str()), Some("postgresql"));
/// assert_eq!(data["missing"], serde_json::Value::Null);
/// assert_eq!(data.len(), 3);
/// ```
#[derive(Debug, Clone, Default)]
pub struct SpanData {
    entries: Vec<(Cow<'static, str>, Value)>,
}

impl SpanData {
    /// An empty map (no allocation).
    pub const fn new() -> SpanData {
        SpanData {
            entries: Vec::new(),
        }
    }

    /// An empty map with room for `capacity` entries.
    pub fn with_capacity(capacity: usize) -> SpanData {
        SpanData {
            entries: Vec::with_capacity(capacity),
        }
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|(k, _)| k == key)
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find_map(|(k, v)| (k == key).then_some(v))
    }

    /// The value of `key`, to change it.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.entries
            .iter_mut()
            .find_map(|(k, v)| (k == key).then_some(v))
    }

    /// Whether `key` has a value.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// Sets `key` to `value`; returns the value it replaces.
    pub fn insert(
        &mut self,
        key: impl Into<Cow<'static, str>>,
        value: impl Into<Value>,
    ) -> Option<Value> {
        let key = key.into();
        let value = value.into();
        match self.position(&key) {
            Some(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            None => {
                self.entries.push((key, value));
                None
            }
        }
    }

    /// Removes `key`; returns its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let i = self.position(key)?;
        Some(self.entries.remove(i).1)
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
    }

    /// The entries, in the order they were first set.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (&**k, v))
    }

    /// The names, in the order they were first set.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| &**k)
    }

    /// Entry indices in the order the keys sort (the wire order).
    fn sorted_indices(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.entries.len()).collect();
        order.sort_unstable_by(|a, b| self.entries[*a].0.cmp(&self.entries[*b].0));
        order
    }

    /// The entries in key order (as they are written).
    pub(crate) fn sorted(&self) -> impl Iterator<Item = (&str, &Value)> {
        let sorted = self.entries.windows(2).all(|w| w[0].0 <= w[1].0);
        let order = if sorted {
            None
        } else {
            Some(self.sorted_indices())
        };
        let n = self.entries.len();
        (0..n).map(move |i| {
            let (k, v) = &self.entries[order.as_ref().map_or(i, |o| o[i])];
            (&**k, v)
        })
    }
}

impl PartialEq for SpanData {
    /// The same entries, whatever order they were set in.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .entries
                .iter()
                .all(|(k, v)| other.get(k).is_some_and(|o| o == v))
    }
}

impl std::ops::Index<&str> for SpanData {
    type Output = Value;

    /// The value of the key, or `Value::Null` when absent (as indexing a JSON value).
    fn index(&self, key: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.get(key).unwrap_or(&NULL)
    }
}

impl<K: Into<Cow<'static, str>>, V: Into<Value>> Extend<(K, V)> for SpanData {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl<K: Into<Cow<'static, str>>, V: Into<Value>> FromIterator<(K, V)> for SpanData {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut data = SpanData::new();
        data.extend(iter);
        data
    }
}

impl From<serde_json::Map<String, Value>> for SpanData {
    fn from(map: serde_json::Map<String, Value>) -> Self {
        SpanData {
            entries: map.into_iter().map(|(k, v)| (Cow::Owned(k), v)).collect(),
        }
    }
}

impl From<SpanData> for serde_json::Map<String, Value> {
    fn from(data: SpanData) -> Self {
        data.entries
            .into_iter()
            .map(|(k, v)| (k.into_owned(), v))
            .collect()
    }
}

impl IntoIterator for SpanData {
    type Item = (Cow<'static, str>, Value);
    type IntoIter = std::vec::IntoIter<(Cow<'static, str>, Value)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl Serialize for SpanData {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (k, v) in self.sorted() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setting_a_key_again_replaces_its_value() {
        let mut data = SpanData::new();
        assert_eq!(data.insert("n", 1), None);
        assert_eq!(data.insert(String::from("n"), 2), Some(Value::from(1)));
        assert_eq!(data.len(), 1);
        assert_eq!(data["n"], 2);
        assert_eq!(data.remove("n"), Some(Value::from(2)));
        assert!(data.is_empty());
    }

    #[test]
    fn written_as_an_object_with_sorted_keys_like_a_json_map() {
        let mut data = SpanData::new();
        data.insert("zeta", "z");
        data.insert("alpha", 1);
        data.insert("mid", Value::Null);
        let ours = serde_json::to_string(&data).expect("serialises");
        let map: serde_json::Map<String, Value> = data.clone().into();
        assert_eq!(ours, serde_json::to_string(&map).expect("serialises"));
        assert_eq!(ours, r#"{"alpha":1,"mid":null,"zeta":"z"}"#);
        assert_eq!(SpanData::from(map), data);
    }

    #[test]
    fn equal_whatever_the_order_entries_were_set_in() {
        let a: SpanData = [("a", 1), ("b", 2)].into_iter().collect();
        let b: SpanData = [("b", 2), ("a", 1)].into_iter().collect();
        let c: SpanData = [("b", 2), ("a", 3)].into_iter().collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
