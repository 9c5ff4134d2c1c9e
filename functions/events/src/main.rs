use lambda_runtime::{Error, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    otp_shared::logging::init_lambda_logging();
    let metrics = otp_shared::delivery_handler::metrics_from_env()?;
    run(service_fn(|event| {
        otp_shared::delivery_handler::handle(&metrics, event)
    }))
    .await
}
