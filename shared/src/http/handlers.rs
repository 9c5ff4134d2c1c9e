//! One handler per route: parse → use case → respond. Errors become responses in [`ApiError`].

use http::{Method, StatusCode};
use lambda_http::{Body, Error, Request, Response};

use super::dto::{SEND_FIELDS, SendBody, SendReply, VERIFY_FIELDS, VerifyBody, VerifyReply};
use super::{ApiError, body, error, json_response};
use crate::ports::{ChallengeStore, Notifier};
use crate::usecases::Otp;

/// `POST /v1/otp/send`
pub async fn send<S: ChallengeStore, N: Notifier>(
    otp: &Otp<S, N>,
    request: Request,
) -> Result<Response<Body>, Error> {
    Ok(respond(async {
        require_method(&request, &Method::POST, "POST")?;
        let body: SendBody = body::parse(&request, SEND_FIELDS)?;
        let receipt = otp.send(body.into_request(otp.settings())?).await?;
        Ok(json_response(
            StatusCode::ACCEPTED,
            &SendReply::from(receipt),
        ))
    })
    .await)
}

/// `POST /v1/otp/verify`
pub async fn verify<S: ChallengeStore, N: Notifier>(
    otp: &Otp<S, N>,
    request: Request,
) -> Result<Response<Body>, Error> {
    Ok(respond(async {
        require_method(&request, &Method::POST, "POST")?;
        let body: VerifyBody = body::parse(&request, VERIFY_FIELDS)?;
        let verify = body.into_request()?;
        let id = verify.id.clone();
        let outcome = otp.verify(verify).await?;
        Ok(json_response(
            error::verify_status(&outcome),
            &VerifyReply::new(&id, &outcome),
        ))
    })
    .await)
}

/// `POST /v1/totp/enroll`: authenticator-app enrolment is not built yet.
pub async fn enroll(request: Request) -> Result<Response<Body>, Error> {
    Ok(respond(async {
        require_method(&request, &Method::POST, "POST")?;
        Err(ApiError::NotImplemented(
            "authenticator-app (TOTP) enrolment is not available yet",
        ))
    })
    .await)
}

async fn respond(
    handled: impl Future<Output = Result<Response<Body>, ApiError>>,
) -> Response<Body> {
    handled.await.unwrap_or_else(ApiError::into_response)
}

fn require_method(request: &Request, method: &Method, allow: &'static str) -> Result<(), ApiError> {
    if request.method() == method {
        Ok(())
    } else {
        Err(ApiError::MethodNotAllowed { allow })
    }
}
