// SPDX-License-Identifier: GPL-2.0
/*
 * A guest instruction that KVM emulates, at the very top of the address
 * space: KVM steps the guest's pc over it, and the pc wraps to 0 (unsigned
 * arithmetic, as in upstream C). The host must stay up, and the guest must
 * go on at 0.
 *
 * The last 4 bytes of a page mapped at guest VA 0xfffffffffffff000 hold, in
 * turn:
 *  - ecall: an SBI base call (get_spec_version) KVM handles itself;
 *  - csrr a0, sireg with siselect on iprio0: a virtual-instruction trap
 *    KVM emulates in the kernel (the guest's IPRIO registers, 0);
 *  - csrr a0, sireg with siselect on an IMSIC register and no in-kernel
 *    irqchip: a virtual-instruction trap finished by userspace
 *    (KVM_EXIT_RISCV_CSR, then the CSR return of the next KVM_RUN);
 *  - lw a0, 0(a1) of an address with no memslot: an MMIO load finished by
 *    userspace (KVM_EXIT_MMIO, then the MMIO return).
 * The guest jumps there; the next fetch, at VA 0 (unmapped), is an
 * instruction page fault in the guest, whose handler reports its epc (must
 * be 0) and a0 (the emulated result) and ends the test.
 *
 * Each case runs in a fresh VM. The rig fails the run if the host's kernel
 * log shows an oops, WARN or BUG (a Rust overflow panic is a BUG).
 */
#include <stdio.h>
#include <string.h>

#include "guest_modes.h"
#include "kvm_util.h"
#include "processor.h"
#include "sbi.h"
#include "ucall_common.h"

#define TOP_PAGE	0xfffffffffffff000UL
#define TOP_INSN	(TOP_PAGE + 0xffc)
#define MMIO_GPA	0x10000000UL	/* no memslot: see main() */
#define MMIO_GVA	0x40000000UL
#define EXC_INST_PAGE_FAULT	12

enum { CASE_ECALL, CASE_IPRIO, CASE_CSR, CASE_MMIO, NR_CASES };

static const char *const names[] = { "ecall (SBI base)", "csrr sireg (in the kernel)",
				     "csrr sireg (to userspace)", "lw from MMIO (to userspace)" };
/* The instruction each case puts at TOP_INSN. */
static const u32 insns[] = {
	0x00000073,	/* ecall */
	0x15102573,	/* csrr a0, sireg */
	0x15102573,	/* csrr a0, sireg */
	0x0005a503,	/* lw a0, 0(a1) */
};

static void fetch_fault(struct pt_regs *regs)
{
	ucall(UCALL_SYNC, 4, regs->epc, regs->a0, regs->badaddr, regs->cause);
	GUEST_DONE();
}

static void guest_code(int c)
{
	register unsigned long a0 asm("a0") = 0;
	register unsigned long a1 asm("a1") = MMIO_GVA;
	register unsigned long a6 asm("a6") = SBI_EXT_BASE_GET_SPEC_VERSION;
	register unsigned long a7 asm("a7") = SBI_EXT_BASE;

	/* siselect (VS: vsiselect, no trap): iprio0, or the IMSIC's eidelivery */
	asm volatile("csrw 0x150, %0" : : "r"(c == CASE_IPRIO ? 0x30UL : 0x70UL));
	asm volatile("jr %4" : "+r"(a0) : "r"(a1), "r"(a6), "r"(a7), "r"(TOP_INSN) : "memory");
	GUEST_FAIL("returned from the top of the address space");
}

/*
 * A mode with 48-bit guest virtual addresses: the selftests library's page
 * tables have at most four levels (Sv48); on an Sv57 host its default mode
 * has five, and a high-half mapping would land in the wrong place.
 */
static enum vm_guest_mode sv48_mode(void)
{
	int m;

	guest_modes_append_default();
	for (m = 0; m < NUM_VM_MODES; m++)
		if (guest_modes[m].supported && vm_guest_mode_params[m].va_bits == 48)
			return m;
	TEST_FAIL("no guest mode with 48-bit virtual addresses");
	return 0;
}

static int run_case(int c, enum vm_guest_mode mode)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	gva_t page;
	u64 expect_a0;
	int ok = 0, exits = 0;

	vm = vm_create_shape_with_one_vcpu(VM_SHAPE(mode), &vcpu, guest_code);
	vm_init_vector_tables(vm);
	vcpu_init_vector_tables(vcpu);
	vm_install_exception_handler(vm, EXC_INST_PAGE_FAULT, fetch_fault);
	vcpu_args_set(vcpu, 1, c);

	/* One page, also mapped at the top; the instruction in its last word. */
	page = vm_alloc_page(vm);
	virt_pg_map(vm, TOP_PAGE, addr_gva2gpa(vm, page));
	memcpy((char *)addr_gva2hva(vm, page) + 0xffc, &insns[c], 4);
	virt_pg_map(vm, MMIO_GVA, MMIO_GPA);

	for (;;) {
		vcpu_run(vcpu);
		if (vcpu->run->exit_reason == KVM_EXIT_RISCV_CSR) {
			TEST_ASSERT(c == CASE_CSR, "unexpected CSR exit");
			vcpu->run->riscv_csr.ret_value = 0xc5c5;
			exits++;
			continue;
		}
		if (vcpu->run->exit_reason == KVM_EXIT_MMIO) {
			TEST_ASSERT(c == CASE_MMIO && !vcpu->run->mmio.is_write &&
				    vcpu->run->mmio.phys_addr == MMIO_GPA, "unexpected MMIO exit");
			memset(vcpu->run->mmio.data, 0, sizeof(vcpu->run->mmio.data));
			memcpy(vcpu->run->mmio.data, &(u32){ 0x3a3a }, 4);
			exits++;
			continue;
		}
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC:
			expect_a0 = c == CASE_CSR ? 0xc5c5 : c == CASE_MMIO ? 0x3a3a : 0;
			printf("  %-28s guest resumed at epc=0x%lx (fault addr 0x%lx, cause %lu), a0=0x%lx, "
			       "userspace exits %d\n", names[c], uc.args[0], uc.args[2], uc.args[3],
			       uc.args[1], exits);
			/* The SBI call returns its value in a1; a0 is the error, 0. */
			ok = uc.args[0] == 0 && uc.args[3] == EXC_INST_PAGE_FAULT &&
			     uc.args[1] == expect_a0 && exits == (c == CASE_CSR || c == CASE_MMIO);
			break;
		case UCALL_DONE:
			kvm_vm_free(vm);
			return ok;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
			break;
		default:
			TEST_FAIL("unexpected exit %u (%s)", vcpu->run->exit_reason,
				  exit_reason_str(vcpu->run->exit_reason));
		}
	}
}

int main(void)
{
	enum vm_guest_mode mode = sv48_mode();
	int c, fails = 0;

	printf("guest mode: %s\n", vm_guest_mode_string(mode));
	for (c = 0; c < NR_CASES; c++) {
		if (!run_case(c, mode)) {
			printf("FAIL: %s\n", names[c]);
			fails++;
		}
	}
	TEST_ASSERT(!fails, "%d of %d cases failed", fails, NR_CASES);
	printf("PASS: every emulated instruction at the top of the address space wrapped the pc to 0\n");
	return 0;
}
