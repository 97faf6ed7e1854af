//! Breadcrumbs: the trail of things that happened before an event (PROTOCOL.md §4.6).

use std::borrow::Cow;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::level::Level;
use super::serde_helpers::timestamp;

/// One breadcrumb. Cheap to build and to clone: `type` and `category` are usually static
/// strings and are stored without allocating.
///
/// ```
/// use sdk_core::protocol::{Breadcrumb, Level};
/// let crumb = Breadcrumb::new("user clicked checkout")
///     .with_category("ui.click")
///     .with_level(Level::Info)
///     .with_data("button", "checkout");
/// assert_eq!(crumb.category.as_deref(), Some("ui.click"));
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
    /// What happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Structured data.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub data: serde_json::Map<String, serde_json::Value>,
    /// How severe it was. Absent means `info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<Level>,
    /// What recorded it, e.g. `auto.http.reqwest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<Cow<'static, str>>,
}

impl Default for Breadcrumb {
    fn default() -> Breadcrumb {
        Breadcrumb {
            timestamp: SystemTime::now(),
            ty: None,
            category: None,
            message: None,
            data: serde_json::Map::new(),
            level: None,
            origin: None,
        }
    }
}

impl Breadcrumb {
    /// A breadcrumb with a message, stamped now.
    pub fn new(message: impl Into<String>) -> Breadcrumb {
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

    /// Adds one data entry.
    pub fn with_data(
        mut self,
        key: impl Into<String>,
        value: impl Into<serde_json::Value>,
    ) -> Breadcrumb {
        self.data.insert(key.into(), value.into());
        self
    }
}
