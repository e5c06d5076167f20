//! Optional features vnvme leaves out (docs/conformance.md): Identify Controller
//! says they are absent, and a tool that probes them anyway gets the status the
//! spec names. NVMe-Base 2.1 4.4: a Get Features or Set Features of a Feature
//! Identifier that is not supported is Invalid Field in Command; an opcode that is
//! not supported is Invalid Command Opcode; a log page that is not supported is
//! Invalid Log Page (Get Log Page, 1h/09h).

use super::fake_host::{cmd, FakeHost, NsConfig, Store, PAGE};
use crate::controller::admin::features::fid;
use crate::spec::identify::ctrl as c;
use crate::spec::opcode::admin as aop;
use crate::spec::{Status, SubmissionEntry};

/// Feature identifiers vnvme implements (NVMe-Base Figure 385).
const IMPLEMENTED: [u8; 12] = [
    fid::ARBITRATION,
    fid::POWER_MANAGEMENT,
    fid::TEMPERATURE_THRESHOLD,
    fid::ERROR_RECOVERY,
    fid::VOLATILE_WRITE_CACHE,
    fid::NUMBER_OF_QUEUES,
    fid::INTERRUPT_COALESCING,
    fid::INTERRUPT_VECTOR_CONFIG,
    fid::WRITE_ATOMICITY,
    fid::ASYNC_EVENT_CONFIG,
    fid::TIMESTAMP,
    fid::HOST_BEHAVIOR_SUPPORT,
];

/// A few optional features tools probe: LBA Range Type, Autonomous Power State
/// Transition, Host Memory Buffer, Keep Alive Timer, Host Controlled Thermal
/// Management, Sanitize Config, Software Progress Marker, Host Identifier,
/// Reservation Notification Mask.
const LEFT_OUT: [u8; 9] = [0x03, 0x0c, 0x0d, 0x0f, 0x10, 0x17, 0x80, 0x81, 0x82];

fn host() -> FakeHost {
    let mut h = FakeHost::new(Store::Mem, &[NsConfig::new(512)]);
    h.enable();
    h
}

fn assert_invalid_field(s: Status, what: &str) {
    assert_eq!(s, Status::INVALID_FIELD, "{what}");
    assert_eq!((s.sct, s.sc, s.dnr), (0, 0x02, true), "{what}");
}

#[test]
fn identify_controller_says_the_left_out_features_are_absent() {
    let mut h = host();
    let (cqe, d) = h.identify(0x01, 0);
    assert_eq!(cqe.status, Status::SUCCESS);
    assert_eq!(u16::from_le_bytes([d[c::KAS], d[c::KAS + 1]]), 0, "KAS: no Keep Alive");
    assert_eq!(d[c::APSTA], 0, "no autonomous power state transitions");
    assert_eq!(&d[c::HMPRE..c::HMPRE + 4], &[0; 4], "no Host Memory Buffer");
    assert_eq!(&d[c::SANICAP..c::SANICAP + 4], &[0; 4], "no Sanitize");
    let oacs = u16::from_le_bytes([d[c::OACS], d[c::OACS + 1]]);
    assert_eq!(
        oacs & !(c::OACS_FORMAT_NVM | c::OACS_DOORBELL_BUFFER_CONFIG),
        0,
        "OACS: only Format NVM (and Doorbell Buffer Config)"
    );
}

#[test]
fn keep_alive_timer_is_invalid_field_in_get_and_set_features() {
    let mut h = host();
    for sel in 0..4 {
        assert_invalid_field(h.admin(cmd::get_features(0x0f, sel)).status, &format!("Get Features KATO, SEL {sel}"));
    }
    assert_invalid_field(h.admin(cmd::set_features(0x0f, 120_000)).status, "Set Features KATO 120 s");
    // The Keep Alive command itself (18h) is not implemented.
    let c = h.admin(SubmissionEntry::new(aop::KEEP_ALIVE, 0, 0));
    assert_eq!((c.status, c.status.dnr), (Status::INVALID_OPCODE, true));
}

#[test]
fn probed_optional_features_are_invalid_field() {
    let mut h = host();
    for f in LEFT_OUT {
        assert_invalid_field(h.admin(cmd::get_features(f, 0)).status, &format!("Get Features {f:#04x}"));
        assert_invalid_field(h.admin(cmd::get_features(f, 3)).status, &format!("Get Features {f:#04x} SEL 3"));
        assert_invalid_field(h.admin(cmd::set_features(f, 0)).status, &format!("Set Features {f:#04x}"));
        let save = cmd::set_features(f, 0).with_cdw(10, f as u32 | 1 << 31);
        assert_invalid_field(h.admin(save).status, &format!("Set Features {f:#04x} with SV"));
    }
}

#[test]
fn every_feature_identifier_not_implemented_is_invalid_field() {
    let mut h = host();
    let buf = h.alloc(PAGE);
    for f in (0..=255u8).filter(|f| !IMPLEMENTED.contains(f)) {
        assert_invalid_field(
            h.admin(cmd::get_features(f, 0).with_prps(buf, 0)).status,
            &format!("Get Features {f:#04x}"),
        );
        assert_invalid_field(
            h.admin(cmd::set_features(f, 0).with_prps(buf, 0)).status,
            &format!("Set Features {f:#04x}"),
        );
    }
    for f in IMPLEMENTED {
        assert_eq!(h.admin(cmd::get_features(f, 0).with_prps(buf, 0)).status, Status::SUCCESS, "Get Features {f:#04x}");
    }
}
