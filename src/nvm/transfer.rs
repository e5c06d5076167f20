//! The host buffers of an NVM command: the data pointer (PRPs or SGLs, CDW0.PSDT)
//! and the metadata pointer (MPTR: a contiguous buffer, or one SGL descriptor
//! when PSDT is 10b), turned into scatter lists of exactly the lengths the command
//! transfers. An SGL longer than the transfer is accepted or refused per
//! `IoEnv::sgl_length` (Identify Controller SGLS bit 18).

use super::IoEnv;
use crate::dma::sgl::{self, Buffer, Descriptor};
use crate::dma::{prp, Direction, GuestAddr, SgList};
use crate::spec::command::Psdt;
use crate::spec::{Status, SubmissionEntry};

pub fn data_list(env: &IoEnv, sqe: &SubmissionEntry, len: u64, dir: Direction) -> Result<SgList, Status> {
    match sqe.psdt() {
        Psdt::Prp => prp::walk(env.mem, sqe.prp1(), sqe.prp2(), len, env.page_size),
        Psdt::SglMptrContiguous | Psdt::SglMptrSgl => {
            sgl::walk(env.mem, Descriptor::parse(&sqe.sgl1()), len, dir, Buffer::Data, env.sgl_length)
        }
        Psdt::Reserved => Err(Status::INVALID_FIELD),
    }
}

pub fn metadata_list(env: &IoEnv, sqe: &SubmissionEntry, len: u64, dir: Direction) -> Result<SgList, Status> {
    let mem = env.mem;
    if len == 0 {
        return Ok(SgList::default());
    }
    match sqe.psdt() {
        // With PRPs the metadata buffer must be dword aligned (NVMe-Base Figure 92, MPTR).
        Psdt::Prp if sqe.mptr() & 3 != 0 => Err(Status::INVALID_FIELD),
        Psdt::Prp | Psdt::SglMptrContiguous => Ok(SgList::contiguous(sqe.mptr(), len)),
        Psdt::SglMptrSgl => {
            // MPTR is the address of one SGL descriptor (NVMe-Base 4.1.2, Figure 92).
            let mut raw = [0u8; 16];
            mem.read(GuestAddr(sqe.mptr()), &mut raw).map_err(|_| Status::DATA_TRANSFER_ERROR)?;
            sgl::walk(mem, Descriptor::parse(&raw), len, dir, Buffer::Metadata, env.sgl_length)
        }
        Psdt::Reserved => Err(Status::INVALID_FIELD),
    }
}
