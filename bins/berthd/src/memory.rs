//! How the daemon's heap gives memory back. glibc's malloc keeps freed memory by default:
//! its threshold for serving an allocation from its own mapping grows with every large
//! block freed (so a 1 MB label, once freed, makes later ones come from the heap, where they
//! stay), and each thread may get an arena of its own. A daemon that saw a burst of large
//! requests would keep that memory for good.

/// Allocations from this size up get mappings of their own, returned to the kernel when
/// freed. Setting it also stops glibc from raising it.
const MMAP_THRESHOLD: libc::c_int = 256 * 1024;

/// Two worker threads and a blocking pool: two arenas share the load well enough.
const ARENA_MAX: libc::c_int = 2;

/// Sets the allocator up; call before any thread starts.
#[allow(unsafe_code)]
pub fn configure_allocator() {
    // SAFETY: mallopt only sets glibc's tuning parameters; no thread allocates yet.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_ARENA_MAX, ARENA_MAX);
    }
}

/// Returns the heap's free pages to the kernel (after a container's removal has freed its
/// record, whatever its size).
#[allow(unsafe_code)]
pub fn give_back_freed_heap() {
    // SAFETY: malloc_trim only walks the allocator's own free lists, under its locks.
    unsafe {
        libc::malloc_trim(0);
    }
}
