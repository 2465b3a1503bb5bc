#!/bin/bash
# Fetch and unpack linux-source-7.3 from trixie-backports into $KSRC.
source "$(dirname "$0")/lib.sh"
if [ -f "$KSRC/.unpacked" ]; then exit 0; fi
P="$REPO/tools/testing/papt.sh"
[ -f "$CACHE/apt/.updated" ] || { bash "$P" update -qq && touch "$CACHE/apt/.updated"; }
mkdir -p "$CACHE/debs"
cd "$CACHE/debs"
ls linux-source-${KVER_WANT}_*.deb >/dev/null 2>&1 || bash "$P" download -qq "linux-source-$KVER_WANT"
deb=$(ls linux-source-${KVER_WANT}_*.deb | head -1)
tmp="$CACHE/linux-deb"
rm -rf "$tmp" && mkdir -p "$tmp"
dpkg-deb -x "$deb" "$tmp"
tarball=$(ls "$tmp"/usr/src/linux-source-*.tar.* | head -1)
rm -rf "$KSRC" "$KSRC.tmp" && mkdir -p "$KSRC.tmp"
tar -xf "$tarball" -C "$KSRC.tmp" --strip-components=1
rm -rf "$tmp"
v=$(awk '/^VERSION =/{a=$3} /^PATCHLEVEL =/{b=$3} /^SUBLEVEL =/{c=$3} END{print a"."b"."c}' "$KSRC.tmp/Makefile")
case "$v" in
    "$KVER_WANT".*) ;;
    *) die "linux-source-$KVER_WANT unpacked a kernel whose Makefile says $v, not $KVER_WANT" ;;
esac
mv "$KSRC.tmp" "$KSRC"
echo "$v" > "$KSRC/.unpacked"
log "kernel source $v in $KSRC"
