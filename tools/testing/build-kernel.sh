#!/bin/bash
# Configure and build the host kernel (and the upstream C kvm.ko as reference).
source "$(dirname "$0")/lib.sh"
frag="$REPO/tools/testing/host.config"
if [ -n "$RIG_KERNEL" ]; then
    frag=$(mktemp); trap 'rm -f "$frag"' EXIT
    cat "$REPO/tools/testing/host.config" "$REPO/tools/testing/host-$RIG_KERNEL.config" > "$frag"
fi
mkdir -p "$KBUILD"
sum=$(cat "$frag" "$KSRC/.unpacked" | sha256sum | cut -c1-16)
if [ "$(cat "$KBUILD/.frag-sum" 2>/dev/null)" != "$sum" ]; then
    log "configuring host kernel (tinyconfig + host.config)"
    "${KMAKE[@]}" tinyconfig >/dev/null
    "$KSRC/scripts/kconfig/merge_config.sh" -m -O "$KBUILD" "$KBUILD/.config" "$frag" >/dev/null
    "${KMAKE[@]}" olddefconfig >/dev/null
    # Every option of the fragment must have stuck.
    bad=0
    while read -r line; do
        case "$line" in CONFIG_*=n) o=${line%=n}; grep -q "^$o=" "$KBUILD/.config" && { echo "not off: $o"; bad=1; } ;;
                        CONFIG_*) grep -qx "$line" "$KBUILD/.config" || { echo "not set: $line"; bad=1; } ;; esac
    done < <(grep -v '^#' "$frag")
    [ $bad = 0 ] || die "host.config did not apply (see above)"
    echo "$sum" > "$KBUILD/.frag-sum"
fi
log "building host kernel"
"${KMAKE[@]}" Image modules >/dev/null
"${KMAKE[@]}" headers_install INSTALL_HDR_PATH="$CACHE/build/headers" >/dev/null
log "kernel $(cat "$KBUILD/include/config/kernel.release") ok"
