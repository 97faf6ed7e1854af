//! The bounded in-memory queue between `send_envelope` and the delivery worker.
//!
//! Bounded twice: in envelopes and in estimated bytes ([`Envelope::size_hint`]), so a burst of
//! small events and a few huge attachments are both held in check. A push that would exceed
//! either bound is refused and the envelope handed back, so the caller can count the drop.

use std::collections::VecDeque;

use crate::envelope::Envelope;

/// An envelope waiting in the queue with its size estimate.
#[derive(Debug)]
pub struct Queued {
    /// The envelope.
    pub envelope: Envelope,
    /// Its size estimate when it was queued (what it counts against the byte bound).
    pub bytes: usize,
}

/// Envelopes per segment of the queue.
const SEGMENT: usize = 1024;

/// A FIFO queue bounded in count and in estimated bytes. Not synchronised: the worker keeps it
/// behind its lock.
///
/// Stored in fixed-size segments, so growing during a burst never copies what is queued (a
/// single growable ring would copy it at every doubling, on the caller's thread); one emptied
/// segment is kept for reuse.
#[derive(Debug)]
pub struct BoundedQueue {
    segments: VecDeque<VecDeque<Queued>>,
    spare: Option<VecDeque<Queued>>,
    len: usize,
    bytes: usize,
    max_items: usize,
    max_bytes: usize,
}

impl BoundedQueue {
    /// An empty queue holding at most `max_items` envelopes and `max_bytes` estimated bytes.
    pub fn new(max_items: usize, max_bytes: usize) -> Self {
        BoundedQueue {
            segments: VecDeque::new(),
            spare: None,
            len: 0,
            bytes: 0,
            max_items,
            max_bytes,
        }
    }

    /// Queues `envelope`, or hands it back when either bound would be exceeded. A single
    /// envelope larger than the byte bound is accepted into an empty queue, so a big attachment
    /// is not refused forever.
    #[allow(clippy::result_large_err)] // handing the envelope back by value is the point
    pub fn try_push(&mut self, envelope: Envelope) -> Result<(), Envelope> {
        let bytes = envelope.size_hint();
        if self.len >= self.max_items
            || (self.len > 0 && self.bytes.saturating_add(bytes) > self.max_bytes)
        {
            return Err(envelope);
        }
        let needs_segment = self
            .segments
            .back()
            .is_none_or(|segment| segment.len() >= SEGMENT);
        if needs_segment {
            let segment = self
                .spare
                .take()
                .unwrap_or_else(|| VecDeque::with_capacity(SEGMENT.min(self.max_items.max(1))));
            self.segments.push_back(segment);
        }
        if let Some(segment) = self.segments.back_mut() {
            segment.push_back(Queued { envelope, bytes });
            self.len += 1;
            self.bytes += bytes;
        }
        Ok(())
    }

    /// Takes the oldest envelope.
    pub fn pop(&mut self) -> Option<Envelope> {
        let front = self.segments.front_mut()?;
        let queued = front.pop_front()?;
        if front.is_empty() {
            if let Some(segment) = self.segments.pop_front() {
                if self.spare.is_none() && segment.capacity() <= SEGMENT * 2 {
                    self.spare = Some(segment);
                }
            }
        }
        self.len -= 1;
        self.bytes -= queued.bytes;
        Some(queued.envelope)
    }

    /// Envelopes waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Estimated bytes waiting.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::envelope::{EnvelopeItem, ItemType, Payload};

    fn envelope(payload_len: usize) -> Envelope {
        let mut envelope = Envelope::new();
        envelope.add_item(EnvelopeItem::new(
            ItemType::Event,
            Payload::bytes(vec![b'x'; payload_len]),
        ));
        envelope
    }

    #[test]
    fn refuses_beyond_the_count_bound() {
        let mut queue = BoundedQueue::new(2, usize::MAX);
        assert!(queue.try_push(envelope(1)).is_ok());
        assert!(queue.try_push(envelope(1)).is_ok());
        let refused = queue.try_push(envelope(7)).unwrap_err();
        assert_eq!(refused.items[0].payload.size_hint(), 7);
        assert_eq!(queue.len(), 2);
        assert!(queue.pop().is_some());
        assert!(queue.try_push(envelope(1)).is_ok());
    }

    #[test]
    fn refuses_beyond_the_byte_bound_and_frees_bytes_on_pop() {
        let one = envelope(100).size_hint();
        let mut queue = BoundedQueue::new(100, one * 2);
        assert!(queue.try_push(envelope(100)).is_ok());
        assert!(queue.try_push(envelope(100)).is_ok());
        assert!(queue.try_push(envelope(100)).is_err());
        assert_eq!(queue.bytes(), one * 2);
        queue.pop();
        assert_eq!(queue.bytes(), one);
        assert!(queue.try_push(envelope(100)).is_ok());
    }

    #[test]
    fn keeps_order_across_segments() {
        let mut queue = BoundedQueue::new(10_000, usize::MAX);
        for n in 0..(SEGMENT * 2 + 7) {
            assert!(queue.try_push(envelope(n % 50)).is_ok());
        }
        assert_eq!(queue.len(), SEGMENT * 2 + 7);
        for n in 0..(SEGMENT + 3) {
            assert_eq!(queue.pop().unwrap().items[0].payload.size_hint(), n % 50);
        }
        for n in 0..SEGMENT {
            assert!(queue.try_push(envelope(n % 50)).is_ok());
        }
        let mut rest = Vec::new();
        while let Some(envelope) = queue.pop() {
            rest.push(envelope.items[0].payload.size_hint());
        }
        let expected: Vec<usize> = ((SEGMENT + 3)..(SEGMENT * 2 + 7))
            .chain(0..SEGMENT)
            .map(|n| n % 50)
            .collect();
        assert_eq!(rest, expected);
        assert_eq!(queue.bytes(), 0);
        assert!(queue.is_empty());
    }

    #[test]
    fn an_oversized_envelope_fits_an_empty_queue_only() {
        let mut queue = BoundedQueue::new(10, 50);
        assert!(queue.try_push(envelope(1_000)).is_ok());
        assert!(queue.try_push(envelope(1)).is_err());
        assert!(queue.pop().is_some());
        assert!(queue.is_empty());
        assert_eq!(queue.bytes(), 0);
    }
}
