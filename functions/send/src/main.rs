use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let otp = otp_shared::runtime::lambda_otp_from_env()?;
    run(service_fn(|request| otp_shared::http::send(&otp, request))).await
}
