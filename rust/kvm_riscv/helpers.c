// SPDX-License-Identifier: GPL-2.0
/*
 * Out-of-line wrappers, for Rust, of static inline functions and macros of
 * the kernel's headers (the pattern of the kernel's rust/helpers). Each is
 * one call or one expression: the logic lives in Rust.
 */
#include <linux/kvm_host.h>
#include <linux/mm.h>
#include <linux/hugetlb.h>
#include <linux/sched/signal.h>
#include <linux/entry-virt.h>
#include <linux/irq.h>
#include <linux/irqdomain.h>
#include <linux/interrupt.h>
#include <linux/irqchip/riscv-imsic.h>
#include <asm/kvm_vcpu_vector.h>
#include "helpers.h"

/* The request values of helpers.h must be the kernel's. */
static void __maybe_unused kvm_riscv_rs_check_requests(void)
{
	BUILD_BUG_ON(KVM_RISCV_RS_REQ_SLEEP != KVM_REQ_SLEEP);
	BUILD_BUG_ON(KVM_RISCV_RS_REQ_VCPU_RESET != KVM_REQ_VCPU_RESET);
	BUILD_BUG_ON(KVM_RISCV_RS_REQ_UPDATE_HGATP != KVM_REQ_UPDATE_HGATP);
	BUILD_BUG_ON(KVM_RISCV_RS_REQ_FENCE_I != KVM_REQ_FENCE_I);
	BUILD_BUG_ON(KVM_RISCV_RS_REQ_HFENCE_VVMA_ALL != KVM_REQ_HFENCE_VVMA_ALL);
	BUILD_BUG_ON(KVM_RISCV_RS_REQ_HFENCE != KVM_REQ_HFENCE);
	BUILD_BUG_ON(KVM_RISCV_RS_REQ_STEAL_UPDATE != KVM_REQ_STEAL_UPDATE);
}

bool kvm_riscv_rs_is_error_hva(unsigned long hva)
{
	return kvm_is_error_hva(hva);
}

void *kvm_riscv_rs_page_to_virt(struct page *page)
{
	return page_to_virt(page);
}

phys_addr_t kvm_riscv_rs_page_to_phys(struct page *page)
{
	return page_to_phys(page);
}

/* A static inline without CONFIG_RISCV_MISALIGNED. */
bool kvm_riscv_rs_misaligned_traps_can_delegate(void)
{
	return misaligned_traps_can_delegate();
}

void kvm_riscv_rs_preempt_disable(void)
{
	preempt_disable();
}

void kvm_riscv_rs_preempt_enable(void)
{
	preempt_enable();
}

void kvm_riscv_rs_local_irq_disable(void)
{
	local_irq_disable();
}

void kvm_riscv_rs_local_irq_enable(void)
{
	local_irq_enable();
}

unsigned long kvm_riscv_rs_local_irq_save(void)
{
	unsigned long flags;

	local_irq_save(flags);
	return flags;
}

void kvm_riscv_rs_local_irq_restore(unsigned long flags)
{
	local_irq_restore(flags);
}

void kvm_riscv_rs_spin_lock_init(spinlock_t *lock)
{
	spin_lock_init(lock);
}

/*
 * The locks of a new vCPU. Each spin_lock_init() site has its own lockdep
 * class: SBI HSM takes a vCPU's mp_state_lock and then its reset_state.lock,
 * which one shared class would report as recursive locking.
 */
void kvm_riscv_rs_vcpu_locks_init(struct kvm_vcpu *vcpu)
{
	spin_lock_init(&vcpu->arch.mp_state_lock);
	spin_lock_init(&vcpu->arch.hfence_lock);
	spin_lock_init(&vcpu->arch.reset_state.lock);
	raw_spin_lock_init(&vcpu->arch.irqs_pending_lock);
}

void kvm_riscv_rs_raw_spin_lock_init(raw_spinlock_t *lock)
{
	raw_spin_lock_init(lock);
}

/* raw_spin_lock_init() with a lockdep class of the caller's. */
void kvm_riscv_rs_raw_spin_lock_init_key(raw_spinlock_t *lock, const char *name,
					 struct lock_class_key *key)
{
#ifdef CONFIG_DEBUG_SPINLOCK
	__raw_spin_lock_init(lock, name, key, LD_WAIT_SPIN);
#else
	raw_spin_lock_init(lock);
#endif
}

void kvm_riscv_rs_vcpu_srcu_read_lock(struct kvm_vcpu *vcpu)
{
	kvm_vcpu_srcu_read_lock(vcpu);
}

void kvm_riscv_rs_vcpu_srcu_read_unlock(struct kvm_vcpu *vcpu)
{
	kvm_vcpu_srcu_read_unlock(vcpu);
}

int kvm_riscv_rs_vcpu_exiting_guest_mode(struct kvm_vcpu *vcpu)
{
	return kvm_vcpu_exiting_guest_mode(vcpu);
}

int kvm_riscv_rs_xfer_to_guest_mode_handle_work(struct kvm_vcpu *vcpu)
{
	return kvm_xfer_to_guest_mode_handle_work(vcpu);
}

bool kvm_riscv_rs_xfer_to_guest_mode_work_pending(void)
{
	return xfer_to_guest_mode_work_pending();
}

void kvm_riscv_rs_guest_state_enter_irqoff(void)
{
	guest_state_enter_irqoff();
}

void kvm_riscv_rs_guest_state_exit_irqoff(void)
{
	guest_state_exit_irqoff();
}

void kvm_riscv_rs_guest_timing_enter_irqoff(void)
{
	guest_timing_enter_irqoff();
}

void kvm_riscv_rs_guest_timing_exit_irqoff(void)
{
	guest_timing_exit_irqoff();
}

void kvm_riscv_rs_vector_save(struct kvm_cpu_context *context)
{
#ifdef CONFIG_RISCV_ISA_V
	__kvm_riscv_vector_save(context);
#endif
}

void kvm_riscv_rs_vector_restore(struct kvm_cpu_context *context)
{
#ifdef CONFIG_RISCV_ISA_V
	__kvm_riscv_vector_restore(context);
#endif
}

u32 *kvm_riscv_rs_current_v_flags(void)
{
#ifdef CONFIG_RISCV_ISA_V
	return &current->thread.riscv_v_flags;
#else
	return NULL;
#endif
}

int kvm_riscv_rs_online_vcpus(struct kvm *kvm)
{
	return atomic_read(&kvm->online_vcpus);
}

struct kvm_vcpu *kvm_riscv_rs_get_vcpu(struct kvm *kvm, int i)
{
	return kvm_get_vcpu(kvm, i);
}

u64 kvm_riscv_rs_current_run_delay(void)
{
	return READ_ONCE(current->sched_info.run_delay);
}

bool kvm_riscv_rs_sched_info_on(void)
{
	return sched_info_on();
}

bool kvm_riscv_rs_vcpu_is_blocking(struct kvm_vcpu *vcpu)
{
	return kvm_vcpu_is_blocking(vcpu);
}

void kvm_riscv_rs_wait_until(struct kvm_vcpu *vcpu, bool (*done)(struct kvm_vcpu *))
{
	rcuwait_wait_event(kvm_arch_vcpu_get_wait(vcpu), done(vcpu), TASK_INTERRUPTIBLE);
}

/* AIA: the kernel's IRQ and IMSIC interfaces that are macros or inlines. */
unsigned int kvm_riscv_rs_map_sgei_irq(void)
{
	struct irq_domain *domain;

	domain = irq_find_matching_fwnode(riscv_get_intc_hwnode(), DOMAIN_BUS_ANY);
	if (!domain)
		return UINT_MAX;
	return irq_create_mapping(domain, IRQ_S_GEXT);
}

/* The SGEI handler is Rust's kvm_riscv_aia_hgei_handler(); this is its ABI. */
static irqreturn_t kvm_riscv_rs_hgei_irq(int irq, void *dev_id)
{
	kvm_riscv_aia_hgei_handler();
	return IRQ_HANDLED;
}

int kvm_riscv_rs_request_sgei_irq(unsigned int irq, void __percpu *dev)
{
	return request_percpu_irq(irq, kvm_riscv_rs_hgei_irq, "riscv-kvm", dev);
}

void kvm_riscv_rs_enable_percpu_irq(unsigned int irq)
{
	enable_percpu_irq(irq, irq_get_trigger_type(irq));
}

bool kvm_riscv_rs_imsic_global(u32 *nr_guest_files, u32 *nr_guest_ids)
{
	const struct imsic_global_config *gc = imsic_get_global_config();

	if (!gc)
		return false;
	*nr_guest_files = gc->nr_guest_files;
	*nr_guest_ids = gc->nr_guest_ids;
	return true;
}

bool kvm_riscv_rs_imsic_local(int cpu, u32 *nr_guest_files, phys_addr_t *msi_pa,
			      void __iomem **msi_va)
{
	const struct imsic_global_config *gc = imsic_get_global_config();
	const struct imsic_local_config *lc;

	if (!gc)
		return false;
	lc = per_cpu_ptr(gc->local, cpu);
	*nr_guest_files = lc->nr_guest_files;
	*msi_pa = lc->msi_pa;
	*msi_va = lc->msi_va;
	return true;
}

void kvm_riscv_rs_gstage_pte_format(unsigned long out[8])
{
	out[0] = pte_val(pfn_pte(0, __pgprot(_PAGE_TABLE)));
	out[1] = pte_val(pfn_pte(0, __pgprot(0)));
	out[2] = pte_val(pfn_pte(0, PAGE_READ));
	out[3] = pte_val(pfn_pte(0, PAGE_WRITE));
	out[4] = pte_val(pfn_pte(0, PAGE_READ_EXEC));
	out[5] = pte_val(pfn_pte(0, PAGE_WRITE_EXEC));
	out[6] = pte_val(pte_mkdirty(__pte(0)));
	out[7] = pte_val(pfn_pte(0, pgprot_noncached(PAGE_WRITE)));
}

void kvm_riscv_rs_put_table_page(void *table)
{
	put_page(virt_to_page(table));
}

void kvm_riscv_rs_cond_resched_mmu_lock(struct kvm *kvm)
{
	cond_resched_rwlock_write(&kvm->mmu_lock);
}

unsigned int kvm_riscv_rs_num_online_cpus(void)
{
	return num_online_cpus();
}

bool kvm_riscv_rs_all_memslots_empty(struct kvm *kvm)
{
	return kvm_are_all_memslots_empty(kvm);
}

/* kvm->lock, then kvm->slots_lock: KVM's lock order. */
void kvm_riscv_rs_vm_lock_slots(struct kvm *kvm)
{
	mutex_lock(&kvm->lock);
	mutex_lock(&kvm->slots_lock);
}

void kvm_riscv_rs_vm_unlock_slots(struct kvm *kvm)
{
	mutex_unlock(&kvm->slots_lock);
	mutex_unlock(&kvm->lock);
}

/* kvm->mmu_lock, a rwlock (KVM_HAVE_MMU_RWLOCK). */
void kvm_riscv_rs_mmu_write_lock(struct kvm *kvm)
{
	write_lock(&kvm->mmu_lock);
}

void kvm_riscv_rs_mmu_write_unlock(struct kvm *kvm)
{
	write_unlock(&kvm->mmu_lock);
}

void kvm_riscv_rs_mmu_read_lock(struct kvm *kvm)
{
	read_lock(&kvm->mmu_lock);
}

void kvm_riscv_rs_mmu_read_unlock(struct kvm *kvm)
{
	read_unlock(&kvm->mmu_lock);
}

bool kvm_riscv_rs_mmu_lock_needbreak(struct kvm *kvm)
{
	return need_resched() || rwlock_needbreak(&kvm->mmu_lock);
}

void kvm_riscv_rs_assert_mmu_write_locked(struct kvm *kvm)
{
	lockdep_assert_held_write(&kvm->mmu_lock);
}

bool kvm_riscv_rs_mmu_invalidate_retry(struct kvm *kvm, unsigned long seq)
{
	return mmu_invalidate_retry(kvm, seq);
}

bool kvm_riscv_rs_mmu_invalidate_retry_gfn(struct kvm *kvm, unsigned long seq, gfn_t gfn)
{
	return mmu_invalidate_retry_gfn(kvm, seq, gfn);
}

void kvm_riscv_rs_release_faultin_page(struct kvm *kvm, struct page *page, bool unused,
				       bool dirty)
{
	kvm_release_faultin_page(kvm, page, unused, dirty);
}

void kvm_riscv_rs_release_page_unused(struct page *page)
{
	kvm_release_page_unused(page);
}

/* huge_page_shift(hstate_vma(vma)) of a hugetlb VMA, 0 for any other. */
unsigned int kvm_riscv_rs_vma_hugetlb_shift(struct vm_area_struct *vma)
{
	return is_vm_hugetlb_page(vma) ? huge_page_shift(hstate_vma(vma)) : 0;
}

/*
 * One step of a walk of the host page tables, each entry read once
 * (pgdp_get() and kin): 0 when the entry is none or not present, 1 a
 * table (whose entry is copied to *out for the next step), 2 a leaf.
 */
int kvm_riscv_rs_host_pgd(struct mm_struct *mm, unsigned long hva, pgd_t *out)
{
	*out = pgdp_get(pgd_offset(mm, hva));
	return pgd_none(*out) ? 0 : 1;
}

int kvm_riscv_rs_host_p4d(pgd_t *pgd, unsigned long hva, p4d_t *out)
{
	*out = p4dp_get(p4d_offset(pgd, hva));
	return (p4d_none(*out) || !p4d_present(*out)) ? 0 : 1;
}

int kvm_riscv_rs_host_pud(p4d_t *p4d, unsigned long hva, pud_t *out)
{
	*out = pudp_get(pud_offset(p4d, hva));
	if (pud_none(*out) || !pud_present(*out))
		return 0;
	return pud_leaf(*out) ? 2 : 1;
}

int kvm_riscv_rs_host_pmd(pud_t *pud, unsigned long hva, pmd_t *out)
{
	*out = pmdp_get(pmd_offset(pud, hva));
	if (pmd_none(*out) || !pmd_present(*out))
		return 0;
	return pmd_leaf(*out) ? 2 : 1;
}

void kvm_riscv_rs_cond_resched(void)
{
	cond_resched();
}

void kvm_riscv_rs_send_sig_mceerr_ar(unsigned long addr, short lsb)
{
	send_sig_mceerr(BUS_MCEERR_AR, (void __user *)addr, lsb, current);
}

void kvm_riscv_rs_slots_lock(struct kvm *kvm)
{
	mutex_lock(&kvm->slots_lock);
}

int kvm_riscv_rs_vcpu_mutex_lock_killable(struct kvm_vcpu *vcpu)
{
	return mutex_lock_killable(&vcpu->mutex);
}

void kvm_riscv_rs_vcpu_mutex_lock(struct kvm_vcpu *vcpu)
{
	mutex_lock(&vcpu->mutex);
}

void kvm_riscv_rs_kvm_lock(struct kvm *kvm)
{
	mutex_lock(&kvm->lock);
}

void kvm_riscv_rs_kvm_unlock(struct kvm *kvm)
{
	mutex_unlock(&kvm->lock);
}

void kvm_riscv_rs_vcpu_mutex_unlock(struct kvm_vcpu *vcpu)
{
	mutex_unlock(&vcpu->mutex);
}

void kvm_riscv_rs_slots_unlock(struct kvm *kvm)
{
	mutex_unlock(&kvm->slots_lock);
}
