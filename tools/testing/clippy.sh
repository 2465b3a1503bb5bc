#!/bin/bash
# make clippy: build our kvm.ko with the kernel's CLIPPY=1 (clippy-driver in
# place of rustc, with the kernel's clippy lints) and fail on any warning or
# error from rustc/clippy.
# The build runs in a copy of the working tree, $CACHE/build/clippy-tree
# (tracked files and untracked, not ignored ones, so uncommitted edits are
# checked too), never in the repo, where kvm.ko is built concurrently. The
# copy keeps its build outputs between runs: only changed files are
# rewritten, and only the Rust crate object is removed so that clippy runs
# (and reports) again each time.
# Output: $CACHE/results/clippy.log, the diagnostics one a line in
# $CACHE/results/clippy-diagnostics.tsv; a summary of them by lint.
source "$(dirname "$0")/lib.sh"
DEST="$CACHE/build/clippy-tree"
RES="$CACHE/results"; LOG="$RES/clippy.log"
mkdir -p "$DEST" "$RES"
exec 9>"$DEST.lock"; flock 9   # one clippy build of the copy at a time
[ -f "$KBUILD/arch/riscv/boot/Image" ] && [ -f "$KBUILD/Module.symvers" ] ||
    die "no kernel build in $KBUILD (make kernel)"
[ -d "$KSRC/virt/kvm" ] || die "no kernel source in $KSRC (make deps)"

# clippy-driver must be of the toolchain that built the kernel's crates.
command -v clippy-driver >/dev/null || die "no clippy-driver on PATH (rustup component add clippy)"
cv=$(clippy-driver --rustc --version 2>/dev/null | head -1)
kv=$(sed -n 's/^CONFIG_RUSTC_VERSION_TEXT="\(.*\)"$/\1/p' "$KBUILD/.config")
[ "$cv" = "$kv" ] || die "clippy-driver is '$cv', the kernel was built with '$kv'"

# Sync the tree into $DEST: rewrite files whose content changed (they get a
# new mtime, so make rebuilds what depends on them), drop files gone.
cd "$REPO"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
stage="$tmp/tree" list="$tmp/list"; mkdir "$stage"
git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do if [ -e "$f" ]; then printf "%s\0" "$f"; fi; done > "$list"
tar -C "$REPO" --null -T "$list" -cf - | tar -C "$stage" -xf -
changed=0
while IFS= read -r -d '' f; do
    if ! cmp -s "$stage/$f" "$DEST/$f"; then
        mkdir -p "$DEST/$(dirname "$f")"
        rm -f "$DEST/$f"; cp -P "$stage/$f" "$DEST/$f"; changed=$((changed + 1))
    fi
done < "$list"
if [ -f "$DEST/.rig-files" ]; then
    while IFS= read -r -d '' f; do
        grep -qzxF -- "$f" "$list" || { rm -f "$DEST/$f"; changed=$((changed + 1)); }
    done < "$DEST/.rig-files"
fi
cp "$list" "$DEST/.rig-files"

# gen/: symlinks into the kernel tree, as the Makefile's gen target makes them.
if [ "$(readlink "$DEST/gen/.src" 2>/dev/null)" != "$KSRC" ]; then
    rm -rf "$DEST/gen" && mkdir -p "$DEST/gen/virt/kvm" "$DEST/gen/arch" && ln -s "$KSRC" "$DEST/gen/.src"
    for f in "$KSRC"/virt/kvm/*.[ch]; do ln -s "$f" "$DEST/gen/virt/kvm/"; done
    for f in "$KSRC"/arch/riscv/kvm/*.[chS]; do ln -s "$f" "$DEST/gen/arch/"; done
fi

# Only the Rust crate is recompiled when nothing changed: clippy reports again.
# rustc/clippy write their diagnostics as JSON (KRUSTFLAGS): rustc-diag.py
# renders them into the log as rustc prints them, and lists each one with its
# lint name (which rustc prints only with the first warning of each lint).
rm -f "$DEST/rust/kvm_riscv.o"
t0=$(date +%s)
rc=0
make -C "$KBUILD" ARCH=riscv LLVM="$LLVM_SUFFIX" -j"$(nproc)" --output-sync=target \
    M="$DEST" CLIPPY=1 KRUSTFLAGS=--error-format=json modules >"$tmp/raw" 2>&1 || rc=$?
secs=$(( $(date +%s) - t0 ))
DIAG="$RES/clippy-diagnostics.tsv"
python3 "$REPO/tools/testing/rustc-diag.py" "$LOG" "$DIAG" < "$tmp/raw"
nw=$(grep -c '^warning' "$DIAG" || true)
ne=$(grep -c '^error' "$DIAG" || true)

if [ $rc = 0 ] && [ "$nw" = 0 ] && [ "$ne" = 0 ]; then
    echo "clippy: no warnings (${secs}s, $changed files synced; log $LOG)"
    exit 0
fi
if [ $rc != 0 ] && [ "$nw" = 0 ] && [ "$ne" = 0 ]; then
    echo "clippy: the build failed (rc $rc, ${secs}s; log $LOG):"
    tail -30 "$LOG"
    exit 1
fi
echo "clippy: $nw warnings, $ne errors$([ $rc = 0 ] || echo ", build failed (rc $rc)") (${secs}s; log $LOG)"
echo "by lint:"
cut -f1,2 "$DIAG" | sort | uniq -c | sort -k1,1nr -k2 | awk '{printf "%5d  %-7s %s\n", $1, $2, $3}'
echo "first ones:"
awk -F'\t' '{print $1 ": " $3 "  (" $4 ")"}' "$DIAG" | head -30 || true
exit 1
