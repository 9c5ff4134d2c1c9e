//! otp-local: the otp-lambda API on your machine. It routes requests as API Gateway would to the
//! same handlers the Lambdas run. By default the store is in memory and messages go to a console
//! [`Outbox`]; `--store dynamodb` and `--delivery aws` use the Lambdas' AWS adapters instead.

mod backends;
mod outbox;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use lambda_http::{Body, RequestExt as _};
use otp_shared::hashing::Keys;
use otp_shared::http::{ApiError, MAX_BODY_BYTES};
use otp_shared::ports::{Clock, Randomness};
use otp_shared::{Otp, ServiceSecret, Settings};
use tokio::net::TcpListener;

pub use backends::{LocalDelivery, LocalStore};
pub use outbox::{Outbox, OutboxEntry};

pub type LocalOtp = Otp<LocalStore, LocalDelivery>;

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

/// Serves until the listener fails; each connection on its own task.
pub async fn serve(listener: TcpListener, otp: Arc<LocalOtp>) -> std::io::Result<()> {
    loop {
        let (stream, _peer) = listener.accept().await?;
        let otp = otp.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let otp = otp.clone();
                async move { Ok::<_, Infallible>(handle(&otp, request).await) }
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
pub async fn spawn(addr: SocketAddr, otp: Arc<LocalOtp>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(serve(listener, otp));
    Ok(bound)
}

async fn handle(otp: &LocalOtp, request: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    // Read one byte past the limit so the handler sees an oversized body and refuses it itself.
    let bytes = match Limited::new(body, MAX_BODY_BYTES + 1).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return to_hyper(ApiError::BodyTooLarge.into_response()),
    };
    let body = if bytes.is_empty() {
        Body::Empty
    } else {
        Body::Binary(bytes.to_vec())
    };
    let response = route(otp, lambda_http::Request::from_parts(parts, body)).await;
    to_hyper(response)
}

const ENROLLMENT_PREFIX: &str = "/v1/totp/enroll/";

/// The routes of the HTTP API, as template.yaml binds them to functions, plus the local outbox.
pub async fn route(otp: &LocalOtp, request: lambda_http::Request) -> lambda_http::Response<Body> {
    let handled = match request.uri().path() {
        "/v1/otp/send" => otp_shared::http::send(otp, request).await,
        "/v1/otp/verify" => otp_shared::http::verify(otp, request).await,
        "/v1/totp/enroll" => otp_shared::http::enroll(otp, request).await,
        path if path.starts_with(ENROLLMENT_PREFIX) => {
            // API Gateway's `{user_id}`: one path segment, given to the handler as a path parameter.
            let user_id = &path[ENROLLMENT_PREFIX.len()..];
            if user_id.is_empty() || user_id.contains('/') {
                Ok(ApiError::RouteNotFound.into_response())
            } else {
                let parameters = HashMap::from([("user_id".to_owned(), user_id.to_owned())]);
                otp_shared::http::enroll(otp, request.with_path_parameters(parameters)).await
            }
        }
        "/_local/outbox" if request.method() == http::Method::GET => {
            Ok(otp_shared::http::json_response(
                http::StatusCode::OK,
                &otp.notifier().outbox().entries(),
            ))
        }
        "/_local/outbox" => Ok(ApiError::MethodNotAllowed { allow: "GET" }.into_response()),
        // The OpenAPI 3.1 document of every route (the repository's openapi.json), this one included.
        "/openapi.json" if request.method() == http::Method::GET => {
            Ok(lambda_http::Response::builder()
                .status(http::StatusCode::OK)
                .header(http::header::CONTENT_TYPE, "application/json")
                .header(http::header::CACHE_CONTROL, "no-store")
                .body(Body::Text(include_str!("../../../openapi.json").to_owned()))
                .expect("static response"))
        }
        "/openapi.json" => Ok(ApiError::MethodNotAllowed { allow: "GET" }.into_response()),
        _ => Ok(ApiError::RouteNotFound.into_response()),
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

fn to_hyper(response: lambda_http::Response<Body>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}
