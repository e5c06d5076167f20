"""One O_DIRECT write whose buffer another thread changes while the write is in flight.

Usage: python3 dio_race.py PATH OFFSET BLOCKS DISK|none [SEED]
Writes BLOCKS x 4 KiB at byte OFFSET of PATH (a file or a block device) with one pwrite() from a
page-aligned buffer of seeded pseudo-random bytes. A second thread waits until the block layer has
the write in flight on DISK (/sys/block/DISK/inflight counts a started write: by then the kernel has
computed any checksum or PI from the buffer and is handing the command to the device), waits 50 ms
more (the device, widening the window, has fetched the command and taken its first look), then sets
bytes 100..119 of the buffer's second 4 KiB block to 0xA5. The device reads the data 200 ms after
the fetch (a widen fault rule), so the change lands inside its window however slowly the guest runs.
If no write shows up within 3 s (e.g. the kernel turned the write into a buffered one that is
written back later), it changes the buffer then. With DISK `none` the buffer is left alone (a clean
write, for comparison).
Saves the buffer as it was before (./before.bin) and after (./after.bin) the change, and prints one
line: "write ok BYTES SECONDS ..." or "write failed ERRNO_NAME SECONDS ..." (exit 0 either way; a
short write is an error), ending with how the change was timed."""
import errno
import mmap
import os
import random
import sys
import threading
import time

path, offset, blocks, disk = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
seed = int(sys.argv[5]) if len(sys.argv) > 5 else 1
size = blocks * 4096
buf = mmap.mmap(-1, size)  # page aligned, as O_DIRECT needs
buf.write(random.Random(seed).randbytes(size))
open("before.bin", "wb").write(buf[:])
flags = os.O_WRONLY | os.O_DIRECT | (os.O_CREAT if not path.startswith("/dev/") else 0)
fd = os.open(path, flags, 0o644)


inflight = "/sys/block/%s/inflight" % disk
when = []


def writes_in_flight():
    with open(inflight) as f:
        return int(f.read().split()[1])


if disk != "none" and writes_in_flight():
    sys.exit("%s: writes already in flight before the racing write; the disk must be idle" % disk)
go = threading.Event()


def mutator():
    go.wait()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and not writes_in_flight():
        time.sleep(0.0005)
    when.append("changed after the write was in flight" if time.monotonic() < deadline else "changed after 3 s without a write in flight")
    time.sleep(0.05)
    buf[4096 + 100:4096 + 120] = b"\xa5" * 20


t = threading.Thread(target=mutator if disk != "none" else lambda: when.append("left alone"))
t.start()
go.set()
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
print("%s %.3f (buffer %s)" % (result, took, when[0]))
