//! Which of template.yaml's functions a request's work belongs to. otp-local serves every route in
//! one process; on AWS each route runs in its own function, with its own IAM policy. [`route`]
//! tags the work of each request with the function API Gateway would invoke for it, so whatever
//! that work calls (an SDK interceptor, say) can tell which function's permissions it needs: the
//! integration tests hold each function's AWS calls to its policy that way.
//!
//! [`route`]: crate::route

use std::future::Future;

/// A function of template.yaml.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    /// `SendFunction`: `POST /v1/otp/send`, `POST /v1/server/otp/send`.
    Send,
    /// `VerifyFunction`: `POST /v1/otp/verify`, `POST /v1/server/otp/verify`, the JWKS.
    Verify,
    /// `EnrollFunction`: the `/v1/server/totp/` routes.
    Enroll,
}

tokio::task_local! {
    static CURRENT: Function;
}

impl Function {
    pub const ALL: [Self; 3] = [Self::Send, Self::Verify, Self::Enroll];

    /// The function's logical id in template.yaml.
    pub fn logical_id(self) -> &'static str {
        match self {
            Self::Send => "SendFunction",
            Self::Verify => "VerifyFunction",
            Self::Enroll => "EnrollFunction",
        }
    }

    /// Runs `work` as this function's.
    pub async fn run<F: Future>(self, work: F) -> F::Output {
        CURRENT.scope(self, work).await
    }

    /// The function whose work is running on this task, if any.
    pub fn current() -> Option<Self> {
        CURRENT.try_with(|function| *function).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_knows_its_function_and_nothing_else_does() {
        assert_eq!(Function::current(), None);
        let inside = Function::Verify.run(async { Function::current() }).await;
        assert_eq!(inside, Some(Function::Verify));
        assert_eq!(Function::current(), None);
    }
}
