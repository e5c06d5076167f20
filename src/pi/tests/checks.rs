//! Checking rules of NVM Command Set 1.2 §5.3.3: each error kind and where it is reported,
//! disabled checks, escape values, masks, reference tag roll-over, guard coverage of metadata.

use super::*;

#[test]
fn each_error_kind_reports_first_block_expected_and_found() {
    for guard in GuardFormat::ALL {
        let f = format(guard, PiType::Type1, PiLocation::Last, sts_samples(guard)[1], 8);
        let ctx = ctx_for(f, PiChecks::ALL, 1000, 1000);
        let lbs = f.lbs as usize;

        let mut b = generated(f, &ctx);
        b.data[3 * lbs + 17] ^= 0x40;
        let stored = b.tuple(3).guard;
        let computed = f.guard.compute(&b.data[3 * lbs..4 * lbs], &b.md[3 * usize::from(f.ms)..][..f.tuple_offset()]);
        let want = PiError { kind: PiErrorKind::Guard, block_index: 3, lba: 1003, expected: computed, found: stored };
        assert_eq!(b.verify(&ctx), Err(want));

        let mut b = generated(f, &ctx);
        b.edit_tuple(4, |t| t.guard ^= 1);
        b.edit_tuple(2, |t| t.app_tag = 0x1235);
        let want = PiError { kind: PiErrorKind::AppTag, block_index: 2, lba: 1002, expected: 0x1234, found: 0x1235 };
        assert_eq!(b.verify(&ctx), Err(want));

        let mut b = generated(f, &ctx);
        b.edit_tuple(1, |t| t.ref_tag = 77);
        let want = PiError { kind: PiErrorKind::RefTag, block_index: 1, lba: 1001, expected: 1001, found: 77 };
        assert_eq!(b.verify(&ctx), Err(want));

        let mut b = generated(f, &ctx);
        b.edit_tuple(5, |t| t.storage_tag ^= 1);
        let expected = ctx_for(f, PiChecks::ALL, 1000, 1000);
        let found = b.tuple(5).storage_tag;
        let want = PiError {
            kind: PiErrorKind::StorageTag,
            block_index: 5,
            lba: 1005,
            expected: 0xA5A5_5A5A_0F0F_F0F0 & f.storage_tag_mask(),
            found,
        };
        assert_eq!(b.verify(&expected), Err(want));
        assert_eq!(Status::from(&want), Status::STORAGE_TAG_CHECK_ERROR);
    }
}

#[test]
fn disabled_checks_are_not_performed() {
    let f = format(GuardFormat::Crc64Nvme, PiType::Type2, PiLocation::First, 8, 0);
    let ctx = ctx_for(f, PiChecks::ALL, 0, 5);
    let mut b = generated(f, &ctx);
    b.data[0] ^= 1;
    b.edit_tuple(1, |t| t.app_tag = 0);
    b.edit_tuple(2, |t| t.ref_tag = 0);
    b.edit_tuple(3, |t| t.storage_tag = 0);
    assert_eq!(b.verify(&ctx_for(f, PiChecks::NONE, 0, 5)), Ok(()));
    let only_ref = PiChecks { ref_tag: true, ..PiChecks::NONE };
    assert_eq!(b.verify(&ctx_for(f, only_ref, 0, 5)).unwrap_err().kind, PiErrorKind::RefTag);
    let only_st = PiChecks { storage_tag: true, ..PiChecks::NONE };
    assert_eq!(b.verify(&ctx_for(f, only_st, 0, 5)).unwrap_err().block_index, 3);
    // STC is ignored when no storage tag is defined (STS 0).
    let f0 = format(GuardFormat::Crc64Nvme, PiType::Type2, PiLocation::First, 0, 0);
    let ctx0 = ctx_for(f0, PiChecks::ALL, 0, 5);
    let b0 = generated(f0, &ctx0);
    let other_tag = PiContext::new(f0, PiChecks::ALL, 5, 0x1234, 0xFFFF, 0xFFFF, 0).unwrap();
    assert_eq!(b0.verify(&other_tag), Ok(()));
}

#[test]
fn escape_values_type1_and_type2() {
    for pi in [PiType::Type1, PiType::Type2] {
        let f = format(GuardFormat::Crc16T10Dif, pi, PiLocation::Last, 0, 0);
        let ctx = ctx_for(f, PiChecks::ALL, 40, 40);
        let mut b = generated(f, &ctx);
        b.data[0] ^= 0xFF; // bad guard in block 0 ...
        b.edit_tuple(0, |t| {
            t.app_tag = 0xFFFF; // ... but escaped: no check at all
            t.ref_tag = 3;
        });
        assert_eq!(b.verify(&ctx), Ok(()), "{pi:?}");
        b.edit_tuple(0, |t| t.app_tag = 0xFFFE);
        assert_eq!(b.verify(&ctx).unwrap_err().kind, PiErrorKind::Guard);
    }
}

#[test]
fn escape_values_type3_need_app_and_ref_tag_all_ones() {
    for guard in GuardFormat::ALL {
        for sts in sts_samples(guard) {
            let f = format(guard, PiType::Type3, PiLocation::Last, sts, 0);
            let ctx = ctx_for(f, PiChecks::ALL, 0, 9);
            let mut b = generated(f, &ctx);
            b.data[1] ^= 0x10; // block 0 has a bad guard
            b.edit_tuple(0, |t| t.app_tag = 0xFFFF);
            let escaped = f.ref_tag_bits() == 0; // no reference tag: the app tag alone escapes
            assert_eq!(b.verify(&ctx).is_ok(), escaped, "{guard:?} sts {sts}, app tag only");
            b.edit_tuple(0, |t| {
                t.ref_tag = f.ref_tag_mask();
                t.storage_tag = 0x1234 & f.storage_tag_mask(); // storage tag plays no part
            });
            assert_eq!(b.verify(&ctx), Ok(()), "{guard:?} sts {sts}, app + ref all ones");
            if f.ref_tag_bits() > 0 {
                b.edit_tuple(0, |t| t.app_tag = 0x7FFF);
                assert_eq!(b.verify(&ctx).unwrap_err().kind, PiErrorKind::Guard, "ref all ones alone");
            }
        }
    }
}

#[test]
fn type3_reference_tag_is_constant_and_never_compared() {
    let f = format(GuardFormat::Crc32c, PiType::Type3, PiLocation::First, 16, 0);
    let ctx = ctx_for(f, PiChecks::ALL, 500, 0xABCD);
    let mut b = generated(f, &ctx);
    assert!((0..6).all(|i| b.tuple(i).ref_tag == 0xABCD));
    b.edit_tuple(2, |t| t.ref_tag = 1);
    assert_eq!(b.verify(&ctx), Ok(()));
    assert_eq!(b.verify(&ctx_for(f, PiChecks::ALL, 500, 0x9999)), Ok(()));
}

#[test]
fn reference_tag_rolls_over_in_its_width() {
    let cases = [
        (GuardFormat::Crc16T10Dif, 0u8, 0xFFFF_FFFEu64),
        (GuardFormat::Crc16T10Dif, 8, 0xFF_FFFE),
        (GuardFormat::Crc32c, 16, u64::MAX - 1),
        (GuardFormat::Crc32c, 64, 0xFFFE),
        (GuardFormat::Crc64Nvme, 0, 0xFFFF_FFFF_FFFE),
        (GuardFormat::Crc64Nvme, 40, 0xFE),
    ];
    for (guard, sts, start) in cases {
        let f = format(guard, PiType::Type2, PiLocation::Last, sts, 0);
        assert_eq!(start, f.ref_tag_mask() - 1);
        let ctx = ctx_for(f, PiChecks::ALL, 0, start);
        let b = generated(f, &ctx);
        let refs: Vec<u64> = (0..4).map(|i| b.tuple(i).ref_tag).collect();
        assert_eq!(refs, [start, f.ref_tag_mask(), 0, 1], "{guard:?} sts {sts}");
        assert_eq!(b.verify(&ctx), Ok(()));
    }
}

#[test]
fn application_tag_mask_selects_compared_bits() {
    let f = format(GuardFormat::Crc16T10Dif, PiType::Type2, PiLocation::Last, 0, 0);
    let gen = ctx_for(f, PiChecks::ALL, 0, 0);
    let mut b = generated(f, &gen);
    b.edit_tuple(0, |t| t.app_tag = 0x12AB);
    let masked = |tag, mask| PiContext::new(f, PiChecks::ALL, 0, tag, mask, 0, 0).unwrap();
    // Other blocks hold 0x1234: under mask FF00h only the high byte (12h) is compared.
    assert_eq!(b.verify(&masked(0x12F0, 0xFF00)), Ok(()));
    let e = b.verify(&masked(0x12F0, 0xFFFF)).unwrap_err();
    assert_eq!((e.kind, e.block_index, e.expected, e.found), (PiErrorKind::AppTag, 0, 0x12F0, 0x12AB));
    b.edit_tuple(4, |t| t.app_tag = 0x13F0);
    let e = b.verify(&masked(0x12F0, 0xFF00)).unwrap_err();
    assert_eq!((e.kind, e.block_index, e.expected, e.found), (PiErrorKind::AppTag, 4, 0x12F0, 0x13F0));
    assert_eq!(b.verify(&masked(0x12F0, 0xFE00)), Ok(()), "bit 8 not compared");
    assert_eq!(b.verify(&masked(0, 0)), Ok(()), "mask 0 compares nothing");
}

#[test]
fn storage_tag_mask_selects_compared_bits() {
    let f = format(GuardFormat::Crc64Nvme, PiType::Type1, PiLocation::Last, 16, 0);
    let ctx = PiContext::new(f, PiChecks::ALL, 0, 0, 0, 0xAB00, 0).unwrap();
    let mut b = generated(f, &ctx);
    b.edit_tuple(3, |t| t.storage_tag = 0xAB77);
    assert_eq!(b.verify(&ctx).unwrap_err().kind, PiErrorKind::StorageTag);
    assert_eq!(b.verify(&ctx.with_storage_tag_mask(0xFF00)), Ok(()));
    assert_eq!(b.verify(&ctx.with_storage_tag_mask(0x0F00)), Ok(()));
    assert_eq!(b.verify(&ctx.with_storage_tag_mask(0x00F0)).unwrap_err().block_index, 3);
}

#[test]
fn pi_last_guard_covers_preceding_metadata_and_pi_first_none() {
    for guard in GuardFormat::ALL {
        let sts = sts_samples(guard)[0];
        let last = format(guard, PiType::Type1, PiLocation::Last, sts, 16);
        let ctx = ctx_for(last, PiChecks::ALL, 0, 0);
        let mut b = generated(last, &ctx);
        b.md[usize::from(last.ms) * 2 + 5] ^= 1; // user metadata before block 2's tuple
        assert_eq!(b.verify(&ctx).unwrap_err().block_index, 2, "{guard:?} PI last");

        let first = format(guard, PiType::Type1, PiLocation::First, sts, 16);
        let ctx = ctx_for(first, PiChecks::ALL, 0, 0);
        let mut b = generated(first, &ctx);
        b.md[usize::from(first.ms) * 2 + first.tuple_bytes() + 5] ^= 1; // user metadata after it
        assert_eq!(b.verify(&ctx), Ok(()), "{guard:?} PI first");
        let data0 = &b.data[..first.lbs as usize];
        assert_eq!(b.tuple(0).guard, reference_guard(guard, data0), "PI first guards data only");
    }
}

#[test]
fn type1_initial_reference_tag_must_match_slba() {
    let f = format(GuardFormat::Crc16T10Dif, PiType::Type1, PiLocation::Last, 8, 0);
    let err = PiContext::new(f, PiChecks::ALL, 0x10, 0, 0, 0, 0x7700_0011).unwrap_err();
    assert_eq!(err, PiSetupError::InitialRefTagMismatch { slba_bits: 0x11, initial_ref_tag: 0x10 });
    assert_eq!(Status::from(&err), Status::INVALID_PROTECTION_INFORMATION);
    // Only the low reference-tag-width bits of the SLBA count (24 bits here).
    assert!(PiContext::new(f, PiChecks::ALL, 0x11, 0, 0, 0, 0x7700_0011).is_ok());
    // Not required without the reference tag check, nor for Type 2.
    let no_ref = PiChecks { ref_tag: false, ..PiChecks::ALL };
    assert!(PiContext::new(f, no_ref, 0x10, 0, 0, 0, 0x11).is_ok());
    let t2 = PiFormat { pi: Some(PiType::Type2), ..f };
    assert!(PiContext::new(t2, PiChecks::ALL, 0x10, 0, 0, 0, 0x11).is_ok());
    let mut unprotected = f;
    unprotected.pi = None;
    assert_eq!(PiContext::new(unprotected, PiChecks::ALL, 0, 0, 0, 0, 0), Err(PiSetupError::NotProtected));
}
