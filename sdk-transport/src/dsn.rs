//! The DSN: where the SDK sends data and the key it authenticates with (PROTOCOL.md §1, §2.1).

use std::fmt;
use std::str::FromStr;

/// What is wrong with a DSN string. Each variant's message says what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DsnError {
    /// The string is empty.
    Empty,
    /// No `://` separates the scheme from the rest.
    NotAUrl(String),
    /// The scheme is neither `http` nor `https`.
    BadScheme(String),
    /// There is no `public_key@` before the host.
    MissingPublicKey,
    /// There is nothing between `@` and the path.
    MissingHost,
    /// The port is not a number from 1 to 65535.
    BadPort(String),
    /// There is no project id after the host.
    MissingProjectId,
    /// The project id has characters other than ASCII digits.
    BadProjectId(String),
    /// The DSN contains characters that cannot appear in one (whitespace, query, fragment).
    InvalidCharacters(String),
}

impl fmt::Display for DsnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const FORM: &str = "expected {scheme}://{public_key}@{host}[:{port}]/{project_id}, e.g. https://abc123@o1.ingest.sentry.io/42";
        match self {
            DsnError::Empty => write!(f, "the DSN is empty; {FORM}"),
            DsnError::NotAUrl(s) => write!(f, "the DSN `{s}` is not a URL; {FORM}"),
            DsnError::BadScheme(s) => {
                write!(f, "the DSN scheme `{s}` is not supported: use `https` (or `http` for a local Relay)")
            }
            DsnError::MissingPublicKey => {
                write!(f, "the DSN has no public key: put it before the host as `https://<public_key>@host/...`")
            }
            DsnError::MissingHost => write!(f, "the DSN has no host; {FORM}"),
            DsnError::BadPort(p) => {
                write!(f, "the DSN port `{p}` is not a number from 1 to 65535")
            }
            DsnError::MissingProjectId => {
                write!(f, "the DSN has no project id: it must end with `/<project_id>`, e.g. `/42`")
            }
            DsnError::BadProjectId(p) => {
                write!(f, "the DSN project id `{p}` must be digits only, e.g. `/42`")
            }
            DsnError::InvalidCharacters(s) => write!(
                f,
                "the DSN `{s}` contains whitespace, a query or a fragment; copy it exactly from the project settings"
            ),
        }
    }
}

impl std::error::Error for DsnError {}

/// The URL scheme of a DSN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain HTTP (local Relays, the mock server).
    Http,
    /// HTTPS.
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// The port used when the DSN names none.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// A parsed DSN.
///
/// ```
/// use sdk_transport::Dsn;
///
/// let dsn: Dsn = "https://abc123@o1.ingest.sentry.io/42".parse().unwrap();
/// assert_eq!(dsn.envelope_url(), "https://o1.ingest.sentry.io/api/42/envelope/");
/// assert_eq!(dsn.org_id(), Some(1));
/// assert!("ftp://key@host/1".parse::<Dsn>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Dsn {
    scheme: Scheme,
    public_key: String,
    secret_key: Option<String>,
    host: String,
    port: Option<u16>,
    path: String,
    project_id: String,
    envelope_url: String,
}

impl Dsn {
    /// The scheme.
    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The public key (`sentry_key`).
    pub fn public_key(&self) -> &str {
        &self.public_key
    }

    /// The deprecated secret key, if the DSN has one.
    pub fn secret_key(&self) -> Option<&str> {
        self.secret_key.as_deref()
    }

    /// The host name or address (IPv6 addresses keep their brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port: the explicit one, or the scheme's default.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or_else(|| self.scheme.default_port())
    }

    /// The path prefix before the project id; starts and ends with `/`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The project id.
    pub fn project_id(&self) -> &str {
        &self.project_id
    }

    /// The organisation id from a sentry.io host such as `o123.ingest.sentry.io`.
    pub fn org_id(&self) -> Option<u64> {
        let label = self.host.split('.').next()?;
        let digits = label.strip_prefix('o')?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if !self.host.contains('.') {
            return None;
        }
        digits.parse().ok()
    }

    /// The URL envelopes are posted to: `{scheme}://{host}[:{port}]{path}api/{project_id}/envelope/`.
    pub fn envelope_url(&self) -> &str {
        &self.envelope_url
    }

    /// The value of the `X-Sentry-Auth` header for the client `client` (`name/version`).
    pub fn auth_header(&self, client: &str) -> String {
        let mut value = format!(
            "Sentry sentry_key={}, sentry_version=7, sentry_client={}",
            self.public_key, client
        );
        if let Some(secret) = &self.secret_key {
            value.push_str(", sentry_secret=");
            value.push_str(secret);
        }
        value
    }

    fn base_url(&self) -> String {
        let mut url = format!("{}://{}", self.scheme.as_str(), self.host);
        if let Some(port) = self.port {
            if port != self.scheme.default_port() {
                url.push(':');
                url.push_str(&port.to_string());
            }
        }
        url.push_str(&self.path);
        url
    }
}

impl FromStr for Dsn {
    type Err = DsnError;

    fn from_str(input: &str) -> Result<Dsn, DsnError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(DsnError::Empty);
        }
        if s.chars().any(|c| c.is_whitespace() || c == '?' || c == '#') {
            return Err(DsnError::InvalidCharacters(s.to_owned()));
        }
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| DsnError::NotAUrl(s.to_owned()))?;
        let scheme = match scheme.to_ascii_lowercase().as_str() {
            "http" => Scheme::Http,
            "https" => Scheme::Https,
            _ => return Err(DsnError::BadScheme(scheme.to_owned())),
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (userinfo, hostport) = authority
            .rsplit_once('@')
            .ok_or(DsnError::MissingPublicKey)?;
        let (public_key, secret_key) = match userinfo.split_once(':') {
            Some((key, secret)) => (key, (!secret.is_empty()).then(|| secret.to_owned())),
            None => (userinfo, None),
        };
        if public_key.is_empty() {
            return Err(DsnError::MissingPublicKey);
        }
        let (host, port) = split_host_port(hostport)?;
        if host.is_empty() {
            return Err(DsnError::MissingHost);
        }
        // Trailing slashes after the project id are tolerated.
        let path = path.trim_end_matches('/');
        let (prefix, project_id) = match path.rfind('/') {
            Some(i) => (&path[..=i], &path[i + 1..]),
            None => ("/", ""),
        };
        if project_id.is_empty() {
            return Err(DsnError::MissingProjectId);
        }
        if !project_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DsnError::BadProjectId(project_id.to_owned()));
        }
        let mut dsn = Dsn {
            scheme,
            public_key: public_key.to_owned(),
            secret_key,
            host: host.to_owned(),
            port,
            path: prefix.to_owned(),
            project_id: project_id.to_owned(),
            envelope_url: String::new(),
        };
        dsn.envelope_url = format!("{}api/{}/envelope/", dsn.base_url(), dsn.project_id);
        Ok(dsn)
    }
}

fn split_host_port(hostport: &str) -> Result<(&str, Option<u16>), DsnError> {
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        // [ipv6]:port
        let end = rest.find(']').ok_or(DsnError::MissingHost)?;
        let host = &hostport[..end + 2];
        match &rest[end + 1..] {
            "" => (host, None),
            p => match p.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(DsnError::BadPort(p.to_owned())),
            },
        }
    } else {
        match hostport.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(DsnError::BadPort(p.to_owned())),
        },
    };
    Ok((host, port))
}

impl fmt::Display for Dsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.public_key)?;
        if let Some(secret) = &self.secret_key {
            write!(f, ":{secret}")?;
        }
        write!(f, "@{}", self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        write!(f, "{}{}", self.path, self.project_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Dsn, DsnError> {
        s.parse()
    }

    #[test]
    fn parses_a_sentry_io_dsn() {
        let dsn = parse("https://e12d836b15bb49d7bbf99e64295d995b@o123.ingest.us.sentry.io/4505")
            .unwrap();
        assert_eq!(dsn.scheme(), Scheme::Https);
        assert_eq!(dsn.public_key(), "e12d836b15bb49d7bbf99e64295d995b");
        assert_eq!(dsn.secret_key(), None);
        assert_eq!(dsn.host(), "o123.ingest.us.sentry.io");
        assert_eq!(dsn.port(), 443);
        assert_eq!(dsn.project_id(), "4505");
        assert_eq!(dsn.org_id(), Some(123));
        assert_eq!(
            dsn.envelope_url(),
            "https://o123.ingest.us.sentry.io/api/4505/envelope/"
        );
        assert_eq!(
            dsn.auth_header("sentry.rust.sdk/0.1.0"),
            "Sentry sentry_key=e12d836b15bb49d7bbf99e64295d995b, sentry_version=7, sentry_client=sentry.rust.sdk/0.1.0"
        );
    }

    #[test]
    fn keeps_path_prefix_port_and_secret() {
        let dsn = parse("http://key:secret@127.0.0.1:9000/prefix/sub/42").unwrap();
        assert_eq!(dsn.port(), 9000);
        assert_eq!(dsn.path(), "/prefix/sub/");
        assert_eq!(dsn.secret_key(), Some("secret"));
        assert_eq!(
            dsn.envelope_url(),
            "http://127.0.0.1:9000/prefix/sub/api/42/envelope/"
        );
        assert!(dsn.auth_header("x/1").ends_with(", sentry_secret=secret"));
        assert_eq!(dsn.org_id(), None);
    }

    #[test]
    fn default_port_is_not_written_into_the_url() {
        let dsn = parse("https://k@sentry.example.com:443/prefix/42").unwrap();
        assert_eq!(
            dsn.envelope_url(),
            "https://sentry.example.com/prefix/api/42/envelope/"
        );
    }

    #[test]
    fn ipv6_hosts_and_trailing_slash() {
        let dsn = parse("http://k@[::1]:8080/7/").unwrap();
        assert_eq!(dsn.host(), "[::1]");
        assert_eq!(dsn.port(), 8080);
        assert_eq!(dsn.envelope_url(), "http://[::1]:8080/api/7/envelope/");
    }

    #[test]
    fn round_trips_through_display() {
        for s in [
            "https://abc@o1.ingest.sentry.io/42",
            "http://key:secret@127.0.0.1:9000/prefix/sub/42",
            "http://k@[::1]:8080/7",
        ] {
            let dsn = parse(s).unwrap();
            assert_eq!(dsn.to_string(), s);
            assert_eq!(parse(&dsn.to_string()).unwrap(), dsn);
        }
    }

    #[test]
    fn every_error_has_its_variant() {
        assert_eq!(parse(""), Err(DsnError::Empty));
        assert_eq!(parse("   "), Err(DsnError::Empty));
        assert!(matches!(parse("garbage"), Err(DsnError::NotAUrl(_))));
        assert!(matches!(parse("ftp://k@h/1"), Err(DsnError::BadScheme(s)) if s == "ftp"));
        assert_eq!(parse("https://host/1"), Err(DsnError::MissingPublicKey));
        assert_eq!(parse("https://@host/1"), Err(DsnError::MissingPublicKey));
        assert_eq!(parse("https://k@/1"), Err(DsnError::MissingHost));
        assert!(matches!(parse("https://k@h:abc/1"), Err(DsnError::BadPort(p)) if p == "abc"));
        assert!(matches!(
            parse("https://k@h:0/1"),
            Err(DsnError::BadPort(_))
        ));
        assert!(matches!(
            parse("https://k@h:70000/1"),
            Err(DsnError::BadPort(_))
        ));
        assert_eq!(parse("https://k@h"), Err(DsnError::MissingProjectId));
        assert_eq!(parse("https://k@h/"), Err(DsnError::MissingProjectId));
        assert!(matches!(parse("https://k@h/abc"), Err(DsnError::BadProjectId(p)) if p == "abc"));
        assert!(matches!(
            parse("https://k@h/1?x=y"),
            Err(DsnError::InvalidCharacters(_))
        ));
    }

    #[test]
    fn error_messages_say_what_to_fix() {
        let msg = parse("https://host/1").unwrap_err().to_string();
        assert!(msg.contains("public key"), "{msg}");
        let msg = parse("https://k@h").unwrap_err().to_string();
        assert!(msg.contains("project id"), "{msg}");
    }
}
