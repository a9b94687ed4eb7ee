//! `Journey`: a browser and a demo server, and the page steps a journey test takes with them
//! (sign in, follow a link, fill a field, read a table, open a row's menu, ...).

use std::path::Path;
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, Locator};

use super::harness::{Browser, Server, World, browser_available};

/// How long a click may take to load the next page.
const NAVIGATION: Duration = Duration::from_secs(30);

/// A browser and a demo server: what a journey test drives.
pub(crate) struct Journey {
    pub(crate) browser: Browser,
    pub(crate) server: Server,
}

impl Journey {
    /// Starts the demo server and the browser, or returns `None` (having said so) when the
    /// browser tests skip.
    pub(crate) async fn start() -> Option<Self> {
        Self::start_with(World::Demo).await
    }

    /// As `start`, with a server on a new, empty instance.
    pub(crate) async fn start_new_instance() -> Option<Self> {
        Self::start_with(World::Empty).await
    }

    async fn start_with(world: World) -> Option<Self> {
        if !browser_available() {
            return None;
        }
        let (browser, server) = tokio::join!(Browser::start(), Server::start(world));
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
            for cell in row
                .find_all(Locator::Css("th, td"))
                .await
                .expect("table cells")
            {
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

    /// Saves what the browser shows as `docs/screenshots/NAME.png`, for the README: taken from
    /// the demo by the journeys, so the pictures stay current.
    pub(crate) async fn screenshot(&self, name: &str) {
        self.client()
            .set_window_size(1280, 900)
            .await
            .expect("size the window");
        let png = self.client().screenshot().await.expect("a screenshot");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots");
        std::fs::create_dir_all(&dir).expect("the screenshots folder");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("save the screenshot");
    }

    /// Ends the browser session; the server and ChromeDriver stop on drop.
    pub(crate) async fn close(self) {
        self.browser.close().await;
    }
}
