//! A global allocator that counts heap allocations while counting is switched on, so
//! `vnvme bench io` can print allocations per I/O. The `vnvme` binary installs it;
//! when counting is off (always, outside the benchmark) an allocation costs one
//! relaxed load more than the system allocator's.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

/// The system allocator, counting `alloc`, `alloc_zeroed` and `realloc` calls.
pub struct CountingAlloc;

// SAFETY: every call is passed unchanged to the system allocator; the counter has
// no effect on the memory handed out.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, which is the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: as for `dealloc`; the caller upholds `realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[inline]
fn count() {
    if COUNTING.load(Ordering::Relaxed) {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    }
}

/// Start or stop counting (all threads).
pub fn set_counting(on: bool) {
    COUNTING.store(on, Ordering::SeqCst);
}

/// Allocations counted so far. Only meaningful in a binary that installed
/// [`CountingAlloc`] as its global allocator (`installed()` tells).
pub fn allocations() -> u64 {
    ALLOCATIONS.load(Ordering::Relaxed)
}

/// Whether the running binary counts: switch counting on, allocate, and look.
pub fn installed() -> bool {
    let was = COUNTING.swap(true, Ordering::SeqCst);
    let before = allocations();
    drop(std::hint::black_box(Box::new(0u64)));
    let after = allocations();
    COUNTING.store(was, Ordering::SeqCst);
    after > before
}
