#!/bin/bash
# mkfs.btrfs + mount + write + drop_caches + read back (sha256) + fsck + remount on namespace 1.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

fs_roundtrip btrfs
