//! What SDK sent an event (PROTOCOL.md §4.1, `sdk`).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// A package the SDK is made of, e.g. `cargo:sdk-core`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SdkPackage {
    /// `source:identifier`, e.g. `cargo:sdk-core`.
    pub name: Cow<'static, str>,
    /// The package's version.
    pub version: Cow<'static, str>,
}

/// The SDK's name, version, integrations and packages.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SdkInfo {
    /// `entity.ecosystem[.flavor]`, e.g. `sentry.rust`.
    pub name: Cow<'static, str>,
    /// Semver without `v`.
    pub version: Cow<'static, str>,
    /// Names of the enabled integrations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub integrations: Vec<String>,
    /// Enabled SDK features.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<String>,
    /// The packages the SDK is made of.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<SdkPackage>,
}

impl SdkInfo {
    /// This SDK's info: name and version from `sdk-transport`, package `cargo:sdk-core`, and the
    /// given integration names.
    pub fn current(integrations: Vec<String>) -> SdkInfo {
        SdkInfo {
            name: Cow::Borrowed(sdk_transport::SDK_NAME),
            version: Cow::Borrowed(sdk_transport::SDK_VERSION),
            integrations,
            features: Vec::new(),
            packages: vec![SdkPackage {
                name: Cow::Borrowed("cargo:sdk-core"),
                version: Cow::Borrowed(env!("CARGO_PKG_VERSION")),
            }],
        }
    }
}
