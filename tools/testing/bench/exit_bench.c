// SPDX-License-Identifier: GPL-2.0
/*
 * Exit-cost benchmark: the cost of one guest exit and re-entry, measured
 * from host userspace with CLOCK_MONOTONIC. Boot the emulated host with
 * -icount shift=0: every emulated instruction then advances the clock by
 * 1 ns, so the figures are emulated instructions and do not depend on how
 * busy the machine running the emulator is.
 *
 * Cases:
 *   sbi_base   an SBI base-extension call (get_spec_version) handled in KVM
 *   mmio_user  an MMIO store that exits to userspace, which re-enters at once
 *   csr_emul   a virtual-instruction trap KVM emulates in the kernel: a read of
 *              sireg with siselect on an IPRIO register (AIA)
 *   gstage_pf  a first-touch guest page fault, mapped in the G-stage, per page
 *
 * Each figure is (T(N) - T(1)) / (N - 1) for one measurement run of N
 * round trips and one of 1, the smallest of REPEAT tries of each.
 * Output: "bench <case> <instructions per round trip>".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>

#include "kvm_util.h"
#include "processor.h"
#include "ucall_common.h"

#define N_ITERS		1000
#define N_PAGES		256
#define REPEAT		5
#define MMIO_GPA	0x10000000UL
#define PF_SLOT		10
#define PF_GPA		0x80000000UL
#define PF_PAGES	((N_PAGES + 1) * (2 * REPEAT + 1))

enum bench_case { B_SBI, B_MMIO, B_CSR, B_PF, NR_CASES };
static const char *case_name[] = { "sbi_base", "mmio_user", "csr_emul", "gstage_pf" };

/* What the guest does next; written by the host between runs (the
 * guest reads it after an SBI call, which is a compiler barrier). */
static struct {
	unsigned long which, n, arg;
} cmd;

static void guest_code(void)
{
	unsigned long i, n, v;

	for (;;) {
		GUEST_SYNC(0);
		n = cmd.n;
		switch (cmd.which) {
		case B_SBI:
			for (i = 0; i < n; i++) {
				register unsigned long a0 asm("a0");
				register unsigned long a6 asm("a6") = 0;	/* get_spec_version */
				register unsigned long a7 asm("a7") = 0x10;	/* BASE */
				asm volatile("ecall" : "=r"(a0), "+r"(a6), "+r"(a7) : : "a1", "memory");
			}
			break;
		case B_MMIO:
			for (i = 0; i < n; i++)
				*(volatile unsigned long *)MMIO_GPA = i;
			break;
		case B_CSR:
			/* siselect = 0x30 (iprio0); sireg then traps to KVM. */
			asm volatile("csrw 0x150, %0" : : "r"(0x30UL));
			for (i = 0; i < n; i++)
				asm volatile("csrr %0, 0x151" : "=r"(v));
			break;
		case B_PF:
			for (i = 0; i < n; i++)
				*(volatile unsigned long *)(cmd.arg + i * 4096) = i;
			break;
		}
	}
}

static unsigned long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000UL + ts.tv_nsec;
}

/* Runs the guest until its next GUEST_SYNC, answering MMIO exits at once. */
static void run_to_sync(struct kvm_vcpu *vcpu)
{
	struct ucall uc;

	for (;;) {
		TEST_ASSERT(!ioctl(vcpu->fd, KVM_RUN, NULL), "KVM_RUN failed");
		if (vcpu->run->exit_reason == KVM_EXIT_MMIO)
			continue;
		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC:
			return;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
		default:
			TEST_FAIL("unexpected exit %u", vcpu->run->exit_reason);
		}
	}
}

static unsigned long pf_next = PF_GPA;

/* Time of one guest loop of n round trips of case c. */
static unsigned long measure(struct kvm_vm *vm, struct kvm_vcpu *vcpu, int c, unsigned long n)
{
	unsigned long t0, t1;

	cmd.which = c;
	cmd.n = n;
	if (c == B_PF) {
		cmd.arg = pf_next;
		pf_next += n * 4096;
	}
	sync_global_to_guest(vm, cmd);
	t0 = now_ns();
	run_to_sync(vcpu);
	t1 = now_ns();
	return t1 - t0;
}

int main(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	int c, r;

	vm = vm_create_with_one_vcpu(&vcpu, guest_code);
	virt_map(vm, MMIO_GPA, MMIO_GPA, 1);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, PF_GPA, PF_SLOT, PF_PAGES, 0);
	virt_map(vm, PF_GPA, PF_GPA, PF_PAGES);
	run_to_sync(vcpu);	/* the guest waits at its first GUEST_SYNC */

	for (c = 0; c < NR_CASES; c++) {
		unsigned long n = c == B_PF ? N_PAGES : N_ITERS;
		unsigned long best1 = ~0UL, bestn = ~0UL, t;

		/* Warm up code paths and caches once. */
		if (c != B_PF)
			measure(vm, vcpu, c, n);
		for (r = 0; r < REPEAT; r++) {
			t = measure(vm, vcpu, c, 1);
			best1 = t < best1 ? t : best1;
			t = measure(vm, vcpu, c, n);
			bestn = t < bestn ? t : bestn;
		}
		printf("bench %s %.1f\n", case_name[c], (double)(bestn - best1) / (n - 1));
	}
	kvm_vm_free(vm);
	return 0;
}
