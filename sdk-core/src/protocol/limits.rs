//! Relay's field length limits (PROTOCOL.md §4.2, `MaxChars`), applied before sending so a
//! long value is shortened instead of being dropped by the server.

use super::event::Event;

/// Most characters of `message` / `logentry.message` / `logentry.formatted`.
pub const MAX_MESSAGE_CHARS: usize = 8192;
/// Most characters of a tag key.
pub const MAX_TAG_KEY_CHARS: usize = 200;
/// Most characters of a tag value.
pub const MAX_TAG_VALUE_CHARS: usize = 200;
/// Most characters of `environment`.
pub const MAX_ENVIRONMENT_CHARS: usize = 64;
/// Most characters of `dist`.
pub const MAX_DIST_CHARS: usize = 64;
/// Most characters of `logger`.
pub const MAX_LOGGER_CHARS: usize = 64;
/// Most characters of `user.email`.
pub const MAX_USER_EMAIL_CHARS: usize = 75;
/// Most characters of `user.id`, `user.username` and `user.name`.
pub const MAX_USER_FIELD_CHARS: usize = 128;

/// Shortens `s` to at most `max` characters (never splitting a character). Returns whether it
/// was shortened.
pub fn truncate_chars(s: &mut String, max: usize) -> bool {
    // Fast path: byte length bounds the character count.
    if s.len() <= max {
        return false;
    }
    match s.char_indices().nth(max) {
        Some((idx, _)) => {
            s.truncate(idx);
            true
        }
        None => false,
    }
}

fn truncate_opt(s: &mut Option<String>, max: usize) -> usize {
    s.as_mut()
        .map_or(0, |s| usize::from(truncate_chars(s, max)))
}

fn truncate_cow_opt(s: &mut Option<std::borrow::Cow<'static, str>>, max: usize) -> usize {
    match s {
        // fast path (no copy of a borrowed string): byte length bounds the character count
        Some(v) if v.len() > max && v.chars().nth(max).is_some() => {
            usize::from(truncate_chars(v.to_mut(), max))
        }
        _ => 0,
    }
}

impl Event {
    /// Shortens the fields Relay limits (message, logger, environment, dist, tags, user
    /// fields) to their maximum length. Tags whose key is too long are dropped rather than
    /// renamed. Returns how many fields were changed (0 for almost every event).
    ///
    /// ```
    /// use sdk_core::protocol::Event;
    /// let mut event = Event::new();
    /// event.tags.insert("route".into(), "x".repeat(500));
    /// assert_eq!(event.apply_size_limits(), 1);
    /// assert_eq!(event.tags["route"].len(), 200);
    /// ```
    pub fn apply_size_limits(&mut self) -> usize {
        let mut changed = 0;
        changed += truncate_opt(&mut self.message, MAX_MESSAGE_CHARS);
        if let Some(entry) = &mut self.logentry {
            changed += usize::from(truncate_chars(&mut entry.message, MAX_MESSAGE_CHARS));
            changed += truncate_opt(&mut entry.formatted, MAX_MESSAGE_CHARS);
        }
        changed += truncate_opt(&mut self.logger, MAX_LOGGER_CHARS);
        changed += truncate_opt(&mut self.environment, MAX_ENVIRONMENT_CHARS);
        changed += truncate_opt(&mut self.dist, MAX_DIST_CHARS);
        if let Some(user) = &mut self.user {
            changed += truncate_cow_opt(&mut user.email, MAX_USER_EMAIL_CHARS);
            changed += truncate_cow_opt(&mut user.id, MAX_USER_FIELD_CHARS);
            changed += truncate_cow_opt(&mut user.username, MAX_USER_FIELD_CHARS);
            changed += truncate_cow_opt(&mut user.name, MAX_USER_FIELD_CHARS);
        }
        let before = self.tags.len();
        self.tags
            .retain(|key, _| key.chars().count() <= MAX_TAG_KEY_CHARS);
        changed += before - self.tags.len();
        for value in self.tags.values_mut() {
            changed += usize::from(truncate_chars(value, MAX_TAG_VALUE_CHARS));
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{LogEntry, User};

    #[test]
    fn truncation_respects_characters() {
        let mut s = "äöü".repeat(100);
        assert!(truncate_chars(&mut s, 10));
        assert_eq!(s.chars().count(), 10);
        let mut short = "abc".to_owned();
        assert!(!truncate_chars(&mut short, 3));
        // Multi-byte text whose byte length exceeds the limit but char count does not.
        let mut wide = "ä".repeat(5);
        assert!(!truncate_chars(&mut wide, 5));
        assert_eq!(wide.chars().count(), 5);
    }

    #[test]
    fn limits_are_applied_and_counted() {
        let mut event = Event {
            message: Some("m".repeat(9000)),
            logentry: Some(LogEntry {
                message: "t".repeat(9000),
                formatted: Some("f".repeat(10)),
                params: Vec::new(),
            }),
            environment: Some("e".repeat(100)),
            dist: Some("d".repeat(10)),
            logger: Some("l".repeat(65)),
            user: Some(User {
                email: Some(format!("{}@example.com", "u".repeat(80)).into()),
                id: Some("1".into()),
                ..User::default()
            }),
            ..Event::new()
        };
        event.tags.insert("k".repeat(201), "v".into());
        event.tags.insert("ok".into(), "v".repeat(300));
        event.tags.insert("fine".into(), "v".into());
        assert_eq!(event.apply_size_limits(), 7);
        assert_eq!(event.message.as_ref().map(String::len), Some(8192));
        assert_eq!(event.logentry.as_ref().map(|l| l.message.len()), Some(8192));
        assert_eq!(event.environment.as_ref().map(String::len), Some(64));
        assert_eq!(event.dist.as_deref(), Some("dddddddddd"));
        assert_eq!(event.logger.as_ref().map(String::len), Some(64));
        let user = event.user.as_ref().unwrap();
        assert_eq!(user.email.as_deref().map(str::len), Some(75));
        assert_eq!(user.id.as_deref(), Some("1"));
        assert_eq!(event.tags.len(), 2);
        assert_eq!(event.tags["ok"].len(), 200);
        assert_eq!(event.tags["fine"], "v");
        // Idempotent.
        assert_eq!(event.apply_size_limits(), 0);
    }
}
