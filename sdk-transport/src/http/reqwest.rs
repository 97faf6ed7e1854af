//! The async HTTP client on `reqwest` (rustls) and tokio, for applications on tokio.
//!
//! The client runs on a small runtime of its own (one thread, "sentry-transport-rt") that the
//! delivery worker's threads block on, so it works the same whether the transport is created
//! inside a tokio runtime or not, and never competes with the application's tasks. All delivery
//! logic stays in the shared worker.

use std::time::Duration;

use crate::http::{HttpClient, HttpError, HttpRequest, HttpResponse, TransportError};
use crate::options::TransportOptions;

/// An [`HttpClient`] on `reqwest`, driven by its own tokio runtime.
pub struct ReqwestClient {
    client: reqwest::Client,
    runtime: Option<tokio::runtime::Runtime>,
}

impl std::fmt::Debug for ReqwestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReqwestClient").finish_non_exhaustive()
    }
}

impl ReqwestClient {
    /// A client with the timeouts, user agent and connection pool of `options`.
    pub fn new(options: &TransportOptions) -> Result<Self, TransportError> {
        let builder = reqwest::Client::builder()
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .user_agent(options.user_agent.as_str())
            .pool_max_idle_per_host(options.concurrency.max(1) * 2)
            .pool_idle_timeout(Duration::from_secs(50));
        ReqwestClient::with_builder(builder)
    }

    /// A client from a `reqwest::ClientBuilder` configured by the caller (proxy, TLS roots...).
    pub fn with_builder(builder: reqwest::ClientBuilder) -> Result<Self, TransportError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("sentry-transport-rt")
            .enable_all()
            .build()
            .map_err(|err| TransportError::Client(format!("tokio runtime: {err}")))?;
        let client = {
            let _guard = runtime.enter();
            builder
                .build()
                .map_err(|err| TransportError::Client(err.to_string()))?
        };
        Ok(ReqwestClient {
            client,
            runtime: Some(runtime),
        })
    }
}

impl Drop for ReqwestClient {
    fn drop(&mut self) {
        // Dropping a runtime inside another runtime's context panics; this never does.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

fn map_error(err: reqwest::Error) -> HttpError {
    if err.is_timeout() {
        HttpError::Timeout(err.to_string())
    } else if err.is_connect() {
        HttpError::Connect(err.to_string())
    } else {
        HttpError::Io(err.to_string())
    }
}

impl HttpClient for ReqwestClient {
    fn send(&self, request: HttpRequest<'_>) -> Result<HttpResponse, HttpError> {
        let Some(runtime) = &self.runtime else {
            return Err(HttpError::Other("the HTTP runtime is shut down".into()));
        };
        let mut builder = self.client.post(request.url);
        for (name, value) in request.headers {
            builder = builder.header(*name, *value);
        }
        let builder = builder.body(request.body.to_vec());
        runtime.handle().block_on(async move {
            let response = builder.send().await.map_err(map_error)?;
            let header = |name: &str| {
                response
                    .headers()
                    .get(name)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned)
            };
            let result = HttpResponse {
                status: response.status().as_u16(),
                rate_limits: header("x-sentry-rate-limits"),
                retry_after: header("retry-after"),
            };
            // Read the body to the end so the connection goes back to the pool.
            let _ = response.bytes().await;
            Ok(result)
        })
    }
}
