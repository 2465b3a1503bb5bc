#!/bin/bash
# Host unit tests (cargo test) of the crate's pure-logic modules.
source "$(dirname "$0")/lib.sh"
cd "$REPO/tools/testing/unit"
CARGO_TARGET_DIR="$CACHE/build/unit-target" cargo test 2>&1
