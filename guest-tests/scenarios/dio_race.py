"""One O_DIRECT write whose buffer another thread changes while the write is in flight.

Usage: python3 dio_race.py PATH OFFSET BLOCKS MUTATE_AFTER_MS [SEED]
Writes BLOCKS x 4 KiB at byte OFFSET of PATH (a file or a block device) with one pwrite() from a
page-aligned buffer of seeded pseudo-random bytes. A second thread waits MUTATE_AFTER_MS (the
device widens the window between fetching the command and reading the data, so the write is in
flight by then), then sets bytes 100..119 of the buffer's second 4 KiB block to 0xA5.
Writes the buffer as it was before (PATH.before -> ./before.bin) and after (./after.bin) the change,
and prints one line: "write ok BYTES SECONDS" or "write failed ERRNO_NAME SECONDS" (exit 0 either
way; a short write is an error)."""
import errno
import mmap
import os
import random
import sys
import threading
import time

path, offset, blocks, after_ms = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
seed = int(sys.argv[5]) if len(sys.argv) > 5 else 1
size = blocks * 4096
buf = mmap.mmap(-1, size)  # page aligned, as O_DIRECT needs
buf.write(random.Random(seed).randbytes(size))
open("before.bin", "wb").write(buf[:])
flags = os.O_WRONLY | os.O_DIRECT | (os.O_CREAT if not path.startswith("/dev/") else 0)
fd = os.open(path, flags, 0o644)


def mutator():
    time.sleep(after_ms / 1000)
    buf[4096 + 100:4096 + 120] = b"\xa5" * 20


t = threading.Thread(target=mutator)
t.start()
start = time.monotonic()
try:
    n = os.pwrite(fd, buf, offset)
    result = "write ok %d" % n if n == size else "write short %d" % n
except OSError as e:
    result = "write failed %s" % errno.errorcode.get(e.errno, str(e.errno))
took = time.monotonic() - start
t.join()
os.close(fd)
open("after.bin", "wb").write(buf[:])
print("%s %.3f" % (result, took))
