//! Records the compiler's version and channel for the default `rust` context.
//!
//! Exports `SDK_RUSTC_VERSION` (e.g. `1.85.0`), `SDK_RUSTC_CHANNEL` (`stable`, `beta`,
//! `nightly`, `dev`) and `SDK_RUSTC_DESCRIPTION` (the first line of `rustc -vV`). When rustc
//! cannot be asked, nothing is exported and the context leaves those fields out.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=RUSTC");
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Ok(output) = Command::new(rustc).arg("-vV").output() else {
        return;
    };
    if !output.status.success() {
        return;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    if let Some(first) = text.lines().next() {
        println!("cargo:rustc-env=SDK_RUSTC_DESCRIPTION={}", first.trim());
    }
    let Some(release) = text
        .lines()
        .find_map(|line| line.strip_prefix("release:"))
        .map(str::trim)
    else {
        return;
    };
    let channel = if release.contains("-nightly") {
        "nightly"
    } else if release.contains("-beta") {
        "beta"
    } else if release.contains("-dev") {
        "dev"
    } else {
        "stable"
    };
    println!("cargo:rustc-env=SDK_RUSTC_VERSION={release}");
    println!("cargo:rustc-env=SDK_RUSTC_CHANNEL={channel}");
}
