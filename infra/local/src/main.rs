use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Parser;
use otp_shared::adapters::{OsRandomness, SystemClock};
use otp_shared::{ServiceSecret, Settings};

/// Runs the otp-lambda API locally: in-memory store, messages printed and listed at /_local/outbox.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let settings = Settings::from_env()?;
    let secret = match ServiceSecret::from_env()? {
        Some(secret) => secret,
        None => {
            tracing::warn!(
                "OTP_SECRET is not set: using an ephemeral key; codes end with this process"
            );
            ServiceSecret::ephemeral(&OsRandomness)
        }
    };
    let otp = otp_local::local_otp(
        settings,
        &secret,
        Arc::new(SystemClock),
        Arc::new(OsRandomness),
    );
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    tracing::info!("otp-local listening on http://{}", listener.local_addr()?);
    tokio::select! {
        served = otp_local::serve(listener, Arc::new(otp)) => served.context("serving")?,
        _ = tokio::signal::ctrl_c() => tracing::info!("stopping"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listens_on_localhost_3000_unless_told_otherwise() {
        assert_eq!(
            Args::parse_from(["otp-local"]).addr,
            "127.0.0.1:3000".parse().unwrap()
        );
        let args = Args::parse_from(["otp-local", "--addr", "127.0.0.1:8080"]);
        assert_eq!(args.addr.port(), 8080);
    }
}
