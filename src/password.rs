//! Password hashing: argon2id with a random salt per password. Each hash takes about 19 MiB and
//! tens of milliseconds, so hashing runs under a concurrency limit sized to the cores (`Hashing`):
//! a burst of sign-ins waits briefly for a turn, then is told to come back, instead of taking the
//! server's memory. The hashes run on the limit's own threads, one per slot: the allocator keeps
//! freed memory per thread, so 19 MiB hashed on many pool threads would stay held many times over.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, mpsc};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use tokio::sync::{Semaphore, oneshot};

pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2id with default parameters hashes any password")
        .to_string()
}

/// True when `password` matches `stored`. A malformed stored hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash no password is known to match, with the real parameters: verifying against it costs
/// what verifying a real account costs, so an unknown email answers as slowly as a known one.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| hash(&crate::db::sessions::new_token()));

pub async fn hash_blocking(password: String) -> String {
    tokio::task::spawn_blocking(move || hash(&password))
        .await
        .expect("password hashing task panicked")
}

/// Every hashing slot stayed taken for the whole wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("every password hashing slot is busy")]
pub struct HashingBusy;

/// A hash to run, and where its answer goes.
type Job = Box<dyn FnOnce() + Send>;

/// The limit on password hashes running at once, shared by every request of a server.
#[derive(Clone, Debug)]
pub struct Hashing {
    slots: Arc<Semaphore>,
    wait: Duration,
    /// The hashing threads' queue; they end when the last `Hashing` is dropped.
    jobs: mpsc::Sender<Job>,
    running: Arc<AtomicUsize>,
    peak: Arc<AtomicUsize>,
}

/// How long a hash waits for a slot before the request is answered 503.
const WAIT: Duration = Duration::from_secs(2);

impl Hashing {
    /// At most `slots` hashes at once, on `slots` threads; a hash waits up to `wait` for a slot.
    pub fn new(slots: usize, wait: Duration) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..slots {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new()
                .name(format!("password-hashing-{n}"))
                .spawn(move || {
                    loop {
                        let next = queue.lock().unwrap_or_else(|e| e.into_inner()).recv();
                        match next {
                            Ok(job) => job(),
                            Err(mpsc::RecvError) => return,
                        }
                    }
                })
                .expect("the system starts a password hashing thread");
        }
        Self {
            slots: Arc::new(Semaphore::new(slots)),
            wait,
            jobs,
            running: Arc::default(),
            peak: Arc::default(),
        }
    }

    /// One slot per core: more hashes at once would only queue for the CPU while holding memory.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::new(cores, WAIT)
    }

    /// The most hashes that ever ran at once (for tests and metrics).
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashingBusy> {
        let permit = tokio::time::timeout(self.wait, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| HashingBusy)?
            .map_err(|_| HashingBusy)?;
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        let running = self.running.clone();
        let (answer, answered) = oneshot::channel();
        let job = Box::new(move || {
            let outcome = work();
            running.fetch_sub(1, Ordering::SeqCst);
            drop(permit);
            // The request may have gone; its answer is then not wanted.
            let _ = answer.send(outcome);
        });
        self.jobs
            .send(job)
            .expect("the hashing threads live as long as their queue");
        Ok(answered.await.expect("password hashing thread panicked"))
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: String) -> Result<String, HashingBusy> {
        self.run(move || hash(&password)).await
    }

    /// Verifies `password`; with no stored hash (unknown user, or one who never set a password)
    /// it verifies against the dummy hash, so the answer takes as long as for a real user.
    pub async fn verify(
        &self,
        password: String,
        stored: Option<String>,
    ) -> Result<bool, HashingBusy> {
        self.run(move || match stored {
            Some(stored) => verify(&password, &stored),
            None => {
                verify(&password, &DUMMY_HASH);
                false
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse");
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify("correct horse", &stored));
        assert!(!verify("wrong horse", &stored));
        assert!(!verify("correct horse", "not a hash"));
    }

    #[tokio::test]
    async fn hashing_without_a_free_slot_is_refused_after_the_wait() {
        let hashing = Hashing::new(0, Duration::ZERO);
        assert_eq!(hashing.hash("pw".into()).await, Err(HashingBusy));
        assert_eq!(hashing.verify("pw".into(), None).await, Err(HashingBusy));
    }

    #[tokio::test]
    async fn hashes_run_on_the_limits_own_threads_only() {
        let hashing = Hashing::new(2, Duration::from_secs(60));
        let runs = (0..8).map(|_| hashing.run(|| std::thread::current().name().map(str::to_owned)));
        let mut threads: Vec<_> = futures_util::future::join_all(runs)
            .await
            .into_iter()
            .map(|name| name.unwrap().unwrap())
            .collect();
        threads.sort();
        threads.dedup();
        assert!(threads.len() <= 2, "{threads:?}");
        assert!(
            threads.iter().all(|t| t.starts_with("password-hashing-")),
            "{threads:?}"
        );
    }
}
