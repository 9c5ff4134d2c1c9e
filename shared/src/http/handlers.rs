//! One handler per route: parse → use case → respond. Errors become responses in [`ApiError`].

use http::{Method, StatusCode};
use lambda_http::{Body, Error, Request, Response};

use lambda_http::RequestExt as _;

use super::client::{client_address, server_principal};
use super::dto::{
    CHALLENGE_FIELDS, ChallengeBody, ChallengeReply, ENROLL_FIELDS, EnrollBody, EnrollReply,
    SEND_FIELDS, SERVER_ONLY_SEND_FIELDS, SendBody, SendReply, StatusReply, TotpVerifyReply,
    VERIFY_FIELDS, VerifyBody, VerifyKind, VerifyReply,
};
use super::json_response::json_response;
use super::{ApiError, body, error};
use crate::domain::{IdempotencyKey, Invalid, UserId};
use crate::ports::{ChallengeStore, Notifier, TotpStore};
use crate::routes::{Function, Handler, Route, SERVER_PREFIX};
use crate::usecases::{Caller, ChallengeRefusal, Idempotency, Otp, Requester, TotpVerifyRequest};

/// Whether a request came by a server route (the route table's are exactly those under
/// [`SERVER_PREFIX`]): only its caller may go beyond a profile's lists. API Gateway may put a stage
/// name before the route's path, hence `contains`; any path under the prefix counts, so a request
/// that reached the function by a path of no route still needs the server's credentials.
fn is_server_route(request: &Request) -> bool {
    request.uri().path().contains(SERVER_PREFIX)
}

/// The authenticated backend behind a server route, or 401. On AWS, API Gateway's `AWS_IAM`
/// authorizer has already refused an unsigned call; this also refuses a request that reached the
/// function some other way.
fn require_server(request: &Request) -> Result<String, ApiError> {
    server_principal(request).ok_or(ApiError::Unauthorized)
}

/// `POST /v1/otp/send` (a browser: a profile, a destination, values from the profile's lists) and
/// `POST /v1/server/otp/send` (the app's backend: also strength, lifetime, text and reference
/// within the profile's bounds).
pub async fn send<S: ChallengeStore, N: Notifier>(
    otp: &Otp<S, N>,
    request: Request,
) -> Result<Response<Body>, Error> {
    Ok(respond(async {
        require_method(&request, Handler::Send)?;
        let caller = if is_server_route(&request) {
            Caller::Server(require_server(&request)?)
        } else {
            Caller::Public
        };
        let body: SendBody = body::parse(&request, SEND_FIELDS)?;
        let server = matches!(caller, Caller::Server(_));
        if !server && let Some(field) = body::first_present(&request, SERVER_ONLY_SEND_FIELDS) {
            return Err(ApiError::invalid(
                field,
                "may be set only by your backend, on POST /v1/server/otp/send",
            ));
        }
        // The per-client quota is for browsers: on a server route the address is the backend's,
        // which sends for all its users.
        let client = if server {
            None
        } else {
            client_address(&request)
        };
        let mut send = body.into_request(otp.settings(), client, server)?;
        send.requester = requester(&request, &caller);
        send.idempotency = idempotency(&request, caller)?;
        let receipt = otp.send(send).await?;
        let replayed = receipt.replayed;
        let mut response = json_response(StatusCode::ACCEPTED, &SendReply::from(receipt));
        if replayed {
            response
                .headers_mut()
                .insert(IDEMPOTENT_REPLAYED, http::HeaderValue::from_static("true"));
        }
        Ok(response)
    })
    .await)
}

/// Whom the guess budget counts a request under: the browser's network, or the backend.
fn requester(request: &Request, caller: &Caller) -> Requester {
    match caller {
        Caller::Server(principal) => Requester::Server(principal.clone()),
        Caller::Public => Requester::Browser(client_address(request)),
    }
}

/// Marks a reply that repeats the first reply to the same `Idempotency-Key` (as Stripe does).
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";

/// The `Idempotency-Key` header, if any, bound to this request's body and scoped to its caller.
fn idempotency(request: &Request, caller: Caller) -> Result<Option<Idempotency>, ApiError> {
    let Some(value) = request.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .map_err(|_| Invalid::new("must be visible ASCII"))
        .and_then(IdempotencyKey::parse)
        .map_err(|e| ApiError::invalid("Idempotency-Key", e.0))?;
    Ok(Some(Idempotency {
        key,
        caller,
        request: body::canonical(request),
    }))
}

/// `POST /v1/otp/verify` (a sent code, or a TOTP or recovery code under a challenge) and
/// `POST /v1/server/otp/verify` (also a TOTP or recovery code for a named user).
pub async fn verify<S: ChallengeStore + TotpStore, N: Notifier>(
    otp: &Otp<S, N>,
    request: Request,
) -> Result<Response<Body>, Error> {
    Ok(respond(async {
        require_method(&request, Handler::Verify)?;
        let server = is_server_route(&request);
        let caller = if server {
            Caller::Server(require_server(&request)?)
        } else {
            Caller::Public
        };
        let body: VerifyBody = body::parse(&request, VERIFY_FIELDS)?;
        let mut verify = match body.into_request(server)? {
            VerifyKind::Challenge(mut verify) => {
                verify.requester = requester(&request, &caller);
                let id = verify.id.clone();
                let verification = otp.verify(verify).await?;
                let mut response = json_response(
                    error::verify_status(&verification.outcome),
                    &VerifyReply::new(&id, &verification),
                );
                if let Some(wait) = verification.retry_after {
                    response
                        .headers_mut()
                        .insert(http::header::RETRY_AFTER, wait.as_secs().into());
                }
                return Ok(response);
            }
            VerifyKind::Totp(verify) => verify,
            VerifyKind::TotpChallenge {
                challenge_id,
                proof,
            } => match otp.open_totp_challenge(&challenge_id) {
                Ok(opened) => TotpVerifyRequest {
                    user_id: opened.user_id,
                    proof,
                    enrollment_id: Some(opened.enrollment_id),
                    requester: Requester::Browser(None),
                },
                Err(ChallengeRefusal::Expired) => return Err(ApiError::ChallengeExpired),
                Err(ChallengeRefusal::Invalid) => {
                    return Err(ApiError::invalid(
                        "challenge_id",
                        "is not a challenge this service issued",
                    ));
                }
            },
        };
        verify.requester = requester(&request, &caller);
        let (user_id, method) = (verify.user_id.clone(), verify.proof.method());
        let outcome = otp.verify_totp(verify).await?;
        let mut response = json_response(
            error::totp_verify_status(&outcome),
            &TotpVerifyReply::new(&user_id, method, &outcome),
        );
        if let Some(seconds) = error::totp_retry_after(&outcome) {
            response
                .headers_mut()
                .insert(http::header::RETRY_AFTER, seconds.into());
        }
        Ok(response)
    })
    .await)
}

/// `GET /.well-known/jwks.json`: the keys that verify proof tokens. Cacheable: a key stays
/// published for a whole rotation, far longer than the cache lasts.
pub async fn jwks<S, N>(otp: &Otp<S, N>, request: Request) -> Result<Response<Body>, Error> {
    Ok(respond(async {
        require_method(&request, Handler::Jwks)?;
        let mut response = json_response(StatusCode::OK, &otp.proof().jwks());
        response.headers_mut().insert(
            http::header::CACHE_CONTROL,
            http::HeaderValue::from_static("public, max-age=300"),
        );
        Ok(response)
    })
    .await)
}

/// Whether `request`'s path (after any stage name) is one of `function`'s routes that `handler`
/// answers, as the route table says.
fn routed_to(request: &Request, function: Function, handler: Handler) -> bool {
    Route::served_by(function, request.uri().path()).any(|route| route.handler == handler)
}

/// The verify function's routes (`POST /v1/otp/verify`, `POST /v1/server/otp/verify` and `GET
/// /.well-known/jwks.json`): the key set's path to [`jwks`], any other to [`verify`].
pub async fn verify_function<S: ChallengeStore + TotpStore, N: Notifier>(
    otp: &Otp<S, N>,
    request: Request,
) -> Result<Response<Body>, Error> {
    if routed_to(&request, Function::Verify, Handler::Jwks) {
        jwks(otp, request).await
    } else {
        verify(otp, request).await
    }
}

/// The enroll function's routes (the enrolment routes and the TOTP challenge, all server routes):
/// the challenge's path to [`totp_challenge`], any other to [`enroll`].
pub async fn enroll_function<S: TotpStore, N>(
    otp: &Otp<S, N>,
    request: Request,
) -> Result<Response<Body>, Error> {
    if routed_to(&request, Function::Enroll, Handler::TotpChallenge) {
        totp_challenge(otp, request).await
    } else {
        enroll(otp, request).await
    }
}

/// `POST /v1/server/totp/challenge`: a challenge for a user who passed the first factor, for the
/// browser to send with the authenticator's code.
pub async fn totp_challenge<S: TotpStore, N>(
    otp: &Otp<S, N>,
    request: Request,
) -> Result<Response<Body>, Error> {
    Ok(respond(async {
        require_method(&request, Handler::TotpChallenge)?;
        require_server(&request)?;
        let body: ChallengeBody = body::parse(&request, CHALLENGE_FIELDS)?;
        let challenge = otp.issue_totp_challenge(body.into_user_id()?).await?;
        Ok(json_response(
            StatusCode::CREATED,
            &ChallengeReply::from(challenge),
        ))
    })
    .await)
}

/// The enrolment routes: `POST /v1/server/totp/enroll`, and `GET` / `DELETE
/// /v1/server/totp/enroll/{user_id}` (the path parameter tells them apart, as API Gateway sets it).
pub async fn enroll<S: TotpStore, N>(
    otp: &Otp<S, N>,
    request: Request,
) -> Result<Response<Body>, Error> {
    Ok(respond(async {
        let Some(user_id) = path_user_id(&request)? else {
            require_method(&request, Handler::Enroll)?;
            require_server(&request)?;
            let body: EnrollBody = body::parse(&request, ENROLL_FIELDS)?;
            let created = otp.enroll_totp(body.into_request()?).await?;
            return Ok(json_response(
                StatusCode::CREATED,
                &EnrollReply::from(&created),
            ));
        };
        require_method(&request, Handler::Enrolment)?;
        require_server(&request)?;
        match *request.method() {
            Method::GET => {
                let status = otp.totp_status(&user_id).await?;
                Ok(json_response(
                    StatusCode::OK,
                    &StatusReply::new(&user_id, &status),
                ))
            }
            Method::DELETE => {
                otp.remove_totp(&user_id).await?;
                Ok(Response::builder()
                    .status(StatusCode::NO_CONTENT)
                    .header(http::header::CACHE_CONTROL, "no-store")
                    .body(Body::Empty)
                    .expect("static response"))
            }
            _ => Err(ApiError::MethodNotAllowed {
                allow: Route::of(Handler::Enrolment).allow(),
            }),
        }
    })
    .await)
}

/// The `{user_id}` path parameter as API Gateway sets it or, where nothing sets path parameters (a
/// Lambda function URL, `cargo lambda watch`), what follows the enrolment route's path before
/// `{user_id}` (`/v1/server/totp/enroll/`).
/// Percent-decoded once: `%` is not allowed in a user id, so an already decoded value is unchanged.
fn path_user_id(request: &Request) -> Result<Option<UserId>, ApiError> {
    let parameters = request.path_parameters();
    let path = request.uri().path();
    let prefix = Route::of(Handler::Enrolment).fixed_prefix();
    let raw = match parameters.first("user_id") {
        Some(raw) => raw,
        None => match path.find(prefix) {
            Some(at) => &path[at + prefix.len()..],
            None => return Ok(None),
        },
    };
    let decoded = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| ApiError::invalid("user_id", "is not valid UTF-8"))?;
    UserId::parse(&decoded)
        .map(Some)
        .map_err(|e| ApiError::invalid("user_id", e.0))
}

async fn respond(
    handled: impl Future<Output = Result<Response<Body>, ApiError>>,
) -> Response<Body> {
    handled.await.unwrap_or_else(ApiError::into_response)
}

/// `405`, with the route table's `Allow`, unless the request's method is one the table gives
/// `handler`'s path.
fn require_method(request: &Request, handler: Handler) -> Result<(), ApiError> {
    let route = Route::of(handler);
    if route.allows(request.method().as_str()) {
        Ok(())
    } else {
        Err(ApiError::MethodNotAllowed {
            allow: route.allow(),
        })
    }
}
