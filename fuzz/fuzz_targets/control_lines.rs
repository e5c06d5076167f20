//! Control-socket request lines (`control::protocol`), as the server reads
//! them: each line parses to a request or an error message, never a panic. A
//! parsed request prints back (`to_line`) to a line that parses to the same
//! request, and the control plane answers it with one JSON line carrying `ok`;
//! the lines of one input go to one plane in order, so `fault-add` rules are
//! listed, fired, deleted and cleared by the lines after them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::Arc;
use vnvme::control::protocol::{self, Outcome, Request};
use vnvme::control::ControlPlane;
use vnvme::controller::test_support::fixtures::NsConfig;
use vnvme::controller::NamespaceTable;
use vnvme::storage::MemStore;

thread_local! {
    /// One namespace, built once: a plane is cheap, a namespace is not.
    static TABLE: Arc<NamespaceTable> = {
        let ns = NsConfig::new(512).metadata(8).pi(1, 0).bytes(64 << 10).build(1, Arc::new(MemStore::new(64 << 10)));
        Arc::new(NamespaceTable::fixed(vec![ns]))
    };
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let plane = ControlPlane::new(TABLE.with(|t| t.clone()), false);
    for line in text.lines().take(64) {
        let req = match protocol::parse(line) {
            Ok(r) => r,
            Err(msg) => {
                let reply = protocol::error(&msg);
                let o: Outcome = serde_json::from_str(&reply).expect("an error reply is JSON");
                assert!(!o.ok);
                continue;
            }
        };
        let again = protocol::parse(&protocol::to_line(&req));
        assert_eq!(again.as_ref(), Ok(&req), "{line:?} printed back");
        if matches!(req, Request::Trace { .. }) {
            continue;
        }
        let reply = plane.handle(req);
        assert!(!reply.contains('\n'), "one line: {reply:?}");
        let _: Outcome = serde_json::from_str(&reply).unwrap_or_else(|e| panic!("{line:?} -> {reply:?}: {e}"));
    }
    // Whatever rules the lines left, a command meets them without panicking.
    for (nsid, slba) in [(1, 0), (1, u64::MAX), (2, 7)] {
        let _ = plane.faults.fire(nsid, 0x02, slba, 0x10000);
    }
});
