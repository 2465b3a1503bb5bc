Oops
WARNING:
BUG:
kernel BUG
Call Trace
Kernel panic
Unable to handle
general protection
panicked at
UBSAN:
KASAN:
KFENCE:
kmemleak: [0-9]+ new suspected memory leak
soft lockup
hard LOCKUP
blocked for more than [0-9]+ seconds
hung_task
detected stall
self-detected
