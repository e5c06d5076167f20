#!/bin/bash
# Write a named pattern to the first 16 MiB of namespace 1 (used by qemu-scripts/test-image-moves.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

named_pattern
tag=$PATTERN_TAG
dev=$(ns_dev 1)
dd if=pat of="$dev" bs=1M oflag=direct conv=fsync status=none || fail "write pattern $tag"
echo "wrote pattern $tag through $VNVME_DEVICE"
