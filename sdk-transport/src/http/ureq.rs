//! The blocking HTTP client on `ureq` (rustls), the default.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{DefaultConnector, NextTimeout};

use crate::http::{HttpClient, HttpError, HttpRequest, HttpResponse};
use crate::options::TransportOptions;

/// How long a resolved address is reused.
const RESOLVE_TTL: Duration = Duration::from_secs(60);

/// A resolver that remembers addresses for [`RESOLVE_TTL`].
///
/// ureq resolves the host before every request, even one that reuses a pooled connection, and
/// with a timeout set it spawns a thread per lookup: one thread per envelope, most of the cost
/// of a request on loopback. The ingest host is always the same, so its addresses are kept.
#[derive(Debug, Default)]
struct CachingResolver {
    inner: DefaultResolver,
    cache: Mutex<HashMap<String, (ResolvedSocketAddrs, Instant)>>,
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &ureq::config::Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let key = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or(""),
            uri.authority().map_or("", |a| a.as_str())
        );
        let now = Instant::now();
        if let Ok(cache) = self.cache.lock() {
            if let Some((addrs, at)) = cache.get(&key) {
                if now.saturating_duration_since(*at) < RESOLVE_TTL {
                    return Ok(addrs.clone());
                }
            }
        }
        let addrs = self.inner.resolve(uri, config, timeout)?;
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() > 16 {
                cache.clear();
            }
            cache.insert(key, (addrs.clone(), now));
        }
        Ok(addrs)
    }
}

/// Largest response body read (and thrown away) so the connection can be reused.
const MAX_RESPONSE_BODY: u64 = 64 * 1024;

/// An [`HttpClient`] on a `ureq` agent: keep-alive connections shared by the worker's threads,
/// the transport's connect and request timeouts.
#[derive(Debug, Clone)]
pub struct UreqClient {
    agent: ureq::Agent,
}

impl UreqClient {
    /// A client with the timeouts, user agent and connection pool size of `options`.
    pub fn new(options: &TransportOptions) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(options.request_timeout))
            .timeout_connect(Some(options.connect_timeout))
            .user_agent(options.user_agent.as_str())
            .max_idle_connections_per_host(options.concurrency.max(1) * 2)
            .build();
        UreqClient {
            agent: ureq::Agent::with_parts(
                config,
                DefaultConnector::default(),
                CachingResolver::default(),
            ),
        }
    }

    /// A client on an agent configured by the caller (proxy, TLS roots, ...). Its
    /// `http_status_as_error` setting must be `false`, or 4xx/5xx are seen as network errors.
    pub fn with_agent(agent: ureq::Agent) -> Self {
        UreqClient { agent }
    }
}

fn map_error(err: ureq::Error) -> HttpError {
    match err {
        ureq::Error::Timeout(kind) => HttpError::Timeout(format!("{kind:?}")),
        ureq::Error::HostNotFound => HttpError::Connect("host not found".into()),
        ureq::Error::ConnectionFailed => HttpError::Connect("connection failed".into()),
        ureq::Error::Io(err) => match err.kind() {
            std::io::ErrorKind::ConnectionRefused => HttpError::Connect(err.to_string()),
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                HttpError::Timeout(err.to_string())
            }
            _ => HttpError::Io(err.to_string()),
        },
        other => HttpError::Other(other.to_string()),
    }
}

impl HttpClient for UreqClient {
    fn send(&self, request: HttpRequest<'_>) -> Result<HttpResponse, HttpError> {
        let mut builder = self.agent.post(request.url);
        for (name, value) in request.headers {
            builder = builder.header(*name, *value);
        }
        let mut response = builder.send(request.body).map_err(map_error)?;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let mut result = HttpResponse {
            status: response.status().as_u16(),
            rate_limits: header("x-sentry-rate-limits"),
            retry_after: header("retry-after"),
            detail: None,
        };
        let sentry_error = header("x-sentry-error");
        // Read the body to the end so the connection goes back to the pool.
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BODY)
            .read_to_vec()
            .unwrap_or_default();
        if !(200..300).contains(&result.status) {
            result.detail = crate::http::error_detail(sentry_error.as_deref(), &body);
        }
        Ok(result)
    }
}
