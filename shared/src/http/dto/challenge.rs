//! `POST /v1/server/totp/challenge`: its field, body and reply.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::fields::{STRING, at, required};
use super::timestamps::whole_seconds;
use crate::domain::UserId;
use crate::http::ApiError;
use crate::http::body::Field;
use crate::usecases::TotpChallenge;

pub const CHALLENGE_FIELDS: &[Field] = &[Field {
    name: "user_id",
    expected: STRING,
}];

/// `POST /v1/server/totp/challenge`.
#[derive(Debug, Deserialize)]
pub struct ChallengeBody {
    user_id: Option<String>,
}

impl ChallengeBody {
    pub fn into_user_id(self) -> Result<UserId, ApiError> {
        UserId::parse(&required(self.user_id, "user_id")?).map_err(at("user_id"))
    }
}

/// The 201 reply to a challenge: what the backend hands to the browser.
#[derive(Debug, Serialize)]
pub struct ChallengeReply {
    challenge_id: String,
    user_id: String,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
}

impl From<TotpChallenge> for ChallengeReply {
    fn from(challenge: TotpChallenge) -> Self {
        Self {
            challenge_id: challenge.challenge_id,
            user_id: challenge.user_id.as_str().to_owned(),
            expires_at: whole_seconds(challenge.expires_at),
        }
    }
}
