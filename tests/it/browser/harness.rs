//! The processes a journey runs against: ChromeDriver (with the Chromium it starts) on a free
//! port, and the `seatledger serve` server (with the demo, or a new instance); each killed on
//! drop.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::Uri;
use fantoccini::{Client, ClientBuilder};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tempfile::TempDir;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The instant the demo world is seeded at; the server's simulated clock starts there.
const DEMO_NOW: &str = "2026-11-26T09:00:00Z";

/// What the server prints once it accepts connections, followed by its URL.
const SERVING: &str = "seatledger is serving on ";

/// How long the server may take to migrate, seed the demo and start listening.
const SERVER_START: Duration = Duration::from_secs(60);
/// How many times ChromeDriver's /status is asked before giving up, and how long apart.
const DRIVER_POLLS: u32 = 200;
const DRIVER_POLL_EVERY: Duration = Duration::from_millis(50);
/// How long one /status request may take.
const DRIVER_ANSWER: Duration = Duration::from_secs(2);

/// Whether Chromium and ChromeDriver are installed; panics when they are missing but required.
pub(crate) fn browser_available() -> bool {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|p| !Path::new(p).exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        !crate::support::required("SEATLEDGER_REQUIRE_BROWSER"),
        "browser tests are required (SEATLEDGER_REQUIRE_BROWSER=1) but {} not installed",
        missing.join(" and ")
    );
    eprintln!("skipped: Chromium/ChromeDriver not installed");
    false
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free local port")
        .port()
}

/// A ChromeDriver child process on a port of its own, killed (with the Chromium it started) on
/// drop.
pub(crate) struct ChromeDriver {
    child: Child,
    port: u16,
}

impl ChromeDriver {
    /// Starts ChromeDriver and waits until it is ready for new sessions.
    pub(crate) async fn start() -> Self {
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // A process group of its own, so dropping it also ends the browsers it started.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        let mut driver = Self { child, port };
        driver.wait_until_ready().await;
        driver
    }

    /// The WebDriver URL to connect to.
    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Polls /status (a bounded number of times) while the process starts up.
    async fn wait_until_ready(&mut self) {
        let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .build_http::<Empty<Bytes>>();
        let status: Uri = format!("{}/status", self.url())
            .parse()
            .expect("status URL");
        for _ in 0..DRIVER_POLLS {
            if let Ok(Some(exit)) = self.child.try_wait() {
                panic!("{CHROMEDRIVER} exited while starting: {exit}");
            }
            let answer = tokio::time::timeout(DRIVER_ANSWER, async {
                let response = http.get(status.clone()).await.ok()?;
                let body = response.into_body().collect().await.ok()?.to_bytes();
                serde_json::from_slice::<serde_json::Value>(&body).ok()
            })
            .await;
            if matches!(&answer, Ok(Some(a)) if a["value"]["ready"] == true) {
                return;
            }
            // Start-up polling: nothing to wait on but the process getting ready.
            tokio::time::sleep(DRIVER_POLL_EVERY).await;
        }
        panic!(
            "{CHROMEDRIVER} did not report ready on port {} after {DRIVER_POLLS} tries",
            self.port
        );
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // The whole process group: ChromeDriver and any Chromium a failed test left open.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A headless Chromium session with a fresh profile, on a ChromeDriver of its own.
pub(crate) struct Browser {
    pub(crate) client: Client,
    // Dropped in this order: the driver (and browser) go before their profile directory.
    _driver: ChromeDriver,
    _profile: TempDir,
}

impl Browser {
    /// Starts ChromeDriver and opens a browser session. Call `browser_available` first.
    pub(crate) async fn start() -> Self {
        let driver = ChromeDriver::start().await;
        let profile = tempfile::tempdir().expect("browser profile directory");
        let capabilities = serde_json::json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-dev-shm-usage",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
            "timeouts": { "pageLoad": 30_000, "script": 10_000, "implicit": 0 },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("capabilities are a JSON object")
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url())
            .await
            .unwrap_or_else(|e| panic!("cannot open a Chromium session through ChromeDriver: {e}"));
        Self {
            client,
            _driver: driver,
            _profile: profile,
        }
    }

    /// Ends the browser session; ChromeDriver stops on drop.
    pub(crate) async fn close(self) {
        self.client
            .close()
            .await
            .expect("the browser session closes");
    }
}

/// What a journey's server starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum World {
    /// `serve --demo`: the demo world.
    Demo,
    /// `serve` on an empty database: a new instance, which prints its set-up link.
    Empty,
}

/// The `seatledger` binary serving the demo world (`seatledger serve --demo`) or a new, empty
/// instance on a free port with a fresh SQLite database, killed on drop.
pub(crate) struct Server {
    child: Child,
    /// Where it serves, e.g. `http://127.0.0.1:41234`.
    pub(crate) url: String,
    /// What it printed before it said it was serving (the demo logins, or the set-up link).
    pub(crate) printed: Vec<String>,
    dir: TempDir,
}

impl Server {
    /// Starts the server and waits until it says it is serving.
    pub(crate) async fn start(world: World) -> Self {
        let dir = tempfile::tempdir().expect("server directory");
        let log = dir.path().join("server.log");
        let database = format!("sqlite://{}", dir.path().join("e2e.db").display());
        let demo: &[&str] = match world {
            World::Demo => &["--demo"],
            World::Empty => &[],
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_seatledger"))
            .args(["--database", &database])
            .arg("serve")
            .args(demo)
            .args(["--listen", "127.0.0.1:0", "--now", DEMO_NOW])
            .env_remove("SEATLEDGER_DATABASE")
            .env_remove("SEATLEDGER_LISTEN")
            .env_remove("SEATLEDGER_PUBLIC_URL")
            .env_remove("SEATLEDGER_NOW")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(File::create(&log).expect("server log file"))
            .spawn()
            .expect("the seatledger binary starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (ready, serving) =
            tokio::sync::oneshot::channel::<Result<(String, Vec<String>), String>>();
        // Reads stdout to the end, so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut ready = Some(ready);
            let mut printed = Vec::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let Some(tx) = ready.take() else { continue };
                match line.strip_prefix(SERVING) {
                    Some(url) => {
                        let printed = std::mem::take(&mut printed);
                        let _ = tx.send(Ok((url.trim().to_owned(), printed)));
                    }
                    None => {
                        printed.push(line);
                        ready = Some(tx);
                    }
                }
            }
            if let Some(tx) = ready {
                let _ = tx.send(Err(printed.join("\n")));
            }
        });
        let mut server = Self {
            child,
            url: String::new(),
            printed: Vec::new(),
            dir,
        };
        (server.url, server.printed) = match tokio::time::timeout(SERVER_START, serving).await {
            Ok(Ok(Ok(started))) => started,
            Ok(Ok(Err(stdout))) => panic!(
                "the server stopped before serving\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
                server.log()
            ),
            Ok(Err(_)) => panic!("the server's stdout reader failed\n{}", server.log()),
            Err(_) => panic!(
                "the server did not print `{SERVING}URL` within {SERVER_START:?}\n{}",
                server.log()
            ),
        };
        assert!(
            server.url.starts_with("http://127.0.0.1:"),
            "unexpected server URL {:?}",
            server.url
        );
        server
    }

    /// What the server wrote to stderr so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
