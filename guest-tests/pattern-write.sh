#!/bin/bash
# Write a named pattern to the first 16 MiB of namespace 1 (used by qemu-scripts/test-image-moves.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

name=${0##*/}
name=${name%.sh}
tag=${name#*.}
[[ $name == *.* && -n $tag ]] || fail "run as $name.TAG.sh (the pattern tag is in the file name)"
dev=$(ns_dev 1)
{ yes "vnvme-image-$tag" || true; } | head -c 16M >pat
dd if=pat of="$dev" bs=1M oflag=direct conv=fsync status=none || fail "write pattern $tag"
echo "wrote pattern $tag through $VNVME_DEVICE"
