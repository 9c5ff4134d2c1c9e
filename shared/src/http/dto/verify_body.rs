//! `POST /v1/otp/verify` and `POST /v1/server/otp/verify`: the fields they accept, and which kind
//! of verify a body asks for.

use serde::Deserialize;

use super::fields::{STRING, at, required};
use crate::domain::{ChallengeId, CodeAttempt, UserId};
use crate::http::ApiError;
use crate::http::body::Field;
use crate::usecases::{Requester, TotpProof, TotpVerifyRequest, VerifyRequest};

pub const VERIFY_FIELDS: &[Field] = &[
    Field {
        name: "id",
        expected: STRING,
    },
    Field {
        name: "code",
        expected: STRING,
    },
    Field {
        name: "challenge_id",
        expected: STRING,
    },
    Field {
        name: "user_id",
        expected: STRING,
    },
    Field {
        name: "recovery_code",
        expected: STRING,
    },
];

/// `POST /v1/otp/verify` and `POST /v1/server/otp/verify`: a sent code (`id` + `code`), or an
/// authenticator or recovery code for the user of a challenge the backend issued (`challenge_id` +
/// `code` or `recovery_code`); the backend alone may name the user (`user_id`).
#[derive(Debug, Deserialize)]
pub struct VerifyBody {
    id: Option<String>,
    code: Option<String>,
    challenge_id: Option<String>,
    user_id: Option<String>,
    recovery_code: Option<String>,
}

/// Which kind of verify a body asks for.
#[derive(Debug)]
pub enum VerifyKind {
    Challenge(VerifyRequest),
    Totp(TotpVerifyRequest),
    /// A TOTP verify whose user the challenge names, once opened.
    TotpChallenge {
        challenge_id: String,
        proof: TotpProof,
    },
}

impl VerifyBody {
    pub fn into_request(self, server: bool) -> Result<VerifyKind, ApiError> {
        let named = [
            ("id", self.id.is_some()),
            ("challenge_id", self.challenge_id.is_some()),
            ("user_id", self.user_id.is_some()),
        ];
        if !server && self.user_id.is_some() {
            // The same answer for every user, enrolled or not: nothing to enumerate, nobody to lock out.
            return Err(ApiError::invalid(
                "user_id",
                "is accepted only from your backend, on POST /v1/server/otp/verify; send the challenge_id your backend got from POST /v1/server/totp/challenge",
            ));
        }
        if named.iter().filter(|(_, given)| *given).count() > 1 {
            let (second, _) = named
                .iter()
                .filter(|(_, given)| *given)
                .nth(1)
                .expect("two");
            return Err(ApiError::invalid(
                second,
                "cannot be sent with another of id, challenge_id and user_id: send one",
            ));
        }
        let totp_proof = |code: Option<String>, recovery: Option<String>| {
            Ok(match (code, recovery) {
                (Some(_), Some(_)) => {
                    return Err(ApiError::invalid(
                        "recovery_code",
                        "cannot be sent with code: send one or the other",
                    ));
                }
                (Some(code), None) => {
                    TotpProof::Code(CodeAttempt::parse(&code).map_err(at("code"))?)
                }
                (None, Some(code)) => {
                    TotpProof::RecoveryCode(CodeAttempt::parse(&code).map_err(at("recovery_code"))?)
                }
                (None, None) => {
                    return Err(ApiError::invalid("code", "is required (or recovery_code)"));
                }
            })
        };
        if let Some(id) = self.id {
            if self.recovery_code.is_some() {
                return Err(ApiError::invalid(
                    "recovery_code",
                    "goes with challenge_id, not with id",
                ));
            }
            let id = ChallengeId::parse(&id).map_err(at("id"))?;
            let code = CodeAttempt::parse(&required(self.code, "code")?).map_err(at("code"))?;
            return Ok(VerifyKind::Challenge(VerifyRequest {
                id,
                code,
                // The handler names the caller.
                requester: Requester::Browser(None),
            }));
        }
        if let Some(challenge_id) = self.challenge_id {
            if challenge_id.is_empty() || challenge_id.len() > 512 {
                return Err(ApiError::invalid(
                    "challenge_id",
                    "is not a challenge this service issued",
                ));
            }
            let proof = totp_proof(self.code, self.recovery_code)?;
            return Ok(VerifyKind::TotpChallenge {
                challenge_id,
                proof,
            });
        }
        if let Some(user_id) = self.user_id {
            let user_id = UserId::parse(&user_id).map_err(at("user_id"))?;
            let proof = totp_proof(self.code, self.recovery_code)?;
            return Ok(VerifyKind::Totp(TotpVerifyRequest {
                user_id,
                proof,
                enrollment_id: None,
                // The handler sets who asks.
                requester: Requester::Browser(None),
            }));
        }
        Err(ApiError::invalid(
            "id",
            if server {
                "is required (or challenge_id or user_id, to check an authenticator app's code)"
            } else {
                "is required (or challenge_id, to check an authenticator app's code)"
            },
        ))
    }
}
