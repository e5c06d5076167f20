//! Get Features / Set Features (NVMe-Base 5.1.11 and 5.1.25, feature table in
//! Figure 385): arbitration, power management, temperature threshold, error
//! recovery, volatile write cache, number of queues, interrupt coalescing and
//! vector configuration, write atomicity, asynchronous event configuration,
//! timestamp and host behavior support. No feature is saveable. Every other
//! Feature Identifier, the optional ones vnvme leaves out included (Keep Alive
//! Timer: KAS = 0, Host Memory Buffer, Autonomous Power State Transition, ...), is
//! Invalid Field in Command for Get and Set alike (NVMe-Base 4.4); the list is in
//! docs/conformance.md.

use super::{done, fail, read_from_host, transfer, write_to_host, Outcome};
use crate::controller::config::ControllerConfig;
use crate::controller::Controller;
use crate::spec::{Status, SubmissionEntry};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

pub mod fid {
    pub const ARBITRATION: u8 = 0x01;
    pub const POWER_MANAGEMENT: u8 = 0x02;
    pub const TEMPERATURE_THRESHOLD: u8 = 0x04;
    pub const ERROR_RECOVERY: u8 = 0x05;
    pub const VOLATILE_WRITE_CACHE: u8 = 0x06;
    pub const NUMBER_OF_QUEUES: u8 = 0x07;
    pub const INTERRUPT_COALESCING: u8 = 0x08;
    pub const INTERRUPT_VECTOR_CONFIG: u8 = 0x09;
    pub const WRITE_ATOMICITY: u8 = 0x0a;
    pub const ASYNC_EVENT_CONFIG: u8 = 0x0b;
    pub const TIMESTAMP: u8 = 0x0e;
    pub const HOST_BEHAVIOR_SUPPORT: u8 = 0x16;
}

/// Composite temperature the controller reports, in kelvin (SMART log).
pub const COMPOSITE_TEMPERATURE_K: u16 = 310;

#[derive(Clone)]
pub struct Features {
    pub arbitration: u32,
    pub power_state: u32,
    pub temp_over: u16,
    pub temp_under: u16,
    pub error_recovery: u32,
    pub write_cache: bool,
    /// Queues allocated (zero's based NSQA/NCQA), once set.
    pub queues_allocated: Option<(u16, u16)>,
    pub coalescing: u32,
    pub vector_config: HashMap<u16, u32>,
    pub write_atomicity: u32,
    pub async_config: u32,
    /// Host-set timestamp (ms) and when it was set.
    pub timestamp: Option<(u64, Instant)>,
    pub host_behavior: Vec<u8>,
}

impl Features {
    pub fn new(cfg: &ControllerConfig) -> Self {
        Features {
            arbitration: 0,
            power_state: 0,
            temp_over: 343,
            temp_under: 0,
            error_recovery: 0,
            write_cache: cfg.write_cache,
            queues_allocated: None,
            coalescing: 0,
            vector_config: HashMap::new(),
            write_atomicity: 0,
            async_config: 0,
            timestamp: None,
            host_behavior: vec![0u8; 512],
        }
    }
    /// Controller reset returns every feature to its default (nothing is saved).
    pub fn reset(&mut self, cfg: &ControllerConfig) {
        let ts = self.timestamp;
        *self = Features::new(cfg);
        // The timestamp keeps counting across a controller reset (NVMe-Base 5.1.25.1.10).
        self.timestamp = ts;
    }
    fn timestamp_bytes(&self) -> [u8; 8] {
        let (ms, origin) = match self.timestamp {
            Some((base, at)) => (base + at.elapsed().as_millis() as u64, 1u8),
            None => (SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0), 0),
        };
        let mut b = [0u8; 8];
        b[..6].copy_from_slice(&ms.to_le_bytes()[..6]);
        // Attributes: Synch 0, Timestamp Origin (bits 3:1): 001b set by Set Features.
        b[6] = origin << 1;
        b
    }
}

/// The features, behind a mutex for the admin commands, with the two values every
/// I/O command needs (the volatile write cache and Host Behavior Support's CDFE)
/// also kept in one atomic: the I/O path reads them without taking the lock. The
/// guard republishes them when it is dropped, so no writer can forget to.
pub struct FeatureCell {
    inner: Mutex<Features>,
    /// Bit 0: write cache enabled; bits 31:16: CDFE.
    io: AtomicU32,
}

pub struct FeatureGuard<'a> {
    guard: MutexGuard<'a, Features>,
    io: &'a AtomicU32,
}

impl Features {
    fn io_bits(&self) -> u32 {
        let cdfe = u16::from_le_bytes([self.host_behavior[4], self.host_behavior[5]]);
        self.write_cache as u32 | (cdfe as u32) << 16
    }
}

impl FeatureCell {
    pub fn new(f: Features) -> Self {
        let io = AtomicU32::new(f.io_bits());
        FeatureCell { inner: Mutex::new(f), io }
    }

    /// The features, for reading or changing (a poisoned lock is taken over: the
    /// values are plain data, valid whatever a panicking holder did).
    pub fn lock(&self) -> FeatureGuard<'_> {
        FeatureGuard { guard: self.inner.lock().unwrap_or_else(|e| e.into_inner()), io: &self.io }
    }

    /// (volatile write cache enabled, CDFE), without the lock.
    pub fn io_view(&self) -> (bool, u16) {
        let v = self.io.load(Ordering::Acquire);
        (v & 1 != 0, (v >> 16) as u16)
    }
}

impl std::ops::Deref for FeatureGuard<'_> {
    type Target = Features;
    fn deref(&self) -> &Features {
        &self.guard
    }
}

impl std::ops::DerefMut for FeatureGuard<'_> {
    fn deref_mut(&mut self) -> &mut Features {
        &mut self.guard
    }
}

impl Drop for FeatureGuard<'_> {
    fn drop(&mut self) {
        self.io.store(self.guard.io_bits(), Ordering::Release);
    }
}

pub fn get_features(ctrl: &mut Controller, sqe: &SubmissionEntry) -> Outcome {
    let f_id = sqe.cdw10() as u8;
    let sel = (sqe.cdw10() >> 8) & 7;
    if sel > 3 {
        return fail(Status::INVALID_FIELD);
    }
    if !known(f_id) {
        return fail(Status::INVALID_FIELD);
    }
    if sel == 3 {
        // Supported capabilities: changeable (bit 2); error recovery is namespace specific.
        let ns_specific = (f_id == fid::ERROR_RECOVERY) as u32;
        return done(1 << 2 | ns_specific << 1);
    }
    let sh = ctrl.shared.clone();
    let cur = if sel == 0 { sh.features.lock().clone() } else { Features::new(&sh.config) };
    let max_q = sh.config.max_queues - 1;
    let dw0 = match f_id {
        fid::ARBITRATION => cur.arbitration,
        fid::POWER_MANAGEMENT => cur.power_state,
        fid::TEMPERATURE_THRESHOLD => {
            let tmpsel = (sqe.cdw11() >> 16) & 0xf;
            let thsel = (sqe.cdw11() >> 20) & 3;
            if tmpsel != 0 || thsel > 1 {
                return fail(Status::INVALID_FIELD);
            }
            (if thsel == 0 { cur.temp_over } else { cur.temp_under }) as u32
        }
        fid::ERROR_RECOVERY => cur.error_recovery,
        fid::VOLATILE_WRITE_CACHE => cur.write_cache as u32,
        fid::NUMBER_OF_QUEUES => {
            let (s, c) = cur.queues_allocated.unwrap_or((max_q, max_q));
            s as u32 | (c as u32) << 16
        }
        fid::INTERRUPT_COALESCING => cur.coalescing,
        fid::INTERRUPT_VECTOR_CONFIG => {
            let iv = sqe.cdw11() as u16;
            if iv >= sh.irq.vectors() {
                return fail(Status::INVALID_FIELD);
            }
            iv as u32 | cur.vector_config.get(&iv).copied().unwrap_or(0) & (1 << 16)
        }
        fid::WRITE_ATOMICITY => cur.write_atomicity,
        fid::ASYNC_EVENT_CONFIG => cur.async_config,
        fid::TIMESTAMP => return transfer(write_to_host(ctrl, sqe, &cur.timestamp_bytes()), 0),
        fid::HOST_BEHAVIOR_SUPPORT => return transfer(write_to_host(ctrl, sqe, &cur.host_behavior), 0),
        _ => return fail(Status::INVALID_FIELD),
    };
    done(dw0)
}

fn known(f: u8) -> bool {
    use fid::*;
    matches!(
        f,
        ARBITRATION
            | POWER_MANAGEMENT
            | TEMPERATURE_THRESHOLD
            | ERROR_RECOVERY
            | VOLATILE_WRITE_CACHE
            | NUMBER_OF_QUEUES
            | INTERRUPT_COALESCING
            | INTERRUPT_VECTOR_CONFIG
            | WRITE_ATOMICITY
            | ASYNC_EVENT_CONFIG
            | TIMESTAMP
            | HOST_BEHAVIOR_SUPPORT
    )
}

pub fn set_features(ctrl: &mut Controller, sqe: &SubmissionEntry) -> Outcome {
    let f_id = sqe.cdw10() as u8;
    let save = sqe.cdw10() >> 31 != 0;
    if !known(f_id) {
        return fail(Status::INVALID_FIELD);
    }
    if save {
        return fail(Status::FEATURE_NOT_SAVEABLE);
    }
    let sh = ctrl.shared.clone();
    let v = sqe.cdw11();
    // Data-carrying features first: their transfer happens outside the lock.
    let data = match f_id {
        fid::TIMESTAMP => match read_from_host(ctrl, sqe, 8) {
            Ok(d) => Some(d),
            Err(s) => return fail(s),
        },
        fid::HOST_BEHAVIOR_SUPPORT => match read_from_host(ctrl, sqe, 512) {
            Ok(d) => Some(d),
            Err(s) => return fail(s),
        },
        _ => None,
    };
    let mut raise_temp = false;
    let mut f = sh.features.lock();
    let dw0 = match f_id {
        fid::ARBITRATION => {
            f.arbitration = v & 0xffff_ff07;
            0
        }
        fid::POWER_MANAGEMENT => {
            if v & 0x1f != 0 {
                return fail(Status::INVALID_FIELD); // only power state 0 exists (NPSS 0)
            }
            f.power_state = v & 0xff;
            0
        }
        fid::TEMPERATURE_THRESHOLD => {
            let tmpsel = (v >> 16) & 0xf;
            let thsel = (v >> 20) & 3;
            if tmpsel != 0 || thsel > 1 {
                return fail(Status::INVALID_FIELD);
            }
            if thsel == 0 {
                f.temp_over = v as u16;
                raise_temp = COMPOSITE_TEMPERATURE_K > f.temp_over;
            } else {
                f.temp_under = v as u16;
                raise_temp = COMPOSITE_TEMPERATURE_K < f.temp_under;
            }
            raise_temp &= f.async_config & 0x2 != 0;
            0
        }
        fid::ERROR_RECOVERY => {
            if v & (1 << 16) != 0 {
                // DULBE: deallocated blocks read as zeroes, never as an error.
                return fail(Status::INVALID_FIELD);
            }
            f.error_recovery = v & 0xffff;
            0
        }
        fid::VOLATILE_WRITE_CACHE => {
            if !sh.config.write_cache && v & 1 != 0 {
                return fail(Status::INVALID_FIELD);
            }
            f.write_cache = v & 1 != 0;
            0
        }
        fid::NUMBER_OF_QUEUES => {
            let nsqr = v & 0xffff;
            let ncqr = v >> 16;
            if nsqr == 0xffff || ncqr == 0xffff {
                return fail(Status::INVALID_FIELD);
            }
            // NVMe-Base 5.1.25, Number of Queues: only before any I/O SQ *or CQ* exists.
            let any_io = {
                let qs = sh.queues.read().unwrap();
                qs.sqs.iter().skip(1).any(|q| q.is_some()) || qs.cqs.iter().skip(1).any(|q| q.is_some())
            };
            if any_io {
                return fail(Status::COMMAND_SEQUENCE_ERROR);
            }
            let max = sh.config.max_queues as u32 - 1;
            let (s, c) = (nsqr.min(max) as u16, ncqr.min(max) as u16);
            f.queues_allocated = Some((s, c));
            s as u32 | (c as u32) << 16
        }
        fid::INTERRUPT_COALESCING => {
            f.coalescing = v & 0xffff;
            0
        }
        fid::INTERRUPT_VECTOR_CONFIG => {
            let iv = v as u16;
            if iv >= sh.irq.vectors() {
                return fail(Status::INVALID_FIELD);
            }
            f.vector_config.insert(iv, v & (1 << 16));
            0
        }
        fid::WRITE_ATOMICITY => {
            f.write_atomicity = v & 1;
            0
        }
        fid::ASYNC_EVENT_CONFIG => {
            f.async_config = v;
            sh.aer.lock().unwrap().config = v;
            0
        }
        fid::TIMESTAMP => {
            let d = data.unwrap_or_default();
            let mut ms = [0u8; 8];
            ms[..6].copy_from_slice(&d[..6]);
            f.timestamp = Some((u64::from_le_bytes(ms), Instant::now()));
            0
        }
        fid::HOST_BEHAVIOR_SUPPORT => {
            f.host_behavior = data.unwrap_or_default();
            0
        }
        _ => return fail(Status::INVALID_FIELD),
    };
    drop(f);
    if raise_temp {
        sh.raise_event(super::aer::AsyncEvent::smart(super::aer::SMART_TEMPERATURE));
    }
    done(dw0)
}

#[cfg(test)]
mod cell_tests {
    use super::*;

    /// What the I/O path reads without the lock follows every change made under it.
    #[test]
    fn the_io_view_follows_changes_and_reset() {
        let cfg = ControllerConfig::default();
        let cell = FeatureCell::new(Features::new(&cfg));
        assert_eq!(cell.io_view(), (true, 0));
        {
            let mut f = cell.lock();
            f.write_cache = false;
            f.host_behavior[4] = 0x0c;
            assert_eq!(cell.io_view(), (true, 0), "published when the guard goes");
        }
        assert_eq!(cell.io_view(), (false, 0x0c));
        cell.lock().reset(&cfg);
        assert_eq!(cell.io_view(), (true, 0));
    }
}
