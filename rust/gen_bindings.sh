#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Generate Rust bindings for the KVM C interfaces with the flags the kernel
# used for its own bindings (saved in rust/bindings/.bindings_generated.rs.cmd).
# Types that kernel::bindings already has are not generated again: the
# generated file glob-imports them from there.
set -eu
objtree=$1 header=$(realpath "$2") out=$(realpath -m "$3")
cmdfile="$objtree/rust/bindings/.bindings_generated.rs.cmd"
kbind="$objtree/rust/bindings/bindings_generated.rs"
[ -f "$cmdfile" ] || { echo "gen_bindings: $cmdfile missing (is the kernel built with CONFIG_RUST?)" >&2; exit 1; }

# The clang flags are everything after " -- " up to the "; sed" post-step.
cflags=$(sed -n 's/^savedcmd_[^ ]* := //p' "$cmdfile" | sed 's/ -- /\n/' | sed -n 2p | sed 's/;.*//' | sed 's/-Wp,-MMD,[^ ]*//')
bindgen_bin=$(sed -n 's/^savedcmd_[^ ]* := //p' "$cmdfile" | awk '{print $1}')

# Everything kernel::bindings defines as a type, except the opaque ones (a
# forward declaration there, `_unused: [u8; 0]`): those are generated here
# in full, and shadow the glob import.
known=$(mktemp); trap 'rm -f "$known"' EXIT
awk '/^pub (struct|union|type|enum) [A-Za-z0-9_]+/ { name = $3; sub(/[^A-Za-z0-9_].*/, "", name); print name; next }
     /^    _unused: \[u8; 0\],$/ && name != "" { print name " OPAQUE" }
     { name = "" }' "$kbind" | sort -u | awk '
     $2 == "OPAQUE" { opaque[$1] = 1; next } { all[$1] = 1 }
     END { for (n in all) if (!(n in opaque)) print n }' | sort > "$known"
block=""
while read -r t; do block="$block --blocklist-type ^$t\$"; done < "$known"

cd "$objtree"
# shellcheck disable=SC2086
"$bindgen_bin" "$header" \
    --rust-target 1.85 --use-core --with-derive-default --ctypes-prefix kernel::ffi \
    --no-layout-tests --no-debug '.*' --enable-function-attribute-detection --no-doc-comments \
    --blocklist-type '__kernel_s?size_t' --blocklist-type __kernel_ptrdiff_t \
    --opaque-type spinlock --blocklist-function '__list_.*_report' \
    --allowlist-type 'kvm_.*' --allowlist-type 'kvm_riscv_rs_.*' --allowlist-type 'cpu_pm_event|sbi_ext_id|sbi_ext_[a-z0-9]*_fid|sbi_sta_struct|sbi_ext_nacl_feature|sbi_pmu_fw_generic_events_t|sbi_hsm_hart_state|sbi_srst_reset_(type|reason)|sbi_ext_susp_sleep_type|sbi_fwft_feature_t' \
    --allowlist-function 'kvm_.*' --allowlist-function '__kvm_.*' \
    --allowlist-function '__riscv_isa_extension_available' --allowlist-function 'riscv_cached_.*' \
    --allowlist-function '_*sbi_.*' --allowlist-function 'cpu_pm_.*' \
    --allowlist-function 'static_key_(enable|disable)' \
    --allowlist-var 'kvm_riscv_.*' --allowlist-var 'sbi_spec_version' \
    --allowlist-var '(CSR|SBI|RISCV_ISA_EXT|EXC|IRQ|HGATP|HSTATUS|HCOUNTEREN|ANDES|CPU_PM|NOTIFY|SATP|IMSIC|ISELECT|HVICTL)_.*' \
    --allowlist-var 'NR_CPUS|LINUX_VERSION_CODE' --allowlist-function 'kvm_riscv_rs_.*' \
    --allowlist-var 'SBI_NACL_.*' --allowlist-function 'alloc_pages|free_pages|find_vma_intersection|mark_page_dirty_in_slot' \
    --allowlist-function '(get|put)_cpu_vector_context|vcpu_(load|put)|_raw_spin_.*|gfn_to_.*' \
    --allowlist-var '(KVM|SR|HALT_POLL|IN_GUEST|OUTSIDE_GUEST)_.*' --allowlist-type 'vm_fault_reason' \
    --allowlist-function 'perf_event_(create_kernel_counter|enable|disable|release_kernel|read_value|period|pause)' \
    --allowlist-function 'riscv_pmu_get_(hpm|event)_info' --allowlist-type 'riscv_pmu|riscv_pmu_snapshot_data|riscv_pmu_event_info' \
    --allowlist-type 'perf_event|perf_event_attr|perf_type_id|perf_hw_id|perf_hw_cache_.*|sbi_pmu_.*|sbi_ext_pmu_fid' \
    --allowlist-var '(RISCV_PMU|RISCV_KVM|PERF_EF)_.*' --allowlist-type 'KVM_RISCV_(ISA|SBI)_EXT_ID' --allowlist-var 'vcpu_sbi_ext_.*' \
    --blocklist-type irqreturn_t --allowlist-function riscv_v_vstate_ctrl_user_allowed --allowlist-var riscv_v_vsize \
    --allowlist-function riscv_cs_get_mult_shift \
    $block \
    -o "$out.tmp" -- $cflags -DMODULE
mv "$out.tmp" "$out"
