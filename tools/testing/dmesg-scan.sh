#!/bin/bash
# Fail (exit 1) when the kernel log of a rig run shows a splat: an oops,
# WARN, BUG, panic, call trace, Rust panic, UBSAN, KASAN, KFENCE or kmemleak
# report, soft or hard lockup, hung task or RCU stall. The patterns are
# tools/testing/oops.pat (one extended regex a line), which the guest's
# init uses too. Reads the dmesg dump, or the console when the host died.
log=$1
pat="$(dirname "$0")/oops.pat"
if grep -q '^@@RIG dmesg-begin' "$log"; then
    text=$(sed -n '/^@@RIG dmesg-begin/,/^@@RIG dmesg-end/p' "$log")
else
    text=$(grep -v '^@@' "$log")
fi
if echo "$text" | grep -E -f "$pat" >/dev/null; then
    echo "$text" | grep -E -m5 -f "$pat" | sed 's/^/    dmesg: /'
    exit 1
fi
exit 0
