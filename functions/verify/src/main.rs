use lambda_http::{Error, run, service_fn};
use otp_shared::runtime::{Deliveries, lambda_otp_from_env};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let otp = lambda_otp_from_env(Deliveries::Nothing).await?;
    run(service_fn(|request| {
        otp_shared::http::verify(&otp, request)
    }))
    .await
}
