#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ (docs/fuzzing.md): real
specs, rules, control lines, QEMU's vfio-user handshake and controller programs
as the tests use them, encoded in each target's input layout. Run from fuzz/;
the files it writes are committed, with crashing inputs found later beside them."""

import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


# ---- ns_specs: --ns strings as tests/cli.rs and docs/usage give them ----
for i, s in enumerate([
    "path=/tmp/a.img",
    "path=/tmp/a.img,lbs=512,ms=8,pi=1",
    "path=/tmp/a.img,logical_block_size=4096,ms=16,pi=1,pif=2",
    "path=/tmp/a.img,lbs=4096,ms=64,pi=3,pil=1,pif=1,sts=20",
    "image=/tmp/a.img,mset=1,ms=8,pi=2",
    "lbs=4096,pbs=4096,ms=8,mset=on,pi=1,pil=true",
    "path=x,lbs=1024",
    "path=x,pi=1",
    "path=x,pif=1,lbs=512,ms=16,pi=1",
    "path=x,sts=48,pif=2,lbs=4096,ms=16,pi=1",
]):
    put("ns_specs", f"{i:02}", s)

# ---- fault_rules: 32 bytes of commands (nsid, opcode, slba, nlb twice), then the rule ----
def cmds(*cs):
    b = b""
    for nsid, op, slba, nlb in cs:
        b += struct.pack("<BBQI", nsid, op, slba, nlb)
    return b.ljust(32, b"\0")

RULES = [
    "ns=1,op=read,lba=100-107,when=once,action=guard",
    "ns=*,op=read,when=prob:0.01:42,action=status:2:0x81",
    "ns=1,op=write,action=widen:200000",
    "ns=1,op=write,when=once,action=status:2:0x80",
    "ns=1,op=write,when=nth:3,action=status:0:0x04:dnr,name=third-write",
    "ns=*,op=copy,lba=0x10-0x1f,action=reftag",
    "ns=2,op=any,action=delay:1000",
    "ns=1,op=verify,lba=7,action=xguard",
    "ns=1,op=compare,action=apptag",
]
for i, r in enumerate(RULES):
    put("fault_rules", f"{i:02}", cmds((1, 2, 100, 8), (1, 1, 2**64 - 4, 16)) + r.encode())

# ---- control_lines: the requests of docs/control.md, a few per input ----
LINES = [
    '{"cmd":"stats"}',
    '{"cmd":"stats","reset":true}',
    '{"cmd":"fault-add","rule":"ns=1,op=read,lba=100-107,when=once,action=guard"}',
    '{"cmd":"fault-list"}',
    '{"cmd":"fault-del","id":1}',
    '{"cmd":"fault-clear"}',
    '{"cmd":"detect","on":true}',
    '{"cmd":"mutations"}',
    '{"cmd":"trace","filter":{"ns":1,"op":["read"],"lba":[100,199],"errors":true}}',
]
for i, l in enumerate(LINES):
    put("control_lines", f"{i:02}", l + "\n")
put("control_lines", "session", "\n".join(LINES[2:5] + LINES[0:2]) + "\n")

# ---- copy_ranges: nsid selector, NR, format, CDW12 bits 31:12, SDLBA selector, entries ----
def entry(fmt, snsid, slba, nlb, elbt=0, elbat=0, elbatm=0):
    e = bytearray(32 if fmt % 2 == 0 else 40)
    if fmt >= 2:
        e[0:4] = struct.pack("<I", snsid)
    e[8:16] = struct.pack("<Q", slba)
    e[16:18] = struct.pack("<H", nlb - 1)
    if fmt % 2 == 0:
        e[24:28] = struct.pack("<I", elbt & 0xFFFFFFFF)
        e[28:30] = struct.pack("<H", elbat)
        e[30:32] = struct.pack("<H", elbatm)
    else:
        e[28:36] = struct.pack(">Q", elbt)
        e[36:38] = struct.pack("<H", elbat)
        e[38:40] = struct.pack("<H", elbatm)
    return bytes(e)

def copy(nsid_sel, fmt, entries, cdw12_hi=0, sdlba_sel=10):
    return struct.pack("<BBBIB", nsid_sel, len(entries) - 1, fmt, cdw12_hi, sdlba_sel) + b"".join(entries)

put("copy_ranges", "00-plain", copy(1, 0, [entry(0, 0, 0, 1), entry(0, 0, 8, 4)]))
put("copy_ranges", "01-pi-passthrough", copy(0, 0, [entry(0, 0, 0, 2, 0, 0, 0)], 0x7 << 12 | 0x7 << 26))
put("copy_ranges", "02-pi-replace", copy(0, 0, [entry(0, 0, 4, 2)], 0x8 << 12 | 0x8 << 26))
put("copy_ranges", "03-cross-ns-2h", copy(1, 2, [entry(2, 2, 0, 1), entry(2, 1, 0, 1)], 0x8 << 12 | 0x8 << 26))
put("copy_ranges", "04-64b-3h", copy(2, 3, [entry(3, 3, 0, 1, 0, 0, 0)], 0x7 << 12 | 0x7 << 26))
put("copy_ranges", "05-64b-1h", copy(2, 1, [entry(1, 0, 2, 1, 2, 0x1234, 0xFFFF)], 0x7 << 12))
put("copy_ranges", "06-many", copy(1, 0, [entry(0, 0, i * 2, 1) for i in range(128)]))
put("copy_ranges", "07-top-of-lba-space", copy(1, 0, [entry(0, 0, 2**64 - 1, 0x10000)], 0, 0) + b"")

# ---- controller_commands: programs of ops (see controller_commands.rs) ----
def a_window(off):          # addr(): selector 0 = the data window
    return struct.pack("<BI", 0, off)

def a_raw(v):               # selector 7 = a raw 64-bit value
    return struct.pack("<BQ", 7, v)

def sqe(opcode, nsid, cdw, psdt=0, prp1=None, prp2=None, mptr=None, sgl=None):
    b = struct.pack("<BB", opcode, psdt << 6)
    b += struct.pack("<B", nsid) if nsid <= 3 else struct.pack("<BI", 4, nsid)
    b += struct.pack("<II", 0, 0)
    b += mptr if mptr is not None else a_window(0x80000)
    if psdt == 0:
        b += (prp1 if prp1 is not None else a_window(0)) + (prp2 if prp2 is not None else a_window(0x1000))
    else:
        b += sgl
    cdw = list(cdw) + [0] * (6 - len(cdw))
    return b + struct.pack("<6I", *cdw)

def sgl_desc(addr, length, ident):
    return addr + struct.pack("<BI", 0, length) + bytes([ident])

ADMIN, IO = 0, 1
def op(kind, body):
    return bytes([kind]) + body

write1 = op(IO, sqe(0x01, 1, [0, 0, 0]))           # write 1 block at LBA 0 from window+0
read1 = op(IO, sqe(0x02, 1, [0, 0, 0], prp1=a_window(0x2000)))
put("controller_commands", "00-write-read", write1 + read1)
put("controller_commands", "01-identify", op(ADMIN, sqe(0x06, 0, [1])) + op(ADMIN, sqe(0x06, 1, [0])))
put("controller_commands", "02-write-ns2-pi", op(IO, sqe(0x01, 2, [0, 0, 1, 0, 0, 0])) + op(IO, sqe(0x02, 2, [0, 0, 1 | 0xF << 26])))
prp_list = op(3, a_window(0x10000) + bytes([3]) + a_window(0x1000) + a_window(0x2000) + a_window(0x3000) + a_window(0x4000))
put("controller_commands", "03-prp-list", prp_list + op(IO, sqe(0x02, 1, [0, 0, 31], prp2=a_window(0x10000))))
selfptr = op(3, a_window(0x11000) + bytes([1]) + a_window(0x11000) + a_window(0x11000))
put("controller_commands", "04-prp-list-points-at-itself", selfptr + op(IO, sqe(0x02, 2, [0, 0, 3], prp1=a_window(0x20000), prp2=a_window(0x11000))))
# SGL: a Last Segment (type 3) pointing at a segment holding one data block.
seg = op(4, a_window(0x12000) + bytes([0]) + sgl_desc(a_window(0x3000), 512, 0x00))
put("controller_commands", "05-sgl-segment", seg + op(IO, sqe(0x01, 1, [0, 0, 0], psdt=1, sgl=sgl_desc(a_window(0x12000), 16, 0x30))))
loop = op(4, a_window(0x13000) + bytes([1]) + sgl_desc(a_window(0x3000), 256, 0x00) + sgl_desc(a_window(0x13000), 32, 0x20))
put("controller_commands", "06-sgl-segment-loop", loop + op(IO, sqe(0x02, 1, [0, 0, 0], psdt=1, sgl=sgl_desc(a_window(0x13000), 32, 0x20))))
put("controller_commands", "07-poisoned", op(IO, sqe(0x02, 1, [0, 0, 0], prp1=struct.pack("<BH", 4, 0x1010))) + op(IO, sqe(0x01, 1, [0, 0, 0], prp1=struct.pack("<BH", 5, 0))))
put("controller_commands", "08-end-of-memory", op(IO, sqe(0x02, 1, [0, 0, 1], prp1=struct.pack("<BH", 6, 0xF00))))
put("controller_commands", "09-regs", op(6, struct.pack("<HBQ", 0x0C, 0, 1)) + op(6, struct.pack("<HBQ", 0x1008, 0, 3)) + write1)
batch = op(7, bytes([3]) + sqe(0x01, 1, [0, 0, 0]) + sqe(0x00, 1, []) + sqe(0x02, 1, [0, 0, 0], prp1=a_window(0x2000)) + sqe(0x09, 1, [0, 0, 0], prp1=a_window(0x5000)))
put("controller_commands", "10-batch", batch)
ranges = op(5, a_window(0x6000) + bytes([8]) + entry(0, 0, 0, 1))
put("controller_commands", "11-copy", write1 + ranges + op(IO, sqe(0x19, 1, [8, 0, 0], prp1=a_window(0x6000))))
put("controller_commands", "12-queues", op(ADMIN, sqe(0x00, 0, [1])) + op(ADMIN, sqe(0x04, 0, [1])) + op(ADMIN, sqe(0x0C, 0, [])) + write1)

# ---- vfio_user_messages: QEMU's handshake and a controller enable ----
def msg(command, payload=b"", ctl=0, flags=0, msg_id=0):
    assert len(payload) < 1024 and command < 0x80
    return struct.pack("<BHBBH", ctl, msg_id, command, flags, len(payload)) + payload

version = msg(1, struct.pack("<HH", 0, 1) + b'{"capabilities":{"max_msg_fds":8,"max_data_xfer_size":1048576}}\0')
info = msg(4, struct.pack("<I", 16) + b"\0" * 12)
region0 = msg(5, struct.pack("<IIII", 32, 0, 0, 0) + b"\0" * 16)
config = msg(5, struct.pack("<IIII", 32, 0, 7, 0) + b"\0" * 16)
irqinfo = msg(7, struct.pack("<IIII", 16, 0, 2, 0))
dma_map = msg(2, struct.pack("<IIQQQ", 32, 3, 0, 0x100000, 0x10000), ctl=1)
dma_map_nofd = msg(2, struct.pack("<IIQQQ", 32, 3, 0, 0x200000, 0x10000))
set_irqs = msg(8, struct.pack("<IIIII", 20, 0x20 | 0x4, 2, 0, 2), ctl=2 | (1 << 2))
bus_master = msg(10, struct.pack("<QII", 4, 7, 2) + struct.pack("<H", 0x0006))
def bar0_write(off, size, value):
    return msg(10, struct.pack("<QII", off, 0, size) + value.to_bytes(size, "little"))
enable = bar0_write(0x24, 4, 0x001F001F) + bar0_write(0x28, 8, 0x100000) + bar0_write(0x30, 8, 0x101000) + bar0_write(0x14, 4, 0x00460001)
csts = msg(9, struct.pack("<QII", 0x1C, 0, 4))
unmap = msg(3, struct.pack("<IIQQ", 24, 0, 0x100000, 0x10000))
reset = msg(13)
put("vfio_user_messages", "00-handshake", version + info + region0 + config + irqinfo)
put("vfio_user_messages", "01-dma-map-memfd", version + dma_map + dma_map_nofd + unmap)
put("vfio_user_messages", "02-enable", version + dma_map + set_irqs + bus_master + enable + csts + reset)
put("vfio_user_messages", "03-no-reply-and-unknown", msg(1, flags=0x10) + msg(6) + msg(11) + msg(0x0F, struct.pack("<Q", 1) + struct.pack("<QIIQ", 0x1000, 0, 4, 1)))
put("vfio_user_messages", "04-bad-size", version + struct.pack("<BHBBHI", 0x20, 7, 9, 0, 4, 8) + b"abcd" + info)
