//! SIGINT / SIGTERM: blocked in every thread and taken by one thread with
//! sigwait, which runs the shutdown callback (stop accepting, close the client
//! connection so the message loop ends, then the controller finishes in-flight
//! commands and flushes).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn signal_set() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialise and fill a local sigset_t.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        set
    }
}

/// Block the signals in the calling thread; threads spawned later inherit the mask.
pub fn block() {
    let set = signal_set();
    // SAFETY: pthread_sigmask with a valid set and no old-set pointer.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
}

/// Start the thread that waits for a signal and then calls `on_signal` once.
pub fn spawn_waiter(stopping: Arc<AtomicBool>, on_signal: impl FnOnce(i32) + Send + 'static) {
    std::thread::Builder::new()
        .name("vnvme-signals".into())
        .spawn(move || {
            let set = signal_set();
            let mut sig: libc::c_int = 0;
            // SAFETY: sigwait on a valid set, writing the signal number to a local.
            let rc = unsafe { libc::sigwait(&set, &mut sig) };
            if rc == 0 {
                stopping.store(true, Ordering::SeqCst);
                on_signal(sig);
            }
        })
        .expect("spawning the signal thread");
}
