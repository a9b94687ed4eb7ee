//! How a webhook leaves: one HTTP POST over hyper's client on rustls with the ring provider and
//! the WebPKI roots (the TLS stack lettre already brings), bounded in time and in how much of
//! the answer is read. A target that is, or resolves to, a loopback, private or link-local
//! address is refused unless the operator allows private targets; the addresses checked are the
//! addresses connected to, so a name that changes its answer after registration gains nothing.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::header::{CONTENT_TYPE, HeaderValue, USER_AGENT};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;

use crate::domain::webhooks::{WebhookUrl, private_address};

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one attempt may take, from connecting to the end of the answer read.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// How much of an answer is read; the rest is dropped (only the status counts).
const RESPONSE_LIMIT: usize = 64 * 1024;
/// How long an error kept in the delivery log may be.
const ERROR_LIMIT: usize = 200;

/// Why a target may not be called.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetRefused {
    #[error("{host} is a {kind} address ({address}), which webhooks may not call")]
    Private {
        host: String,
        address: IpAddr,
        kind: &'static str,
    },
    #[error("the host {0} could not be found")]
    UnknownHost(String),
}

/// The addresses of `host`, refused when any of them is private and private targets are not
/// allowed.
pub async fn resolve(
    host: &str,
    port: u16,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, TargetRefused> {
    let addresses: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host, port))
            .await
            .map_err(|_| TargetRefused::UnknownHost(host.to_owned()))?
            .collect(),
    };
    if addresses.is_empty() {
        return Err(TargetRefused::UnknownHost(host.to_owned()));
    }
    if !allow_private {
        for address in &addresses {
            if let Some(kind) = private_address(address.ip()) {
                return Err(TargetRefused::Private {
                    host: host.to_owned(),
                    address: address.ip(),
                    kind,
                });
            }
        }
    }
    Ok(addresses)
}

/// The check at registration: the endpoint's host resolves, and not to a private address
/// (unless allowed).
pub async fn check_target(url: &WebhookUrl, allow_private: bool) -> Result<(), TargetRefused> {
    let (host, port) = url.host_and_port();
    resolve(&host, port, allow_private).await.map(|_| ())
}

/// The connector's name resolution, through `resolve`.
#[derive(Clone)]
struct GuardedResolver {
    allow_private: bool,
}

type Resolving =
    Pin<Box<dyn Future<Output = Result<std::vec::IntoIter<SocketAddr>, TargetRefused>> + Send>>;

impl tower::Service<Name> for GuardedResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = TargetRefused;
    type Future = Resolving;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let allow_private = self.allow_private;
        Box::pin(async move {
            // The connector sets the port itself.
            resolve(name.as_str(), 0, allow_private)
                .await
                .map(Vec::into_iter)
        })
    }
}

/// One webhook as it leaves.
pub struct Outgoing<'a> {
    pub url: &'a str,
    pub webhook_id: &'a str,
    pub timestamp: i64,
    pub signature: &'a str,
    pub body: &'a str,
}

/// What the receiver made of it: any 2xx answer delivers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered { status: u16 },
    Failed { status: Option<u16>, error: String },
}

/// Sends webhooks; cheap to clone (one connection pool).
#[derive(Clone)]
pub struct Sender {
    client: Client<HttpsConnector<HttpConnector<GuardedResolver>>, Full<Bytes>>,
    allow_private: bool,
}

impl Sender {
    pub fn new(allow_private: bool) -> Self {
        let mut http = HttpConnector::new_with_resolver(GuardedResolver { allow_private });
        http.enforce_http(false);
        http.set_connect_timeout(Some(CONNECT_TIMEOUT));
        let roots =
            rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Self {
            client: Client::builder(TokioExecutor::new()).build(https),
            allow_private,
        }
    }

    /// POSTs one webhook and reads at most `RESPONSE_LIMIT` bytes of the answer, all within
    /// `REQUEST_TIMEOUT`.
    pub async fn send(&self, webhook: &Outgoing<'_>) -> Outcome {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.attempt(webhook)).await {
            Ok(outcome) => outcome,
            Err(_) => failed(
                None,
                format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()),
            ),
        }
    }

    async fn attempt(&self, webhook: &Outgoing<'_>) -> Outcome {
        // An address in the URL is connected to without resolving: check it here.
        let url = match WebhookUrl::parse(webhook.url) {
            Ok(url) => url,
            Err(e) => return failed(None, e.to_string()),
        };
        if url.ip().is_some() {
            let (host, port) = url.host_and_port();
            if let Err(refused) = resolve(&host, port, self.allow_private).await {
                return failed(None, format!("refused: {refused}"));
            }
        }
        let request = Request::post(url.as_str())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(
                USER_AGENT,
                HeaderValue::from_static(concat!(
                    "seatledger-webhooks/",
                    env!("CARGO_PKG_VERSION")
                )),
            )
            .header("webhook-id", webhook.webhook_id)
            .header("webhook-timestamp", webhook.timestamp)
            .header("webhook-signature", webhook.signature)
            .body(Full::new(Bytes::copy_from_slice(webhook.body.as_bytes())));
        let request = match request {
            Ok(request) => request,
            Err(e) => return failed(None, e.to_string()),
        };
        let response = match self.client.request(request).await {
            Ok(response) => response,
            Err(e) => return failed(None, chain(&e)),
        };
        let status = response.status();
        let mut body = response.into_body();
        let mut read = Vec::new();
        while read.len() < RESPONSE_LIMIT {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        read.extend_from_slice(
                            &data[..data.len().min(RESPONSE_LIMIT - read.len())],
                        );
                    }
                }
                Some(Err(_)) | None => break,
            }
        }
        if status.is_success() {
            Outcome::Delivered {
                status: status.as_u16(),
            }
        } else {
            let answer = String::from_utf8_lossy(&read);
            let answer = answer.trim();
            let error = if answer.is_empty() {
                format!("answered {status}")
            } else {
                format!("answered {status}: {answer}")
            };
            failed(Some(status.as_u16()), error)
        }
    }
}

fn failed(status: Option<u16>, error: String) -> Outcome {
    let mut error: String = error.chars().filter(|c| !c.is_control()).collect();
    if error.chars().count() > ERROR_LIMIT {
        error = error.chars().take(ERROR_LIMIT - 1).collect::<String>() + "…";
    }
    Outcome::Failed { status, error }
}

/// An error and its causes on one line: the client's own message says little ("client error
/// (Connect)"), its causes say what happened.
fn chain(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}
