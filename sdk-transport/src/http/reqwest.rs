//! The async HTTP client on `reqwest` (rustls) and tokio, for applications on tokio.
//!
//! Each of the delivery worker's sender threads drives its own small current-thread runtime
//! with its own connection, so a request never hops between threads, the client works the same
//! whether the transport is created inside a tokio runtime or not, and it never competes with
//! the application's tasks. All delivery logic stays in the shared worker.

use std::sync::Mutex;
use std::time::Duration;

use crate::http::{HttpClient, HttpError, HttpRequest, HttpResponse, TransportError};
use crate::options::TransportOptions;

/// A runtime and a client on it, used by one sender thread at a time.
struct Lane {
    runtime: Option<tokio::runtime::Runtime>,
    client: reqwest::Client,
}

impl Drop for Lane {
    fn drop(&mut self) {
        // Dropping a runtime inside another runtime's context panics; this never does.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// An [`HttpClient`] on `reqwest`, driven by runtimes of its own.
pub struct ReqwestClient {
    make_client: Box<dyn Fn() -> reqwest::ClientBuilder + Send + Sync>,
    lanes: Mutex<Vec<Lane>>,
}

impl std::fmt::Debug for ReqwestClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReqwestClient").finish_non_exhaustive()
    }
}

impl ReqwestClient {
    /// A client with the timeouts and user agent of `options`.
    pub fn new(options: &TransportOptions) -> Result<Self, TransportError> {
        let connect_timeout = options.connect_timeout;
        let timeout = options.request_timeout;
        let user_agent = options.user_agent.clone();
        ReqwestClient::with_builder(move || {
            reqwest::Client::builder()
                .connect_timeout(connect_timeout)
                .timeout(timeout)
                .user_agent(user_agent.as_str())
                .pool_max_idle_per_host(1)
                .pool_idle_timeout(Duration::from_secs(50))
        })
    }

    /// A client from `reqwest::ClientBuilder`s configured by the caller (proxy, TLS roots...).
    /// `make` is called once per sender thread (each has its own connection); the first call
    /// happens here, so a builder that cannot build is reported now.
    pub fn with_builder(
        make: impl Fn() -> reqwest::ClientBuilder + Send + Sync + 'static,
    ) -> Result<Self, TransportError> {
        let client = ReqwestClient {
            make_client: Box::new(make),
            lanes: Mutex::new(Vec::new()),
        };
        let lane = client.new_lane()?;
        client.put_back(lane);
        Ok(client)
    }

    fn new_lane(&self) -> Result<Lane, TransportError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|err| TransportError::Client(format!("tokio runtime: {err}")))?;
        let client = {
            let _guard = runtime.enter();
            (self.make_client)()
                .build()
                .map_err(|err| TransportError::Client(err.to_string()))?
        };
        Ok(Lane {
            runtime: Some(runtime),
            client,
        })
    }

    fn take_lane(&self) -> Result<Lane, TransportError> {
        let lane = self.lanes.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match lane {
            Some(lane) => Ok(lane),
            None => self.new_lane(),
        }
    }

    fn put_back(&self, lane: Lane) {
        self.lanes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(lane);
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
        let lane = self
            .take_lane()
            .map_err(|err| HttpError::Other(err.to_string()))?;
        let Some(runtime) = &lane.runtime else {
            return Err(HttpError::Other("the HTTP runtime is shut down".into()));
        };
        let mut builder = lane.client.post(request.url);
        for (name, value) in request.headers {
            builder = builder.header(*name, *value);
        }
        let builder = builder.body(request.body.to_vec());
        let result = runtime.block_on(async move {
            let response = builder.send().await.map_err(map_error)?;
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
            // Read the body to the end so the connection can be reused.
            let body = response.bytes().await.unwrap_or_default();
            if !(200..300).contains(&result.status) {
                result.detail = crate::http::error_detail(sentry_error.as_deref(), &body);
            }
            Ok(result)
        });
        self.put_back(lane);
        result
    }
}
