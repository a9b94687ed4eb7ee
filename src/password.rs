//! Password hashing: argon2id with a random salt per password. Each hash takes about 19 MiB and
//! tens of milliseconds, so hashing runs under a concurrency limit sized to the cores (`Hashing`):
//! a burst of sign-ins waits briefly for a turn, then is told to come back, instead of taking the
//! server's memory. The hashes run on the limit's own threads, one per slot: the allocator keeps
//! freed memory per thread, so 19 MiB hashed on many pool threads would stay held many times over.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, mpsc};
use std::time::Duration;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{Semaphore, oneshot};

thread_local! {
    /// This thread's argon2 memory, allocated at its first hash and reused by every later one.
    /// Allocated afresh per hash, glibc's allocator keeps each freed 19 MiB in the heap instead
    /// of reusing it, and a server grew by that much per sign-in.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// The most memory a stored hash may ask for: four times the default (76 MiB). A larger one is
/// not ours, and never matches.
const MAX_BLOCKS: usize = 4 * Params::DEFAULT_M_COST as usize;

/// `argon2` of `password` and `salt` into `out`, in this thread's reused memory.
fn hash_into(argon2: &Argon2, password: &[u8], salt: &[u8], out: &mut [u8]) -> argon2::Result<()> {
    let count = argon2.params().block_count();
    BLOCKS.with_borrow_mut(|blocks| {
        if blocks.len() < count {
            blocks.resize(count, Block::default());
        }
        argon2.hash_password_into_with_memory(password, salt, out, &mut blocks[..count])
    })
}

/// `password` hashed with argon2id, the default parameters and a random salt, as a PHC string.
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    let argon2 = Argon2::default();
    let mut salt_bytes = [0; 64];
    let salt_bytes = salt
        .decode_b64(&mut salt_bytes)
        .expect("a generated salt decodes");
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        hash_into(&argon2, password.as_bytes(), salt_bytes, out)
            .map_err(|_| argon2::password_hash::Error::Crypto)
    })
    .expect("argon2id with default parameters hashes any password");
    PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params()).expect("default parameters print"),
        salt: Some(salt.as_salt()),
        hash: Some(output),
    }
    .to_string()
}

/// True when `password` matches `stored`. A malformed stored hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let version = parsed
        .version
        .map_or(Ok(Version::default()), Version::try_from);
    let (Ok(algorithm), Ok(version), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        version,
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    if params.block_count() > MAX_BLOCKS {
        return false;
    }
    let argon2 = Argon2::new(algorithm, version, params);
    let mut salt_bytes = [0; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    // `Output`'s comparison takes the same time wherever the bytes differ.
    Output::init_with(expected.len(), |out| {
        hash_into(&argon2, password.as_bytes(), salt, out)
            .map_err(|_| argon2::password_hash::Error::Crypto)
    })
    .is_ok_and(|computed| computed == expected)
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

    #[test]
    fn hashes_read_both_ways_with_the_argon2_crates_own() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let theirs = Argon2::default()
            .hash_password(b"correct horse", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        assert!(verify("correct horse", &theirs));
        assert!(!verify("correct horsf", &theirs));
        let ours = hash("correct horse");
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        assert!(
            Argon2::default()
                .verify_password(b"wrong horse", &parsed)
                .is_err()
        );
    }

    #[test]
    fn a_stored_hash_asking_for_too_much_memory_never_matches() {
        let greedy = Params::new(MAX_BLOCKS as u32 + 8, 1, 1, None).unwrap();
        let stored = Argon2::new(Algorithm::Argon2id, Version::V0x13, greedy);
        let stored = argon2::password_hash::PasswordHasher::hash_password(
            &stored,
            b"pw",
            &SaltString::generate(&mut OsRng),
        )
        .unwrap()
        .to_string();
        assert!(!verify("pw", &stored));
    }
}
