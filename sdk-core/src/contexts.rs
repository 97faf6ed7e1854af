//! Default contexts (os, rust, device) and the server name, built once per process.
//!
//! These describe the machine and the build, so they never change while the process runs:
//! [`default_contexts`] and [`server_name`] compute them on first use (reading a few files
//! under `/proc` and `/etc` on Linux) and hand out the same values afterwards. Call them once
//! at `init()` so no capture pays for the first read. Behind the `contexts` feature; without
//! it both are empty.
//!
//! ```
//! let contexts = sdk_core::contexts::default_contexts();
//! # #[cfg(feature = "contexts")]
//! assert!(contexts.get("os").is_some());
//! ```

use std::sync::OnceLock;

use crate::protocol::{Contexts, DeviceContext, OsContext, RuntimeContext};

/// The `os`, `rust` and `device` contexts of this process (empty without the `contexts`
/// feature). Computed once.
pub fn default_contexts() -> &'static Contexts {
    static CONTEXTS: OnceLock<Contexts> = OnceLock::new();
    CONTEXTS.get_or_init(|| {
        let mut contexts = Contexts::default();
        if cfg!(feature = "contexts") {
            contexts.insert("os", os_context());
            contexts.insert("rust", rust_context());
            contexts.insert("device", device_context());
        }
        contexts
    })
}

/// The host name, for the event's `server_name` (`None` without the `contexts` feature or
/// when it cannot be found). Computed once.
///
/// Reads `/proc/sys/kernel/hostname`, then the `HOSTNAME` / `COMPUTERNAME` variables, then
/// asks the `hostname` command.
pub fn server_name() -> Option<&'static str> {
    static NAME: OnceLock<Option<String>> = OnceLock::new();
    NAME.get_or_init(|| {
        if cfg!(feature = "contexts") {
            find_hostname()
        } else {
            None
        }
    })
    .as_deref()
}

fn find_hostname() -> Option<String> {
    let clean = |s: String| {
        let t = s.trim();
        (!t.is_empty()).then(|| t.to_owned())
    };
    if let Some(name) = read_trimmed("/proc/sys/kernel/hostname") {
        return Some(name);
    }
    for var in ["HOSTNAME", "COMPUTERNAME"] {
        if let Some(name) = std::env::var(var).ok().and_then(clean) {
            return Some(name);
        }
    }
    command_output("hostname", &[])
}

/// The compiler that built the SDK (`type: runtime`, key `rust`): name `rustc`, version and
/// channel recorded by the build script.
pub fn rust_context() -> RuntimeContext {
    RuntimeContext {
        name: Some("rustc".to_owned()),
        version: option_env!("SDK_RUSTC_VERSION").map(str::to_owned),
        channel: option_env!("SDK_RUSTC_CHANNEL").map(str::to_owned),
        raw_description: option_env!("SDK_RUSTC_DESCRIPTION").map(str::to_owned),
        ..RuntimeContext::default()
    }
}

/// The machine: CPU architecture, OS family, logical CPU count and (on Linux) total memory.
pub fn device_context() -> DeviceContext {
    DeviceContext {
        arch: Some(std::env::consts::ARCH.to_owned()),
        family: Some(std::env::consts::FAMILY.to_owned()),
        processor_count: std::thread::available_parallelism()
            .ok()
            .map(|n| n.get() as u64),
        memory_size: total_memory(),
        ..DeviceContext::default()
    }
}

/// The operating system. On Linux: name `Linux`, version = kernel release
/// (`/proc/sys/kernel/osrelease`), kernel_version = `/proc/sys/kernel/version`, and the
/// distribution from `/etc/os-release`. On macOS and Windows, best effort from `sw_vers` /
/// `uname` and `ver`.
pub fn os_context() -> OsContext {
    let mut os = OsContext::default();
    match std::env::consts::OS {
        "linux" | "android" => {
            os.name = Some("Linux".to_owned());
            os.version = read_trimmed("/proc/sys/kernel/osrelease");
            os.kernel_version = read_trimmed("/proc/sys/kernel/version");
            os.distribution = std::fs::read_to_string("/etc/os-release")
                .ok()
                .map(|text| parse_os_release(&text));
        }
        "macos" => {
            os.name = Some("macOS".to_owned());
            os.version = command_output("sw_vers", &["-productVersion"]);
            os.build = command_output("sw_vers", &["-buildVersion"]);
            os.kernel_version = command_output("uname", &["-r"]);
        }
        "windows" => {
            os.name = Some("Windows".to_owned());
            os.raw_description = command_output("cmd", &["/C", "ver"]);
            os.version = os.raw_description.as_deref().and_then(windows_version);
        }
        other => {
            os.name = Some(other.to_owned());
            os.version = command_output("uname", &["-r"]);
        }
    }
    os
}

/// Reads the distribution fields of an `/etc/os-release` file.
fn parse_os_release(text: &str) -> crate::protocol::OsDistribution {
    let mut dist = crate::protocol::OsDistribution::default();
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches('"').trim_matches('\'').to_owned();
        if value.is_empty() {
            continue;
        }
        match key.trim() {
            "ID" => dist.name = Some(value),
            "VERSION_ID" => dist.version = Some(value),
            "PRETTY_NAME" => dist.pretty_name = Some(value),
            _ => {}
        }
    }
    dist
}

/// `10.0.19045.3803` from `Microsoft Windows [Version 10.0.19045.3803]`.
fn windows_version(ver: &str) -> Option<String> {
    let start = ver.find("Version ")? + "Version ".len();
    let rest = &ver[start..];
    let end = rest.find(']').unwrap_or(rest.len());
    Some(rest[..end].trim().to_owned())
}

/// `MemTotal` from `/proc/meminfo`, in bytes.
fn total_memory() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_meminfo_total(&text)
}

fn parse_meminfo_total(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

fn read_trimmed(path: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let output = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Context;

    #[cfg(feature = "contexts")]
    #[test]
    fn default_contexts_name_the_os_compiler_and_arch() {
        let contexts = default_contexts();
        let json = serde_json::to_value(contexts).expect("contexts serialise");
        assert_eq!(json["rust"]["type"], "runtime");
        assert_eq!(json["rust"]["name"], "rustc");
        let version = json["rust"]["version"].as_str().expect("rustc version");
        assert!(
            version.split('.').count() >= 3 && version.starts_with("1."),
            "rustc version looks like 1.x.y: {version}"
        );
        assert!(["stable", "beta", "nightly", "dev"]
            .contains(&json["rust"]["channel"].as_str().unwrap_or_default()));
        assert_eq!(json["device"]["type"], "device");
        assert_eq!(json["device"]["arch"], std::env::consts::ARCH);
        assert_eq!(json["os"]["type"], "os");
        assert!(json["os"]["name"].as_str().is_some_and(|n| !n.is_empty()));
        if cfg!(target_os = "linux") {
            assert_eq!(json["os"]["name"], "Linux");
            assert!(json["os"]["version"].is_string());
        }
        // The same instance every time.
        assert!(std::ptr::eq(contexts, default_contexts()));
    }

    #[cfg(all(feature = "contexts", target_os = "linux"))]
    #[test]
    fn server_name_is_the_hostname() {
        let expected = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_owned())
            .ok();
        assert_eq!(server_name().map(str::to_owned), expected);
    }

    #[cfg(not(feature = "contexts"))]
    #[test]
    fn without_the_feature_nothing_is_collected() {
        assert!(default_contexts().is_empty());
        assert_eq!(server_name(), None);
    }

    #[test]
    fn os_release_is_parsed() {
        let dist = parse_os_release(
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
             VERSION_ID=\"12\"\nID=debian\n# comment\nbroken line\n",
        );
        assert_eq!(dist.name.as_deref(), Some("debian"));
        assert_eq!(dist.version.as_deref(), Some("12"));
        assert_eq!(
            dist.pretty_name.as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
    }

    #[test]
    fn meminfo_and_windows_versions_are_parsed() {
        assert_eq!(
            parse_meminfo_total("MemTotal:       16318412 kB\nMemFree: 1 kB\n"),
            Some(16_318_412 * 1024)
        );
        assert_eq!(parse_meminfo_total("garbage"), None);
        assert_eq!(
            windows_version("Microsoft Windows [Version 10.0.19045.3803]").as_deref(),
            Some("10.0.19045.3803")
        );
    }

    #[test]
    fn contexts_are_typed() {
        let ctx: Context = rust_context().into();
        assert_eq!(ctx.type_name(), "runtime");
    }
}
