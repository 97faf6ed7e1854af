//! The breadcrumb buffer of a scope: a bounded ring that snapshots without copying entries.
//!
//! Breadcrumbs live in chunks of up to [`CHUNK`] entries, each behind an `Arc`: the open chunk
//! (`tail`, where pushes go) and the full ones before it (`sealed`, a list that is itself
//! behind an `Arc`). So:
//! - a snapshot (every capture, every scope fork) clones two `Arc`s;
//! - a push appends in place to the open chunk when nobody else holds it (one uniqueness
//!   check), and otherwise starts a new chunk: entries are never deep-copied; the sealed list
//!   changes only once per chunk;
//! - when the ring is full, the oldest entry is hidden and its chunk released once every entry
//!   of it has been evicted (the released chunk's allocation is reused for the next chunk when
//!   nobody else holds it), so memory stays bounded by `max + 2 * CHUNK` entries per ring.

use std::collections::VecDeque;
use std::sync::Arc;

/// How many entries one chunk holds at most.
pub const CHUNK: usize = 16;

type Chunk<T> = Arc<Vec<T>>;

#[derive(Debug)]
struct Sealed<T> {
    /// Full (or frozen) chunks, oldest first.
    chunks: VecDeque<Chunk<T>>,
    /// A released chunk, emptied, kept for the next chunk this ring starts (so a full ring
    /// allocates nothing). Never shared: clones start without one.
    spare: Option<Chunk<T>>,
}

impl<T> Clone for Sealed<T> {
    fn clone(&self) -> Self {
        Sealed {
            chunks: self.chunks.clone(),
            spare: None,
        }
    }
}

/// A bounded, copy-on-write ring of entries (breadcrumbs), oldest first.
///
/// Cloning is two `Arc` clones; pushing never copies existing entries.
pub struct Ring<T> {
    sealed: Option<Arc<Sealed<T>>>,
    /// The open chunk, after every sealed one.
    tail: Option<Chunk<T>>,
    /// Evicted entries still stored at the front of the oldest chunk.
    skip: u32,
    /// Visible entries.
    len: u32,
}

impl<T> Clone for Ring<T> {
    fn clone(&self) -> Self {
        Ring {
            sealed: self.sealed.clone(),
            tail: self.tail.clone(),
            skip: self.skip,
            len: self.len,
        }
    }
}

impl<T> Default for Ring<T> {
    fn default() -> Self {
        Ring::new()
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Ring<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// A new chunk holding `value`.
fn one<T>(value: T) -> Vec<T> {
    let mut fresh = Vec::with_capacity(CHUNK);
    fresh.push(value);
    fresh
}

impl<T> Ring<T> {
    /// An empty ring.
    pub const fn new() -> Self {
        Ring {
            sealed: None,
            tail: None,
            skip: 0,
            len: 0,
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        *self = Ring::new();
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
        let max = u32::try_from(max).unwrap_or(u32::MAX);
        // Evict first: a full ring then releases its oldest chunk (keeping it as the spare)
        // before it may need a new one.
        let mut evicted = 0;
        while self.len >= max {
            self.evict_one();
            evicted += 1;
        }
        match self
            .tail
            .as_mut()
            .and_then(Arc::get_mut)
            // (chunks never grow past their first allocation: telling the compiler so lets it
            // copy the value from the slot straight into its entry)
            .filter(|tail| tail.len() < CHUNK && tail.len() < tail.capacity())
        {
            // taken right where it is stored: one copy of the value, slot to entry
            Some(tail) => {
                if let Some(value) = slot.take() {
                    tail.push(value);
                    self.len += 1;
                }
            }
            None => {
                if let Some(value) = slot.take() {
                    self.start_chunk(value);
                    self.len += 1;
                }
            }
        }
        evicted
    }

    /// Seals the open chunk (full, or shared with a snapshot) and opens a new one with `value`.
    #[cold]
    fn start_chunk(&mut self, value: T) {
        let sealed = Arc::make_mut(self.sealed.get_or_insert_with(|| {
            Arc::new(Sealed {
                chunks: VecDeque::new(),
                spare: None,
            })
        }));
        if let Some(full) = self.tail.take() {
            if full.is_empty() {
                // (a spare-less tail emptied by eviction: reuse it directly)
                sealed.spare.get_or_insert(full);
            } else {
                sealed.chunks.push_back(full);
            }
        }
        let fresh = match sealed.spare.take() {
            Some(mut spare) => match Arc::get_mut(&mut spare) {
                Some(entries) => {
                    entries.clear();
                    entries.push(value);
                    spare
                }
                None => Arc::new(one(value)),
            },
            None => Arc::new(one(value)),
        };
        self.tail = Some(fresh);
    }

    /// Hides the oldest entry; releases its chunk once all of the chunk's entries are hidden,
    /// keeping the chunk's allocation as the spare when nobody else holds it.
    #[inline]
    fn evict_one(&mut self) {
        if self.len == 0 {
            return;
        }
        self.len -= 1;
        self.skip += 1;
        let first = self.sealed.as_ref().and_then(|s| s.chunks.front());
        match first {
            Some(first) => {
                if self.skip as usize >= first.len() {
                    self.release_first_sealed();
                }
            }
            None => {
                if self.len == 0 {
                    // every entry of the open chunk is evicted: empty it in place when it is
                    // ours alone, else let it go
                    self.skip = 0;
                    match self.tail.as_mut().and_then(Arc::get_mut) {
                        Some(entries) => entries.clear(),
                        None => self.tail = None,
                    }
                }
            }
        }
    }

    #[cold]
    fn release_first_sealed(&mut self) {
        self.skip = 0;
        let Some(sealed) = self.sealed.as_mut() else {
            return;
        };
        let sealed = Arc::make_mut(sealed);
        if let Some(mut first) = sealed.chunks.pop_front() {
            if let Some(entries) = Arc::get_mut(&mut first) {
                entries.clear();
                sealed.spare = Some(first);
            }
        }
    }

    /// Keeps only the newest `max` entries.
    pub fn truncate_front(&mut self, max: usize) {
        let max = u32::try_from(max).unwrap_or(u32::MAX);
        while self.len > max {
            self.evict_one();
        }
    }

    /// The entries, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.sealed
            .iter()
            .flat_map(|sealed| sealed.chunks.iter())
            .chain(self.tail.iter())
            .flat_map(|chunk| chunk.iter())
            .skip(self.skip as usize)
            .take(self.len as usize)
    }

    /// The newest entry.
    pub fn last(&self) -> Option<&T> {
        if self.is_empty() {
            return None;
        }
        self.tail.as_ref().and_then(|tail| tail.last()).or_else(|| {
            self.sealed
                .as_ref()
                .and_then(|s| s.chunks.back())
                .and_then(|chunk| chunk.last())
        })
    }

    /// Whether both rings share the same chunks (used to check that forks copy nothing).
    pub fn shares_chunks_with(&self, other: &Ring<T>) -> bool {
        let mine: Vec<*const Vec<T>> = self.chunks().map(Arc::as_ptr).collect();
        let theirs: Vec<*const Vec<T>> = other.chunks().map(Arc::as_ptr).collect();
        mine == theirs
    }

    fn chunks(&self) -> impl Iterator<Item = &Chunk<T>> + '_ {
        self.sealed
            .iter()
            .flat_map(|sealed| sealed.chunks.iter())
            .chain(self.tail.iter())
    }

    /// The chunks, for tests that check sharing.
    #[cfg(test)]
    fn chunk_ptrs(&self) -> Vec<*const Vec<T>> {
        self.chunks().map(Arc::as_ptr).collect()
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
            ring.sealed
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

    #[test]
    fn matches_a_simple_model_with_forks_at_every_size() {
        use std::collections::VecDeque;
        for max in [1usize, 2, 15, 16, 17, 33, 100] {
            let mut ring = Ring::new();
            let mut model = VecDeque::new();
            let mut forks: Vec<(Ring<u32>, VecDeque<u32>)> = Vec::new();
            for i in 0..400u32 {
                ring.push(i, max);
                model.push_back(i);
                while model.len() > max {
                    model.pop_front();
                }
                if i % 37 == 0 {
                    forks.push((ring.clone(), model.clone()));
                }
                // forks live on independently: push into some of them too
                for (n, (fork, fork_model)) in forks.iter_mut().enumerate() {
                    if (i as usize + n) % 5 == 0 {
                        fork.push(10_000 + i, max);
                        fork_model.push_back(10_000 + i);
                        while fork_model.len() > max {
                            fork_model.pop_front();
                        }
                    }
                }
                assert_eq!(ring.len(), model.len());
                assert_eq!(ring.last(), model.back());
                assert!(ring.iter().eq(model.iter()), "max {max} at {i}");
                // a fork freezes the open chunk, so chunks may be partly filled, but no chunk
                // without a visible entry is kept (beyond the first and the open one)
                assert!(
                    ring.chunk_ptrs().len() <= ring.len() + 2,
                    "max {max} at {i}"
                );
            }
            for (fork, fork_model) in &forks {
                assert!(fork.iter().eq(fork_model.iter()), "fork, max {max}");
            }
            ring.truncate_front(1);
            assert_eq!(ring.iter().copied().collect::<Vec<_>>(), [399]);
        }
    }
}
