//! Who is asking, as far as the network says: the client's address that sign-in locks and rate
//! limits count by. It is the socket's peer; behind a reverse proxy that peer is the proxy, so
//! with `--trust-forwarded-for` the last address of `X-Forwarded-For` (the one the proxy itself
//! saw) is used instead. Never trust that header without a proxy that sets it: anyone could
//! claim any address.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;

use super::{AppState, PageError};

/// The client's IP address, as text ("unknown" when the server was started without peer
/// addresses, which only tests do).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientAddress(pub String);

fn forwarded_for(parts: &Parts) -> Option<IpAddr> {
    let last = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .last()?;
    last.trim().parse().ok()
}

impl FromRequestParts<Arc<AppState>> for ClientAddress {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let forwarded = state
            .config
            .trust_forwarded_for
            .then(|| forwarded_for(parts))
            .flatten();
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(address)| address.ip());
        Ok(ClientAddress(
            forwarded
                .or(peer)
                .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string()),
        ))
    }
}
