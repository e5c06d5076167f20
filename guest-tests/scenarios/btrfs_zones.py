"""Which zones of a zoned device hold a btrfs file's blocks (single profile, one device).

  python3 btrfs_zones.py CHUNK_DUMP ZONE_SECTORS FILE...

CHUNK_DUMP is `btrfs inspect-internal dump-tree -t chunk DEV` (the map from btrfs logical addresses to
the device); each FILE's extents come from `filefrag -v -b512` (btrfs logical addresses, in 512-byte
units). Prints "FILE zone,zone,..." per file, zones in ascending order.
"""
import re
import subprocess
import sys

dump, zsect, files = open(sys.argv[1]).read(), int(sys.argv[2]), sys.argv[3:]
chunks = []  # (logical, length, physical), bytes
for m in re.finditer(r"CHUNK_ITEM (\d+)\).*?length (\d+).*?stripe 0 devid \d+ offset (\d+)", dump, re.S):
    chunks.append(tuple(int(x) for x in m.groups()))
if not chunks:
    sys.exit("btrfs_zones.py: no chunk items in " + sys.argv[1])


def physical(logical):
    for lo, n, phys in chunks:
        if lo <= logical < lo + n:
            return phys + logical - lo
    sys.exit("btrfs_zones.py: logical address %d is in no chunk" % logical)


for f in files:
    out = subprocess.run(["filefrag", "-v", "-b512", f], check=True, capture_output=True, text=True).stdout
    zones = set()
    # extent lines: "   0:        0..    6143:      16384..     22527:   6144: ..."
    for m in re.finditer(r"^\s*\d+:\s*\d+\.\.\s*\d+:\s*(\d+)\.\.\s*(\d+):", out, re.M):
        first, last = int(m.group(1)) * 512, int(m.group(2)) * 512
        zones.update({physical(first) // 512 // zsect, physical(last) // 512 // zsect})
    if not zones:
        sys.exit("btrfs_zones.py: no extents for %s:\n%s" % (f, out))
    print(f.rsplit("/", 1)[-1], ",".join(str(z) for z in sorted(zones)))
