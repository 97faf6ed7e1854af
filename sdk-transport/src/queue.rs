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

/// A FIFO queue bounded in count and in estimated bytes. Not synchronised: the worker keeps it
/// behind its lock.
#[derive(Debug)]
pub struct BoundedQueue {
    items: VecDeque<Queued>,
    bytes: usize,
    max_items: usize,
    max_bytes: usize,
}

impl BoundedQueue {
    /// An empty queue holding at most `max_items` envelopes and `max_bytes` estimated bytes.
    pub fn new(max_items: usize, max_bytes: usize) -> Self {
        BoundedQueue {
            items: VecDeque::new(),
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
        if self.items.len() >= self.max_items
            || (!self.items.is_empty() && self.bytes.saturating_add(bytes) > self.max_bytes)
        {
            return Err(envelope);
        }
        self.bytes += bytes;
        self.items.push_back(Queued { envelope, bytes });
        Ok(())
    }

    /// Takes the oldest envelope.
    pub fn pop(&mut self) -> Option<Envelope> {
        let queued = self.items.pop_front()?;
        self.bytes -= queued.bytes;
        Some(queued.envelope)
    }

    /// Envelopes waiting.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
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
    fn an_oversized_envelope_fits_an_empty_queue_only() {
        let mut queue = BoundedQueue::new(10, 50);
        assert!(queue.try_push(envelope(1_000)).is_ok());
        assert!(queue.try_push(envelope(1)).is_err());
        assert!(queue.pop().is_some());
        assert!(queue.is_empty());
        assert_eq!(queue.bytes(), 0);
    }
}
