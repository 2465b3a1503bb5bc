/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Out-of-line wrappers, for Rust, of static inline functions and macros of
 * the kernel's headers (the pattern of the kernel's rust/helpers), and the
 * values of function-like macros, which bindgen evaluates only as enum
 * constants.
 */
#ifndef KVM_RISCV_RS_HELPERS_H
#define KVM_RISCV_RS_HELPERS_H

#include <linux/kvm_host.h>
#include <linux/rcuwait.h>
#include <linux/interrupt.h>
#include <linux/irqchip/riscv-imsic.h>

/*
 * The RISC-V vCPU requests. KVM_ARCH_REQ_FLAGS() is a statement expression,
 * which an enum cannot hold, so the values are spelt out from the generic
 * parts; helpers.c checks each against the real KVM_REQ_* at build time.
 */
#define KVM_RISCV_RS_ARCH_REQ(nr, flags)	(((nr) + KVM_REQUEST_ARCH_BASE) | (flags))
#define KVM_RISCV_RS_WAIT_NO_WAKEUP	(KVM_REQUEST_WAIT | KVM_REQUEST_NO_WAKEUP)

/* Values of macros bindgen cannot evaluate (they use BIT(), GENMASK(), ...). */
enum kvm_riscv_rs_const {
	KVM_RISCV_RS_REQ_SLEEP = KVM_RISCV_RS_ARCH_REQ(0, KVM_RISCV_RS_WAIT_NO_WAKEUP),
	KVM_RISCV_RS_REQ_VCPU_RESET = KVM_RISCV_RS_ARCH_REQ(1, 0),
	KVM_RISCV_RS_REQ_UPDATE_HGATP = KVM_RISCV_RS_ARCH_REQ(2, 0),
	KVM_RISCV_RS_REQ_FENCE_I = KVM_RISCV_RS_ARCH_REQ(3, KVM_RISCV_RS_WAIT_NO_WAKEUP),
	KVM_RISCV_RS_REQ_HFENCE_VVMA_ALL = KVM_RISCV_RS_ARCH_REQ(4, KVM_RISCV_RS_WAIT_NO_WAKEUP),
	KVM_RISCV_RS_REQ_HFENCE = KVM_RISCV_RS_ARCH_REQ(5, KVM_RISCV_RS_WAIT_NO_WAKEUP),
	KVM_RISCV_RS_REQ_STEAL_UPDATE = KVM_RISCV_RS_ARCH_REQ(6, 0),
	KVM_RISCV_RS_REQ_TLB_FLUSH = KVM_REQ_TLB_FLUSH,
	KVM_RISCV_RS_REQUEST_MASK = KVM_REQUEST_MASK,
	KVM_RISCV_RS_IRQ_LOCAL_MAX = IRQ_LOCAL_MAX,
	KVM_RISCV_RS_VSIP_TO_HVIP_SHIFT = VSIP_TO_HVIP_SHIFT,
	KVM_RISCV_RS_V_VCPU_NEED_RESTORE = RISCV_V_VCPU_NEED_RESTORE,
	KVM_RISCV_RS_V_VCPU_CTX = RISCV_V_VCPU_CTX,
	KVM_RISCV_RS_IRQ_LOCAL_MASK = IRQ_LOCAL_MASK,
	KVM_RISCV_RS_VSIP_BIAS_MASK = VSIP_BIAS_MASK,
	KVM_RISCV_RS_VSIP_NO_BIAS_MASK = VSIP_NO_BIAS_MASK,
	KVM_RISCV_RS_STATS_NAME_SIZE = KVM_STATS_NAME_SIZE,
	KVM_RISCV_RS_USER_MEM_SLOTS = KVM_USER_MEM_SLOTS,
	KVM_RISCV_RS_SR_IE = SR_IE,
	KVM_RISCV_RS_SR_SPP = SR_SPP,
	KVM_RISCV_RS_SR_SPELP = SR_SPELP,
	KVM_RISCV_RS_ENVCFG_LPE = ENVCFG_LPE,
	KVM_RISCV_RS_ENVCFG_SSE = ENVCFG_SSE,
	KVM_RISCV_RS_SBI_FWFT_SET_FLAG_LOCK = SBI_FWFT_SET_FLAG_LOCK,
	KVM_RISCV_RS_SR_SPIE = SR_SPIE,
	KVM_RISCV_RS_SR_VS = SR_VS,
	KVM_RISCV_RS_SR_VS_CLEAN = SR_VS_CLEAN,
	KVM_RISCV_RS_SR_VS_OFF = SR_VS_OFF,
	KVM_RISCV_RS_SR_VS_INITIAL = SR_VS_INITIAL,
	KVM_RISCV_RS_SR_VS_DIRTY = SR_VS_DIRTY,
	KVM_RISCV_RS_SR_FS = SR_FS,
	KVM_RISCV_RS_SR_FS_OFF = SR_FS_OFF,
	KVM_RISCV_RS_SR_FS_INITIAL = SR_FS_INITIAL,
	KVM_RISCV_RS_SR_FS_CLEAN = SR_FS_CLEAN,
	KVM_RISCV_RS_SR_FS_DIRTY = SR_FS_DIRTY,
	KVM_RISCV_RS_HSTATUS_VTW = HSTATUS_VTW,
	KVM_RISCV_RS_HSTATUS_SPVP = HSTATUS_SPVP,
	KVM_RISCV_RS_HSTATUS_SPV = HSTATUS_SPV,
	KVM_RISCV_RS_OUTSIDE_GUEST_MODE = OUTSIDE_GUEST_MODE,
	KVM_RISCV_RS_IN_GUEST_MODE = IN_GUEST_MODE,
	KVM_RISCV_RS_PMU_CFG_SKIP_MATCH = SBI_PMU_CFG_FLAG_SKIP_MATCH,
	KVM_RISCV_RS_PMU_CFG_CLEAR_VALUE = SBI_PMU_CFG_FLAG_CLEAR_VALUE,
	KVM_RISCV_RS_PMU_CFG_AUTO_START = SBI_PMU_CFG_FLAG_AUTO_START,
	KVM_RISCV_RS_PMU_CFG_SET_UINH = SBI_PMU_CFG_FLAG_SET_UINH,
	KVM_RISCV_RS_PMU_CFG_SET_SINH = SBI_PMU_CFG_FLAG_SET_SINH,
	KVM_RISCV_RS_PMU_START_SET_INIT_VALUE = SBI_PMU_START_FLAG_SET_INIT_VALUE,
	KVM_RISCV_RS_PMU_START_INIT_SNAPSHOT = SBI_PMU_START_FLAG_INIT_SNAPSHOT,
	KVM_RISCV_RS_PMU_STOP_RESET = SBI_PMU_STOP_FLAG_RESET,
	KVM_RISCV_RS_PMU_STOP_TAKE_SNAPSHOT = SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT,
};

/* vCPU ioctl numbers (_IOW() and friends); above INT_MAX, hence unsigned. */
enum kvm_riscv_rs_ioctl {
	KVM_RISCV_RS_INTERRUPT = KVM_INTERRUPT,
	KVM_RISCV_RS_SET_ONE_REG = KVM_SET_ONE_REG,
	KVM_RISCV_RS_GET_ONE_REG = KVM_GET_ONE_REG,
	KVM_RISCV_RS_GET_REG_LIST = KVM_GET_REG_LIST,
	KVM_RISCV_RS_IOCTL_MAX = 0xffffffffU,
};

/* The single-letter ISA extensions ('x' - 'a': bindgen cannot evaluate them). */
enum kvm_riscv_rs_isa_letter {
	KVM_RISCV_RS_ISA_EXT_A = RISCV_ISA_EXT_A,
	KVM_RISCV_RS_ISA_EXT_C = RISCV_ISA_EXT_C,
	KVM_RISCV_RS_ISA_EXT_D = RISCV_ISA_EXT_D,
	KVM_RISCV_RS_ISA_EXT_F = RISCV_ISA_EXT_F,
	KVM_RISCV_RS_ISA_EXT_H = RISCV_ISA_EXT_H,
	KVM_RISCV_RS_ISA_EXT_I = RISCV_ISA_EXT_I,
	KVM_RISCV_RS_ISA_EXT_M = RISCV_ISA_EXT_M,
	KVM_RISCV_RS_ISA_EXT_V = RISCV_ISA_EXT_V,
};

/* 64-bit values of macros bindgen cannot evaluate. */
enum kvm_riscv_rs_const64 : unsigned long long {
	KVM_RISCV_RS_PMU_RAW_EVENT_MASK = RISCV_PMU_RAW_EVENT_MASK,
	KVM_RISCV_RS_PMU_RAW_EVENT_V2_MASK = RISCV_PMU_RAW_EVENT_V2_MASK,
	KVM_RISCV_RS_SBI_PMU_EVENT_IDX_INVALID = SBI_PMU_EVENT_IDX_INVALID,
	KVM_RISCV_RS_ENVCFG_CBIE = ENVCFG_CBIE,
	KVM_RISCV_RS_ENVCFG_CBCFE = ENVCFG_CBCFE,
	KVM_RISCV_RS_ENVCFG_CBZE = ENVCFG_CBZE,
	KVM_RISCV_RS_ENVCFG_ADUE = ENVCFG_ADUE,
	KVM_RISCV_RS_ENVCFG_PBMTE = ENVCFG_PBMTE,
	KVM_RISCV_RS_ENVCFG_STCE = ENVCFG_STCE,
	KVM_RISCV_RS_ENVCFG_PMM = ENVCFG_PMM,
	KVM_RISCV_RS_ENVCFG_PMM_PMLEN_7 = ENVCFG_PMM_PMLEN_7,
	KVM_RISCV_RS_ENVCFG_PMM_PMLEN_16 = ENVCFG_PMM_PMLEN_16,
	KVM_RISCV_RS_SMSTATEEN0_AIA_IMSIC = SMSTATEEN0_AIA_IMSIC,
	KVM_RISCV_RS_SMSTATEEN0_AIA = SMSTATEEN0_AIA,
	KVM_RISCV_RS_SMSTATEEN0_AIA_ISEL = SMSTATEEN0_AIA_ISEL,
	KVM_RISCV_RS_SMSTATEEN0_HSENVCFG = SMSTATEEN0_HSENVCFG,
	KVM_RISCV_RS_SMSTATEEN0_SSTATEEN0 = SMSTATEEN0_SSTATEEN0,
	KVM_RISCV_RS_HVICTL_IID = HVICTL_IID,
	KVM_RISCV_RS_ISELECT_MASK = ISELECT_MASK,
	KVM_RISCV_RS_AIA_IMSIC_TOPEI = KVM_RISCV_AIA_IMSIC_TOPEI,
	KVM_RISCV_RS_IMSIC_MMIO_PAGE_SZ = IMSIC_MMIO_PAGE_SZ,
};

bool kvm_riscv_rs_is_error_hva(unsigned long hva);
bool kvm_riscv_rs_misaligned_traps_can_delegate(void);

struct page;
void *kvm_riscv_rs_page_to_virt(struct page *page);
phys_addr_t kvm_riscv_rs_page_to_phys(struct page *page);

void kvm_riscv_rs_preempt_disable(void);
void kvm_riscv_rs_preempt_enable(void);
void kvm_riscv_rs_local_irq_disable(void);
void kvm_riscv_rs_local_irq_enable(void);
unsigned long kvm_riscv_rs_local_irq_save(void);
void kvm_riscv_rs_local_irq_restore(unsigned long flags);

void kvm_riscv_rs_spin_lock_init(spinlock_t *lock);
void kvm_riscv_rs_raw_spin_lock_init(raw_spinlock_t *lock);
struct lock_class_key;
void kvm_riscv_rs_raw_spin_lock_init_key(raw_spinlock_t *lock, const char *name,
					 struct lock_class_key *key);
void kvm_riscv_rs_vcpu_locks_init(struct kvm_vcpu *vcpu);

void kvm_riscv_rs_vcpu_srcu_read_lock(struct kvm_vcpu *vcpu);
void kvm_riscv_rs_vcpu_srcu_read_unlock(struct kvm_vcpu *vcpu);
int kvm_riscv_rs_vcpu_exiting_guest_mode(struct kvm_vcpu *vcpu);
int kvm_riscv_rs_xfer_to_guest_mode_handle_work(struct kvm_vcpu *vcpu);
bool kvm_riscv_rs_xfer_to_guest_mode_work_pending(void);
void kvm_riscv_rs_guest_state_enter_irqoff(void);
void kvm_riscv_rs_guest_state_exit_irqoff(void);
void kvm_riscv_rs_guest_timing_enter_irqoff(void);
void kvm_riscv_rs_guest_timing_exit_irqoff(void);
void kvm_riscv_rs_vector_save(struct kvm_cpu_context *context);
void kvm_riscv_rs_vector_restore(struct kvm_cpu_context *context);
u32 *kvm_riscv_rs_current_v_flags(void);
int kvm_riscv_rs_online_vcpus(struct kvm *kvm);
struct kvm_vcpu *kvm_riscv_rs_get_vcpu(struct kvm *kvm, int i);
u64 kvm_riscv_rs_current_run_delay(void);
bool kvm_riscv_rs_sched_info_on(void);
bool kvm_riscv_rs_vcpu_is_blocking(struct kvm_vcpu *vcpu);
void kvm_riscv_rs_wait_until(struct kvm_vcpu *vcpu, bool (*done)(struct kvm_vcpu *));

unsigned int kvm_riscv_rs_map_sgei_irq(void);
void kvm_riscv_aia_hgei_handler(void);
int kvm_riscv_rs_request_sgei_irq(unsigned int irq, void __percpu *dev);
void kvm_riscv_rs_enable_percpu_irq(unsigned int irq);
bool kvm_riscv_rs_imsic_global(u32 *nr_guest_files, u32 *nr_guest_ids);
bool kvm_riscv_rs_imsic_local(int cpu, u32 *nr_guest_files, phys_addr_t *msi_pa,
			      void __iomem **msi_va);

void kvm_riscv_rs_trace_kvm_entry(struct kvm_vcpu *vcpu);
void kvm_riscv_rs_trace_kvm_exit(const struct kvm_cpu_trap *trap);
void kvm_riscv_rs_trace_kvm_vcpu_irq(unsigned long id, unsigned int irq, unsigned int level);
void kvm_riscv_rs_trace_kvm_vcpu_exit(struct kvm_vcpu *vcpu, const struct kvm_cpu_trap *trap);
void kvm_riscv_rs_trace_kvm_mmio_emulate(struct kvm_vcpu *vcpu, unsigned long insn,
					 unsigned long fault_addr, bool write, unsigned int len);

/*
 * The G-stage PTE spelling of this host (pfn_pte() and pte_mkdirty() depend
 * on errata and extension alternatives): out[0] pfn_pte(0, _PAGE_TABLE),
 * out[1] pfn_pte(0, 0), out[2..5] pfn_pte(0, PAGE_READ / PAGE_WRITE /
 * PAGE_READ_EXEC / PAGE_WRITE_EXEC), out[6] pte_mkdirty(0), out[7]
 * pfn_pte(0, pgprot_noncached(PAGE_WRITE)).
 */
void kvm_riscv_rs_gstage_pte_format(unsigned long out[8]);
void kvm_riscv_rs_put_table_page(void *table);
unsigned int kvm_riscv_rs_num_online_cpus(void);
bool kvm_riscv_rs_all_memslots_empty(struct kvm *kvm);
void kvm_riscv_rs_vm_lock_slots(struct kvm *kvm);
void kvm_riscv_rs_vm_unlock_slots(struct kvm *kvm);
void kvm_riscv_rs_slots_lock(struct kvm *kvm);
void kvm_riscv_rs_slots_unlock(struct kvm *kvm);
int kvm_riscv_rs_vcpu_mutex_lock_killable(struct kvm_vcpu *vcpu);
void kvm_riscv_rs_vcpu_mutex_lock(struct kvm_vcpu *vcpu);
void kvm_riscv_rs_kvm_lock(struct kvm *kvm);
void kvm_riscv_rs_kvm_unlock(struct kvm *kvm);
void kvm_riscv_rs_vcpu_mutex_unlock(struct kvm_vcpu *vcpu);
void kvm_riscv_rs_cond_resched_mmu_lock(struct kvm *kvm);
void kvm_riscv_rs_cond_resched(void);
void kvm_riscv_rs_send_sig_mceerr_ar(unsigned long addr, short lsb);
void kvm_riscv_rs_mmu_write_lock(struct kvm *kvm);
void kvm_riscv_rs_mmu_write_unlock(struct kvm *kvm);
void kvm_riscv_rs_mmu_read_lock(struct kvm *kvm);
void kvm_riscv_rs_mmu_read_unlock(struct kvm *kvm);
bool kvm_riscv_rs_mmu_lock_needbreak(struct kvm *kvm);
void kvm_riscv_rs_assert_mmu_write_locked(struct kvm *kvm);
bool kvm_riscv_rs_mmu_invalidate_retry(struct kvm *kvm, unsigned long seq);
bool kvm_riscv_rs_mmu_invalidate_retry_gfn(struct kvm *kvm, unsigned long seq, gfn_t gfn);
void kvm_riscv_rs_release_faultin_page(struct kvm *kvm, struct page *page, bool unused,
				       bool dirty);
void kvm_riscv_rs_release_page_unused(struct page *page);
unsigned int kvm_riscv_rs_vma_hugetlb_shift(struct vm_area_struct *vma);
int kvm_riscv_rs_host_pgd(struct mm_struct *mm, unsigned long hva, pgd_t *out);
int kvm_riscv_rs_host_p4d(pgd_t *pgd, unsigned long hva, p4d_t *out);
int kvm_riscv_rs_host_pud(p4d_t *p4d, unsigned long hva, pud_t *out);
int kvm_riscv_rs_host_pmd(pud_t *pud, unsigned long hva, pmd_t *out);
/* The eager_page_split module parameter (modinfo.c). */
extern bool kvm_riscv_eager_page_split;

#endif
