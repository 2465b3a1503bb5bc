#!/bin/bash
# Base root filesystem of the emulated host, from Debian trixie riscv64
# packages, as a cached cpio archive (the per-run overlay is added later).
source "$(dirname "$0")/lib.sh"
ROOT="$CACHE/rootfs"
OUT="$CACHE/build/base.cpio"
PKGS="busybox-static,kmod,qemu-system-riscv,opensbi,libc6"
sum=$(echo "v1 $PKGS" | sha256sum | cut -c1-16)
if [ -f "$OUT" ] && [ "$(cat "$CACHE/build/.rootfs-sum" 2>/dev/null)" = "$sum" ]; then exit 0; fi
MIRROR=$(debian_mirror)
rm -rf "$ROOT" && mkdir -p "$ROOT" "$CACHE/build" "$CACHE/debs-riscv64"
log "mmdebstrap riscv64 rootfs"
# Downloaded .debs are kept in a cache so reruns do not fetch them again.
mmdebstrap --quiet --variant=extract --architectures=riscv64 \
    --include="$PKGS" \
    --skip=download/empty --setup-hook='mkdir -p "$1/var/cache/apt/archives"' \
    --setup-hook="sync-in $CACHE/debs-riscv64 /var/cache/apt/archives" \
    --customize-hook="sync-out /var/cache/apt/archives $CACHE/debs-riscv64" \
    trixie "$ROOT" "$MIRROR"
# usrmerge links, which base-files would make in a real install
for d in bin sbin lib; do
    if [ -d "$ROOT/$d" ] && [ ! -L "$ROOT/$d" ]; then cp -a "$ROOT/$d/." "$ROOT/usr/$d/"; rm -rf "${ROOT:?}/$d"; fi
    [ -e "$ROOT/$d" ] || ln -s "usr/$d" "$ROOT/$d"
done
mkdir -p "$ROOT"/{proc,sys,dev,tmp,run,root,etc,mnt}
# busybox applets are installed by /init at boot (busybox --install -s)
ln -sf busybox "$ROOT/usr/bin/sh"
echo "root:x:0:0:root:/root:/bin/sh" > "$ROOT/etc/passwd"
echo "root:x:0:" > "$ROOT/etc/group"
rm -rf "$ROOT/usr/share/doc" "$ROOT/usr/share/man" "$ROOT/usr/share/locale" "$ROOT/var/cache/apt"
(cd "$ROOT" && find . | cpio -o -H newc --quiet) > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "$sum" > "$CACHE/build/.rootfs-sum"
log "base rootfs $(du -h "$OUT" | cut -f1)"
