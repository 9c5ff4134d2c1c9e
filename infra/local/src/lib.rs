//! otp-local: the otp-lambda API on your machine. It routes requests as API Gateway would to the
//! same handlers the Lambdas run. By default the store is in memory and messages go to a console
//! [`Outbox`]; `--store dynamodb` and `--delivery aws` use the Lambdas' AWS adapters instead.

mod backends;
mod cors;
mod function;
mod outbox;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use lambda_http::Body;
use otp_shared::crypto::Keys;
use otp_shared::crypto::Randomness;
use otp_shared::http::{ApiError, MAX_BODY_BYTES, PeerAddress, ServerPrincipal};
use otp_shared::ports::Clock;
use otp_shared::routes::{self, Handler, Match, Route};
use otp_shared::{Otp, ServiceSecret, Settings};
use tokio::net::TcpListener;

pub use backends::{LocalDelivery, LocalStore};
pub use cors::Cors;
pub use function::Function;
pub use outbox::{Outbox, OutboxEntry};

pub type LocalOtp = Otp<LocalStore, LocalDelivery>;

/// The variables otp-local reads beyond [`Settings::VARIABLES`] and
/// [`otp_shared::lambda::AWS_VARIABLES`], with their defaults and meanings; docs/configuration.md
/// lists all three tables (tests/api/docs.rs generates it from them).
pub const VARIABLES: &[(&str, &str, &str)] = &[
    (
        "OTP_PROFILES_FILE",
        "(none)",
        "at build time: the profiles file compiled into every binary instead of the repository's `profiles.json` (a path relative to the repository root); at run time, otp-local only (`--profiles FILE`): a file to use instead of the compiled-in one",
    ),
    (
        "OTP_LOCAL_SERVER_KEY",
        "(none)",
        "otp-local only: the key its `/v1/server/` routes take as `Authorization: Bearer`; without it otp-local generates one and prints it at start",
    ),
    (
        "RUST_LOG",
        "info",
        "otp-local's log filter (the Lambdas follow `AWS_LAMBDA_LOG_LEVEL` / `AWS_LAMBDA_LOG_FORMAT`)",
    ),
];

/// The service as otp-local runs it, on the given store and delivery.
pub fn local_otp_on(
    store: LocalStore,
    delivery: LocalDelivery,
    settings: Settings,
    secret: &ServiceSecret,
    clock: Arc<dyn Clock>,
    randomness: Arc<dyn Randomness>,
) -> LocalOtp {
    Otp::new(
        store,
        delivery,
        clock,
        randomness,
        Keys::derive(secret),
        settings,
    )
}

/// The service as otp-local runs it by default: in-memory store, console outbox.
pub fn local_otp(
    settings: Settings,
    secret: &ServiceSecret,
    clock: Arc<dyn Clock>,
    randomness: Arc<dyn Randomness>,
) -> LocalOtp {
    let outbox = Outbox::new(clock.clone());
    local_otp_on(
        LocalStore::memory(),
        LocalDelivery::Outbox(outbox),
        settings,
        secret,
        clock,
        randomness,
    )
}

/// The key the app's backend presents on `/v1/server/` routes (`Authorization: Bearer <key>`),
/// standing in for the SigV4 signature API Gateway checks on AWS.
#[derive(Clone)]
pub struct ServerKey(String);

impl ServerKey {
    /// At least 16 characters, visible ASCII.
    pub fn parse(key: &str) -> Result<Self, String> {
        if key.len() >= 16 && key.len() <= 256 && key.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(key.to_owned()))
        } else {
            Err("OTP_LOCAL_SERVER_KEY: must be 16 to 256 visible ASCII characters".to_owned())
        }
    }

    /// 256 random bits, base64url.
    pub fn generate(randomness: &dyn Randomness) -> Self {
        let mut bytes = [0u8; 32];
        randomness.fill(&mut bytes);
        Self(data_encoding::BASE64URL_NOPAD.encode(&bytes))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `authorization` is `Bearer <this key>`, compared in constant time.
    fn admits(&self, authorization: Option<&http::HeaderValue>) -> bool {
        use subtle::ConstantTimeEq as _;
        let Some(token) = authorization
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
        else {
            return false;
        };
        token.len() == self.0.len() && bool::from(token.as_bytes().ct_eq(self.0.as_bytes()))
    }
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServerKey(…)")
    }
}

/// The principal server routes see when otp-local's key was presented.
pub const SERVER_KEY_PRINCIPAL: &str = "otp-local-server-key";

/// The principal of otp-local's demo backend (`/_local/demo/…`), which holds the key for the demo
/// page as an app's backend would.
pub const DEMO_BACKEND_PRINCIPAL: &str = "otp-local-demo-backend";

/// Serves until the listener fails; each connection on its own task. Browsers on `cors`'s origins
/// may call it; `/v1/server/` routes take `server_key`.
pub async fn serve(
    listener: TcpListener,
    otp: Arc<LocalOtp>,
    cors: Cors,
    server_key: ServerKey,
) -> std::io::Result<()> {
    let cors = Arc::new(cors);
    let server_key = Arc::new(server_key);
    loop {
        let (stream, peer) = listener.accept().await?;
        let (otp, cors, key) = (otp.clone(), cors.clone(), server_key.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let (otp, cors, key) = (otp.clone(), cors.clone(), key.clone());
                async move { Ok::<_, Infallible>(handle(&otp, &cors, &key, peer, request).await) }
            });
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
}

/// Binds `addr` and serves in the background; returns the bound address (use port 0 for a free one).
pub async fn spawn(
    addr: SocketAddr,
    otp: Arc<LocalOtp>,
    server_key: ServerKey,
) -> std::io::Result<SocketAddr> {
    spawn_with_cors(addr, otp, Cors::default(), server_key).await
}

/// [`spawn`], with browsers on `cors`'s origins allowed.
pub async fn spawn_with_cors(
    addr: SocketAddr,
    otp: Arc<LocalOtp>,
    cors: Cors,
    server_key: ServerKey,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(serve(listener, otp, cors, server_key));
    Ok(bound)
}

async fn handle(
    otp: &LocalOtp,
    cors: &Cors,
    server_key: &ServerKey,
    peer: SocketAddr,
    request: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let (mut parts, body) = request.into_parts();
    let origin = parts
        .headers
        .get(http::header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .map(str::to_owned);
    if Cors::is_preflight(&parts.method, &parts.headers) {
        return to_hyper(cors.preflight(origin.as_deref()));
    }
    // As API Gateway's requestContext gives the Lambdas the caller's address.
    parts.extensions.insert(PeerAddress(peer.ip()));
    // As API Gateway's AWS_IAM authorizer names the caller it verified; the handlers refuse a
    // server route without one.
    if parts.uri.path().starts_with(routes::SERVER_PREFIX)
        && server_key.admits(parts.headers.get(http::header::AUTHORIZATION))
    {
        parts
            .extensions
            .insert(ServerPrincipal(SERVER_KEY_PRINCIPAL.to_owned()));
    }
    // Read one byte past the limit so the handler sees an oversized body and refuses it itself.
    let mut response = match Limited::new(body, MAX_BODY_BYTES + 1).collect().await {
        Ok(collected) => {
            let bytes = collected.to_bytes();
            let body = if bytes.is_empty() {
                Body::Empty
            } else {
                Body::Binary(bytes.to_vec())
            };
            route(otp, lambda_http::Request::from_parts(parts, body)).await
        }
        Err(_) => ApiError::BodyTooLarge.into_response(),
    };
    cors.decorate(origin.as_deref(), &mut response);
    to_hyper(response)
}

/// The function of template.yaml whose work a route is on AWS; none for otp-local's own routes.
fn lambda_of(function: routes::Function) -> Option<Function> {
    match function {
        routes::Function::Send => Some(Function::Send),
        routes::Function::Verify => Some(Function::Verify),
        routes::Function::Enroll => Some(Function::Enroll),
        routes::Function::Local => None,
    }
}

/// The routes of the route table ([`otp_shared::routes::ROUTES`]): each of template.yaml's routes
/// to its handler, run as its [`Function`]'s work, plus the local outbox, the OpenAPI document, the
/// demo page and its backend.
pub async fn route(otp: &LocalOtp, request: lambda_http::Request) -> lambda_http::Response<Body> {
    let found = Route::matching(request.method().as_str(), request.uri().path());
    let route = match found {
        Match::Route(route) | Match::MethodNotAllowed { route, .. } => route,
        Match::NotFound => return ApiError::RouteNotFound.into_response(),
    };
    let handled = match lambda_of(route.function) {
        // The function's handler checks the method itself, as on AWS (where a function URL could
        // send it any): after the path, so a bad `{user_id}` is a 400 whatever the method.
        Some(function) => function.run(lambda_handler(otp, route, request)).await,
        None => Ok(local_route(otp, route, found, request).await),
    };
    // The shared handlers never fail; a failure here would be a bug, answered opaquely.
    handled.unwrap_or_else(|error| {
        tracing::error!(%error, "handler failed");
        lambda_http::Response::builder()
            .status(500)
            .body(Body::Empty)
            .expect("static response")
    })
}

/// The shared handler a function's route goes to, as the function's own entry point sends it.
async fn lambda_handler(
    otp: &LocalOtp,
    route: &Route,
    request: lambda_http::Request,
) -> Result<lambda_http::Response<Body>, lambda_http::Error> {
    use otp_shared::http;
    match route.handler {
        Handler::Send => http::send(otp, request).await,
        Handler::Verify => http::verify(otp, request).await,
        Handler::Jwks => http::jwks(otp, request).await,
        Handler::Enroll | Handler::Enrolment => http::enroll(otp, request).await,
        Handler::TotpChallenge => http::totp_challenge(otp, request).await,
        // otp-local's own: no function's (the route table's tests say so).
        Handler::Outbox | Handler::DemoBackend | Handler::OpenApi | Handler::DemoPage => {
            Ok(ApiError::RouteNotFound.into_response())
        }
    }
}

/// otp-local's own routes: `405` with the table's `Allow` for a method the path has not.
async fn local_route(
    otp: &LocalOtp,
    route: &Route,
    found: Match,
    request: lambda_http::Request,
) -> lambda_http::Response<Body> {
    if route.handler == Handler::DemoBackend {
        return demo_backend(otp, found, request).await;
    }
    if let Match::MethodNotAllowed { allow, .. } = found {
        return ApiError::MethodNotAllowed { allow }.into_response();
    }
    match route.handler {
        Handler::Outbox => otp_shared::http::json_response(
            http::StatusCode::OK,
            &otp.notifier().outbox().entries(),
        ),
        // The OpenAPI 3.1 document of every route (the repository's openapi.json), this one included.
        Handler::OpenApi => lambda_http::Response::builder()
            .status(http::StatusCode::OK)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::CACHE_CONTROL, "no-store")
            .body(Body::Text(include_str!("../../../openapi.json").to_owned()))
            .expect("static response"),
        // The demo page (infra/local/static: plain files, no build step), same-origin with the API.
        Handler::DemoPage => {
            let (content_type, text) = match route.path {
                "/demo.js" => (
                    "text/javascript; charset=utf-8",
                    include_str!("../static/demo.js"),
                ),
                "/demo.css" => (
                    "text/css; charset=utf-8",
                    include_str!("../static/demo.css"),
                ),
                _ => (
                    "text/html; charset=utf-8",
                    include_str!("../static/index.html"),
                ),
            };
            lambda_http::Response::builder()
                .status(http::StatusCode::OK)
                .header(http::header::CONTENT_TYPE, content_type)
                .header(http::header::CACHE_CONTROL, "no-store")
                .header(http::header::X_CONTENT_TYPE_OPTIONS, "nosniff")
                .header(
                    http::header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                     connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
                )
                .body(Body::Text(text.to_owned()))
                .expect("static response")
        }
        _ => ApiError::RouteNotFound.into_response(),
    }
}

/// The demo page's backend (the table's [`Handler::DemoBackend`] routes: `POST
/// /_local/demo/totp/enroll`, `GET /_local/demo/totp/enroll/{user_id}` and `POST
/// /_local/demo/totp/challenge`), answered by the server routes they stand for (the same path under
/// `/v1/server/`), as the demo backend's principal, for callers on this machine only. Nothing else:
/// only reading an enrolment, not removing it.
async fn demo_backend(
    otp: &LocalOtp,
    found: Match,
    request: lambda_http::Request,
) -> lambda_http::Response<Body> {
    // Only for a browser on this machine: the demo backend enrols anyone without a key.
    if !request
        .extensions()
        .get::<PeerAddress>()
        .is_some_and(|peer| peer.0.is_loopback())
    {
        return ApiError::RouteNotFound.into_response();
    }
    if let Match::MethodNotAllowed { allow, .. } = found {
        return ApiError::MethodNotAllowed { allow }.into_response();
    }
    let (mut parts, body) = request.into_parts();
    let rest = &parts.uri.path()[routes::DEMO_PREFIX.len()..];
    let server_path = format!("{}{rest}", routes::SERVER_PREFIX);
    let Match::Route(server_route) = Route::matching(parts.method.as_str(), &server_path) else {
        return ApiError::RouteNotFound.into_response();
    };
    let (Ok(uri), Some(function)) = (server_path.parse(), lambda_of(server_route.function)) else {
        return ApiError::RouteNotFound.into_response();
    };
    parts.uri = uri;
    parts
        .extensions
        .insert(ServerPrincipal(DEMO_BACKEND_PRINCIPAL.to_owned()));
    let request = lambda_http::Request::from_parts(parts, body);
    function
        .run(lambda_handler(otp, server_route, request))
        .await
        .unwrap_or_else(|_| ApiError::RouteNotFound.into_response())
}

fn to_hyper(response: lambda_http::Response<Body>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_runs_as_the_function_the_route_table_names() {
        for route in routes::ROUTES {
            assert_eq!(
                lambda_of(route.function).map(Function::logical_id),
                route.function.logical_id(),
                "{} {}",
                route.method,
                route.path
            );
        }
    }
}
