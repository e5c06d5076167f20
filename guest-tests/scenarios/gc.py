"""Log-structured garbage collection helpers for the copy-gc scenario.

  python3 gc.py plan SEED ZONES ZONE_BLOCKS     valid extents of ZONES source zones (zone z starts
                                                at LBA z*ZONE_BLOCKS): "slba nlb" per line, a seeded
                                                pseudo-random mix of live runs and holes
  python3 gc.py expect SRC_DATA LBS PLAN        the live data in plan order (what the fresh zone
                                                must hold), from the zones' data as written, to stdout
  python3 gc.py readwrite DEV LBS PLAN DEST     the same GC done by the host: O_DIRECT read of each
                                                extent, O_DIRECT write to DEST onwards; prints bytes
  python3 gc.py appends SEED ZONES ZONE_BLOCKS  how a log-structured writer fills ZONES whole zones
                                                with Zone Append: "zslba offset nlb" per append, a
                                                seeded mix of 8 to 64 blocks
  python3 gc.py copies PLAN DEST ZONE_BLOCKS MAXR
                                                the device GC's Copy commands onto a zoned
                                                destination: the live extents of PLAN, in order,
                                                from DEST (a zone start) on; a command never crosses
                                                a destination zone (a write may not, ZNS 3.3.2) and
                                                holds at most MAXR ranges: "dlba slba,... nlb,..."
                                                per command, nlb 0's based as nvme copy takes them
"""
import mmap
import os
import random
import sys

cmd, args = sys.argv[1], sys.argv[2:]


def load(path):
    return [tuple(int(x) for x in line.split()) for line in open(path) if line.strip()]


if cmd == "plan":
    seed, zones, zb = (int(a) for a in args)
    rnd = random.Random(seed)
    for z in range(zones):
        lba, end = z * zb, (z + 1) * zb
        while lba < end:
            hole = rnd.choice([0, 8, 16, 24, 40])
            run = rnd.choice([8, 16, 32, 48, 64])
            lba += hole
            if lba >= end:
                break
            n = min(run, end - lba)
            print(lba, n)
            lba += n
elif cmd == "expect":
    data, lbs, plan = open(args[0], "rb").read(), int(args[1]), load(args[2])
    out = sys.stdout.buffer
    for slba, n in plan:
        out.write(data[slba * lbs:(slba + n) * lbs])
elif cmd == "readwrite":
    dev, lbs, plan, dest = args[0], int(args[1]), load(args[2]), int(args[3])
    fd = os.open(dev, os.O_RDWR | os.O_DIRECT)
    total = 0
    for slba, n in plan:
        buf = mmap.mmap(-1, n * lbs)
        assert os.preadv(fd, [buf], slba * lbs) == n * lbs
        assert os.pwritev(fd, [buf], dest * lbs) == n * lbs
        dest += n
        total += n * lbs
    os.close(fd)
    print(total)
elif cmd == "appends":
    seed, zones, zb = (int(a) for a in args)
    rnd = random.Random(seed)
    for z in range(zones):
        off = 0
        while off < zb:
            n = min(rnd.choice([8, 16, 24, 32, 48, 64]), zb - off)
            print(z * zb, off, n)
            off += n
elif cmd == "copies":
    plan, dlba, zb, maxr = load(args[0]), int(args[1]), int(args[2]), int(args[3])
    cmds, cur, start = [], [], dlba

    def close():
        global cur, start
        if cur:
            cmds.append((start, cur))
        cur, start = [], dlba

    for slba, n in plan:
        while n:
            room = zb - dlba % zb
            k = min(n, room)
            cur.append((slba, k))
            slba, n, dlba = slba + k, n - k, dlba + k
            if dlba % zb == 0 or len(cur) == maxr:
                close()
    close()
    for d, rs in cmds:
        print(d, ",".join(str(s) for s, _ in rs), ",".join(str(k - 1) for _, k in rs))
else:
    sys.exit("gc.py: unknown command " + cmd)
