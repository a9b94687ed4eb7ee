//! Peak memory under the worst inputs: `seatledger serve --demo` runs as a child process (a
//! fresh one per shape, on a fresh SQLite file) and receives one hostile shape; the bench prints
//! the server's peak resident memory (VmHWM from /proc/PID/status) after each. The target is
//! under 200 MB for every shape.
//!
//! Shapes: a 20 MB wide file (`email` and 2,000,000 commas, padded to 20 MB) uploaded to Import
//! Users; a 20 MB long file of bad rows (250,000 rows, the row limit) through Import Users
//! (mapping page, import, download) and through Import Licence Renewal (preview, report); 64
//! concurrent sign-ins with unknown emails.
//!
//! Run: `cargo bench --bench memory` (Linux only: it reads /proc).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use seatledger::db::seed::DEMO_PASSWORD;

const TARGET_MB: f64 = 200.0;
const FILE_BYTES: usize = 20 * 1024 * 1024;

struct Server {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("memory.db").display());
        let mut child = Command::new(env!("CARGO_BIN_EXE_seatledger"))
            .args([
                "--database",
                &url,
                "serve",
                "--demo",
                "--listen",
                "127.0.0.1:0",
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start seatledger serve");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = lines.next().expect("the server ended early").unwrap();
            if let Some(url) = line.strip_prefix("seatledger is serving on http://") {
                break url.trim().parse().unwrap();
            }
        };
        // Keep reading so the server never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self {
            child,
            addr,
            _dir: dir,
        }
    }

    /// The server's peak resident memory so far, in MB.
    fn peak_mb(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kb: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .unwrap()
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap();
        kb / 1024.0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An answer: status, headers (lower-case names) and body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A browser-like client: one connection per request, cookies kept.
#[derive(Clone)]
struct Client {
    addr: SocketAddr,
    cookies: Vec<(String, String)>,
}

impl Client {
    fn new(addr: SocketAddr) -> Self {
        Self {
            addr,
            cookies: Vec::new(),
        }
    }

    fn send(&mut self, method: &str, path: &str, content_type: &str, body: &[u8]) -> Answer {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nCookie: {}\r\n\
             Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            cookie.join("; "),
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        // The server may refuse early and close; what it said is still read below.
        let _ = stream.write_all(body);
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        let split = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("an HTTP answer");
        let head = String::from_utf8_lossy(&raw[..split]).into_owned();
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        for (name, value) in &headers {
            if name == "set-cookie" {
                let pair = value.split(';').next().unwrap();
                let (k, v) = pair.split_once('=').unwrap();
                self.cookies.retain(|(n, _)| n != k);
                if !v.is_empty() {
                    self.cookies.push((k.to_owned(), v.to_owned()));
                }
            }
        }
        let mut body = raw[split + 4..].to_vec();
        if headers
            .iter()
            .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
        {
            body = dechunk(&body);
        }
        Answer {
            status,
            headers,
            body,
        }
    }

    fn get(&mut self, path: &str) -> Answer {
        self.send("GET", path, "text/plain", b"")
    }

    /// The CSRF token of the last page (its hidden field).
    fn csrf(page: &Answer) -> String {
        let text = String::from_utf8_lossy(&page.body);
        let at = text.find(r#"name="csrf" value=""#).expect("a form") + 19;
        text[at..].split('"').next().unwrap().to_owned()
    }

    fn post(&mut self, path: &str, page: &Answer, fields: &[(&str, &str)]) -> Answer {
        let csrf = Self::csrf(page);
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("csrf", &csrf)
            .extend_pairs(fields)
            .finish();
        self.send(
            "POST",
            path,
            "application/x-www-form-urlencoded",
            body.as_bytes(),
        )
    }

    fn sign_in(&mut self, email: &str) -> Answer {
        let page = self.get("/sign-in");
        self.post(
            "/sign-in",
            &page,
            &[("email", email), ("password", DEMO_PASSWORD)],
        )
    }

    fn upload(&mut self, form: &str, file: &[u8]) -> Answer {
        let page = self.get(form);
        let csrf = Self::csrf(&page);
        let boundary = "seatledger-bench-boundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
             filename=\"bench.csv\"\r\nContent-Type: text/csv\r\n\r\n"
        )
        .into_bytes();
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        self.send(
            "POST",
            &format!("{form}?csrf={csrf}"),
            &format!("multipart/form-data; boundary={boundary}"),
            &body,
        )
    }
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = body.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size = usize::from_str_radix(std::str::from_utf8(&body[..end]).unwrap().trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&body[end + 2..end + 2 + size]);
        body = &body[end + 2 + size + 2..];
    }
}

/// `email` and 2,000,000 commas, padded with more to 20 MB.
fn wide_file() -> Vec<u8> {
    let mut file = b"email".to_vec();
    file.resize(FILE_BYTES, b',');
    file
}

/// 250,000 rows (the row limit) of about 80 bytes that are not emails: 20 MB.
fn long_file() -> Vec<u8> {
    let mut file = String::from("email,first name,last name,department\n");
    let mut i = 0;
    while file.len() + 84 < FILE_BYTES && i < 250_000 {
        file.push_str(&format!(
            "not-an-email-{i:07}-padding-padding-padding,First {i:06},Last {i:06},Dept {i:05}\n"
        ));
        i += 1;
    }
    file.into_bytes()
}

fn report(shape: &str, server: &Server, started: Instant, detail: &str) {
    let peak = server.peak_mb();
    let verdict = if peak < TARGET_MB { "ok" } else { "OVER" };
    println!(
        "{shape:<48} peak {peak:>7.1} MB  ({verdict}, target < {TARGET_MB} MB)  {:>6.1} s  {detail}",
        started.elapsed().as_secs_f64()
    );
}

fn signed_in_manager(server: &Server) -> Client {
    let mut manager = Client::new(server.addr);
    let signed_in = manager.sign_in("manager@echo.example");
    assert_eq!(signed_in.status, 303, "the demo manager signs in");
    manager
}

fn main() {
    let idle = Server::start();
    report("idle (demo seeded)", &idle, Instant::now(), "");
    drop(idle);

    let server = Server::start();
    let started = Instant::now();
    let mut manager = signed_in_manager(&server);
    let refused = manager.upload("/company/users/import", &wide_file());
    report(
        "wide file, 20 MB (Import Users)",
        &server,
        started,
        &format!("answer {}", refused.status),
    );
    drop(server);

    let long = long_file();
    let server = Server::start();
    let started = Instant::now();
    let mut manager = signed_in_manager(&server);
    let kept = manager.upload("/company/users/import", &long);
    let path = kept.header("location").expect("kept").to_owned();
    let page = manager.get(&path);
    let download = manager.get(&format!("{path}/problems.csv"));
    let imported = manager.post(&path, &page, &[("email", "0")]);
    report(
        "long file of bad rows, 20 MB (Import Users)",
        &server,
        started,
        &format!(
            "page {} kB, import page {} kB, download {} MB",
            page.body.len() / 1024,
            imported.body.len() / 1024,
            download.body.len() / (1024 * 1024)
        ),
    );
    drop(server);

    let server = Server::start();
    let started = Instant::now();
    let mut manager = signed_in_manager(&server);
    let kept = manager.upload("/company/licenses/renewal", &long);
    let path = kept.header("location").expect("kept").to_owned();
    let preview = manager.get(&path);
    let report_csv = manager.get(&format!("{path}/report.csv"));
    report(
        "long file of bad rows, 20 MB (Licence Renewal)",
        &server,
        started,
        &format!(
            "preview {} kB, report {} MB",
            preview.body.len() / 1024,
            report_csv.body.len() / (1024 * 1024)
        ),
    );
    drop(server);

    let server = Server::start();
    let started = Instant::now();
    let signers: Vec<_> = (0..64)
        .map(|i| {
            let mut client = Client::new(server.addr);
            std::thread::spawn(move || client.sign_in(&format!("nobody{i}@unknown.example")).status)
        })
        .collect();
    let mut statuses: Vec<u16> = signers.into_iter().map(|s| s.join().unwrap()).collect();
    statuses.sort_unstable();
    statuses.dedup();
    report(
        "64 concurrent sign-ins, unknown emails",
        &server,
        started,
        &format!("answers {statuses:?}"),
    );
}
