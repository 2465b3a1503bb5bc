#!/bin/bash
# make fmt-check / make fmt: rustfmt, with the kernel's .rustfmt.toml and the
# rustup toolchain the kernel build uses, over every tracked rust/**/*.rs
# and tools/testing/nacl-fw/**/*.rs
# (bindings_generated.rs is generated and untracked: never formatted).
#   fmt-check.sh          check only; exit 1 on any difference, print the
#                         number of differing hunks and the start of the diff
#   fmt-check.sh --write  format the files in place (make fmt)
# rustfmt follows the crate root's `mod` items into the module files, which
# are also given by name: each hunk is then reported twice, so the check
# keeps the first report of each "Diff in FILE:LINE:". Module files that the
# crate root names but git does not track yet are checked (and formatted) too.
source "$(dirname "$0")/lib.sh"
CONF="$KSRC/.rustfmt.toml"
[ -f "$CONF" ] || die "no $CONF (run make deps)"
command -v rustfmt >/dev/null || die "no rustfmt on PATH (run make deps)"
cd "$REPO"
mapfile -t files < <(git ls-files 'rust/*.rs' 'tools/testing/nacl-fw/*.rs' | grep -v '^rust/kvm_riscv/bindings_generated\.rs$' |
    while read -r f; do if [ -f "$f" ]; then echo "$f"; fi; done)
[ ${#files[@]} -gt 0 ] || die "no rust/*.rs tracked"
flags=(--edition 2021 --config-path "$CONF" --color never)

if [ "${1:-}" = --write ]; then
    rustfmt "${flags[@]}" "${files[@]}"
    log "rustfmt applied to ${#files[@]} files"
    exit 0
fi

err=$(mktemp); trap 'rm -f "$err"' EXIT
rc=0; diff=$(rustfmt --check "${flags[@]}" "${files[@]}" 2>"$err") || rc=$?
diff=$(printf '%s\n' "$diff" | awk '
    /^Diff in / { keep = !seen[$0]++ && $0 !~ /bindings_generated\.rs:/ }
    keep')
hunks=$(printf '%s\n' "$diff" | grep -c '^Diff in' || true)
if [ $rc = 0 ] && [ "$hunks" = 0 ]; then
    echo "rustfmt: ${#files[@]} files formatted"
    exit 0
fi
if [ "$hunks" = 0 ]; then
    echo "rustfmt failed (rc $rc):"
    head -20 "$err"
    exit 1
fi
files_bad=$(printf '%s\n' "$diff" | sed -n 's/^Diff in \(.*\):[0-9]*:$/\1/p' | sort -u | wc -l)
echo "rustfmt: $hunks hunks differ in $files_bad of ${#files[@]} files (make fmt applies them)"
echo "the diff starts:"
printf '%s\n' "$diff" | sed "s|$REPO/||" | head -20 || true
exit 1
