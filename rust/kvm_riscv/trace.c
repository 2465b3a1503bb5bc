// SPDX-License-Identifier: GPL-2.0
/*
 * The home of the RISC-V KVM trace events. Their definitions stay upstream's
 * (arch/riscv/kvm/trace.h in the kernel tree, found through gen/arch); this
 * file instantiates them and gives Rust one call per event.
 */
#include <linux/kvm_host.h>

#define CREATE_TRACE_POINTS
#include "trace.h"

#include "helpers.h"

void kvm_riscv_rs_trace_kvm_entry(struct kvm_vcpu *vcpu)
{
	trace_kvm_entry(vcpu);
}

void kvm_riscv_rs_trace_kvm_exit(const struct kvm_cpu_trap *trap)
{
	/* The event only reads the trap. */
	trace_kvm_exit((struct kvm_cpu_trap *)trap);
}

void kvm_riscv_rs_trace_kvm_vcpu_irq(unsigned long id, unsigned int irq, unsigned int level)
{
	trace_kvm_vcpu_irq(id, irq, level);
}

void kvm_riscv_rs_trace_kvm_vcpu_exit(struct kvm_vcpu *vcpu, const struct kvm_cpu_trap *trap)
{
	trace_kvm_vcpu_exit(vcpu->vcpu_id, trap->sepc, trap->scause,
			    trap->stval, trap->htval, trap->htinst);
}

void kvm_riscv_rs_trace_kvm_mmio_emulate(struct kvm_vcpu *vcpu, unsigned long insn,
					 unsigned long fault_addr, bool write, unsigned int len)
{
	trace_kvm_mmio_emulate(vcpu->vcpu_id, vcpu->arch.guest_context.sepc, insn,
			       fault_addr, write, len);
}
