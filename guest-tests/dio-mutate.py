"""O_DIRECT writer whose buffer may be changed while the write is in flight.

Usage: python3 dio-mutate.py DEVICE LBA_BYTES_OFFSET BLOCKS MUTATE(0|1)
Writes BLOCKS x 4 KiB at the byte offset with one pwrite from a page-aligned
buffer. With MUTATE=1 a second thread waits 50 ms (the device widens the window
between fetching the command and reading the data), then overwrites bytes
100..119 of the second 4 KiB block. Prints what it did."""
import mmap
import os
import sys
import threading
import time

dev, offset, blocks, mutate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
size = blocks * 4096
buf = mmap.mmap(-1, size)  # page aligned, as O_DIRECT needs
buf.write(bytes([0x5A]) * size)
fd = os.open(dev, os.O_WRONLY | os.O_DIRECT)


def mutator():
    time.sleep(0.05)
    buf[4096 + 100:4096 + 120] = bytes([0xA5]) * 20


t = threading.Thread(target=mutator) if mutate else None
if t:
    t.start()
start = time.monotonic()
n = os.pwrite(fd, buf, offset)
took = time.monotonic() - start
if t:
    t.join()
os.close(fd)
if n != size:
    sys.exit("short write: %d of %d" % (n, size))
print("wrote %d bytes at %d in %.3f s%s" % (n, offset, took, ", buffer changed in flight" if mutate else ""))
