#!/bin/bash
# Bus Master Enable cleared in PCI config space while fio writes: the device stops all DMA, reports CSTS.CFS, Linux resets it after the I/O timeout, and fio's verify stays clean.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dev=$(ns_dev 1)
cfg=/sys/class/nvme/nvme0/device/config
[[ -w $cfg ]] || fail "no writable PCI config space at $cfg"
blk=/sys/block/${dev#/dev/}
# A short I/O timeout, so the reset comes after 4 s rather than 30.
echo 4000 >"$blk/queue/io_timeout"

command_reg() { od -An -tx2 -j4 -N2 "$cfg" | tr -d ' '; }
set_command_reg() { # HEX (16 bits)
    local v=$((16#$1))
    printf "$(printf '\\x%02x\\x%02x' $((v & 0xff)) $((v >> 8)))" | dd of="$cfg" bs=2 seek=2 count=1 conv=notrunc status=none
}

cmd=$(command_reg)
(((16#$cmd) & 4)) || fail "Bus Master Enable is not set before the test (Command=0x$cmd)"
dmesg -c >/dev/null

step "fio randwrite+verify on $dev; Bus Master Enable cleared for 2 s during the write phase"
fio_verify_bg bme 32
sleep 2
kill -0 "$FIO_PID" 2>/dev/null || fail "fio finished before bus mastering was turned off: make the run longer"
set_command_reg "$(printf '%04x' $(((16#$cmd) & ~4)))"
off=$(command_reg)
((((16#$off) & 4) == 0)) || fail "Bus Master Enable still reads set (Command=0x$off)"
sleep 2
set_command_reg "$cmd"
fio_verify_wait 32 "across the bus-master cycle"
dmesg >dmesg.txt
grep -q 'controller is down; will reset' dmesg.txt ||
    { tail -n 30 dmesg.txt; fail "the kernel did not see the controller's fatal status (no 'controller is down; will reset')"; }
if grep -q 'completion polled' dmesg.txt; then
    grep 'completion polled' dmesg.txt | head -n 5
    fail "a completion arrived without its interrupt (DMA went on with bus mastering off)"
fi
[[ -e $dev ]] || fail "namespace gone after the reset"
echo "fio verify clean across the bus-master cycle; kernel: $(grep -c 'nvme nvme0' dmesg.txt) nvme lines, $(grep -c 'timeout' dmesg.txt) timeouts"
