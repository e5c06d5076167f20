#!/bin/bash
# Read the first 16 MiB of namespace 1 (with the block layer's PI verification when the namespace has PI) and compare with a named pattern.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

named_pattern
tag=$PATTERN_TAG
dev=$(ns_dev 1)
dmesg_mark
dd if="$dev" of=back bs=1M count=16 iflag=direct status=none || fail "read of pattern $tag failed (PI error?)"
cmp -s pat back || fail "namespace does not hold pattern $tag"
dmesg_assert_clean "pattern check"
echo "pattern $tag intact through $VNVME_DEVICE (integrity: $(cat "$(ns_sysfs 1)/integrity/format"))"
