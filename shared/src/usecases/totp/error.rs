//! What the TOTP use cases fail with.

#[derive(Debug, thiserror::Error)]
pub enum TotpError {
    #[error(
        "this user has an active authenticator; send \"replace\": true to replace it (the old one stops working at once)"
    )]
    ActiveExists,
    #[error("this user has no authenticator enrolled")]
    NotEnrolled,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}
