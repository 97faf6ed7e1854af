//! Client reports: counts of discarded items by (reason, category), sent as a `client_report`
//! item (PROTOCOL.md §9).
//!
//! [`ClientReports`] is a table of atomic counters, so recording a discard from any thread (a
//! full queue on the caller's thread, a rate limit on the worker) never takes a lock.

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::SystemTime;

use crate::category::{DataCategory, DiscardReason};
use crate::envelope::{Envelope, EnvelopeItem, ItemType, Payload};
use crate::rate_limit::{category_index, ALL_CATEGORIES, CATEGORY_COUNT};
use crate::time::format_rfc3339;

const REASON_COUNT: usize = 13;

const ALL_REASONS: [DiscardReason; REASON_COUNT] = [
    DiscardReason::QueueOverflow,
    DiscardReason::CacheOverflow,
    DiscardReason::BufferOverflow,
    DiscardReason::RatelimitBackoff,
    DiscardReason::NetworkError,
    DiscardReason::SendError,
    DiscardReason::SampleRate,
    DiscardReason::BeforeSend,
    DiscardReason::EventProcessor,
    DiscardReason::InternalSdkError,
    DiscardReason::Backpressure,
    DiscardReason::Ignored,
    DiscardReason::Invalid,
];

fn reason_index(reason: DiscardReason) -> usize {
    match reason {
        DiscardReason::QueueOverflow => 0,
        DiscardReason::CacheOverflow => 1,
        DiscardReason::BufferOverflow => 2,
        DiscardReason::RatelimitBackoff => 3,
        DiscardReason::NetworkError => 4,
        DiscardReason::SendError => 5,
        DiscardReason::SampleRate => 6,
        DiscardReason::BeforeSend => 7,
        DiscardReason::EventProcessor => 8,
        DiscardReason::InternalSdkError => 9,
        DiscardReason::Backpressure => 10,
        DiscardReason::Ignored => 11,
        DiscardReason::Invalid => 12,
    }
}

fn slot(reason: DiscardReason, category: DataCategory) -> usize {
    reason_index(reason) * CATEGORY_COUNT + category_index(category)
}

/// One line of a client report: how many items of a category were dropped for a reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiscardedCount {
    /// Why they were dropped.
    pub reason: DiscardReason,
    /// What was dropped.
    pub category: DataCategory,
    /// How many (bytes for attachments).
    pub quantity: u64,
}

/// Counts discarded items until they are sent, and since the transport started.
#[derive(Debug)]
pub struct ClientReports {
    pending: Box<[AtomicU64]>,
    total: Box<[AtomicU64]>,
    dirty: AtomicBool,
}

impl Default for ClientReports {
    fn default() -> Self {
        ClientReports::new()
    }
}

impl ClientReports {
    /// Empty counters.
    pub fn new() -> Self {
        let table = || {
            (0..REASON_COUNT * CATEGORY_COUNT)
                .map(|_| AtomicU64::new(0))
                .collect::<Vec<_>>()
                .into_boxed_slice()
        };
        ClientReports {
            pending: table(),
            total: table(),
            dirty: AtomicBool::new(false),
        }
    }

    /// Counts `quantity` items of `category` dropped for `reason`. `internal` items (client
    /// reports themselves) are not counted.
    pub fn record(&self, reason: DiscardReason, category: DataCategory, quantity: u64) {
        if quantity == 0 || category == DataCategory::Internal {
            return;
        }
        let slot = slot(reason, category);
        self.pending[slot].fetch_add(quantity, Ordering::Relaxed);
        self.total[slot].fetch_add(quantity, Ordering::Relaxed);
        self.dirty.store(true, Ordering::Release);
    }

    /// Counts one dropped envelope item: its own category and quantity, plus `span` = spans + 1
    /// for a transaction and `log_byte` for a log container.
    pub fn record_item(&self, reason: DiscardReason, item: &EnvelopeItem) {
        let category = item.category();
        self.record(reason, category, u64::from(item.quantity.max(1)));
        match item.item_type {
            ItemType::Transaction => {
                self.record(reason, DataCategory::Span, u64::from(item.span_count) + 1)
            }
            ItemType::Log => self.record(
                reason,
                DataCategory::LogByte,
                item.payload.size_hint() as u64,
            ),
            _ => {}
        }
    }

    /// Counts every item of a dropped envelope.
    pub fn record_envelope(&self, reason: DiscardReason, envelope: &Envelope) {
        for item in &envelope.items {
            self.record_item(reason, item);
        }
    }

    /// Whether anything is waiting to be reported.
    pub fn has_pending(&self) -> bool {
        self.dirty.load(Ordering::Acquire)
    }

    /// Takes the counts waiting to be reported (and resets them).
    pub fn take(&self) -> Vec<DiscardedCount> {
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Vec::new();
        }
        self.collect(&self.pending, true)
    }

    /// Puts counts back (a report that could not be sent).
    pub fn restore(&self, counts: &[DiscardedCount]) {
        for count in counts {
            if count.quantity > 0 {
                self.pending[slot(count.reason, count.category)]
                    .fetch_add(count.quantity, Ordering::Relaxed);
                self.dirty.store(true, Ordering::Release);
            }
        }
    }

    /// Everything dropped since the transport started, by reason and category.
    pub fn totals(&self) -> Vec<DiscardedCount> {
        self.collect(&self.total, false)
    }

    /// Everything dropped since the transport started for one reason and category.
    pub fn total(&self, reason: DiscardReason, category: DataCategory) -> u64 {
        self.total[slot(reason, category)].load(Ordering::Relaxed)
    }

    fn collect(&self, table: &[AtomicU64], reset: bool) -> Vec<DiscardedCount> {
        let mut out = Vec::new();
        for reason in ALL_REASONS {
            for category in ALL_CATEGORIES {
                let cell = &table[slot(reason, category)];
                let quantity = if reset {
                    cell.swap(0, Ordering::Relaxed)
                } else {
                    cell.load(Ordering::Relaxed)
                };
                if quantity > 0 {
                    out.push(DiscardedCount {
                        reason,
                        category,
                        quantity,
                    });
                }
            }
        }
        out
    }

    /// Takes the pending counts as a `client_report` item, if there are any.
    pub fn take_item(&self) -> Option<(EnvelopeItem, Vec<DiscardedCount>)> {
        let counts = self.take();
        if counts.is_empty() {
            return None;
        }
        let item = report_item(&counts, SystemTime::now());
        Some((item, counts))
    }
}

/// The JSON payload of a client report.
pub fn report_json(counts: &[DiscardedCount], timestamp: SystemTime) -> serde_json::Value {
    let discarded: Vec<serde_json::Value> = counts
        .iter()
        .map(|count| {
            serde_json::json!({
                "reason": count.reason.as_str(),
                "category": count.category.as_str(),
                "quantity": count.quantity,
            })
        })
        .collect();
    serde_json::json!({
        "timestamp": format_rfc3339(timestamp),
        "discarded_events": discarded,
    })
}

/// A `client_report` envelope item for `counts`.
pub fn report_item(counts: &[DiscardedCount], timestamp: SystemTime) -> EnvelopeItem {
    let json = report_json(counts, timestamp);
    // Serialising a `Value` of strings and numbers cannot fail; fall back to an empty object.
    let bytes = serde_json::to_vec(&json).unwrap_or_else(|_| b"{}".to_vec());
    EnvelopeItem::new(ItemType::ClientReport, Payload::bytes(bytes))
        .with_content_type(Cow::Borrowed("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregates_by_reason_and_category() {
        let reports = ClientReports::new();
        reports.record(DiscardReason::QueueOverflow, DataCategory::Error, 20);
        reports.record(DiscardReason::QueueOverflow, DataCategory::Error, 3);
        reports.record(DiscardReason::SampleRate, DataCategory::Transaction, 1);
        reports.record(DiscardReason::SampleRate, DataCategory::Internal, 5);
        reports.record(DiscardReason::SampleRate, DataCategory::Error, 0);
        assert!(reports.has_pending());
        let counts = reports.take();
        assert_eq!(
            counts,
            vec![
                DiscardedCount {
                    reason: DiscardReason::QueueOverflow,
                    category: DataCategory::Error,
                    quantity: 23
                },
                DiscardedCount {
                    reason: DiscardReason::SampleRate,
                    category: DataCategory::Transaction,
                    quantity: 1
                },
            ]
        );
        assert!(!reports.has_pending());
        assert!(reports.take().is_empty());
        assert_eq!(
            reports.total(DiscardReason::QueueOverflow, DataCategory::Error),
            23
        );
        reports.restore(&counts);
        assert_eq!(reports.take().len(), 2);
    }

    #[test]
    fn dropped_transaction_counts_its_spans_and_attachments_count_bytes() {
        let reports = ClientReports::new();
        let mut transaction = EnvelopeItem::new(ItemType::Transaction, Payload::bytes("{}"));
        transaction.span_count = 4;
        let mut envelope = Envelope::new();
        envelope.add_item(transaction);
        envelope.add_item(EnvelopeItem::new(
            ItemType::Attachment,
            Payload::bytes(vec![0u8; 300]),
        ));
        envelope.add_item(EnvelopeItem::new(
            ItemType::ClientReport,
            Payload::bytes("{}"),
        ));
        reports.record_envelope(DiscardReason::NetworkError, &envelope);
        let counts = reports.take();
        let find = |category| {
            counts
                .iter()
                .find(|c| c.category == category)
                .map(|c| c.quantity)
        };
        assert_eq!(find(DataCategory::Transaction), Some(1));
        assert_eq!(find(DataCategory::Span), Some(5));
        assert_eq!(find(DataCategory::Attachment), Some(300));
        assert_eq!(find(DataCategory::Internal), None);
    }

    #[test]
    fn json_has_the_protocol_shape() {
        let counts = [DiscardedCount {
            reason: DiscardReason::RatelimitBackoff,
            category: DataCategory::Session,
            quantity: 2,
        }];
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_581_084_960);
        let item = report_item(&counts, at);
        assert_eq!(item.item_type, ItemType::ClientReport);
        let json: serde_json::Value =
            serde_json::from_slice(&item.payload.to_vec().unwrap()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "timestamp": "2020-02-07T14:16:00.000Z",
                "discarded_events": [
                    {"reason": "ratelimit_backoff", "category": "session", "quantity": 2}
                ]
            })
        );
    }
}
