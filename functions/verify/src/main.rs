use lambda_http::{Error, run, service_fn};
use otp_shared::lambda::verify_otp_from_env;

#[tokio::main]
async fn main() -> Result<(), Error> {
    otp_shared::logging::init_lambda_logging();
    let otp = verify_otp_from_env().await?;
    run(service_fn(|request| {
        otp_shared::http::verify_function(&otp, request)
    }))
    .await
}
