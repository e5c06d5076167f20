//! Compare (NVM-CS 3.3.1): read the blocks, check the PI of both the medium and
//! the host's buffer per PRCHK, and compare the data and, when the host transfers
//! metadata (not when PRACT strips a tuple-sized one), the metadata bytes other
//! than the PI tuple. A mismatch is Compare Failure naming the first differing
//! block.

use super::medium;
use super::prepare::{prepare, Prepared, Target, Transfer};
use super::protection::{self, host_has_metadata};
use super::{Buffers, Completion, IoEnv};
use crate::pi::Layout;
use crate::spec::{RwCommand, Status};

pub fn compare(env: &IoEnv, bufs: &mut Buffers, cmd: &RwCommand) -> Completion {
    run(env, bufs, cmd).into()
}

fn run(env: &IoEnv, bufs: &mut Buffers, cmd: &RwCommand) -> Result<(), Completion> {
    // PRACT set is refused here (Invalid Protection Information, NVM-CS 5.3.2.4).
    let p = prepare(env, cmd, Transfer::Compare)?;
    let Prepared { target: Target { ns, f, slba, nlb }, pract, sizes, ctx, ref data_sg, ref md_sg, .. } = p;
    let with_md = host_has_metadata(&f, pract);
    let (lbs, ms) = (f.lbs() as usize, f.ms() as usize);
    let (data_len, md_len, interleaved) = (sizes.data, sizes.md, sizes.interleaved);
    bufs.host.clear();
    bufs.host.resize((data_len + md_len) as usize, 0);
    let (host_data, host_md) = bufs.host.split_at_mut(data_len as usize);
    data_sg.gather(env.mem, 0, host_data)?;
    md_sg.gather(env.mem, 0, host_md)?;
    p.count_transfer(env);

    medium::load(ns, &f, slba, nlb, &mut bufs.data, &mut bufs.md)?;
    if let Some(ctx) = &ctx {
        ctx.verify(Layout::Separate { data: &bufs.data, md: &bufs.md })?;
        if with_md {
            let host = if interleaved {
                Layout::Interleaved(&bufs.host[..data_len as usize])
            } else {
                Layout::Separate { data: &bufs.host[..data_len as usize], md: &bufs.host[data_len as usize..] }
            };
            ctx.verify(host)?;
        }
    }
    // The PI tuple's bytes within each block's metadata are not compared.
    let tuple = protection::pi_format(&f).map(|p| (p.tuple_offset(), p.tuple_bytes()));
    let md_equal = |a: &[u8], b: &[u8]| match tuple {
        Some((off, len)) => a[..off] == b[..off] && a[off + len..] == b[off + len..],
        None => a == b,
    };
    for i in 0..nlb as usize {
        let medium_data = &bufs.data[i * lbs..(i + 1) * lbs];
        let medium_md = &bufs.md[i * ms..(i + 1) * ms];
        let same = if interleaved {
            let rec = &bufs.host[i * (lbs + ms)..(i + 1) * (lbs + ms)];
            rec[..lbs] == *medium_data && md_equal(&rec[lbs..], medium_md)
        } else {
            let hd = &bufs.host[i * lbs..(i + 1) * lbs];
            let hm = if with_md {
                &bufs.host[data_len as usize + i * ms..data_len as usize + (i + 1) * ms]
            } else {
                &[][..]
            };
            hd == medium_data && (!with_md || md_equal(hm, medium_md))
        };
        if !same {
            return Err(Completion::err_at(Status::COMPARE_FAILURE, slba + i as u64));
        }
    }
    Ok(())
}
