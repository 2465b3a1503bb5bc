#!/bin/bash
# The README's real-host commands against a second kernel tree: a tree with
# its own O= directory and .config (host.config + host-alt.config: release
# 7.3.4-alt), configured by build-kernel.sh (RIG_KERNEL=alt). To keep it
# cheap, its first build starts from a copy of the rig's objects (then only
# what the release name touches is rebuilt, about a minute).
# In a copy of the repository (the rig's own kvm.ko stays as it is):
#   make KDIR=<second tree>
# then the emulated host boots the second tree's kernel; run-host.sh
# installs our module with make install INSTALL_MOD_PATH=<the host's root>,
# and /init runs modprobe kvm and boots a guest.
# Passes when modprobe loads /lib/modules/<release>-alt/updates/kvm.ko and
# the guest boots. Log: $CACHE/results/ours-run.log (kept as alt-run.log).
source "$(dirname "$0")/lib.sh"
main() {
    local RIG="$CACHE/build/kernel" ALT="$CACHE/build/kernel-alt" COPY="$CACHE/build/alt-repo" RES="$CACHE/results"
    [ -f "$RIG/arch/riscv/boot/Image" ] || die "no rig kernel in $RIG (make kernel)"
    if [ ! -f "$ALT/.seeded" ]; then
        log "alt tree: seeding $ALT from the rig's objects"
        rm -rf "$ALT" && cp -a "$RIG" "$ALT"
        sed -i "s|^export KBUILD_OUTPUT = .*|export KBUILD_OUTPUT = $ALT|" "$ALT/Makefile"
        rm -f "$ALT/.frag-sum" && touch "$ALT/.seeded"
    fi
    RIG_KERNEL=alt bash "$REPO/tools/testing/build-kernel.sh"
    local rel; rel=$(cat "$ALT/include/config/kernel.release")
    case "$rel" in *-alt) ;; *) die "alt tree: release $rel, not *-alt" ;; esac

    mkdir -p "$COPY"
    (cd "$REPO" && git ls-files -z) | rsync -a --from0 --files-from=- "$REPO/" "$COPY/"
    log "alt tree: make KDIR=$ALT (in $COPY)"
    make -s --no-print-directory -C "$COPY" KDIR="$ALT" >/dev/null
    modinfo -F vermagic "$COPY/kvm.ko" | grep -q "^$rel " || die "alt tree: $COPY/kvm.ko is not built for $rel"

    local rc=0
    RIG_KERNEL=alt bash "$COPY/tools/testing/run-host.sh" run ours >/dev/null || rc=$?
    cp "$RES/ours-run.log" "$RES/alt-run.log"
    grep '^@@RIG module ours' "$RES/alt-run.log" | sed 's/^/  /'
    grep -q "^@@RIG module ours: /lib/modules/$rel/updates/kvm.ko " "$RES/alt-run.log" || {
        echo "  alt tree: modprobe kvm did not load /lib/modules/$rel/updates/kvm.ko"; rc=1; }
    grep -q '^guest_boot PASS' "$RES/ours-run.txt" || { echo "  alt tree: the guest did not boot"; rc=1; }
    return $rc
}
main "$@"
