#!/usr/bin/python3
"""Versioned blocks for the crash-consistency test (qemu-scripts/test-crash.sh, guest-tests/crash-round.sh).

Every block of a region holds one version: a 32-byte header (b"VNVMECRS", round u32, nsid u32,
LBA u64, sequence number u64, little endian) repeated over the whole block, so a block is either
one version whole or visibly broken. All I/O is O_DIRECT on the namespace's block device, so the
kernel's integrity profile generates PI on writes and verifies it on reads.

  fill DEV LBS BASE N NSID                       give every block of [BASE, BASE+N) version (0, 0); fsync
  write DEV LBS BASE N NSID ROUND LOG CACHE      until killed: batches of 16 writes of 1-4 blocks at
                                                 random LBAs, each with the next sequence number (QD1),
                                                 then fsync (a Flush on a device with a write cache),
                                                 logging to LOG "C SEQ LBA COUNT" once a write has
                                                 completed and "F SEQ" once the fsync after it has: with
                                                 CACHE=wc the batch's C lines just before the fsync, with
                                                 CACHE=nowc each C line as soon as its write completed.
                                                 LOG only ever names completed writes and flushes
  check DEV LBS BASE N NSID                      read every block (in chunks of 64, one by one where a
                                                 chunk fails) and print one line per LBA: "LBA ROUND SEQ",
                                                 "LBA ERR ERRNO" (the read failed: a PI or I/O error) or
                                                 "LBA BAD HEX" (not one whole version of this LBA: torn
                                                 or foreign; HEX is its first 32 bytes)
  repair DEV LBS NSID ROUND LBA...               rewrite those blocks with version (ROUND, 0); fsync
  describe FILE LBS NSID LBA                     what the block in FILE (e.g. read raw with nvme-cli) holds:
                                                 "version ROUND SEQ" or "no whole version (first 32 bytes HEX)"
  unreadable DEV OFFSET LENGTH UNIT              read [OFFSET, OFFSET+LENGTH) in UNIT-byte pieces (64 at
                                                 a time) and print the byte offset of every piece whose
                                                 read fails, with its errno
"""
import mmap
import os
import random
import struct
import sys

MAGIC = b"VNVMECRS"
HDR = struct.Struct("<8sIIQQ")
CHUNK = 64


def block(lbs, rnd, nsid, lba, seq):
    return HDR.pack(MAGIC, rnd, nsid, lba, seq) * (lbs // HDR.size)


def open_dev(path):
    return os.open(path, os.O_RDWR | os.O_DIRECT)


def write_blocks(fd, buf, lbs, lba, blocks):
    """Write the byte strings `blocks` at `lba` through the page-aligned mmap `buf`."""
    n = len(blocks) * lbs
    buf[:n] = b"".join(blocks)
    done = os.pwritev(fd, [memoryview(buf)[:n]], lba * lbs)
    if done != n:
        raise OSError(f"short write at LBA {lba}: {done} of {n} bytes")


def read_ok(fd, buf, off, n):
    """Read n bytes at off into buf; None on success, else the errno."""
    try:
        got = os.preadv(fd, [memoryview(buf)[:n]], off)
    except OSError as e:
        return e.errno
    return None if got == n else -1


def version_of(b, lbs, nsid, lba):
    """(round, seq) if the block b is one whole version of LBA lba on nsid, else None."""
    magic, r, ns, l, s = HDR.unpack_from(b)
    if magic != MAGIC or ns != nsid or l != lba or b != block(lbs, r, ns, l, s):
        return None
    return r, s


def fill(dev, lbs, base, n, nsid):
    fd = open_dev(dev)
    buf = mmap.mmap(-1, CHUNK * lbs)
    for lba in range(base, base + n, CHUNK):
        k = min(CHUNK, base + n - lba)
        write_blocks(fd, buf, lbs, lba, [block(lbs, 0, nsid, lba + j, 0) for j in range(k)])
    os.fsync(fd)
    print(f"filled {n} blocks at LBA {base} with version (0, 0)")


def write(dev, lbs, base, n, nsid, rnd, log_path, cache, batch=16):
    fd = open_dev(dev)
    buf = mmap.mmap(-1, 4 * lbs)
    rng = random.Random()
    # One write(2) per record (a line cut off by the VM's death does not parse, and the host
    # ignores it); the 9p share passes each straight to the host's file.
    log = open(log_path, "a", buffering=1 << 16)

    def record(text):
        log.write(text)
        log.flush()

    seq = 0
    while True:
        lines = []
        for _ in range(batch):
            count = rng.randint(1, 4)
            lba = base + rng.randrange(n - count + 1)
            seq += 1
            write_blocks(fd, buf, lbs, lba, [block(lbs, rnd, nsid, lba + j, seq) for j in range(count)])
            lines.append(f"C {seq} {lba} {count}\n")
            if cache == "nowc":
                record(lines.pop())
        if lines:
            record("".join(lines))
        os.fsync(fd)
        record(f"F {seq}\n")


def check(dev, lbs, base, n, nsid):
    fd = open_dev(dev)
    buf = mmap.mmap(-1, CHUNK * lbs)
    out = []
    for lba0 in range(base, base + n, CHUNK):
        k = min(CHUNK, base + n - lba0)
        if read_ok(fd, buf, lba0 * lbs, k * lbs) is None:
            got = [bytes(buf[j * lbs : (j + 1) * lbs]) for j in range(k)]
            errs = [None] * k
        else:
            got, errs = [], []
            for j in range(k):
                e = read_ok(fd, buf, (lba0 + j) * lbs, lbs)
                errs.append(e)
                got.append(bytes(buf[:lbs]) if e is None else None)
        for j in range(k):
            lba = lba0 + j
            if errs[j] is not None:
                out.append(f"{lba} ERR {errs[j]}")
                continue
            v = version_of(got[j], lbs, nsid, lba)
            out.append(f"{lba} BAD {got[j][:32].hex()}" if v is None else f"{lba} {v[0]} {v[1]}")
    print("\n".join(out))


def repair(dev, lbs, nsid, rnd, lbas):
    fd = open_dev(dev)
    buf = mmap.mmap(-1, lbs)
    for lba in lbas:
        write_blocks(fd, buf, lbs, lba, [block(lbs, rnd, nsid, lba, 0)])
    os.fsync(fd)


def describe(path, lbs, nsid, lba):
    with open(path, "rb") as f:
        b = f.read(lbs)
    v = version_of(b, lbs, nsid, lba) if len(b) == lbs else None
    print(f"version {v[0]} {v[1]}" if v else f"no whole version (first 32 bytes {b[:32].hex()})")


def unreadable(dev, off, length, unit):
    fd = open_dev(dev)
    buf = mmap.mmap(-1, CHUNK * unit)
    for o in range(off, off + length, CHUNK * unit):
        n = min(CHUNK * unit, off + length - o)
        if read_ok(fd, buf, o, n) is None:
            continue
        for p in range(o, o + n, unit):
            e = read_ok(fd, buf, p, unit)
            if e is not None:
                print(f"{p} {e}")


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, a = argv[1], argv[2:]
    if cmd == "fill" and len(a) == 5:
        fill(a[0], int(a[1]), int(a[2]), int(a[3]), int(a[4]))
    elif cmd == "write" and len(a) == 8 and a[7] in ("wc", "nowc"):
        write(a[0], int(a[1]), int(a[2]), int(a[3]), int(a[4]), int(a[5]), a[6], a[7])
    elif cmd == "check" and len(a) == 5:
        check(a[0], int(a[1]), int(a[2]), int(a[3]), int(a[4]))
    elif cmd == "repair" and len(a) >= 5:
        repair(a[0], int(a[1]), int(a[2]), int(a[3]), [int(x) for x in a[4:]])
    elif cmd == "describe" and len(a) == 4:
        describe(a[0], int(a[1]), int(a[2]), int(a[3]))
    elif cmd == "unreadable" and len(a) == 4:
        unreadable(a[0], int(a[1]), int(a[2]), int(a[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
