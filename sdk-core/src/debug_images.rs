//! The modules loaded into the process, as `debug_meta.images`, so Sentry can symbolicate
//! frames that only carry an `instruction_addr` (e.g. release builds without debug info).
//!
//! The list is read once (with `findshlibs`) and shared afterwards. Behind the `debug-images`
//! feature; without it, or on platforms `findshlibs` does not support, it is empty.
//!
//! ```
//! let images = sdk_core::debug_images::debug_images();
//! # #[cfg(all(feature = "debug-images", target_os = "linux"))]
//! assert!(images.iter().any(|image| image.ty == "elf"));
//! ```

use std::sync::OnceLock;

use crate::protocol::{DebugImage, DebugMeta};

/// The loaded images of this process, read once.
pub fn debug_images() -> &'static [DebugImage] {
    static IMAGES: OnceLock<Vec<DebugImage>> = OnceLock::new();
    IMAGES.get_or_init(load_images)
}

/// A `debug_meta` holding [`debug_images`] (a copy: attach it when the event is written).
pub fn debug_meta() -> DebugMeta {
    DebugMeta {
        images: debug_images().to_vec(),
    }
}

/// The debug id Sentry derives from an ELF build id: its first 16 bytes (zero-padded) as a
/// GUID, whose first three fields are stored little-endian, e.g. build id
/// `d2793e09d143d08ecc545dc6…` becomes `093e79d2-43d1-8ed0-cc54-5dc6…`.
pub fn debug_id_from_build_id(build_id: &[u8]) -> Option<String> {
    if build_id.is_empty() {
        return None;
    }
    let mut b = [0u8; 16];
    let n = build_id.len().min(16);
    b[..n].copy_from_slice(&build_id[..n]);
    if cfg!(target_endian = "little") {
        b[0..4].reverse();
        b[4..6].reverse();
        b[6..8].reverse();
    }
    Some(format_guid(&b))
}

fn format_guid(b: &[u8; 16]) -> String {
    let mut out = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// The code id of an ELF image: its build id as lowercase hex.
pub fn code_id_from_build_id(build_id: &[u8]) -> String {
    hex(build_id)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(feature = "debug-images")]
fn load_images() -> Vec<DebugImage> {
    use findshlibs::{SharedLibrary, SharedLibraryId, TargetSharedLibrary};

    if !findshlibs::TARGET_SUPPORTED {
        return Vec::new();
    }
    let image_type = match std::env::consts::OS {
        "macos" | "ios" => "macho",
        "windows" => "pe",
        _ => "elf",
    };
    let main_exe = std::env::current_exe()
        .ok()
        .map(|p| p.to_string_lossy().into_owned());

    let mut images = Vec::new();
    // The loader's data is read through raw pointers inside findshlibs; never let a surprise
    // there take the host down.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        TargetSharedLibrary::each(|lib| {
            let mut name = lib.name().to_string_lossy().into_owned();
            if name.is_empty() {
                // The main executable has no name in the loader's list.
                match &main_exe {
                    Some(exe) if images.is_empty() => name = exe.clone(),
                    _ => return,
                }
            }
            let (code_id, debug_id) = match lib.id() {
                Some(SharedLibraryId::GnuBuildId(bytes)) => (
                    Some(code_id_from_build_id(&bytes)),
                    debug_id_from_build_id(&bytes),
                ),
                Some(SharedLibraryId::Uuid(bytes)) => {
                    (Some(hex(&bytes)), Some(format_guid(&bytes)))
                }
                Some(id @ SharedLibraryId::PeSignature(..)) => (Some(id.to_string()), None),
                Some(id @ SharedLibraryId::PdbSignature(..)) => (None, Some(id.to_string())),
                None => (None, None),
            };
            let debug_id = match (debug_id, lib.debug_id()) {
                (Some(d), _) => Some(d),
                (None, Some(id)) => Some(id.to_string().to_ascii_lowercase()),
                (None, None) => None,
            };
            let load = lib.actual_load_addr().0 as u64;
            let stated = lib.stated_load_addr().0 as u64;
            images.push(DebugImage {
                ty: image_type.to_owned(),
                code_file: Some(name),
                code_id,
                debug_id,
                debug_file: lib.debug_name().map(|n| n.to_string_lossy().into_owned()),
                image_addr: Some(crate::protocol::Addr(load)),
                image_size: Some(lib.len() as u64),
                image_vmaddr: (stated != 0 && stated != u64::MAX)
                    .then_some(crate::protocol::Addr(stated)),
                arch: Some(std::env::consts::ARCH.to_owned()),
            });
        });
    }));
    if result.is_err() {
        sdk_transport::sdk_debug!("listing loaded modules failed; events carry no debug images");
        return Vec::new();
    }
    images
}

#[cfg(not(feature = "debug-images"))]
fn load_images() -> Vec<DebugImage> {
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_ids_become_sentry_debug_ids() {
        // From the sentry 0.49.5 sample envelope: code_id -> id.
        let build_id: Vec<u8> = (0..20)
            .map(|i| {
                u8::from_str_radix(
                    &"d2793e09d143d08ecc545dc655485d2f47a68923"[i * 2..i * 2 + 2],
                    16,
                )
                .unwrap()
            })
            .collect();
        if cfg!(target_endian = "little") {
            assert_eq!(
                debug_id_from_build_id(&build_id).as_deref(),
                Some("093e79d2-43d1-8ed0-cc54-5dc655485d2f")
            );
        }
        assert_eq!(hex(&build_id), "d2793e09d143d08ecc545dc655485d2f47a68923");
        assert_eq!(debug_id_from_build_id(&[]), None);
        // Short build ids are zero-padded.
        assert_eq!(
            debug_id_from_build_id(&[1, 2, 3, 4]).map(|s| s.len()),
            Some(36)
        );
    }

    #[cfg(all(feature = "debug-images", target_os = "linux"))]
    #[test]
    fn lists_the_executable_and_its_libraries() {
        let images = debug_images();
        assert!(!images.is_empty());
        let exe = std::env::current_exe().unwrap();
        let main = &images[0];
        assert_eq!(main.ty, "elf");
        assert_eq!(
            main.code_file.as_deref(),
            Some(exe.to_string_lossy().as_ref())
        );
        assert!(main.image_size.unwrap_or(0) > 0);
        assert!(main.image_addr.is_some());
        assert!(images
            .iter()
            .any(|i| i.code_file.as_deref().is_some_and(|f| f.contains("libc"))));
        // Every image with a build id has the matching debug id.
        for image in images {
            if let Some(code_id) = &image.code_id {
                let bytes: Vec<u8> = (0..code_id.len() / 2)
                    .map(|i| u8::from_str_radix(&code_id[i * 2..i * 2 + 2], 16).unwrap())
                    .collect();
                assert_eq!(image.debug_id, debug_id_from_build_id(&bytes));
            }
        }
        let json = serde_json::to_value(debug_meta()).unwrap();
        let first = &json["images"][0];
        assert!(first["image_addr"].as_str().unwrap().starts_with("0x"));
        assert!(first.get("arch").is_some());
        assert!(!json.to_string().contains("null"));
    }
}
