//! Browser end-to-end tests: the real `seatledger serve --demo` binary, driven through headless
//! Chromium by ChromeDriver (with fantoccini).
//!
//! Each test owns its ChromeDriver, browser profile and server, so the tests run in parallel and
//! stay independent. When Chromium or ChromeDriver is not installed the tests skip (saying so);
//! with `SEATLEDGER_REQUIRE_BROWSER=1` (as in CI) they fail instead.
//!
//! Journey tests start with `let Some(journey) = Journey::start().await else { return };`, drive
//! the browser through its helpers, and end with `journey.close().await`.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::Uri;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use seatledger::db::seed::DEMO_PASSWORD;
use tempfile::TempDir;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// The instant the demo world is seeded at; the server's simulated clock starts there.
pub(crate) const DEMO_NOW: &str = "2026-11-26T09:00:00Z";

/// What the server prints once it accepts connections, followed by its URL.
const SERVING: &str = "seatledger is serving on ";

/// How long the server may take to migrate, seed the demo and start listening.
const SERVER_START: Duration = Duration::from_secs(60);
/// How many times ChromeDriver's /status is asked before giving up, and how long apart.
const DRIVER_POLLS: u32 = 200;
const DRIVER_POLL_EVERY: Duration = Duration::from_millis(50);
/// How long one /status request may take.
const DRIVER_ANSWER: Duration = Duration::from_secs(2);
/// How long a click may take to load the next page.
const NAVIGATION: Duration = Duration::from_secs(30);

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

/// The `seatledger` binary serving the demo world (`seatledger serve --demo`) on a free port with
/// a fresh SQLite database, killed on drop.
pub(crate) struct Server {
    child: Child,
    /// Where it serves, e.g. `http://127.0.0.1:41234`.
    pub(crate) url: String,
    dir: TempDir,
}

impl Server {
    /// Starts the server and waits until it says it is serving.
    pub(crate) async fn start() -> Self {
        let dir = tempfile::tempdir().expect("server directory");
        let log = dir.path().join("server.log");
        let database = format!("sqlite://{}", dir.path().join("e2e.db").display());
        let mut child = Command::new(env!("CARGO_BIN_EXE_seatledger"))
            .args(["--database", &database])
            .args([
                "serve",
                "--demo",
                "--listen",
                "127.0.0.1:0",
                "--now",
                DEMO_NOW,
            ])
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
        let (ready, serving) = tokio::sync::oneshot::channel::<Result<String, String>>();
        // Reads stdout to the end, so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut ready = Some(ready);
            let mut printed = Vec::new();
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let Some(tx) = ready.take() else { continue };
                match line.strip_prefix(SERVING) {
                    Some(url) => {
                        let _ = tx.send(Ok(url.trim().to_owned()));
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
            dir,
        };
        server.url = match tokio::time::timeout(SERVER_START, serving).await {
            Ok(Ok(Ok(url))) => url,
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

/// A browser and a demo server: what a journey test drives.
pub(crate) struct Journey {
    pub(crate) browser: Browser,
    pub(crate) server: Server,
}

impl Journey {
    /// Starts the server and the browser, or returns `None` (having said so) when the browser
    /// tests skip.
    pub(crate) async fn start() -> Option<Self> {
        if !browser_available() {
            return None;
        }
        let (browser, server) = tokio::join!(Browser::start(), Server::start());
        Some(Self { browser, server })
    }

    pub(crate) fn client(&self) -> &Client {
        &self.browser.client
    }

    /// Loads `path` (e.g. `/partner`) from the server, following redirects.
    pub(crate) async fn goto(&self, path: &str) {
        let url = format!("{}{path}", self.server.url);
        self.client()
            .goto(&url)
            .await
            .unwrap_or_else(|e| panic!("cannot load {url}: {e}"));
    }

    /// The path of the page the browser shows.
    pub(crate) async fn path(&self) -> String {
        self.client()
            .current_url()
            .await
            .expect("the current URL")
            .path()
            .to_owned()
    }

    /// The element `css` selects on the current page.
    pub(crate) async fn find(&self, css: &str) -> Element {
        self.find_by(Locator::Css(css)).await
    }

    pub(crate) async fn find_by(&self, locator: Locator<'_>) -> Element {
        match self.client().find(locator).await {
            Ok(element) => element,
            Err(e) => panic!(
                "no element {locator:?} on {}: {e}\n--- page ---\n{}",
                self.path().await,
                self.client().source().await.unwrap_or_default()
            ),
        }
    }

    /// The query string of the page the browser shows (without the `?`), if it has one.
    pub(crate) async fn query(&self) -> Option<String> {
        self.client()
            .current_url()
            .await
            .expect("the current URL")
            .query()
            .map(str::to_owned)
    }

    /// The value of the query parameter `name` in the current URL.
    pub(crate) async fn query_param(&self, name: &str) -> Option<String> {
        let url = self.client().current_url().await.expect("the current URL");
        url.query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }

    /// The visible text of the element `css` selects.
    pub(crate) async fn text(&self, css: &str) -> String {
        let element = self.find(css).await;
        element.text().await.expect("element text")
    }

    /// The current value of the form field `css` selects.
    pub(crate) async fn value(&self, css: &str) -> String {
        let field = self.find(css).await;
        field
            .prop("value")
            .await
            .expect("field value")
            .unwrap_or_default()
    }

    /// Clears the form field `css` selects and types `text` into it.
    pub(crate) async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.expect("clear the field");
        field.send_keys(text).await.expect("type into the field");
    }

    /// The link whose visible text is `label` (without apostrophes), e.g. an `<a class="button">`
    /// or a navigation link.
    pub(crate) async fn link(&self, label: &str) -> Element {
        self.find_by(Locator::XPath(&format!(
            "//a[normalize-space(.)='{label}']"
        )))
        .await
    }

    /// Clicks the link labelled `label` and waits for the page it leads to.
    pub(crate) async fn follow(&self, label: &str) {
        let link = self.link(label).await;
        self.click_and_wait(&link).await;
    }

    /// Whether the current page has an element `css` selects (without waiting for one).
    pub(crate) async fn has(&self, css: &str) -> bool {
        !self
            .client()
            .find_all(Locator::Css(css))
            .await
            .expect("look up elements")
            .is_empty()
    }

    /// The button whose visible text is `label` (without apostrophes).
    pub(crate) async fn button(&self, label: &str) -> Element {
        self.find_by(Locator::XPath(&format!(
            "//button[normalize-space(.)='{label}']"
        )))
        .await
    }

    /// The cell texts of every body row of the table `css` selects.
    pub(crate) async fn table_rows(&self, css: &str) -> Vec<Vec<String>> {
        let table = self.find(css).await;
        let rows = table
            .find_all(Locator::Css("tbody tr"))
            .await
            .expect("table rows");
        let mut texts = Vec::with_capacity(rows.len());
        for row in rows {
            let mut cells = Vec::new();
            for cell in row.find_all(Locator::Css("td")).await.expect("table cells") {
                cells.push(cell.text().await.expect("cell text"));
            }
            texts.push(cells);
        }
        texts
    }

    /// The body row of the table `#table_id` whose cells match `cells`: (column, text) pairs with
    /// 1-based columns and whole-cell texts (without apostrophes).
    pub(crate) async fn row(&self, table_id: &str, cells: &[(usize, &str)]) -> Element {
        let conditions: Vec<String> = cells
            .iter()
            .map(|(column, text)| format!("td[{column}][normalize-space(.)='{text}']"))
            .collect();
        self.find_by(Locator::XPath(&format!(
            "//table[@id='{table_id}']/tbody/tr[{}]",
            conditions.join(" and ")
        )))
        .await
    }

    /// The cell texts of the table row `row`.
    pub(crate) async fn cells(row: &Element) -> Vec<String> {
        let mut texts = Vec::new();
        for cell in row.find_all(Locator::Css("td")).await.expect("row cells") {
            texts.push(cell.text().await.expect("cell text"));
        }
        texts
    }

    /// Opens the `<details class="menu">` inside `within` by clicking its `<summary>`, and returns
    /// the summary.
    pub(crate) async fn open_menu(&self, within: &Element) -> Element {
        let summary = within
            .find(Locator::Css("details.menu > summary"))
            .await
            .expect("a menu in the element");
        summary.click().await.expect("click the menu's summary");
        let open = within
            .find_all(Locator::Css("details.menu[open]"))
            .await
            .expect("look up open menus");
        assert_eq!(open.len(), 1, "the menu opens on {}", self.path().await);
        summary
    }

    /// The button labelled `label` (without apostrophes) in the open menu inside `within`.
    pub(crate) async fn menu_button(&self, within: &Element, label: &str) -> Element {
        let xpath = format!(".//details[@open]//button[normalize-space(.)='{label}']");
        match within.find(Locator::XPath(&xpath)).await {
            Ok(button) => button,
            Err(e) => panic!(
                "no {label:?} button in the open menu on {}: {e}",
                self.path().await
            ),
        }
    }

    /// Clicks the section navigation link labelled `label` and waits for its page.
    pub(crate) async fn nav(&self, label: &str) {
        let link = self
            .find_by(Locator::XPath(&format!(
                "//nav[@aria-label='Sections']//a[normalize-space(.)='{label}']"
            )))
            .await;
        self.click_and_wait(&link).await;
    }

    /// Clicks `element` and waits until the page it leads to has loaded (a new document, even
    /// when the URL stays the same, as when a form is refused).
    pub(crate) async fn click_and_wait(&self, element: &Element) {
        self.client()
            .execute(
                "document.documentElement.setAttribute('data-e2e-left', '')",
                Vec::new(),
            )
            .await
            .expect("mark the current page");
        element.click().await.expect("click");
        if let Err(e) = self
            .client()
            .wait()
            .at_most(NAVIGATION)
            .for_element(Locator::Css("html:not([data-e2e-left])"))
            .await
        {
            panic!(
                "no new page loaded after the click (still on {}): {e}",
                self.path().await
            );
        }
    }

    /// Signs in on /sign-in with `email` and `password`, and waits for the page that follows.
    pub(crate) async fn sign_in(&self, email: &str, password: &str) {
        self.goto("/sign-in").await;
        self.fill("#email", email).await;
        self.fill("#password", password).await;
        let submit = self
            .find(r#"form[action="/sign-in"] button[type="submit"]"#)
            .await;
        self.click_and_wait(&submit).await;
    }

    /// Clicks "Sign out" in the page header and waits for the page that follows.
    pub(crate) async fn sign_out(&self) {
        let button = self.button("Sign out").await;
        self.click_and_wait(&button).await;
    }

    /// Chooses the local file `path` in the file input `css` selects, as picking it in the file
    /// dialog would (ChromeDriver runs on this machine, so it reads the file itself).
    pub(crate) async fn upload_file(&self, css: &str, path: &Path) {
        assert!(
            path.is_absolute(),
            "a file input needs an absolute path: {path:?}"
        );
        let path = path.to_str().expect("a UTF-8 file path");
        let input = self.find(css).await;
        input
            .send_keys(path)
            .await
            .unwrap_or_else(|e| panic!("cannot choose {path} in {css}: {e}"));
    }

    /// As a partner: Company → `company`'s Actions → Manage Company, and waits in its console.
    pub(crate) async fn manage_company(&self, company: &str) {
        self.nav("Company").await;
        assert_eq!(self.path().await, "/partner");
        let row = self.row("companies", &[(1, company)]).await;
        self.open_menu(&row).await;
        let manage = self.menu_button(&row, "Manage Company").await;
        self.click_and_wait(&manage).await;
        assert_eq!(self.path().await, "/company");
        assert_eq!(self.text("#managed-company").await, company);
    }

    /// Clicks "Exit Manage Mode" in the banner and waits for the partner console.
    pub(crate) async fn exit_manage_mode(&self) {
        let exit = self.button("Exit Manage Mode").await;
        self.click_and_wait(&exit).await;
        assert_eq!(self.path().await, "/partner");
        assert!(!self.has("#managed-company").await);
    }

    /// As a partner: gives `company` `quantity` more Premium licences the way a partner does it:
    /// manages the company and requests them (Licenses → Request Licenses), exits Manage Mode,
    /// and assigns the order (Licences → Requested Orders → ⋯ → Assign). Returns the order number
    /// and leaves the browser on the partner's Licences page.
    pub(crate) async fn partner_assigns_licences(&self, company: &str, quantity: u32) -> String {
        self.manage_company(company).await;
        self.nav("Licenses").await;
        assert_eq!(self.path().await, "/company/licenses");
        self.follow("Request Licenses").await;
        assert_eq!(self.path().await, "/company/orders/new");
        self.fill("#quantity", &quantity.to_string()).await;
        assert_eq!(self.value("#kind").await, "premium");
        let save = self.button("Save").await;
        self.click_and_wait(&save).await;
        assert_eq!(self.path().await, "/company/licenses");
        let query = self.query().await.unwrap_or_default();
        let order = self
            .query_param("requested")
            .await
            .unwrap_or_else(|| panic!("the Licenses page names the requested order: ?{query}"));
        assert_eq!(
            self.text("#request-confirmation").await,
            format!("Your request (order {order}) was sent to your account manager.")
        );

        self.exit_manage_mode().await;
        self.nav("Licences").await;
        assert_eq!(self.path().await, "/partner/licences");
        self.follow("Requested Orders").await;
        assert_eq!(self.query_param("tab").await.as_deref(), Some("requested"));
        let quantity = quantity.to_string();
        let requested = self
            .row("orders", &[(1, &order), (2, company), (3, &quantity)])
            .await;
        self.open_menu(&requested).await;
        let assign = self.menu_button(&requested, "Assign").await;
        self.click_and_wait(&assign).await;
        assert_eq!(self.path().await, "/partner/licences");
        let notice = self.text("#orders-notice").await;
        assert!(
            notice.starts_with(&format!("Order {order} assigned")),
            "{notice}"
        );
        order
    }

    /// Ends the browser session; the server and ChromeDriver stop on drop.
    pub(crate) async fn close(self) {
        self.browser.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_admin_signs_in_and_sees_the_admin_dashboard() {
    let Some(journey) = Journey::start().await else {
        return;
    };
    journey
        .sign_in("admin@bluefin.example", DEMO_PASSWORD)
        .await;

    assert_eq!(journey.path().await, "/partner");
    assert_eq!(journey.text("header .area").await, "Admin Dashboard");
    assert_eq!(journey.text("main h1").await, "Company");
    let rows = journey.table_rows("main table").await;
    let row = |name: &str| {
        let row = rows
            .iter()
            .find(|cells| cells.first().map(String::as_str) == Some(name));
        row.unwrap_or_else(|| panic!("{name} is listed: {rows:?}"))
    };
    let acme = row("Acme Trial Co");
    assert_eq!(
        acme.get(1).map(String::as_str),
        Some("Free Trial"),
        "{acme:?}"
    );
    // Bluefin North is Bluefin IT's sub-partner; its company shows too.
    let fjord = row("Fjord Fisheries");
    assert_eq!(
        fjord.get(6).map(String::as_str),
        Some("Bluefin North"),
        "{fjord:?}"
    );

    journey.sign_out().await;
    assert_eq!(journey.path().await, "/sign-in");
    journey.goto("/partner").await;
    assert_eq!(journey.path().await, "/sign-in");

    journey.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_learner_is_refused_with_the_licence_message() {
    let Some(journey) = Journey::start().await else {
        return;
    };
    journey
        .sign_in("learner1@cobalt.example", DEMO_PASSWORD)
        .await;

    assert_eq!(journey.path().await, "/sign-in");
    let error = journey.text("#sign-in-error").await;
    assert!(error.contains("Your licence expired on"), "{error}");
    assert!(
        error.contains("Ask your company manager to renew it."),
        "{error}"
    );
    let email = journey
        .find("#email")
        .await
        .prop("value")
        .await
        .expect("value");
    assert_eq!(email.as_deref(), Some("learner1@cobalt.example"));

    journey.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_trial_manager_lands_on_the_landing_page() {
    let Some(journey) = Journey::start().await else {
        return;
    };
    journey
        .sign_in("manager@cobalt.example", DEMO_PASSWORD)
        .await;

    assert_eq!(journey.path().await, "/landing");
    assert_eq!(journey.text("main h1").await, "Your access has ended");
    journey.goto("/company").await;
    assert_eq!(journey.path().await, "/landing");

    journey.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_is_refused() {
    let Some(journey) = Journey::start().await else {
        return;
    };
    journey
        .sign_in("admin@bluefin.example", "not-the-demo-password")
        .await;

    assert_eq!(journey.path().await, "/sign-in");
    assert_eq!(
        journey.text("#sign-in-error").await,
        "The email or password is incorrect."
    );

    journey.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_trial_manager_requests_licences_and_the_account_manager_is_emailed() {
    let Some(journey) = Journey::start().await else {
        return;
    };
    journey
        .sign_in("manager@cobalt.example", DEMO_PASSWORD)
        .await;
    assert_eq!(journey.path().await, "/landing");
    assert_eq!(journey.text("main h1").await, "Your access has ended");

    // The landing page's one way forward: Request License.
    journey.follow("Request License").await;
    assert_eq!(journey.path().await, "/company/orders/new");
    assert_eq!(journey.text("main h1").await, "Request License");
    journey.fill("#quantity", "25").await;
    assert_eq!(
        journey.value("#kind").await,
        "premium",
        "Premium is the default"
    );
    let save = journey.button("Save").await;
    journey.click_and_wait(&save).await;

    // Back on the landing page, with the request confirmed and listed as pending.
    assert_eq!(journey.path().await, "/landing");
    let query = journey.query().await.unwrap_or_default();
    let order = journey
        .query_param("requested")
        .await
        .unwrap_or_else(|| panic!("the landing page names the requested order: ?{query}"));
    assert!(
        !order.is_empty() && order.bytes().all(|b| b.is_ascii_digit()),
        "order number {order:?}"
    );
    let confirmation = journey.text("#request-confirmation").await;
    assert_eq!(
        confirmation,
        format!("Your request (order {order}) was sent to your account manager.")
    );
    let pending = journey.table_rows("#pending-requests").await;
    assert_eq!(pending.len(), 1, "one pending request: {pending:?}");
    let row = &pending[0];
    // Order, Licences, Type, Requested, Status.
    assert_eq!(row.len(), 5, "{row:?}");
    assert_eq!(row[0], order, "{row:?}");
    assert_eq!(row[1], "25", "{row:?}");
    assert_eq!(row[2], "Premium", "{row:?}");
    assert_eq!(row[4], "Pending", "{row:?}");

    // The operator's Mailbox holds the alert to Cobalt's account manager.
    journey.sign_out().await;
    journey
        .sign_in("operator@seatledger.example", DEMO_PASSWORD)
        .await;
    journey.follow("Mailbox").await;
    assert_eq!(journey.path().await, "/operator/mailbox");
    let subject = "Cobalt Expired Trial: 25 Premium licences requested";
    let emails = journey.table_rows("#mailbox").await;
    assert!(
        emails.iter().any(|cells| {
            cells.first().map(String::as_str) == Some("am@bluefin.example")
                && cells.get(1).map(String::as_str) == Some(subject)
        }),
        "an email to am@bluefin.example titled {subject:?}: {emails:?}"
    );
    let link = journey
        .find_by(Locator::XPath(&format!(
            "//table[@id='mailbox']/tbody/tr[td[1][normalize-space(.)='am@bluefin.example']]\
             /td[2]/a[normalize-space(.)='{subject}']"
        )))
        .await;
    journey.click_and_wait(&link).await;
    assert!(
        journey.path().await.starts_with("/operator/mailbox/"),
        "{}",
        journey.path().await
    );
    assert_eq!(journey.text("main h1").await, subject);
    let text = journey.text("pre.email-text").await;
    assert!(text.contains("has requested 25 Premium licences"), "{text}");
    let order_url = format!("{}/partner/licences?order={order}", journey.server.url);
    assert!(
        text.lines()
            .any(|line| line.trim_end().ends_with(&order_url)),
        "a line ending in {order_url}:\n{text}"
    );

    journey.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manager_form_rejects_an_invalid_number_and_keeps_the_page() {
    let Some(journey) = Journey::start().await else {
        return;
    };
    journey
        .sign_in("manager@cobalt.example", DEMO_PASSWORD)
        .await;
    journey.goto("/company/orders/new").await;
    assert_eq!(journey.path().await, "/company/orders/new");

    journey.fill("#quantity", "0").await;
    // min=1 would make the browser refuse to submit; the server must refuse on its own.
    journey
        .client()
        .execute(
            "document.getElementById('quantity').removeAttribute('min')",
            Vec::new(),
        )
        .await
        .expect("drop the field's min");
    let save = journey.button("Save").await;
    journey.click_and_wait(&save).await;

    assert_eq!(journey.text("main h1").await, "Request License");
    let error = journey.text("#form-error").await;
    assert!(error.contains("between 1 and 100000"), "{error}");
    assert_eq!(journey.value("#quantity").await, "0");
    assert_eq!(journey.value("#kind").await, "premium");

    // Nothing was requested.
    journey.goto("/landing").await;
    assert!(!journey.has("#pending-requests").await);
    assert!(!journey.has("#request-confirmation").await);

    journey.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_upgrades_a_trial_company_in_manage_mode_and_assigns_the_order() {
    let Some(journey) = Journey::start().await else {
        return;
    };
    journey
        .sign_in("admin@bluefin.example", DEMO_PASSWORD)
        .await;
    assert_eq!(journey.path().await, "/partner");
    assert_eq!(journey.text("header .area").await, "Admin Dashboard");
    assert_eq!(journey.text("main h1").await, "Company");

    // Actions → Manage Company on Acme Trial Co, still on its free trial.
    let acme = journey
        .row("companies", &[(1, "Acme Trial Co"), (2, "Free Trial")])
        .await;
    let actions = journey.open_menu(&acme).await;
    let label = actions.text().await.expect("summary text");
    assert!(label.starts_with("Actions"), "{label:?}");
    let manage = journey.menu_button(&acme, "Manage Company").await;
    journey.click_and_wait(&manage).await;
    assert_eq!(journey.path().await, "/company");
    assert_eq!(journey.text("#managed-company").await, "Acme Trial Co");

    // Licenses → Upgrade to Premium → Got It → the order form, for 40 licences.
    journey.nav("Licenses").await;
    assert_eq!(journey.path().await, "/company/licenses");
    journey.follow("Upgrade to Premium").await;
    assert_eq!(journey.path().await, "/company/upgrade");
    assert_eq!(journey.text("main h1").await, "Upgrade to Premium");
    journey.follow("Got It").await;
    assert_eq!(journey.path().await, "/company/orders/new");
    assert_eq!(journey.text("main h1").await, "Upgrade to Premium");
    assert_eq!(journey.value("#kind").await, "premium");
    journey.fill("#quantity", "40").await;
    let save = journey.button("Save").await;
    journey.click_and_wait(&save).await;

    assert_eq!(journey.path().await, "/company/licenses");
    let query = journey.query().await.unwrap_or_default();
    let order = journey
        .query_param("requested")
        .await
        .unwrap_or_else(|| panic!("the Licenses page names the requested order: ?{query}"));
    assert!(
        !order.is_empty() && order.bytes().all(|b| b.is_ascii_digit()),
        "order number {order:?}"
    );
    assert_eq!(
        journey.text("#request-confirmation").await,
        format!("Your request (order {order}) was sent to your account manager.")
    );
    assert_eq!(journey.text("#managed-company").await, "Acme Trial Co");

    // Exit Manage Mode, then Licences → Requested Orders → ⋯ → Assign.
    let exit = journey.button("Exit Manage Mode").await;
    journey.click_and_wait(&exit).await;
    assert_eq!(journey.path().await, "/partner");
    assert!(!journey.has("#managed-company").await);
    journey.nav("Licences").await;
    assert_eq!(journey.path().await, "/partner/licences");
    journey.follow("Requested Orders").await;
    assert_eq!(
        journey.query_param("tab").await.as_deref(),
        Some("requested")
    );
    let requested = journey
        .row("orders", &[(2, "Acme Trial Co"), (3, "40")])
        .await;
    let cells = Journey::cells(&requested).await;
    // Order, Company, Licences, Type, Requested, By, Status, actions.
    assert_eq!(cells.first(), Some(&order), "{cells:?}");
    assert_eq!(
        cells.get(3).map(String::as_str),
        Some("Premium"),
        "{cells:?}"
    );
    assert_eq!(
        cells.get(5).map(String::as_str),
        Some("Bea Bluefin"),
        "{cells:?}"
    );
    assert_eq!(
        cells.get(6).map(String::as_str),
        Some("Pending"),
        "{cells:?}"
    );
    let more = journey.open_menu(&requested).await;
    assert_eq!(
        more.attr("aria-label")
            .await
            .expect("aria-label")
            .as_deref(),
        Some(format!("Actions for order {order}").as_str())
    );
    let assign = journey.menu_button(&requested, "Assign").await;
    journey.click_and_wait(&assign).await;

    assert_eq!(journey.path().await, "/partner/licences");
    assert_eq!(
        journey.text("#orders-notice").await,
        format!(
            "Order {order} assigned: the licences are ready and the company's managers have been \
             emailed."
        )
    );

    // Company: Acme Trial Co is Premium with 40 seats, none allocated yet.
    journey.nav("Company").await;
    assert_eq!(journey.path().await, "/partner");
    let acme = journey.row("companies", &[(1, "Acme Trial Co")]).await;
    let cells = Journey::cells(&acme).await;
    assert_eq!(
        cells.get(1).map(String::as_str),
        Some("Premium"),
        "{cells:?}"
    );
    assert_eq!(
        cells.get(3).map(String::as_str),
        Some("0 / 40"),
        "{cells:?}"
    );

    // Activity: the request, on Acme Trial Co's behalf, and the assignment, both by Bea Bluefin.
    journey.nav("Activity").await;
    assert_eq!(journey.path().await, "/partner/activity");
    let activity = journey.table_rows("#activity").await;
    // When, Who, On behalf of, Company, What.
    let requested_entry = format!("Requested 40 Premium licences (order {order})");
    assert!(
        activity.iter().any(|cells| {
            cells.get(1).is_some_and(|who| who.contains("Bea Bluefin"))
                && cells.get(2).map(String::as_str) == Some("Acme Trial Co")
                && cells.get(4) == Some(&requested_entry)
        }),
        "Bea Bluefin {requested_entry:?} on behalf of Acme Trial Co: {activity:?}"
    );
    let assigned_entry = format!("Assigned order {order}: 40 Premium licences");
    assert!(
        activity.iter().any(|cells| {
            cells.get(1).is_some_and(|who| who.contains("Bea Bluefin"))
                && cells.get(4) == Some(&assigned_entry)
        }),
        "Bea Bluefin {assigned_entry:?}: {activity:?}"
    );

    // The operator's Mailbox holds the news for Acme's manager.
    journey.sign_out().await;
    journey
        .sign_in("operator@seatledger.example", DEMO_PASSWORD)
        .await;
    journey.nav("Mailbox").await;
    assert_eq!(journey.path().await, "/operator/mailbox");
    let subject = "Acme Trial Co: 40 Premium licences are ready to allocate";
    let emails = journey.table_rows("#mailbox").await;
    assert!(
        emails.iter().any(|cells| {
            cells.first().map(String::as_str) == Some("manager@acme.example")
                && cells.get(1).map(String::as_str) == Some(subject)
        }),
        "an email to manager@acme.example titled {subject:?}: {emails:?}"
    );

    journey.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partner_allocates_expired_learners_with_select_all_in_manage_mode() {
    let Some(journey) = Journey::start().await else {
        return;
    };
    journey
        .sign_in("admin@bluefin.example", DEMO_PASSWORD)
        .await;
    assert_eq!(journey.path().await, "/partner");

    // Echo Premium has 1 free seat for its 2 expired learners: 5 more first.
    journey.partner_assigns_licences("Echo Premium", 5).await;

    // Manage Echo Premium → Licenses → Expired Licenses (2) → Select All → Allocate Licenses.
    journey.manage_company("Echo Premium").await;
    journey.nav("Licenses").await;
    assert_eq!(journey.path().await, "/company/licenses");
    journey.follow("Expired Licenses (2)").await;
    assert_eq!(journey.query_param("tab").await.as_deref(), Some("expired"));
    let expired = journey.table_rows("#expired").await;
    let emails: Vec<&str> = expired
        .iter()
        .filter_map(|cells| cells.get(2).map(String::as_str))
        .collect();
    assert_eq!(
        emails,
        ["learner4@echo.example", "learner5@echo.example"],
        "{expired:?}"
    );
    let select_all = journey.find("#select-all").await;
    select_all.click().await.expect("tick Select All");
    assert!(
        select_all.is_selected().await.expect("checkbox state"),
        "Select All is ticked"
    );
    let allocate = journey.button("Allocate Licenses").await;
    journey.click_and_wait(&allocate).await;

    assert_eq!(journey.path().await, "/company/licenses");
    assert_eq!(journey.query_param("tab").await.as_deref(), Some("expired"));
    let notice = journey.text("#licenses-notice").await;
    assert!(
        notice.starts_with("Licences allocated to 2 learners"),
        "{notice}"
    );
    assert!(!journey.has("#licenses-error").await);
    let tab = journey.link("Expired Licenses (0)").await;
    assert_eq!(
        tab.attr("aria-current")
            .await
            .expect("aria-current")
            .as_deref(),
        Some("page")
    );
    assert!(
        !journey.has("#expired").await,
        "no expired learner is listed"
    );
    // 4 + 5 seats: the 3 learners licensed before and the 2 just allocated, 4 still free.
    journey.link("Allocated (5)").await;
    journey.link("Available (4)").await;

    journey.exit_manage_mode().await;
    journey.sign_out().await;
    assert_eq!(journey.path().await, "/sign-in");

    // Learner 4 now signs in to the licence page.
    journey
        .sign_in("learner4@echo.example", DEMO_PASSWORD)
        .await;
    assert_eq!(journey.path().await, "/learner");
    assert_eq!(journey.text("main h1").await, "My licence");
    let licence = journey.text("main p").await;
    assert!(
        licence.contains("Your licence with Echo Premium is active until"),
        "{licence}"
    );

    journey.close().await;
}

/// Licenses → Import Licence Renewal → upload `csv`, and checks the preview: the third column,
/// "Work email", is chosen, 2 learners will be renewed and the unknown email of line 4 will not.
async fn upload_delta_renewal(journey: &Journey, csv: &Path) {
    journey.nav("Licenses").await;
    assert_eq!(journey.path().await, "/company/licenses");
    journey.follow("Import Licence Renewal").await;
    assert_eq!(journey.path().await, "/company/licenses/renewal");
    journey.upload_file("#file", csv).await;
    let upload = journey.button("Upload").await;
    journey.click_and_wait(&upload).await;

    let preview = journey.path().await;
    let id = preview
        .strip_prefix("/company/licenses/renewal/")
        .unwrap_or_else(|| panic!("the upload leads to its preview, not {preview}"));
    assert!(
        !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()),
        "{preview}"
    );
    assert!(!journey.has("#form-error").await);
    assert_eq!(journey.text("main h1").await, "Import Licence Renewal");
    assert_eq!(journey.value("#column").await, "2", "the third column");
    assert_eq!(journey.text("#column option:checked").await, "Work email");
    let summary = journey.find("#renewal-summary").await;
    let mut numbers = Vec::new();
    for strong in summary
        .find_all(Locator::Css("strong"))
        .await
        .expect("the summary's numbers")
    {
        numbers.push(strong.text().await.expect("number text"));
    }
    assert_eq!(numbers, ["2", "1"]);
    let summary = summary.text().await.expect("summary text");
    assert!(
        summary.starts_with("2 learners will be renewed; 1 rows will not."),
        "{summary}"
    );
    let not_renewed = journey.table_rows("#not-renewed").await;
    assert_eq!(
        not_renewed,
        [["4", "nobody@delta.example", "unknown email"]],
        "{not_renewed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manager_renews_licences_from_a_csv_whose_email_is_the_third_column() {
    let Some(journey) = Journey::start().await else {
        return;
    };
    let dir = tempfile::tempdir().expect("a directory for the CSV file");
    let csv = dir.path().join("delta-renewal.csv");
    std::fs::write(
        &csv,
        "First,Last,Work email,Dept\n\
         Learner,4,learner4@delta.example,Ops\n\
         Learner,5,learner5@delta.example,Ops\n\
         Nobody,X,nobody@delta.example,Ops\n",
    )
    .expect("write the CSV file");

    // Delta Renewal Due has 1 free seat for its 2 expired learners: Renew Licences refuses.
    journey
        .sign_in("manager@delta.example", DEMO_PASSWORD)
        .await;
    assert_eq!(journey.path().await, "/company");
    upload_delta_renewal(&journey, &csv).await;
    let summary = journey.text("#renewal-summary").await;
    assert!(summary.ends_with("1 licences are free."), "{summary}");
    let preview = journey.path().await;
    let renew = journey.button("Renew Licences").await;
    journey.click_and_wait(&renew).await;
    assert_eq!(journey.path().await, preview);
    assert_eq!(
        journey.text("#renewal-error").await,
        "Nothing was renewed: 2 learners need a licence but only 1 seats are free."
    );
    journey.nav("Licenses").await;
    journey.link("Expired Licenses (2)").await;
    journey.sign_out().await;

    // Its partner gives it 3 more seats.
    journey
        .sign_in("admin@bluefin.example", DEMO_PASSWORD)
        .await;
    journey
        .partner_assigns_licences("Delta Renewal Due", 3)
        .await;
    journey.sign_out().await;

    // The same file again: both learners are renewed.
    journey
        .sign_in("manager@delta.example", DEMO_PASSWORD)
        .await;
    upload_delta_renewal(&journey, &csv).await;
    let summary = journey.text("#renewal-summary").await;
    assert!(summary.ends_with("4 licences are free."), "{summary}");
    let renew = journey.button("Renew Licences").await;
    journey.click_and_wait(&renew).await;

    assert_eq!(journey.path().await, "/company/licenses");
    assert_eq!(
        journey.query_param("tab").await.as_deref(),
        Some("allocated")
    );
    assert_eq!(
        journey.text("#licenses-notice").await,
        "Renewed the licences of 2 learners."
    );
    let seats = journey.table_rows("#seats").await;
    for email in ["learner4@delta.example", "learner5@delta.example"] {
        assert!(
            seats
                .iter()
                .any(|cells| cells.get(1).map(String::as_str) == Some(email)),
            "{email} holds a licence: {seats:?}"
        );
    }
    journey.link("Expired Licenses (0)").await;

    journey.close().await;
}
