//! The caller's network address, as rate limits will key on it. Only what the platform saw: API
//! Gateway's `requestContext` (`http.sourceIp` for HTTP APIs, `identity.sourceIp` for REST APIs),
//! or the peer address otp-local puts in the request. Never a header such as `X-Forwarded-For`,
//! which any client can set.

use std::net::IpAddr;

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt as _};

/// The peer address of a connection, set by a server that accepts connections itself (otp-local).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddress(pub IpAddr);

/// The address the request came from, if the platform says.
pub fn client_address(request: &Request) -> Option<IpAddr> {
    if let Some(PeerAddress(ip)) = request.extensions().get::<PeerAddress>() {
        return Some(*ip);
    }
    let source = match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.http.source_ip.as_deref(),
        RequestContext::ApiGatewayV1(context) => context.identity.source_ip.as_deref(),
        // Other event sources are not routed to these functions.
        _ => None,
    };
    source?.parse().ok()
}
