#!/bin/bash
# make config-matrix: our kvm.ko built (not run) against host kernels of
# other configurations, so that the cfg'd parts of the crate that the rig's
# kernel never compiles are compiled and linted too. One variant per
# fragment in tools/testing/matrix/<name>.config, merged after host.config
# onto tinyconfig, as build-kernel.sh configures the rig's kernel:
#   tracepoints  CONFIG_TRACEPOINTS and CONFIG_TRACE_IRQFLAGS
#   nofpu        CONFIG_FPU (and so RISCV_ISA_V) off
#   novector     CONFIG_RISCV_ISA_V off
#   nopmu        CONFIG_RISCV_PMU_SBI off
#   cpupm        CONFIG_CPU_PM (through CPU_IDLE)
# config-matrix.sh [NAME...] runs the named variants only.
#
# Each variant's kernel tree is $CACHE/build/matrix-<name>. Its vmlinux is
# built for real: the module links against the symbols that vmlinux
# exports, so a kernel symbol our code uses that this configuration does
# not export is the modpost error it would be on such a host, not a warning
# waved through (KBUILD_MODPOST_WARN, or the rig's Module.symvers, would
# hide exactly that). To keep a cold tree cheap it starts from a copy of
# the rig's objects, so that only what the configuration change touches is
# rebuilt (which, for most variants, is still most of the kernel: see
# README.md). A tree is rebuilt only when its inputs change: host.config,
# its fragment, the kernel source and the toolchain (their hash is kept in
# the tree's .matrix-sum, written after a successful build).
#
# The module is built in a copy of the repository per variant
# ($CACHE/build/matrix-repo/<name>; tracked files and untracked, not
# ignored ones, as clippy.sh copies them), with make KDIR=<tree>, then again
# with the kernel's CLIPPY=1. A variant passes when both builds succeed
# with no rustc or clippy diagnostic (read as clippy.sh reads them, from
# rustc's JSON), no C compiler warning and no modpost warning. A passing
# verdict is kept with the hash of everything it was built from (the
# tree's inputs, the copy's files, rustc and clippy): an unchanged variant
# is not built again.
# Output: a line per variant, then "config-matrix: N passed, N failed";
# logs in $CACHE/results/matrix-<name>.log and the diagnostics one a line
# in matrix-<name>-diagnostics.tsv.
#
# Not in make test: a cold run rebuilds five kernel trees (README.md,
# "Other host configurations", gives its times), far over the 5 minutes a
# row of make test may add.
source "$(dirname "$0")/lib.sh"

# The targets a tree is built with, part of its hash: vmlinux (the Rust
# crates, and vmlinux.symvers, the exports of this configuration) and
# modules_prepare (modpost and the module linker script). Not the in-tree
# modules: the only one of host.config is upstream's kvm.ko, which ours
# replaces, and which in 7.3 does not build without RISCV_ISA_V (vcpu.c
# calls get_cpu_vector_context() without the asm/vector.h that declares
# its stub). So the tree's Module.symvers, which an external module build
# reads, is vmlinux.symvers: our kvm.ko needs no other module.
TREE_TARGETS=(vmlinux modules_prepare)

# tree_sum FRAG: the hash of what a variant's tree is built from.
tree_sum() {
    {
        cat "$REPO/tools/testing/host.config" "$1" "$KSRC/.unpacked"
        echo "${TREE_TARGETS[*]}"
        rustc --version; bindgen --version; "clang$LLVM_SUFFIX" --version | head -1
    } 2>&1 | sha256sum | cut -c1-16
}

# prepare_tree NAME FRAG TREE: configure and build the variant's kernel tree
# unless it is built already for these inputs. Prints why it failed, and
# returns 1, when it did.
prepare_tree() {
    local name=$1 frag=$2 tree=$3 sum bad=0 line o
    local kmake=(nice -n 5 make -C "$KSRC" O="$tree" ARCH=riscv LLVM="$LLVM_SUFFIX" -j"$(nproc)")
    if [ ! -f "$tree/.seeded" ]; then
        log "config-matrix/$name: seeding $tree from the rig's objects"
        rm -rf "$tree" && cp -a "$RIG" "$tree" || { echo "  cannot copy $RIG"; return 1; }
        # The O= directory's Makefile names its own path.
        sed -i "s|^export KBUILD_OUTPUT = .*|export KBUILD_OUTPUT = $tree|" "$tree/Makefile"
        # The rig's stamps and outputs are not this tree's: the symbol list
        # must be the one this build writes, and no stale image be booted.
        rm -f "$tree/.frag-sum" "$tree/Module.symvers" "$tree/vmlinux.symvers" "$tree"/arch/riscv/boot/*Image*
        touch "$tree/.seeded"
    fi
    sum=$(tree_sum "$frag")
    [ "$(cat "$tree/.matrix-sum" 2>/dev/null)" = "$sum" ] && return 0
    rm -f "$tree/.matrix-sum"
    log "config-matrix/$name: configuring (tinyconfig + host.config + matrix/$name.config)"
    # (Errors are checked here: a function called in a condition runs
    # without set -e.)
    { "${kmake[@]}" tinyconfig &&
      "$KSRC/scripts/kconfig/merge_config.sh" -m -O "$tree" "$tree/.config" \
          "$REPO/tools/testing/host.config" "$frag" &&
      "${kmake[@]}" olddefconfig; } >"$tree/.matrix-config.log" 2>&1 ||
        { echo "  configuring failed (log $tree/.matrix-config.log)"; return 1; }
    # Every option of the fragment must have stuck: a variant whose option
    # did not apply would pass without testing anything.
    while read -r line; do
        case "$line" in
            CONFIG_*=n) o=${line%=n}; grep -q "^$o=" "$tree/.config" && { echo "  not off in .config: $o"; bad=1; } ;;
            CONFIG_*) grep -qx "$line" "$tree/.config" || { echo "  not set in .config: $line"; bad=1; } ;;
        esac
    done < <(grep -v '^#' "$frag")
    [ $bad = 0 ] || return 1
    log "config-matrix/$name: building the kernel tree (${TREE_TARGETS[*]})"
    if ! "${kmake[@]}" "${TREE_TARGETS[@]}" >"$tree/.matrix-build.log" 2>&1; then
        echo "  the kernel tree did not build (log $tree/.matrix-build.log):"
        tail -15 "$tree/.matrix-build.log" | sed 's/^/  /'
        return 1
    fi
    [ -s "$tree/vmlinux.symvers" ] || { echo "  the kernel build wrote no vmlinux.symvers"; return 1; }
    cp "$tree/vmlinux.symvers" "$tree/Module.symvers"
    echo "$sum" > "$tree/.matrix-sum"
}

# build_module NAME TREE COPY: our kvm.ko against TREE in COPY, plain and
# with CLIPPY=1. Sets `what` to the verdict's details; returns 1 on any
# failure or warning.
build_module() {
    local name=$1 tree=$2 copy=$3 pass rc raw diag nw ne ncw nmp
    local log="$RES/matrix-$name.log" tsv="$RES/matrix-$name-diagnostics.tsv"
    local mk=(nice -n 5 make -j"$(nproc)" --no-print-directory --output-sync=target -C "$copy" KDIR="$tree" KRUSTFLAGS=--error-format=json)
    : > "$log"; : > "$tsv"
    rc=0
    for pass in plain clippy; do
        raw=$(mktemp); diag=$(mktemp)
        # The crate is compiled again each time, so that rustc and clippy
        # report (and so that the clippy pass is a clippy-driver build).
        rm -f "$copy/rust/kvm_riscv.o"
        echo "=== make KDIR=$tree$([ $pass = plain ] || echo ' CLIPPY=1')" >> "$log"
        "${mk[@]}" $([ $pass = plain ] || echo CLIPPY=1) >"$raw" 2>&1 || rc=$?
        python3 "$REPO/tools/testing/rustc-diag.py" "$tmp/rendered" "$diag" < "$raw"
        cat "$tmp/rendered" >> "$log"; sed "s/^/$pass\t/" "$diag" >> "$tsv"
        rm -f "$raw" "$diag"
        [ $rc = 0 ] || break
    done
    nw=$(cut -f2 "$tsv" | grep -c '^warning' || true)
    ne=$(cut -f2 "$tsv" | grep -c '^error' || true)
    # C compiler warnings (clang's "file:line:col: warning:"); not make's own.
    ncw=$(grep -cE '^[^ :]+:[0-9]+:[0-9]+: warning:' "$log" || true)
    nmp=$(grep -c '^WARNING: modpost' "$log" || true)
    if [ $rc = 0 ] && [ $((nw + ne + ncw + nmp)) = 0 ]; then
        modinfo -F vermagic "$copy/kvm.ko" | grep -q "^$(cat "$tree/include/config/kernel.release") " || {
            what="kvm.ko is not built for $tree"; return 1; }
        what="kvm.ko and CLIPPY=1 built, no warnings"
        return 0
    fi
    what="$nw rustc/clippy warnings, $ne errors, $ncw C warnings, $nmp modpost warnings$([ $rc = 0 ] || echo ", build failed (rc $rc)"); log $log"
    {
        awk -F'\t' '{print "  " $1 " " $2 ": " $4 "  (" $5 ")"}' "$tsv" | head -20
        grep -E '^[^ :]+:[0-9]+:[0-9]+: warning:|^WARNING: modpost|^ERROR|Error [0-9]' "$log" | head -10 | sed 's/^/  /'
        [ -s "$tsv" ] || [ $rc = 0 ] || tail -15 "$log" | sed 's/^/  /'
    } >> "$tmp/details"
    return 1
}

main() {
    RIG="$CACHE/build/kernel" RES="$CACHE/results"
    local copies="$CACHE/build/matrix-repo" pass=0 fail=0 t0 t1 t2 name frag tree copy key what opts f
    [ -f "$RIG/arch/riscv/boot/Image" ] && [ -f "$RIG/Module.symvers" ] || die "no rig kernel in $RIG (make kernel)"
    command -v clippy-driver >/dev/null || die "no clippy-driver on PATH (rustup component add clippy)"
    mkdir -p "$RES" "$copies"
    exec 9>"$CACHE/build/matrix.lock"; flock 9   # one matrix run at a time
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

    local names=("$@")
    if [ ${#names[@]} = 0 ]; then
        for f in "$REPO"/tools/testing/matrix/*.config; do names+=("$(basename "$f" .config)"); done
    fi
    # The repository's files, as clippy.sh takes them, and their content
    # hash (part of each verdict's key).
    (cd "$REPO" && git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do if [ -f "$f" ]; then printf '%s\0' "$f"; fi; done) > "$tmp/files"
    local content; content=$(cd "$REPO" && xargs -0 sha256sum < "$tmp/files" | sha256sum | cut -c1-16)
    local tools; tools=$( (rustc --version; clippy-driver --version) 2>&1 | sha256sum | cut -c1-16)

    t0=$(date +%s)
    for name in "${names[@]}"; do
        frag="$REPO/tools/testing/matrix/$name.config"
        [ -f "$frag" ] || die "no variant $name (tools/testing/matrix/$name.config)"
        tree="$CACHE/build/matrix-$name" copy="$copies/$name"
        opts=$(grep '^CONFIG_' "$frag" | sed 's/^CONFIG_//' | tr '\n' ' '); opts=${opts% }
        : > "$tmp/details"
        t1=$(date +%s)
        if ! prepare_tree "$name" "$frag" "$tree" > "$tmp/details"; then
            printf 'FAIL  config-matrix/%s (%s: the kernel tree)\n' "$name" "$opts"; cat "$tmp/details"
            fail=$((fail + 1)); continue
        fi
        t2=$(date +%s)
        mkdir -p "$copy"
        rsync -a --from0 --files-from="$tmp/files" "$REPO/" "$copy/"
        key="$(cat "$tree/.matrix-sum") $content $tools"
        if [ "$(cat "$copy/.matrix-verdict" 2>/dev/null)" = "ok $key" ]; then
            printf 'ok    config-matrix/%s (%s: unchanged since it passed)\n' "$name" "$opts"
            pass=$((pass + 1)); continue
        fi
        rm -f "$copy/.matrix-verdict"
        if build_module "$name" "$tree" "$copy"; then
            echo "ok $key" > "$copy/.matrix-verdict"
            printf 'ok    config-matrix/%s (%s: %s; tree %ss, module %ss)\n' "$name" "$opts" "$what" $((t2 - t1)) $(($(date +%s) - t2))
            pass=$((pass + 1))
        else
            printf 'FAIL  config-matrix/%s (%s: %s)\n' "$name" "$opts" "$what"; cat "$tmp/details"
            fail=$((fail + 1))
        fi
    done
    echo "config-matrix: $pass passed, $fail failed ($(($(date +%s) - t0))s)"
    [ $fail = 0 ]
}
main "$@"
