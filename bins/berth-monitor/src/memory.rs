//! Memory a long-lived process gives back once a heavy phase is over (the monitor after
//! starting its container, the exec helper after loading the spec and filter): it lives as
//! long as the container, one per container.

/// Returns freed heap pages to the kernel.
#[allow(unsafe_code)]
pub fn give_back_freed_heap() {
    // SAFETY: glibc's malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Returns the calling thread's stack pages below the current frame, left dirty by deep calls
/// (a container's start). Call it from a shallow frame; nothing lives below it.
#[allow(unsafe_code)]
pub fn give_back_unused_stack() {
    const PAGE: usize = 4096;
    // Room for the madvise call itself (the maps are read before).
    const MARGIN: usize = 2 * PAGE;
    let here = std::hint::black_box(0u8);
    let sp = std::ptr::addr_of!(here) as usize;
    let Some((low, _)) = mapping_around(sp) else {
        return;
    };
    let end = sp.saturating_sub(MARGIN) & !(PAGE - 1);
    if end <= low {
        return;
    }
    // SAFETY: [low, end) is this thread's stack mapping below the live frames (this one and
    // its callers are above `end`), so no Rust object is there; the pages come back zeroed
    // if the stack grows into them again.
    unsafe {
        libc::madvise(low as *mut libc::c_void, end - low, libc::MADV_DONTNEED);
    }
}

/// The mapping (start, end) that holds `address`, from /proc/self/maps.
fn mapping_around(address: usize) -> Option<(usize, usize)> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().find_map(|line| {
        let (start, end) = line.split_whitespace().next()?.split_once('-')?;
        let start = usize::from_str_radix(start, 16).ok()?;
        let end = usize::from_str_radix(end, 16).ok()?;
        (start <= address && address < end).then_some((start, end))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The resident size (kB) of the mapping holding this thread's stack.
    fn stack_rss() -> u64 {
        let here = std::hint::black_box(0u8);
        let (start, _) = mapping_around(std::ptr::addr_of!(here) as usize).unwrap();
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let header = format!("{start:x}-");
        let block = smaps
            .split('\n')
            .skip_while(|l| !l.starts_with(&header))
            .find(|l| l.starts_with("Rss:"))
            .unwrap();
        block.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    #[inline(never)]
    fn deep(n: usize) -> u64 {
        let buf = std::hint::black_box([n as u8; 4096]);
        if n == 0 {
            u64::from(buf[0])
        } else {
            deep(n - 1) + u64::from(buf[1])
        }
    }

    /// Deep calls dirty the stack; giving it back shrinks it, and calls still work.
    #[test]
    fn unused_stack_is_given_back() {
        assert_eq!(deep(100), (1..=100).sum::<u64>());
        let before = stack_rss();
        give_back_unused_stack();
        let after = stack_rss();
        assert!(after + 200 <= before, "stack RSS {before} kB -> {after} kB");
        assert_eq!(deep(100), (1..=100).sum::<u64>());
    }
}
