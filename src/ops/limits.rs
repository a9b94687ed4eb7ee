//! Limits on expensive work: reading an uploaded file and reviewing one (a preview, a report, an
//! import) hold memory in proportion to the file, so only a few run at once. A request beyond
//! them waits briefly, then is refused with `Error::Overloaded` (503 with `Retry-After`).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{Error, OpResult};

/// How long a refused request is told to wait before trying again.
pub const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Permits for heavy work, shared by every request of the instance.
#[derive(Clone, Debug)]
pub struct WorkLimit {
    permits: Arc<Semaphore>,
    wait: Duration,
}

impl WorkLimit {
    /// `permits` pieces of heavy work at once; another waits up to `wait` for one to end.
    pub fn new(permits: usize, wait: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(permits)),
            wait,
        }
    }

    /// One piece per core, at most four: each holds up to a few times a 20 MB file.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::new(cores.clamp(1, 4), Duration::from_secs(2))
    }

    /// A permit for one piece of heavy work, held until it is dropped.
    pub async fn enter(&self) -> OpResult<OwnedSemaphorePermit> {
        let permits = Arc::clone(&self.permits);
        match tokio::time::timeout(self.wait, permits.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            // Never closed; a timeout means every permit stayed taken.
            Ok(Err(_)) | Err(_) => Err(Error::Overloaded {
                retry_after: RETRY_AFTER,
            }),
        }
    }
}
