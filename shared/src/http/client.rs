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

/// The app's backend, authenticated by whoever served the request: otp-local after checking its
/// server key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerPrincipal(pub String);

/// Who called a server route: otp-local's checked key, or the IAM caller API Gateway's `AWS_IAM`
/// authorizer verified (SigV4) and named in the request context. `None`: nobody authenticated,
/// and a server route must refuse the request.
pub fn server_principal(request: &Request) -> Option<String> {
    if let Some(ServerPrincipal(principal)) = request.extensions().get::<ServerPrincipal>() {
        return Some(principal.clone());
    }
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => {
            let iam = context.authorizer.as_ref()?.iam.as_ref()?;
            iam.user_arn.clone().or_else(|| iam.caller_id.clone())
        }
        RequestContext::ApiGatewayV1(context) => context.identity.user_arn.clone(),
        _ => None,
    }
    .filter(|principal| !principal.is_empty())
}
