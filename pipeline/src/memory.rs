//! Giving freed heap back to the operating system after a large snapshot is released.
//!
//! A 300k-series snapshot is ~140 MB of small OTLP allocations; once every exporter is
//! done with it, glibc keeps those pages in its free lists, so the agent's RSS would stay
//! at its peak although the memory is unused. `malloc_trim` returns whole free pages.

/// Snapshots smaller than this are not worth a trim (a trim walks the heap).
pub const TRIM_AFTER_POINTS: usize = 20_000;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
mod glibc {
    unsafe extern "C" {
        fn malloc_trim(pad: usize) -> i32;
    }

    pub fn trim() {
        // SAFETY: malloc_trim takes no pointers and only rearranges the allocator's own
        // free lists; glibc allows it at any time from any thread.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// Returns free heap pages to the OS (glibc only; a no-op elsewhere).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    glibc::trim();
}
