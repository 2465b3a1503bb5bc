#!/bin/bash
# Host unit tests (cargo test) of the crate's pure-logic modules.
source "$(dirname "$0")/lib.sh"
cd "$REPO/tools/testing/unit"
rc=0
CARGO_TARGET_DIR="$CACHE/build/unit-target" cargo test 2>&1 || rc=$?
# The pure parts of the NACL firmware (tools/testing/nacl-fw), on the host.
cd "$REPO/tools/testing/nacl-fw"
CARGO_TARGET_DIR="$CACHE/build/nacl-fw-target" cargo test --lib 2>&1 || rc=$?
# The dmesg scan's splat patterns (tools/testing/oops.pat).
bash "$REPO/tools/testing/dmesg-scan-test.sh" || rc=$?
exit $rc
