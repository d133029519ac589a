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
        fn mallopt(param: i32, value: i32) -> i32;
    }

    /// glibc's `M_MMAP_THRESHOLD` and `M_ARENA_MAX` (malloc.h).
    const M_MMAP_THRESHOLD: i32 = -3;
    const M_ARENA_MAX: i32 = -8;

    pub fn tune(arenas: i32, mmap_threshold: i32) {
        // SAFETY: mallopt takes two integers and changes allocator settings; called before
        // the runtime's threads exist, as glibc recommends.
        unsafe {
            if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
                mallopt(M_ARENA_MAX, arenas);
            }
            if std::env::var_os("MALLOC_MMAP_THRESHOLD_").is_none() {
                mallopt(M_MMAP_THRESHOLD, mmap_threshold);
            }
        }
    }

    pub fn trim() {
        // SAFETY: malloc_trim takes no pointers and only rearranges the allocator's own
        // free lists; glibc allows it at any time from any thread.
        unsafe {
            malloc_trim(0);
        }
    }
}

/// Allocator settings for a process whose large buffers come and go once per cycle (glibc
/// only; a no-op elsewhere; the `MALLOC_ARENA_MAX` and `MALLOC_MMAP_THRESHOLD_` environment
/// variables still win).
///
/// - One arena: each thread that allocates gets an arena of its own by default (up to 8 per
///   core), and each keeps its free memory; the agent's threads mostly wait, so sharing one
///   arena costs no measurable time.
/// - A fixed mmap threshold of 128 KiB: by default glibc raises the threshold each time a
///   large block is freed, up to 32 MiB, after which the rendered pages and export requests
///   are carved from the heap, where they fragment it, instead of being mapped and
///   unmapped whole.
///
/// Measured in docs/PERFORMANCE.md (large preset, every collector on).
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    glibc::tune(1, 128 * 1024);
}

/// Returns free heap pages to the OS (glibc only; a no-op elsewhere).
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    glibc::trim();
}
