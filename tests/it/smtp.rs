//! A small SMTP server for tests: speaks real SMTP over TCP on 127.0.0.1 and keeps what it
//! receives. It can be told to swallow acknowledgements, to test resends.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One message as the server received it.
#[derive(Clone, Debug)]
pub struct Received {
    pub recipients: Vec<String>,
    pub data: String,
}

impl Received {
    /// The value of header `name` (first occurrence, unfolded).
    pub fn header(&self, name: &str) -> Option<String> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.data
            .split("\r\n\r\n")
            .next()?
            .split("\r\n")
            .find(|line| line.to_ascii_lowercase().starts_with(&prefix))
            .map(|line| line[prefix.len()..].trim().to_owned())
    }
}

/// Runs when a message has arrived, before the server acknowledges it, with how many messages
/// arrived so far (this one included): a test's way to act while a sender waits.
pub type OnMessage =
    Arc<dyn Fn(usize) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

pub struct SmtpSink {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    task: JoinHandle<()>,
}

impl SmtpSink {
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0".parse().unwrap(), 0).await
    }

    /// Listens on `addr`; the first `drop_acks` messages are received in full but the
    /// connection is closed before the server says it accepted them (a lost acknowledgement).
    pub async fn start_on(addr: SocketAddr, drop_acks: usize) -> Self {
        Self::start_with(addr, drop_acks, Arc::new(|_| Box::pin(async {}))).await
    }

    /// Takes `pace` to accept each message, like a slow relay.
    pub async fn start_paced(pace: Duration) -> Self {
        Self::start_calling(Arc::new(move |_| Box::pin(tokio::time::sleep(pace)))).await
    }

    /// Listens on a free port and runs `on_message` for each message before acknowledging it.
    pub async fn start_calling(on_message: OnMessage) -> Self {
        Self::start_with("127.0.0.1:0".parse().unwrap(), 0, on_message).await
    }

    async fn start_with(addr: SocketAddr, drop_acks: usize, on_message: OnMessage) -> Self {
        let listener = TcpListener::bind(addr).await.expect("bind the SMTP sink");
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let drops = Arc::new(AtomicUsize::new(drop_acks));
        let store = received.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let store = store.clone();
                let drops = drops.clone();
                let on_message = on_message.clone();
                tokio::spawn(async move {
                    let _ = session(stream, store, drops, on_message).await;
                });
            }
        });
        Self {
            addr,
            received,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    pub fn messages(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn session(
    stream: tokio::net::TcpStream,
    store: Arc<Mutex<Vec<Received>>>,
    drops: Arc<AtomicUsize>,
    on_message: OnMessage,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink.test ESMTP ready\r\n").await?;
    let mut recipients = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_ascii_uppercase();
        let reply: &[u8] = if command.starts_with("EHLO") {
            b"250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
        } else if command.starts_with("HELO")
            || command.starts_with("MAIL FROM")
            || command.starts_with("RSET")
            || command.starts_with("NOOP")
        {
            if command.starts_with("MAIL FROM") {
                recipients.clear();
            }
            b"250 OK\r\n"
        } else if command.starts_with("RCPT TO") {
            let address = line.trim_end()[8..]
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>');
            recipients.push(address.to_owned());
            b"250 OK\r\n"
        } else if command == "DATA" {
            write
                .write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line).await? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            let arrived = {
                let mut store = store.lock().unwrap();
                store.push(Received {
                    recipients: std::mem::take(&mut recipients),
                    data,
                });
                store.len()
            };
            on_message(arrived).await;
            if drops
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
            {
                return Ok(());
            }
            b"250 OK queued\r\n"
        } else if command == "QUIT" {
            write.write_all(b"221 Bye\r\n").await?;
            return Ok(());
        } else {
            b"502 Command not implemented\r\n"
        };
        write.write_all(reply).await?;
    }
}
