//! Debug images for server-side symbolication (PROTOCOL.md §4.1, `debug_meta`).

use serde::{Deserialize, Serialize};

use super::frames::Addr;

/// A loaded module (executable or shared library).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DebugImage {
    /// `elf`, `macho` or `pe`.
    #[serde(rename = "type")]
    pub ty: String,
    /// Path of the loaded file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_file: Option<String>,
    /// Identifier of the code file (ELF build id as hex, Mach-O UUID, PE timestamp+size).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_id: Option<String>,
    /// Identifier of the debug file, as a debug id (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx[-age]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug_id: Option<String>,
    /// Path or name of the debug file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug_file: Option<String>,
    /// Where the image is loaded in memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_addr: Option<Addr>,
    /// Size of the image in memory in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_size: Option<u64>,
    /// Preferred load address of the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_vmaddr: Option<Addr>,
    /// CPU architecture, e.g. `x86_64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
}

/// Debug information attached to an event.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DebugMeta {
    /// The loaded images.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<DebugImage>,
}

impl DebugMeta {
    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.images.is_empty()
    }
}
