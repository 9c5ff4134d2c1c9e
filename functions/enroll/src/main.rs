use lambda_http::{Error, run, service_fn};
use otp_shared::lambda::enroll_otp_from_env;

#[tokio::main]
async fn main() -> Result<(), Error> {
    otp_shared::logging::init_lambda_logging();
    let otp = enroll_otp_from_env().await?;
    run(service_fn(|request| {
        otp_shared::http::enroll_function(&otp, request)
    }))
    .await
}
