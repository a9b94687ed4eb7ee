//! The process's memory allocator settings. glibc's malloc raises its mmap threshold each time a
//! large block is freed, after which blocks up to that size come from the heap and stay there
//! once freed: every request that read a 20 MB upload left its buffers held, and the server's
//! peak grew past 250 MB (`cargo bench --bench memory`). With the threshold fixed at 1 MiB, large
//! buffers go back to the system when freed and the same requests peak near 160 MB.

/// The setting, in glibc's tunables syntax.
pub const TUNABLES: &str = "glibc.malloc.mmap_threshold=1048576";

/// glibc reads its tunables only at start, so unless the operator has set `GLIBC_TUNABLES`
/// themselves, seatledger starts itself again with `TUNABLES` set (same process id, arguments
/// and environment otherwise). Returns only when it does not restart.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn restart_with_tuned_malloc() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("GLIBC_TUNABLES").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let error = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("GLIBC_TUNABLES", TUNABLES)
        .exec();
    // The binary may have been replaced while running: carry on with glibc's defaults.
    eprintln!("seatledger: running without {TUNABLES}: {error}");
}

/// Other systems' allocators have no such setting.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn restart_with_tuned_malloc() {}
