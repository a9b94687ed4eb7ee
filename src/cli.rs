//! The `seatledger` command: parses flags (each also an environment variable) and calls into the
//! library.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use jiff::Timestamp;

use crate::clock::{SharedClock, SimulatedClock, SystemClock};
use crate::db::{self, Db};
use crate::domain::{Email, PersonName};
use crate::email::transport::Transport;
use crate::jobs::{self, Intervals};
use crate::ops::{self, Ops};
use crate::{app, password, webhooks};

#[derive(Debug, Parser)]
#[command(
    name = "seatledger",
    version,
    about = "Trials, orders, licence batches and seats for MSP partners"
)]
pub struct Cli {
    /// Database URL: `sqlite://PATH` (created if missing) or `postgres://USER@HOST:PORT/DB`.
    #[arg(
        long,
        env = "SEATLEDGER_DATABASE",
        default_value = "sqlite://seatledger.db",
        global = true
    )]
    pub database: String,

    /// Base URL people reach the console at, used in links in emails and pages; `https://`
    /// also marks cookies Secure. Defaults to http://LISTEN for `serve`.
    #[arg(long, env = "SEATLEDGER_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,

    /// SMTP server for outgoing email: `smtp://HOST:PORT` (plain), `smtp://USER:PASS@HOST:587?tls=required`
    /// (STARTTLS) or `smtps://USER:PASS@HOST` (TLS). Without it, emails are kept in the local
    /// mailbox the operator reads in the console.
    #[arg(long, env = "SEATLEDGER_SMTP_URL", global = true)]
    pub smtp_url: Option<String>,

    /// The sender of outgoing email.
    #[arg(
        long,
        env = "SEATLEDGER_SMTP_FROM",
        default_value = "seatledger <seatledger@localhost>",
        global = true
    )]
    pub smtp_from: String,

    /// The instance's secret key, 32 bytes in base64 (e.g. from `openssl rand -base64 32`): it
    /// seals webhook signing secrets in the database. Keep it outside the database and its
    /// backups; every instance sharing a database needs the same key. Without it webhooks are off.
    #[arg(
        long,
        env = "SEATLEDGER_SECRET_KEY",
        hide_env_values = true,
        global = true
    )]
    pub secret_key: Option<String>,

    /// Let webhook endpoints point at loopback, private and link-local addresses, which are
    /// refused by default (at registration and at every delivery). The variable takes 1, true,
    /// yes or on (and 0, false, no or off).
    #[arg(
        long,
        env = "SEATLEDGER_WEBHOOK_ALLOW_PRIVATE",
        global = true,
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub webhook_allow_private: bool,

    /// How log lines are written to stderr: `text` for people, `json` (one object a line) for a
    /// log collector.
    #[arg(
        long,
        env = "SEATLEDGER_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

impl Cli {
    /// Installs the log for this run: stderr, filtered by `SEATLEDGER_LOG`, in `--log-format`.
    pub fn install_log(&self) {
        let filter = tracing_subscriber::EnvFilter::try_from_env("SEATLEDGER_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
        let log = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr);
        match self.log_format {
            LogFormat::Text => log.init(),
            LogFormat::Json => log.json().with_current_span(true).init(),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web console (and the scheduler and the email and webhook delivery workers).
    Serve(ServeArgs),
    /// Bring the database schema up to date and exit.
    Migrate(MigrateArgs),
    /// Seed demo data and print the demo logins; with --companies, seed bulk data for benchmarks.
    Demo(DemoArgs),
    /// Replay the seat ledger and verify every invariant; exits non-zero naming what is broken.
    Check,
    /// Run one pass of the scheduled work (and one email and one webhook delivery round) at an
    /// instant and exit.
    Tick(TickArgs),
    /// Snapshot the SQLite database into a new file while `serve` runs, verified before it is
    /// kept (PostgreSQL: use pg_dump).
    Backup(BackupArgs),
    /// The instance's operator.
    #[command(subcommand)]
    Operator(OperatorCommand),
}

#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Create the operator and print a set-password link valid for an hour (for the existing
    /// operator with this email, a new link; its old links stop working).
    Create(OperatorCreateArgs),
}

#[derive(Debug, Args)]
pub struct OperatorCreateArgs {
    /// The operator's email address, which they sign in with.
    #[arg(long)]
    pub email: String,
    #[arg(long, default_value = "")]
    pub first_name: String,
    #[arg(long, default_value = "")]
    pub last_name: String,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// List the migrations that would run, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The snapshot file to create; it must not exist.
    #[arg(long)]
    pub to: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SEATLEDGER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Seconds between expiry passes.
    #[arg(long, env = "SEATLEDGER_PASS_INTERVAL", default_value_t = 30)]
    pub pass_interval: u64,
    /// Seconds between email (and webhook) delivery rounds.
    #[arg(long, env = "SEATLEDGER_DELIVERY_INTERVAL", default_value_t = 5)]
    pub delivery_interval: u64,
    /// Run on a simulated clock that starts at this instant (RFC 3339, e.g. 2026-11-26T09:00:00Z)
    /// and advances in real time.
    #[arg(long, env = "SEATLEDGER_NOW")]
    pub now: Option<Timestamp>,
    /// Seed the demo data first if the database is empty, and print the demo logins.
    #[arg(long)]
    pub demo: bool,
    /// Behind a reverse proxy: take each client's address (which sign-in locks and rate limits
    /// count by) from the last entry of `X-Forwarded-For` instead of the connection. Only set it
    /// when a proxy you run always sets that header; otherwise anyone can claim any address.
    #[arg(
        long,
        env = "SEATLEDGER_TRUST_FORWARDED_FOR",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub trust_forwarded_for: bool,
    /// Serve `/metrics` on the main listener to requests bearing this token
    /// (`Authorization: Bearer TOKEN`); without it (and without --metrics-listen) there is no
    /// `/metrics`.
    #[arg(long, env = "SEATLEDGER_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,
    /// Also serve `/metrics`, without a token, on this address (bind it where only the scraper
    /// reaches, e.g. a private interface).
    #[arg(long, env = "SEATLEDGER_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Seed this many bulk companies (for benchmarks) instead of the demo world.
    #[arg(long)]
    pub companies: Option<u64>,
    /// Learners per bulk company.
    #[arg(long, default_value_t = 100)]
    pub learners: u64,
    /// The instant the demo is seeded at (default: now).
    #[arg(long, env = "SEATLEDGER_NOW")]
    pub now: Option<Timestamp>,
}

#[derive(Debug, Args)]
pub struct TickArgs {
    /// The instant the pass runs at (RFC 3339; default: now).
    #[arg(long)]
    pub at: Option<Timestamp>,
}

pub fn main(cli: Cli) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("seatledger: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let transport = Transport::new(cli.smtp_url.as_deref(), &cli.smtp_from)?;
    let webhooks = webhooks::Settings {
        key: match cli.secret_key.as_deref() {
            Some(key) => Some(Arc::new(
                webhooks::SecretKey::parse(key).context("SEATLEDGER_SECRET_KEY")?,
            )),
            None => None,
        },
        allow_private: cli.webhook_allow_private,
    };
    let db = Db::connect(&cli.database).await?;
    // Neither changes the database, so neither migrates it.
    match &cli.command {
        Command::Migrate(MigrateArgs { dry_run: true }) => return dry_run(&db).await,
        Command::Backup(args) => return backup(&db, &args.to).await,
        _ => {}
    }
    db::migrations::run(&db).await?;
    match cli.command {
        Command::Migrate(_) => println!("database is up to date"),
        Command::Backup(_) => unreachable!("backups return before migrating"),
        Command::Serve(args) => serve(db, cli.public_url, transport, webhooks, args).await?,
        Command::Demo(args) => demo(&db, args).await?,
        Command::Check => return check(&db).await,
        Command::Operator(OperatorCommand::Create(args)) => {
            let public_url = cli.public_url.unwrap_or_else(default_public_url);
            create_operator(db, &public_url, &args).await?;
        }
        Command::Tick(args) => {
            let at = args.at.unwrap_or_else(Timestamp::now);
            let public_url = cli.public_url.unwrap_or_else(default_public_url);
            let sender = webhooks::client::Sender::new(webhooks.allow_private);
            let ops = Ops::new(
                db.clone(),
                Arc::new(SimulatedClock::starting_at(at)),
                &public_url,
            )
            .with_webhooks(webhooks);
            let started = Instant::now();
            let pass = ops::expiry::run_pass(&ops, at).await?;
            let took = started.elapsed();
            let delivery = jobs::delivery::deliver_due(&db, &transport, at).await?;
            let hooks = jobs::webhooks::deliver_due(&ops, &sender, at).await?;
            println!(
                "pass at {at} in {:.1} ms: {} trials ending, {} trials expired, {} batches expiring, \
                 {} batches expired; emails: {} sent, {} kept in the mailbox, {} failed attempts; \
                 webhooks: {} delivered, {} failed attempts",
                took.as_secs_f64() * 1000.0,
                pass.trials_ending,
                pass.trials_expired,
                pass.batches_expiring,
                pass.batches_expired,
                delivery.sent,
                delivery.kept,
                delivery.failed_attempts,
                hooks.delivered,
                hooks.failed_attempts
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn serve(
    db: Db,
    public_url: Option<String>,
    transport: Transport,
    webhooks: webhooks::Settings,
    args: ServeArgs,
) -> anyhow::Result<()> {
    let clock: SharedClock = match args.now {
        Some(start) => Arc::new(SimulatedClock::starting_at(start)),
        None => Arc::new(SystemClock),
    };
    if args.demo && db::seed::is_empty(&db).await? {
        let hash = password::hash_blocking(db::seed::DEMO_PASSWORD.to_owned()).await;
        print_logins(&db::seed::demo(&db, &hash, clock.now()).await?);
    }
    let config = app::Config {
        listen: args.listen,
        public_url,
        transport,
        webhooks,
        trust_forwarded_for: args.trust_forwarded_for,
        background: Some(Intervals {
            pass: Duration::from_secs(args.pass_interval.max(1)),
            delivery: Duration::from_secs(args.delivery_interval.max(1)),
        }),
        metrics: app::MetricsAccess {
            token: args.metrics_token.filter(|t| !t.is_empty()),
            listen: args.metrics_listen,
        },
    };
    let (told, signalled) = tokio::sync::oneshot::channel();
    let signal = shutdown_signal()?;
    let shutdown = async move {
        signal.await;
        let _ = told.send(());
    };
    let running = app::start(db, clock, config, shutdown).await?;
    // A new instance: nobody can sign in until the operator exists.
    if let Some(link) = ops::operator::setup_link(&running.app.ops).await? {
        tracing::warn!(%link, "no operator yet: open the set-up link within an hour to create it");
        println!("No operator yet. Open this single-use link within an hour to create it:\n{link}");
    }
    tracing::info!(url = %running.public_url, "serving");
    println!("seatledger is serving on {}", running.public_url);
    if let Some(at) = running.metrics_address {
        println!("metrics on http://{at}/metrics");
    }
    let wait = running.wait();
    tokio::pin!(wait);
    tokio::select! {
        ended = &mut wait => return Ok(ended?),
        Ok(()) = signalled => {}
    }
    tracing::info!("stopping: finishing the requests in flight and the delivery in hand");
    match tokio::time::timeout(SHUTDOWN_BOUND, wait).await {
        Ok(ended) => {
            ended?;
            tracing::info!("stopped");
            Ok(())
        }
        Err(_) => anyhow::bail!(
            "did not stop within {} s; whatever was leased is retried once its lease runs out",
            SHUTDOWN_BOUND.as_secs()
        ),
    }
}

/// How long `serve` waits, once told to stop, for what is in hand: a request ends by its
/// timeout (60 s), an email by the transport's (30 s), a webhook round by the client's (15 s).
const SHUTDOWN_BOUND: Duration = Duration::from_secs(75);

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed now, before serving starts, so a
/// SIGTERM that comes early still stops gracefully.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    })
}

async fn demo(db: &Db, args: DemoArgs) -> anyhow::Result<()> {
    let now = args.now.unwrap_or_else(Timestamp::now);
    let hash = password::hash_blocking(db::seed::DEMO_PASSWORD.to_owned()).await;
    match args.companies {
        Some(companies) => {
            let started = Instant::now();
            let seeded = db::seed::bulk(db, &hash, companies, args.learners, now).await?;
            println!(
                "seeded {} companies with {} learners under partner {} in {:.1} s (password {})",
                seeded.companies,
                seeded.learners,
                seeded.partner,
                started.elapsed().as_secs_f64(),
                db::seed::DEMO_PASSWORD
            );
        }
        None => {
            if !db::seed::is_empty(db).await? {
                anyhow::bail!("the database already holds data; seed the demo into an empty one");
            }
            print_logins(&db::seed::demo(db, &hash, now).await?);
        }
    }
    Ok(())
}

/// Where links point when the command has no `--public-url`: the default `serve` address.
fn default_public_url() -> String {
    "http://127.0.0.1:8080".to_owned()
}

async fn create_operator(
    db: Db,
    public_url: &str,
    args: &OperatorCreateArgs,
) -> anyhow::Result<()> {
    let email = Email::parse(&args.email).map_err(|e| anyhow::anyhow!("--email: {e}"))?;
    let first =
        PersonName::parse(&args.first_name).map_err(|e| anyhow::anyhow!("--first-name: {e}"))?;
    let last =
        PersonName::parse(&args.last_name).map_err(|e| anyhow::anyhow!("--last-name: {e}"))?;
    let ops = Ops::new(db, Arc::new(SystemClock), public_url);
    let outcome = ops::operator::create_operator_with_link(&ops, &email, (&first, &last)).await;
    let (link, created) = match outcome {
        Ok(done) => done,
        Err(ops::Error::Conflict(ops::Conflict::OperatorExists)) => anyhow::bail!(
            "this instance already has its operator, with another email address; it can reset \
             its password from the sign-in page"
        ),
        Err(e) => return Err(e.into()),
    };
    if created {
        println!("Created the operator {email}.");
    } else {
        println!(
            "{email} is already the operator: here is a new link; the old ones no longer work."
        );
    }
    println!("Open this link within an hour to set the password:\n{link}");
    Ok(())
}

fn print_logins(logins: &[db::seed::DemoLogin]) {
    println!(
        "Demo logins (password for all: {}):",
        db::seed::DEMO_PASSWORD
    );
    println!(
        "{:<16} {:<24} {:<36} {:<34} password",
        "role", "company", "state", "email"
    );
    for l in logins {
        println!(
            "{:<16} {:<24} {:<36} {:<34} {}",
            l.role,
            l.company,
            l.state,
            l.email,
            db::seed::DEMO_PASSWORD
        );
    }
}

async fn dry_run(db: &Db) -> anyhow::Result<ExitCode> {
    let status = db::migrations::status(db).await?;
    if status.pending.is_empty() {
        println!(
            "database is up to date (migration {}); nothing would run",
            status.version
        );
    } else {
        println!(
            "database is at migration {}; `seatledger migrate` would apply:",
            status.version
        );
        for m in &status.pending {
            println!("  {}", m.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn backup(db: &Db, to: &std::path::Path) -> anyhow::Result<ExitCode> {
    let snapshot = db::backup::to_file(db, to).await?;
    println!(
        "backed up to {} ({:.1} MB, migration {}) in {:.1} s, verified in {:.1} s: \
         it opens, its migrations are current, and check holds \
         ({} batches, {} users, {} seat events)",
        snapshot.path.display(),
        snapshot.bytes as f64 / 1e6,
        snapshot.migration,
        snapshot.copy_took.as_secs_f64(),
        snapshot.verify_took.as_secs_f64(),
        snapshot.check.batches,
        snapshot.check.users,
        snapshot.check.events
    );
    Ok(ExitCode::SUCCESS)
}

async fn check(db: &Db) -> anyhow::Result<ExitCode> {
    let report = db::check::run(db).await?;
    println!(
        "checked {} batches, {} users, {} seat events, the NFR seats of {} partners",
        report.batches, report.users, report.events, report.partners
    );
    if report.is_clean() {
        println!("all invariants hold");
        return Ok(ExitCode::SUCCESS);
    }
    for problem in &report.problems {
        println!("BROKEN: {problem}");
    }
    if report.unlisted_problems > 0 {
        println!("... and {} more problems", report.unlisted_problems);
    }
    Ok(ExitCode::FAILURE)
}
