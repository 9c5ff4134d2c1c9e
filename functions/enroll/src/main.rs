use lambda_http::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    otp_shared::logging::init_lambda_logging();
    run(service_fn(otp_shared::http::enroll)).await
}
