"""Rewrite the same blocks of a file while it is being written back.

Usage: python3 rewrite.py FILE SECONDS
Creates FILE (64 KiB), then for SECONDS one thread keeps changing its 16 blocks (pwrite() of whole
4 KiB blocks and stores through a shared mmap of the same file, alternately), while another calls
fsync() in a loop, so that writeback of each block is often in flight while it changes. Prints how
many rewrites and fsyncs it did. On a device that does not need stable pages the kernel lets the
page change under writeback; with stable pages (PI, integrity) a rewrite waits for the writeback."""
import mmap
import os
import sys
import threading
import time

path, seconds = sys.argv[1], float(sys.argv[2])
size = 16 * 4096
fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
os.pwrite(fd, b"\x00" * size, 0)
os.fsync(fd)
m = mmap.mmap(fd, size)
stop = time.monotonic() + seconds
counts = {"pwrite": 0, "mmap": 0, "fsync": 0}


def syncer():
    while time.monotonic() < stop:
        os.fsync(fd)
        counts["fsync"] += 1


t = threading.Thread(target=syncer)
t.start()
n = 0
while time.monotonic() < stop:
    n += 1
    blk = n % 16
    if n % 2:
        os.pwrite(fd, bytes([n & 0xFF]) * 4096, blk * 4096)
        counts["pwrite"] += 1
    else:
        m[blk * 4096:blk * 4096 + 4096] = bytes([n & 0xFF]) * 4096
        counts["mmap"] += 1
    if n % 64 == 0:
        time.sleep(0.001)  # let the syncer take the GIL now and then
t.join()
m.close()
os.fsync(fd)
os.close(fd)
print("rewrites: %d by pwrite, %d through mmap; %d fsyncs" % (counts["pwrite"], counts["mmap"], counts["fsync"]))
