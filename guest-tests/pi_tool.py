#!/usr/bin/env python3
"""Build and check NVMe protection information (PI) tuples; python3 builtins only (the guest has no pip).

Formats (NVM Command Set 1.0 section 5.2, "End-to-end Data Protection"):
  PIF 0  16b guard: guard CRC-16/T10-DIF (2) | application tag (2) | reference tag (4)      8-byte tuple
  PIF 2  64b guard: guard CRC-64/NVME (8)    | application tag (2) | reference tag (6, 48b) 16-byte tuple
         (storage tag size 0, so the whole Storage and Reference Space is the reference tag)
All fields big endian. PIL=1 (DPS bit 3): the tuple is the first bytes of the block's metadata and the
guard covers the data only. PIL=0: the tuple is the last bytes, and the guard covers the data and the
metadata bytes before the tuple. Types 1 and 2: the reference tag of block i is REF + i (wrapping in the
tag width); type 3: REF for every block, and the reference tag is never checked.

Commands (numbers may be decimal or 0x-hex):
  selftest
      check values: CRC-16/T10-DIF("123456789") = 0xD0DB, CRC-64/NVME("123456789") = 0xAE8B14860A799888,
      plus tuple layout round trips
  guard PIF FILE
      print the guard of FILE (whole file, one CRC)
  meta DATA LBS MS PIL PIF TYPE APP REF [--bad FIELD[@BLOCK]] [--extra BYTE|pattern] [--escape]
      write to stdout the separate metadata (MS bytes per LBS-byte block of DATA) holding correct tuples;
      --bad guard|app|ref spoils that field of every block, or only of block BLOCK (0-based) with @BLOCK;
      --extra fills the metadata bytes outside the tuple (default 0; "pattern": a per-block byte pattern);
      --extra-from META takes them from the separate metadata file META instead (e.g. what the host sent
      with a PRACT write, to build the metadata the controller must have stored);
      --escape writes escape tuples instead (app tag FFFFh; type 3 also an all-ones reference tag)
  ext DATA LBS MS PIL PIF TYPE APP REF [same options]
      as meta, but write the extended-LBA buffer: each block's data followed by its metadata
  check DATA META LBS MS PIL PIF TYPE APP REF [--prchk BITS] [--app-mask MASK]
      check the tuples in META against DATA the way a controller does (escape first, then guard,
      application tag under MASK, reference tag for types 1/2; PRCHK bits 2/1/0 = guard/app/ref,
      default 7, mask default 0xffff); prints one line and exits 0, or names the first failure, exit 1
      --status: instead print the NVMe status(es) a controller must end the command with: "0", or
      the statuses of every failing check of the first failing block (e.g. "0x283 0x284"; the spec
      does not order the checks), always exit 0
  check-ext BUF LBS MS PIL PIF TYPE APP REF [--prchk BITS] [--app-mask MASK] [--status]
      check an extended-LBA buffer (data + metadata per block)
  check and check-ext take --no-escape: an escape tuple is checked like any other (for tuples the host
      knows exactly, e.g. the ones a controller inserted with PRACT)
  data SEED NBYTES
      write NBYTES deterministic pseudo-random bytes (python's random.Random(SEED)) to stdout
  show META MS PIL PIF
      decode and print the tuple of every MS-byte metadata record
"""

import sys

MASK64 = (1 << 64) - 1


def _crc16_table():
    # CRC-16/T10-DIF: polynomial 0x8BB7, init 0, not reflected, no final xor.
    table = []
    for i in range(256):
        c = i << 8
        for _ in range(8):
            c = ((c << 1) ^ 0x8BB7) if c & 0x8000 else (c << 1)
        table.append(c & 0xFFFF)
    return table


def _crc64_table():
    # CRC-64/NVME: reflected polynomial 0xAD93D23594C93659 (0x9A6C9329AC4BC9B5 bit-reversed),
    # init and final xor all ones.
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x9A6C9329AC4BC9B5 if c & 1 else c >> 1
        table.append(c)
    return table


CRC16_TABLE = _crc16_table()
CRC64_TABLE = _crc64_table()


def crc16_t10dif(data):
    t = CRC16_TABLE
    crc = 0
    for b in data:
        crc = ((crc << 8) & 0xFFFF) ^ t[(crc >> 8) ^ b]
    return crc


def crc64_nvme(data):
    t = CRC64_TABLE
    crc = MASK64
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ MASK64


class Format:
    """One PI format: sizes, where the tuple sits, guard and tag widths."""

    def __init__(self, lbs, ms, pil, pif, pitype):
        if pif not in (0, 2):
            raise SystemExit("pi_tool: PIF %d not supported (0 = 16b guard, 2 = 64b guard)" % pif)
        if pitype not in (1, 2, 3):
            raise SystemExit("pi_tool: PI type %d is not 1, 2 or 3" % pitype)
        self.lbs, self.ms, self.pil, self.pif, self.type = lbs, ms, pil, pif, pitype
        self.size = 8 if pif == 0 else 16
        if ms < self.size:
            raise SystemExit("pi_tool: metadata size %d is smaller than the %d-byte tuple" % (ms, self.size))
        self.guard_bytes = 2 if pif == 0 else 8
        self.ref_bytes = 4 if pif == 0 else 6
        self.ref_mask = (1 << (8 * self.ref_bytes)) - 1
        self.off = 0 if pil else ms - self.size

    def guard(self, data, md):
        covered = data + bytes(md[:self.off])
        return crc16_t10dif(covered) if self.pif == 0 else crc64_nvme(covered)

    def ref_of(self, ref, i):
        return ref & self.ref_mask if self.type == 3 else (ref + i) & self.ref_mask

    def encode(self, guard, app, ref):
        return (guard.to_bytes(self.guard_bytes, "big") + app.to_bytes(2, "big") +
                (ref & self.ref_mask).to_bytes(self.ref_bytes, "big"))

    def decode(self, md):
        t = md[self.off:self.off + self.size]
        g = self.guard_bytes
        return (int.from_bytes(t[:g], "big"), int.from_bytes(t[g:g + 2], "big"),
                int.from_bytes(t[g + 2:], "big"))

    def escaped(self, app, ref):
        # Types 1/2: app tag FFFFh disables checking; type 3: app tag FFFFh and an all-ones ref tag.
        return app == 0xFFFF and (self.type != 3 or ref == self.ref_mask)


def num(s):
    return int(s, 0)


def parse_opts(args, allowed):
    """Split ARGS into positional arguments and a dict of --options (each taking one value)."""
    pos, opts = [], {}
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            name, eq, val = a[2:].partition("=")
            if name not in allowed:
                raise SystemExit("pi_tool: unknown option --%s" % name)
            if allowed[name]:
                if not eq:
                    i += 1
                    if i >= len(args):
                        raise SystemExit("pi_tool: --%s needs a value" % name)
                    val = args[i]
                opts[name] = val
            else:
                opts[name] = True
        else:
            pos.append(a)
        i += 1
    return pos, opts


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def fmt_of(lbs, ms, pil, pif, pitype):
    return Format(num(lbs), num(ms), num(pil), num(pif), num(pitype))


def build(data, fmt, app, ref, opts):
    """The per-block metadata records for DATA, as a list of bytes objects."""
    if len(data) == 0 or len(data) % fmt.lbs:
        raise SystemExit("pi_tool: data of %d bytes is not whole %d-byte blocks" % (len(data), fmt.lbs))
    bad_field, bad_block = None, None
    if "bad" in opts:
        bad_field, _, blk = opts["bad"].partition("@")
        if bad_field not in ("guard", "app", "ref"):
            raise SystemExit("pi_tool: --bad takes guard, app or ref (optionally @BLOCK)")
        bad_block = num(blk) if blk else None
    extra = opts.get("extra", "0")
    extra_from = read_file(opts["extra-from"]) if "extra-from" in opts else None
    if extra_from is not None and len(extra_from) != len(data) // fmt.lbs * fmt.ms:
        raise SystemExit("pi_tool: --extra-from file holds %d bytes, not %d" % (len(extra_from), len(data) // fmt.lbs * fmt.ms))
    out = []
    for i in range(len(data) // fmt.lbs):
        block = data[i * fmt.lbs:(i + 1) * fmt.lbs]
        if extra_from is not None:
            md = bytearray(extra_from[i * fmt.ms:(i + 1) * fmt.ms])
        elif extra == "pattern":
            md = bytearray((i * 7 + j * 13 + 1) & 0xFF for j in range(fmt.ms))
        else:
            md = bytearray([num(extra) & 0xFF]) * fmt.ms
        if opts.get("escape"):
            g, a, r = 0xFFFF if fmt.pif == 0 else MASK64, 0xFFFF, fmt.ref_mask
        else:
            g, a, r = fmt.guard(block, md), app, fmt.ref_of(ref, i)
            if bad_field and (bad_block is None or bad_block == i):
                if bad_field == "guard":
                    g ^= 0x0001
                elif bad_field == "app":
                    a = a ^ 0x0101 if a ^ 0x0101 != 0xFFFF else a ^ 0x0202
                else:
                    r ^= 0x1
        md[fmt.off:fmt.off + fmt.size] = fmt.encode(g, a, r)
        out.append(bytes(md))
    return out


def check(data, mds, fmt, app, ref, opts):
    """Check like a controller; return None, or a message naming the first failure."""
    fails = check_all(data, mds, fmt, app, ref, opts)
    return fails[0][1] if fails else None


def check_all(data, mds, fmt, app, ref, opts):
    """Every failing check of the first failing block, as (status, message) pairs; [] if none."""
    prchk = num(opts.get("prchk", "7"))
    mask = num(opts.get("app-mask", "0xffff"))
    if len(data) != len(mds) * fmt.lbs:
        raise SystemExit("pi_tool: %d bytes of data for %d metadata records of %d-byte blocks" %
                         (len(data), len(mds), fmt.lbs))
    for i, md in enumerate(mds):
        block = data[i * fmt.lbs:(i + 1) * fmt.lbs]
        g, a, r = fmt.decode(md)
        if fmt.escaped(a, r) and not opts.get("no-escape"):
            continue
        fails = []
        want_g = fmt.guard(block, md)
        if prchk & 4 and g != want_g:
            fails.append((0x282, "block %d: guard 0x%x, computed 0x%x (tuple %s)" % (i, g, want_g, tuple_hex(fmt, md))))
        if prchk & 2 and (a ^ app) & mask:
            fails.append((0x283, "block %d: app tag 0x%04x, expected 0x%04x under mask 0x%04x" % (i, a, app, mask)))
        want_r = fmt.ref_of(ref, i)
        if prchk & 1 and fmt.type != 3 and r != want_r:
            fails.append((0x284, "block %d: ref tag 0x%x, expected 0x%x" % (i, r, want_r)))
        if fails:
            return fails
    return []


def tuple_hex(fmt, md):
    return md[fmt.off:fmt.off + fmt.size].hex()


def records(buf, size):
    if len(buf) % size:
        raise SystemExit("pi_tool: %d bytes are not whole %d-byte records" % (len(buf), size))
    return [buf[i:i + size] for i in range(0, len(buf), size)]


def selftest():
    ok = True
    for name, fn, want in (("CRC-16/T10-DIF", crc16_t10dif, 0xD0DB),
                           ("CRC-64/NVME", crc64_nvme, 0xAE8B14860A799888)):
        got = fn(b"123456789")
        print("%s(\"123456789\") = 0x%x (expected 0x%x)" % (name, got, want))
        ok &= got == want
    # CRC-16 of zeroes is 0 (why all-zero 16b PI passes a guard check); CRC-64 of 4096 zero bytes
    # is the constant QEMU writes for Write Zeroes with PRACT (see /tmp/research/qemu-dif.md 3.4).
    ok &= crc16_t10dif(bytes(512)) == 0
    ok &= crc64_nvme(bytes(4096)) == 0x6482D367EB22B64E
    for pif, ms, pil in ((0, 8, 0), (0, 16, 1), (0, 16, 0), (2, 16, 0), (2, 64, 1), (2, 64, 0)):
        for t in (1, 3):
            f = Format(512 if pif == 0 else 4096, ms, pil, pif, t)
            data = bytes((i * 37 + 11) & 0xFF for i in range(2 * f.lbs))
            mds = build(data, f, 0x1234, 0xABCDEF01 if pif == 0 else 0xBA9876543210, {"extra": "pattern"})
            ok &= check(data, mds, f, 0x1234, 0xABCDEF01 if pif == 0 else 0xBA9876543210, {}) is None
            g, a, r = f.decode(mds[1])
            ok &= a == 0x1234 and r == (0xABCDEF01 if pif == 0 else 0xBA9876543210) + (0 if t == 3 else 1)
            bad = build(data, f, 0x1234, 0, {"bad": "guard@1"})
            ok &= (check(data, bad, f, 0x1234, 0, {}) or "").startswith("block 1: guard")
            ok &= check(data, bad, f, 0x1234, 0, {"prchk": "3"}) is None
    if not ok:
        sys.exit("pi_tool selftest FAILED")
    print("pi_tool selftest ok")


def main(argv):
    if len(argv) < 1:
        sys.exit(__doc__)
    cmd, args = argv[0], argv[1:]
    if cmd == "selftest":
        selftest()
    elif cmd == "guard":
        pif, path = num(args[0]), args[1]
        data = read_file(path)
        print("0x%04x" % crc16_t10dif(data) if pif == 0 else "0x%016x" % crc64_nvme(data))
    elif cmd in ("meta", "ext"):
        pos, opts = parse_opts(args, {"bad": True, "extra": True, "extra-from": True, "escape": False})
        if len(pos) != 8:
            sys.exit("usage: pi_tool.py %s DATA LBS MS PIL PIF TYPE APP REF [options]" % cmd)
        data = read_file(pos[0])
        fmt = fmt_of(*pos[1:6])
        mds = build(data, fmt, num(pos[6]), num(pos[7]), opts)
        if cmd == "meta":
            out = b"".join(mds)
        else:
            out = b"".join(data[i * fmt.lbs:(i + 1) * fmt.lbs] + md for i, md in enumerate(mds))
        sys.stdout.buffer.write(out)
    elif cmd in ("check", "check-ext"):
        pos, opts = parse_opts(args, {"prchk": True, "app-mask": True, "status": False, "no-escape": False})
        n = 9 if cmd == "check" else 8
        if len(pos) != n:
            sys.exit("usage: pi_tool.py check DATA META LBS MS PIL PIF TYPE APP REF, or check-ext BUF LBS ...")
        if cmd == "check":
            data, meta = read_file(pos[0]), read_file(pos[1])
            rest = pos[2:]
            fmt = fmt_of(*rest[:5])
            mds = records(meta, fmt.ms)
        else:
            buf = read_file(pos[0])
            rest = pos[1:]
            fmt = fmt_of(*rest[:5])
            recs = records(buf, fmt.lbs + fmt.ms)
            data = b"".join(r[:fmt.lbs] for r in recs)
            mds = [r[fmt.lbs:] for r in recs]
        if opts.get("status"):
            fails = check_all(data, mds, fmt, num(rest[5]), num(rest[6]), opts)
            print(" ".join("0x%x" % st for st, _ in fails) if fails else "0")
            return
        err = check(data, mds, fmt, num(rest[5]), num(rest[6]), opts)
        if err:
            sys.exit("pi_tool %s: %s" % (cmd, err))
        print("pi_tool %s: %d block(s) ok (%d+%d pil=%d pif=%d type %d)" %
              (cmd, len(mds), fmt.lbs, fmt.ms, fmt.pil, fmt.pif, fmt.type))
    elif cmd == "data":
        import random
        sys.stdout.buffer.write(random.Random(num(args[0])).randbytes(num(args[1])))
    elif cmd == "show":
        meta = read_file(args[0])
        fmt = Format(512, num(args[1]), num(args[2]), num(args[3]), 1)
        for i, md in enumerate(records(meta, fmt.ms)):
            g, a, r = fmt.decode(md)
            print("record %d: guard 0x%0*x app 0x%04x ref 0x%0*x" % (i, 2 * fmt.guard_bytes, g, a, 2 * fmt.ref_bytes, r))
    else:
        sys.exit("pi_tool: unknown command %r (see the docstring)" % cmd)


if __name__ == "__main__":
    main(sys.argv[1:])
