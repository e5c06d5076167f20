//! The controller register file in BAR0 (NVMe-Base 3.1.4) and what a write to it
//! means for the state machine (NVMe-Base 3.5: enable, disable, shutdown).

use super::config::ControllerConfig;
use crate::spec::registers::{self as reg, csts, Cap, Cc};

pub struct Registers {
    pub cap: u64,
    pub vs: u32,
    pub intms: u32,
    pub cc: u32,
    pub csts: u32,
    pub aqa: u32,
    pub asq: u64,
    pub acq: u64,
}

/// What the state machine must do after a register write.
#[derive(Debug, PartialEq, Eq)]
pub enum Effect {
    None,
    Enable,
    Disable,
    Shutdown,
}

impl Registers {
    pub fn new(cfg: &ControllerConfig) -> Self {
        let cap = Cap {
            mqes: (cfg.max_queue_entries - 1) as u16,
            cqr: true,
            to: 20, // 10 s
            dstrd: 0,
            nssrs: false,
            // NVM command set, and I/O Command Set support (CC.CSS = 110b).
            css: 0x01 | 0x40,
            mpsmin: 0,
            mpsmax: cfg.mpsmax,
        };
        Registers { cap: cap.to_u64(), vs: reg::VERSION_2_1, intms: 0, cc: 0, csts: 0, aqa: 0, asq: 0, acq: 0 }
    }

    pub fn ready(&self) -> bool {
        self.csts & csts::RDY != 0
    }

    pub fn read(&self, offset: u64, size: usize) -> u64 {
        // Registers are read as dwords or qwords; a qword read at a dword register
        // returns the pair.
        let dword = |o: u64| -> u32 {
            match o {
                reg::CAP => self.cap as u32,
                0x04 => (self.cap >> 32) as u32,
                reg::VS => self.vs,
                reg::INTMS | reg::INTMC => self.intms,
                reg::CC => self.cc,
                reg::CSTS => self.csts,
                reg::AQA => self.aqa,
                reg::ASQ => self.asq as u32,
                0x2c => (self.asq >> 32) as u32,
                reg::ACQ => self.acq as u32,
                0x34 => (self.acq >> 32) as u32,
                _ => 0,
            }
        };
        let base = offset & !3;
        let shift = (offset & 3) * 8;
        match size {
            8 => dword(base) as u64 | (dword(base + 4) as u64) << 32,
            4 => dword(base) as u64,
            2 => (dword(base) >> shift) as u64 & 0xffff,
            1 => (dword(base) >> shift) as u64 & 0xff,
            _ => 0,
        }
    }

    pub fn write(&mut self, offset: u64, size: usize, value: u64) -> Effect {
        if size == 8 {
            let lo = self.write(offset, 4, value & 0xffff_ffff);
            let hi = self.write(offset + 4, 4, value >> 32);
            return if lo != Effect::None { lo } else { hi };
        }
        if size != 4 {
            return Effect::None;
        }
        let v = value as u32;
        let enabled = Cc(self.cc).en();
        match offset {
            reg::INTMS => self.intms |= v,
            reg::INTMC => self.intms &= !v,
            reg::CC => {
                let old = Cc(self.cc);
                let new = Cc(v);
                self.cc = v;
                if !old.en() && new.en() {
                    return Effect::Enable;
                }
                if old.en() && !new.en() {
                    return Effect::Disable;
                }
                if new.en() && new.shn() != 0 && old.shn() == 0 {
                    return Effect::Shutdown;
                }
                if new.shn() == 0 && old.shn() != 0 {
                    // Host cleared the notification: normal operation may resume
                    // only through a reset; clear the shutdown status for a re-enable.
                    self.csts &= !csts::SHST_MASK;
                }
            }
            // AQA/ASQ/ACQ may only be changed while disabled (NVMe-Base 3.1.4.8-10).
            reg::AQA if !enabled => self.aqa = v & 0x0fff_0fff,
            reg::ASQ if !enabled => self.asq = (self.asq & !0xffff_ffff) | (v as u64 & !0xfff),
            0x2c if !enabled => self.asq = (self.asq & 0xffff_ffff) | (v as u64) << 32,
            reg::ACQ if !enabled => self.acq = (self.acq & !0xffff_ffff) | (v as u64 & !0xfff),
            0x34 if !enabled => self.acq = (self.acq & 0xffff_ffff) | (v as u64) << 32,
            _ => {}
        }
        Effect::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_and_vs_read_back() {
        let r = Registers::new(&ControllerConfig::default());
        assert_eq!(r.read(reg::CAP, 8) & 0xffff, 1023);
        assert_eq!(r.read(reg::VS, 4), 0x0002_0100);
        assert_eq!((r.read(reg::CAP, 8) >> 37) & 0xff, 0x41);
    }

    #[test]
    fn enable_disable_shutdown_effects() {
        let mut r = Registers::new(&ControllerConfig::default());
        r.write(reg::AQA, 4, 0x001f_001f);
        r.write(reg::ASQ, 8, 0x10000);
        assert_eq!(r.write(reg::CC, 4, 0x0046_0001), Effect::Enable);
        // Admin queue registers are frozen while enabled.
        r.write(reg::ASQ, 8, 0x20000);
        assert_eq!(r.asq, 0x10000);
        assert_eq!(r.write(reg::CC, 4, 0x0046_4001), Effect::Shutdown);
        assert_eq!(r.write(reg::CC, 4, 0x0046_0000), Effect::Disable);
    }
}
