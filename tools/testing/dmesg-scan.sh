#!/bin/bash
# Fail (exit 1) when the kernel log of a rig run shows an oops, WARN, BUG,
# panic or call trace. Reads the dmesg dump, or the console when the host died.
log=$1
if grep -q '^@@RIG dmesg-begin' "$log"; then
    text=$(sed -n '/^@@RIG dmesg-begin/,/^@@RIG dmesg-end/p' "$log")
else
    text=$(grep -v '^@@' "$log")
fi
pat='Oops|WARNING:|BUG:|kernel BUG|Call Trace|Kernel panic|Unable to handle|general protection|rcu_sched self-detected|soft lockup|hung_task'
if echo "$text" | grep -E "$pat" >/dev/null; then
    echo "$text" | grep -E -m5 "$pat" | sed 's/^/    dmesg: /'
    exit 1
fi
exit 0
