//! Doorbell Buffer Config (NVMe-Base 5.2.5, "Doorbell Buffer Config command"):
//! PRP1 is the shadow doorbell buffer, PRP2 the EventIdx buffer, each one memory
//! page, page aligned. See `controller::shadow` for how they are used.

use super::{done, fail, Outcome};
use crate::controller::shadow::ShadowDoorbells;
use crate::controller::Controller;
use crate::spec::{Status, SubmissionEntry};

pub fn config(ctrl: &mut Controller, sqe: &SubmissionEntry) -> Outcome {
    let ps = ctrl.shared.page_size();
    let (db, ei) = (sqe.prp1(), sqe.prp2());
    if db == 0 || ei == 0 || db % ps != 0 || ei % ps != 0 {
        return fail(Status::INVALID_FIELD);
    }
    let sh = ShadowDoorbells { doorbells: db, event_idx: ei };
    // Seed both buffers with the queues' current doorbell values.
    {
        let qs = ctrl.shared.queues.read().unwrap();
        for (qid, q) in qs.sqs.iter().enumerate().skip(1) {
            if let Some(q) = q {
                sh.seed(&*ctrl.shared.mem, qid as u16, q.sq.doorbell_tail(), 0);
            }
        }
    }
    ctrl.shared.shadow.set(Some(sh));
    tracing::info!("shadow doorbells at {db:#x}, EventIdx at {ei:#x}");
    // Wake every worker so it starts reading the shadow buffer.
    for q in ctrl.shared.queues.read().unwrap().sqs.iter().flatten() {
        q.sq.notify();
    }
    done(0)
}
