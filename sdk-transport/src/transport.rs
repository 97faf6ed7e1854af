//! The `Transport` trait every way of sending envelopes implements.

use std::time::Duration;

use crate::category::{DataCategory, DiscardReason};
use crate::envelope::Envelope;

/// Sends envelopes somewhere: the HTTP transports, the in-memory test transport, or a user's own.
///
/// `send_envelope` is called on the capturing thread and must not block on I/O: HTTP transports
/// hand the envelope to their delivery worker and return.
pub trait Transport: Send + Sync + 'static {
    /// Queues an envelope for delivery. Never blocks on I/O; an envelope that cannot be queued
    /// is dropped and counted.
    fn send_envelope(&self, envelope: Envelope);

    /// Waits until everything queued so far has been sent, at most `timeout`. Returns `true`
    /// when the queue drained in time.
    fn flush(&self, timeout: Duration) -> bool;

    /// Flushes and stops the transport, at most `timeout`. Returns `true` when everything was
    /// delivered (or safely spooled) in time. The default flushes.
    fn shutdown(&self, timeout: Duration) -> bool {
        self.flush(timeout)
    }

    /// Records items that were discarded before they reached the transport (sampling,
    /// `before_send`, ...), so that they are reported in a `client_report`. The default does
    /// nothing.
    fn record_discard(&self, reason: DiscardReason, category: DataCategory, quantity: u64) {
        let _ = (reason, category, quantity);
    }
}

impl<T: Transport + ?Sized> Transport for std::sync::Arc<T> {
    fn send_envelope(&self, envelope: Envelope) {
        (**self).send_envelope(envelope)
    }
    fn flush(&self, timeout: Duration) -> bool {
        (**self).flush(timeout)
    }
    fn shutdown(&self, timeout: Duration) -> bool {
        (**self).shutdown(timeout)
    }
    fn record_discard(&self, reason: DiscardReason, category: DataCategory, quantity: u64) {
        (**self).record_discard(reason, category, quantity)
    }
}
