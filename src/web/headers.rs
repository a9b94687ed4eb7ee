//! The security headers of DESIGN §11, on every response: nothing may frame a page, scripts and
//! styles come only from the console itself (there are no scripts), content types are not
//! guessed, links never carry a URL (a set-password token) to another site, and under https the
//! browser is told to use nothing else.

use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;

const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// One year, subdomains included: the console is only ever served over https once it is.
const STRICT_TRANSPORT_SECURITY: &str = "max-age=31536000; includeSubDomains";

/// Whether the console is served over https, for HSTS.
#[derive(Clone, Copy)]
pub(super) struct Https(pub bool);

/// Adds the headers a handler did not set itself.
pub(super) async fn add(State(Https(https)): State<Https>, mut response: Response) -> Response {
    let headers = response.headers_mut();
    let mut set = |name: HeaderName, value: &'static str| {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    set(header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::REFERRER_POLICY, "no-referrer");
    if https {
        set(header::STRICT_TRANSPORT_SECURITY, STRICT_TRANSPORT_SECURITY);
    }
    response
}
