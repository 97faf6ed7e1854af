//! The breadcrumb buffer of a scope: a bounded ring that snapshots without copying entries.
//!
//! Breadcrumbs live in chunks of up to [`CHUNK`] entries, each behind an `Arc`, and the list of
//! chunks is itself behind an `Arc`. So:
//! - a snapshot (every capture, every scope fork) clones one `Arc`;
//! - a push appends in place to the last chunk when nobody else holds it, and otherwise starts a
//!   new chunk: entries are never deep-copied;
//! - when the ring is full, the oldest entry is hidden and its chunk released once every entry
//!   of it has been evicted, so memory stays bounded by `max + CHUNK` entries per ring.

use std::collections::VecDeque;
use std::sync::Arc;

/// How many entries one chunk holds at most.
pub const CHUNK: usize = 16;

#[derive(Debug)]
struct Chunks<T> {
    chunks: VecDeque<Arc<Vec<T>>>,
    /// Entries of the first chunk that were evicted but not yet released.
    skip: usize,
    /// Visible entries.
    len: usize,
    /// A released chunk, emptied, kept for the next chunk this ring starts (so a full ring
    /// allocates nothing). Never shared: clones start without one.
    spare: Option<Arc<Vec<T>>>,
}

impl<T> Clone for Chunks<T> {
    fn clone(&self) -> Self {
        Chunks {
            chunks: self.chunks.clone(),
            skip: self.skip,
            len: self.len,
            spare: None,
        }
    }
}

impl<T> Chunks<T> {
    /// Hides the oldest entry; releases its chunk once all of the chunk's entries are hidden,
    /// keeping the chunk's allocation as the spare when nobody else holds it.
    #[inline]
    fn evict_one(&mut self) {
        self.len -= 1;
        self.skip += 1;
        if self
            .chunks
            .front()
            .is_some_and(|first| self.skip >= first.len())
        {
            if let Some(mut first) = self.chunks.pop_front() {
                if let Some(entries) = Arc::get_mut(&mut first) {
                    entries.clear();
                    self.spare = Some(first);
                }
            }
            self.skip = 0;
        }
    }
}

/// A new chunk holding `value`.
fn one<T>(value: T) -> Vec<T> {
    let mut fresh = Vec::with_capacity(CHUNK);
    fresh.push(value);
    fresh
}

/// A bounded, copy-on-write ring of entries (breadcrumbs), oldest first.
///
/// Cloning is one `Arc` clone; pushing never copies existing entries.
pub struct Ring<T> {
    inner: Option<Arc<Chunks<T>>>,
}

impl<T> Clone for Ring<T> {
    fn clone(&self) -> Self {
        Ring {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Default for Ring<T> {
    fn default() -> Self {
        Ring { inner: None }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Ring<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T> Ring<T> {
    /// An empty ring.
    pub fn new() -> Self {
        Ring { inner: None }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.inner.as_ref().map_or(0, |c| c.len)
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.inner = None;
    }

    /// Appends `value`, evicting the oldest entries so that at most `max` remain. Returns how
    /// many entries were evicted. With `max == 0` nothing is kept.
    #[inline]
    pub fn push(&mut self, value: T, max: usize) -> usize {
        self.push_from(&mut Some(value), max)
    }

    /// Moves the value out of `slot` (if any) into the ring, as [`Ring::push`] does. Taking it
    /// from the caller's slot only where it is stored saves moves of large entries.
    #[inline]
    pub fn push_from(&mut self, slot: &mut Option<T>, max: usize) -> usize {
        if max == 0 || slot.is_none() {
            return 0;
        }
        let inner = self.inner.get_or_insert_with(|| {
            Arc::new(Chunks {
                chunks: VecDeque::new(),
                skip: 0,
                len: 0,
                spare: None,
            })
        });
        let chunks = Arc::make_mut(inner);
        // Evict first: a full ring then releases its oldest chunk (keeping it as the spare)
        // before it needs a new one.
        let mut evicted = 0;
        while chunks.len >= max {
            chunks.evict_one();
            evicted += 1;
        }
        match chunks
            .chunks
            .back_mut()
            .and_then(Arc::get_mut)
            // (chunks never grow past their first allocation: telling the compiler so lets it
            // copy the value from the slot straight into its entry)
            .filter(|last| last.len() < CHUNK && last.len() < last.capacity())
        {
            // taken right where it is stored: one copy of the value, slot to entry
            Some(last) => {
                if let Some(value) = slot.take() {
                    last.push(value);
                }
            }
            None => {
                let Some(value) = slot.take() else {
                    return evicted;
                };
                let fresh = match chunks.spare.take() {
                    Some(mut spare) => match Arc::get_mut(&mut spare) {
                        Some(entries) => {
                            entries.push(value);
                            spare
                        }
                        None => Arc::new(one(value)),
                    },
                    None => Arc::new(one(value)),
                };
                chunks.chunks.push_back(fresh);
            }
        }
        chunks.len += 1;
        evicted
    }

    /// Keeps only the newest `max` entries.
    pub fn truncate_front(&mut self, max: usize) {
        let Some(inner) = self.inner.as_mut() else {
            return;
        };
        if inner.len <= max {
            return;
        }
        let chunks = Arc::make_mut(inner);
        while chunks.len > max {
            chunks.evict_one();
        }
    }

    /// The entries, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        let (chunks, skip, len) = match &self.inner {
            Some(c) => (Some(&c.chunks), c.skip, c.len),
            None => (None, 0, 0),
        };
        chunks
            .into_iter()
            .flat_map(|chunks| chunks.iter())
            .flat_map(|chunk| chunk.iter())
            .skip(skip)
            .take(len)
    }

    /// The newest entry.
    pub fn last(&self) -> Option<&T> {
        if self.is_empty() {
            return None;
        }
        self.inner
            .as_ref()
            .and_then(|c| c.chunks.back())
            .and_then(|chunk| chunk.last())
    }

    /// Whether both rings share the same chunks (used to check that forks copy nothing).
    pub fn shares_chunks_with(&self, other: &Ring<T>) -> bool {
        match (&self.inner, &other.inner) {
            (Some(a), Some(b)) => {
                Arc::ptr_eq(a, b)
                    || (a.chunks.len() == b.chunks.len()
                        && a.chunks
                            .iter()
                            .zip(&b.chunks)
                            .all(|(x, y)| Arc::ptr_eq(x, y)))
            }
            (None, None) => true,
            _ => false,
        }
    }

    /// The chunks, for tests that check sharing.
    #[cfg(test)]
    fn chunk_ptrs(&self) -> Vec<*const Vec<T>> {
        self.inner
            .as_ref()
            .map(|c| c.chunks.iter().map(Arc::as_ptr).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(ring: &Ring<u32>) -> Vec<u32> {
        ring.iter().copied().collect()
    }

    #[test]
    fn keeps_the_newest_entries_in_order() {
        let mut ring = Ring::new();
        let mut evicted = 0;
        for i in 0..250 {
            evicted += ring.push(i, 100);
        }
        assert_eq!(ring.len(), 100);
        assert_eq!(evicted, 150);
        assert_eq!(values(&ring), (150..250).collect::<Vec<_>>());
        assert_eq!(ring.last(), Some(&249));
    }

    #[test]
    fn memory_stays_bounded() {
        let mut ring = Ring::new();
        for i in 0..10_000 {
            ring.push(i, 100);
        }
        let chunks = ring.chunk_ptrs().len();
        assert!(chunks <= 100 / CHUNK + 2, "{chunks} chunks");
    }

    #[test]
    fn zero_max_keeps_nothing() {
        let mut ring = Ring::new();
        ring.push(1, 0);
        assert!(ring.is_empty());
    }

    #[test]
    fn snapshots_share_chunks_and_do_not_see_later_pushes() {
        let mut ring = Ring::new();
        for i in 0..40 {
            ring.push(i, 100);
        }
        let snapshot = ring.clone();
        assert!(snapshot.shares_chunks_with(&ring));
        let before = ring.chunk_ptrs();
        ring.push(40, 100);
        let after = ring.chunk_ptrs();
        // every old chunk is still the same allocation: nothing was deep-copied
        assert_eq!(&after[..before.len()], &before[..]);
        assert_eq!(snapshot.len(), 40);
        assert_eq!(ring.len(), 41);
        assert_eq!(values(&snapshot), (0..40).collect::<Vec<_>>());
        assert_eq!(values(&ring), (0..41).collect::<Vec<_>>());
    }

    #[test]
    fn eviction_after_a_snapshot_leaves_the_snapshot_intact() {
        let mut ring = Ring::new();
        for i in 0..100 {
            ring.push(i, 100);
        }
        let snapshot = ring.clone();
        for i in 100..130 {
            ring.push(i, 100);
        }
        assert_eq!(values(&snapshot), (0..100).collect::<Vec<_>>());
        assert_eq!(values(&ring), (30..130).collect::<Vec<_>>());
    }

    #[test]
    fn truncate_keeps_newest() {
        let mut ring = Ring::new();
        for i in 0..50 {
            ring.push(i, 100);
        }
        ring.truncate_front(5);
        assert_eq!(values(&ring), vec![45, 46, 47, 48, 49]);
    }

    #[test]
    fn a_full_ring_reuses_released_chunks() {
        let mut ring = Ring::new();
        let spare = |ring: &Ring<u32>| {
            ring.inner
                .as_ref()
                .and_then(|c| c.spare.as_ref().map(Arc::as_ptr))
        };
        // fill, then evict until the first chunk is released
        for i in 0..(100 + CHUNK as u32) {
            ring.push(i, 100);
        }
        let kept = spare(&ring).expect("the released chunk is kept");
        // the next chunk the ring starts is that allocation, not a new one
        while spare(&ring).is_some() {
            ring.push(0, 100);
        }
        assert_eq!(ring.chunk_ptrs().last(), Some(&kept));
        assert_eq!(ring.len(), 100);
    }

    #[test]
    fn a_chunk_held_by_a_snapshot_is_not_reused() {
        let mut ring = Ring::new();
        for i in 0..100 {
            ring.push(i, 100);
        }
        let snapshot = ring.clone();
        for i in 100..400 {
            ring.push(i, 100);
        }
        assert_eq!(values(&snapshot), (0..100).collect::<Vec<_>>());
        assert_eq!(values(&ring), (300..400).collect::<Vec<_>>());
        let mut fork = ring.clone();
        fork.push(400, 100);
        ring.push(1_000, 100);
        assert_eq!(fork.last(), Some(&400));
        assert_eq!(ring.last(), Some(&1_000));
        assert_eq!(values(&fork)[..99], values(&ring)[..99]);
    }

    #[test]
    fn evicted_entries_are_dropped_when_their_chunk_is_released() {
        let alive = Arc::new(());
        let mut ring = Ring::new();
        for _ in 0..(10 * CHUNK) {
            ring.push(alive.clone(), CHUNK);
        }
        // at most the visible chunk plus the one being filled hold entries
        assert!(Arc::strong_count(&alive) <= 1 + 2 * CHUNK);
        ring.clear();
        assert_eq!(Arc::strong_count(&alive), 1);
    }
}
