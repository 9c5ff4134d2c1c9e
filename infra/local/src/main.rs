use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand, ValueEnum};
use otp_local::{LocalDelivery, LocalStore, Outbox};
use otp_shared::adapters::EmfMetrics;
use otp_shared::adapters::aws::{self, DynamoStore, create_table_if_missing};
use otp_shared::adapters::siteverify::SiteVerify;
use otp_shared::adapters::{OsRandomness, SystemClock};
use otp_shared::domain::Channel;
use otp_shared::lambda::{aws_delivery, service_secret};
use otp_shared::{ServiceSecret, Settings};

/// Runs the otp-lambda API locally. By default: in-memory store, messages printed and listed at
/// /_local/outbox. With `--store dynamodb` / `--delivery aws` it uses the Lambdas' AWS adapters and
/// the standard AWS environment (AWS_REGION, credentials, AWS_ENDPOINT_URL for an emulator).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// Where codes are kept.
    #[arg(long, value_enum, default_value_t = StoreKind::Memory)]
    store: StoreKind,
    /// How messages are delivered.
    #[arg(long, value_enum, default_value_t = DeliveryKind::Outbox)]
    delivery: DeliveryKind,
    /// The DynamoDB table (with --store dynamodb).
    #[arg(long, env = "OTP_TABLE_NAME", default_value = "otp-local")]
    table: String,
    /// Create the table, with TTL enabled, if it does not exist (with --store dynamodb).
    #[arg(long)]
    create_table: bool,
    /// A browser origin (scheme://host[:port]) allowed to call the API; repeat for more. None by
    /// default: only same-origin pages (such as the demo page) and non-browser clients.
    #[arg(long = "allowed-origin", value_name = "ORIGIN")]
    allowed_origins: Vec<String>,
    /// Print the metrics the Lambdas report (CloudWatch embedded metric format) to stdout.
    #[arg(long)]
    emf_metrics: bool,
    /// A profile file to use instead of the repository's profiles.json (compiled in).
    #[arg(long, env = "OTP_PROFILES_FILE", value_name = "FILE")]
    profiles: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Checks a profile file as a deploy would load it, prints each profile and exits: 0 when every
    /// profile is valid, 1 naming the profile and field of the first problem.
    CheckProfiles {
        /// The file (JSON; see docs/profiles.md).
        file: PathBuf,
    },
}

/// Reads a profile file onto `settings`, or says which profile and field is wrong.
fn load_profiles(settings: &mut Settings, file: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("reading the profile file {}", file.display()))?;
    let builtin = settings.profiles.default_profile().as_ref().clone();
    settings.profiles = otp_shared::profiles::Profiles::parse(&text, builtin)
        .with_context(|| format!("{} is not a valid profile file", file.display()))?;
    Ok(())
}

/// `otp-local check-profiles FILE`.
fn check_profiles(mut settings: Settings, file: &Path) -> anyhow::Result<()> {
    load_profiles(&mut settings, file)?;
    for profile in settings.profiles.iter() {
        println!(
            "{}: channels {}; {} {:?}; {} s; {} attempts{}",
            profile.name,
            profile
                .channels
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            profile.spec.length.get(),
            profile.spec.alphabet,
            profile.ttl.duration().as_secs(),
            profile.max_attempts,
            profile
                .brand
                .as_ref()
                .map(|b| format!("; brand {}", b.as_str()))
                .unwrap_or_default(),
        );
    }
    println!(
        "{}: {} profiles, all valid",
        file.display(),
        settings.profiles.len()
    );
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum StoreKind {
    /// In process memory; gone when the server stops.
    Memory,
    /// The DynamoDB table the Lambdas use.
    Dynamodb,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DeliveryKind {
    /// Printed to the console and listed at GET /_local/outbox.
    Outbox,
    /// SMS by SNS and email by SES, as the send Lambda does.
    Aws,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let mut settings = Settings::from_env()?;
    if let Some(Command::CheckProfiles { file }) = &args.command {
        return check_profiles(settings, file);
    }
    if let Some(file) = &args.profiles {
        load_profiles(&mut settings, file)?;
        tracing::info!(file = %file.display(), profiles = settings.profiles.len(), "profiles loaded");
    }
    let server_key = match std::env::var("OTP_LOCAL_SERVER_KEY") {
        Ok(key) if !key.trim().is_empty() => {
            otp_local::ServerKey::parse(key.trim()).map_err(anyhow::Error::msg)?
        }
        _ => {
            let key = otp_local::ServerKey::generate(&OsRandomness);
            // As the ephemeral secret is announced: a local tool's key, for the developer to use.
            tracing::warn!(
                "OTP_LOCAL_SERVER_KEY is not set: the server key for /v1/server/ routes is {}",
                key.expose()
            );
            key
        }
    };
    let cors = otp_local::Cors::new(&args.allowed_origins).map_err(anyhow::Error::msg)?;
    let uses_aws = args.store == StoreKind::Dynamodb || args.delivery == DeliveryKind::Aws;
    let sdk = if uses_aws {
        Some(aws::sdk_config().await)
    } else {
        None
    };
    let secret = match &sdk {
        Some(sdk) => service_secret(sdk).await?,
        None => otp_shared::config::service_secret_from_env()?,
    };
    let secret = secret.unwrap_or_else(|| {
        tracing::warn!(
            "OTP_SECRET is not set: using an ephemeral key; codes end with this process"
        );
        ServiceSecret::ephemeral(&OsRandomness)
    });
    let clock = Arc::new(SystemClock);
    let store = match (&sdk, args.store) {
        (Some(sdk), StoreKind::Dynamodb) => {
            let client = aws_sdk_dynamodb::Client::new(sdk);
            if args.create_table {
                create_table_if_missing(&client, &args.table)
                    .await
                    .with_context(|| format!("creating the table {}", args.table))?;
            }
            tracing::info!(table = %args.table, "store: DynamoDB");
            LocalStore::Dynamo(DynamoStore::new(client, args.table.clone()))
        }
        _ => LocalStore::memory(),
    };
    let delivery = match (&sdk, args.delivery) {
        (Some(sdk), DeliveryKind::Aws) => {
            tracing::info!("delivery: SNS and SES");
            LocalDelivery::Aws(Box::new(aws_delivery(sdk)?), Outbox::new(clock.clone()))
        }
        _ => LocalDelivery::Outbox(Outbox::new(clock.clone())),
    };
    // The outbox is the phone: where it "delivers", `default` may call too, so the demo's "Call me
    // instead" works with nothing configured. On AWS a profile must list `voice` itself.
    if matches!(delivery, LocalDelivery::Outbox(_)) {
        settings.profiles.allow_on_default(Channel::Voice);
    }
    let namespace = settings.metrics_namespace.clone();
    let bot_checks = settings.profiles.use_bot_checks();
    let mut otp = otp_local::local_otp_on(
        store,
        delivery,
        settings,
        &secret,
        clock.clone(),
        Arc::new(OsRandomness),
    );
    if args.emf_metrics {
        otp = otp.with_metrics(Arc::new(EmfMetrics::stdout(namespace, clock)));
    }
    // As the send Lambda: a profile with a bot check needs the provider's secret.
    if bot_checks {
        let bot_check = match &sdk {
            Some(sdk) => otp_shared::lambda::bot_check_from_env(sdk).await?,
            None => SiteVerify::from_lookup(otp_shared::config::env_var)?,
        }
        .context("a profile has a bot check: set OTP_CAPTCHA_SECRET (the provider's secret key)")?;
        otp = otp.with_bot_check(Arc::new(bot_check));
    }
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    tracing::info!("otp-local listening on http://{}", listener.local_addr()?);
    tokio::select! {
        served = otp_local::serve(listener, Arc::new(otp), cors, server_key) => served.context("serving")?,
        _ = tokio::signal::ctrl_c() => tracing::info!("stopping"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_in_memory_on_localhost_3000_unless_told_otherwise() {
        let args = Args::parse_from(["otp-local"]);
        assert_eq!(args.addr, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(args.store, StoreKind::Memory);
        assert_eq!(args.delivery, DeliveryKind::Outbox);
        assert!(!args.create_table);
        assert!(!args.emf_metrics);
        let args = Args::parse_from([
            "otp-local",
            "--addr",
            "127.0.0.1:8080",
            "--store",
            "dynamodb",
            "--delivery",
            "aws",
            "--create-table",
            "--table",
            "codes",
        ]);
        assert_eq!(args.addr.port(), 8080);
        assert_eq!(args.store, StoreKind::Dynamodb);
        assert_eq!(args.delivery, DeliveryKind::Aws);
        assert!(args.create_table);
        assert_eq!(args.table, "codes");
        let args = Args::parse_from([
            "otp-local",
            "--allowed-origin",
            "https://app.example.com",
            "--allowed-origin",
            "http://127.0.0.1:5173",
        ]);
        assert_eq!(
            args.allowed_origins,
            ["https://app.example.com", "http://127.0.0.1:5173"]
        );
    }
}
