// SPDX-License-Identifier: GPL-2.0
/*
 * SCOUNTEREN and SENVCFG have no VS-level copy: the guest's values live in
 * the real CSRs while it runs, and KVM must swap them with the host's around
 * every guest entry. This test has the guest set both to values the host does
 * not use, then checks in host userspace, after each KVM_RUN:
 *  - rdtime and rdcycle (governed by SCOUNTEREN) work exactly as before;
 *  - cbo.zero (governed by SENVCFG.CBZE), when the host allows it, still does;
 *  - ONE_REG reports the guest's values;
 * and, in the guest, that its values are still in force on the next entry.
 * Without the swap, host userspace takes SIGILL or ONE_REG disagrees.
 * The guest's f8 (and v8, with V) must also survive each exit to host
 * userspace, which clobbers both: KVM saves and restores them at put/load;
 * and host userspace's own f8 must survive KVM_RUN.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "kvm_util.h"
#include "processor.h"
#include "ucall_common.h"

#define GUEST_SCOUNTEREN	0x5UL	/* CY | IR, no TM */
#define GUEST_SENVCFG		0x1UL	/* FIOM only: no CBZE/CBCFE/CBIE */
#define ROUNDS			3
#define GUEST_F8		0x4005bf0a8b145769UL
#define GUEST_V8		0x0123456789abcdefUL
#define V_ASM(s)		".option push\n.option arch, +v\n" s "\n.option pop"

static bool has_v;

static unsigned long f8_v8(unsigned long *v8)
{
	unsigned long f;

	asm volatile("fmv.x.d %0, f8" : "=r"(f));
	if (has_v)
		asm volatile(V_ASM("vsetivli x0, 1, e64, m1, ta, ma\nvmv.x.s %0, v8") : "=r"(*v8));
	return f;
}

/* No clobbers: the values must outlive the call; nothing else here uses FP or V. */
static void set_f8_v8(unsigned long f, unsigned long v)
{
	asm volatile("fmv.d.x f8, %0" : : "r"(f));
	if (has_v)
		asm volatile(V_ASM("vsetivli x0, 1, e64, m1, ta, ma\nvmv.s.x v8, %0") : : "r"(v));
}

static void guest_code(void)
{
	unsigned long sc, env, f, v = 0;
	int i;

	csr_write(CSR_SCOUNTEREN, GUEST_SCOUNTEREN);
	csr_write(CSR_SENVCFG, GUEST_SENVCFG);
	csr_set(CSR_SSTATUS, SR_FS | (has_v ? SR_VS : 0));
	set_f8_v8(GUEST_F8, GUEST_V8);
	for (i = 0; i < ROUNDS; i++) {
		sc = csr_read(CSR_SCOUNTEREN);
		env = csr_read(CSR_SENVCFG);
		f = f8_v8(&v);
		GUEST_SYNC_ARGS(i, sc, env, f, v);
	}
	GUEST_DONE();
}

static sigjmp_buf jb;

static void on_sigill(int sig)
{
	siglongjmp(jb, 1);
}

enum probe { P_RDTIME, P_RDCYCLE, P_CBOZERO, NR_PROBES };
static const char *probe_name[] = { "rdtime", "rdcycle", "cbo.zero" };
static char cbo_buf[256] __attribute__((aligned(256)));

/* 1: the instruction ran; 0: it raised SIGILL. */
static int probe(enum probe p)
{
	unsigned long v = 0;

	if (sigsetjmp(jb, 1))
		return 0;
	switch (p) {
	case P_RDTIME:
		asm volatile("rdtime %0" : "=r"(v));
		break;
	case P_RDCYCLE:
		asm volatile("rdcycle %0" : "=r"(v));
		break;
	case P_CBOZERO:
		memset(cbo_buf, 0xa5, sizeof(cbo_buf));
		/* cbo.zero (a0) */
		asm volatile("mv a0, %0\n\t.insn i 0x0f, 2, x0, a0, 4" : : "r"(cbo_buf) : "a0", "memory");
		break;
	default:
		break;
	}
	(void)v;
	return 1;
}

int main(void)
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	int before[NR_PROBES], after[NR_PROBES];
	unsigned long sc, env, hf, hv = 0;
	int fd, p, round = 0;

	signal(SIGILL, on_sigill);
	/* Let host userspace read the cycle counter directly (legacy mode). */
	fd = open("/proc/sys/kernel/perf_user_access", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "2", 1) != 1)
			printf("# could not set perf_user_access\n");
		close(fd);
	}
	for (p = 0; p < NR_PROBES; p++) {
		before[p] = probe(p);
		printf("# host %s before: %s\n", probe_name[p], before[p] ? "works" : "SIGILL");
	}
	TEST_ASSERT(before[P_RDTIME], "host rdtime does not work even before KVM");

	vm = vm_create_with_one_vcpu(&vcpu, guest_code);
	has_v = __vcpu_has_isa_ext(vcpu, KVM_RISCV_ISA_EXT_V);
	sync_global_to_guest(vm, has_v);
	for (;;) {
		set_f8_v8(~GUEST_F8, ~GUEST_V8);
		vcpu_run(vcpu);
		/*
		 * ... and host userspace gets its own f8 back (not v8: the
		 * vector registers do not survive a system call, by the ABI).
		 */
		hf = f8_v8(&hv);
		TEST_ASSERT_EQ(hf, ~GUEST_F8);
		TEST_ASSERT_KVM_EXIT_REASON(vcpu, KVM_EXIT_RISCV_SBI);

		for (p = 0; p < NR_PROBES; p++) {
			after[p] = probe(p);
			TEST_ASSERT(after[p] == before[p],
				    "round %d: host %s %s after KVM_RUN, %s before",
				    round, probe_name[p], after[p] ? "works" : "raises SIGILL",
				    before[p] ? "worked" : "raised SIGILL");
		}

		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC:
			break;
		case UCALL_DONE:
			goto done;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
		default:
			TEST_FAIL("unexpected ucall");
		}
		/* The guest's values, as it sees them ... */
		TEST_ASSERT_EQ(uc.args[2], GUEST_SCOUNTEREN);
		TEST_ASSERT_EQ(uc.args[3] & GUEST_SENVCFG, GUEST_SENVCFG);
		TEST_ASSERT_EQ(uc.args[4], GUEST_F8);
		TEST_ASSERT_EQ(uc.args[5], (has_v ? GUEST_V8 : 0));
		/* ... and as ONE_REG reports them. */
		sc = vcpu_get_reg(vcpu, RISCV_GENERAL_CSR_REG(scounteren));
		env = vcpu_get_reg(vcpu, RISCV_GENERAL_CSR_REG(senvcfg));
		TEST_ASSERT_EQ(sc, uc.args[2]);
		TEST_ASSERT_EQ(env, uc.args[3]);
		printf("# round %d: guest scounteren 0x%lx senvcfg 0x%lx, host probes unchanged, "
		       "f8/v8 kept (V %s)\n", round, sc, env, has_v ? "on" : "off");
		round++;
	}
done:
	TEST_ASSERT_EQ(round, ROUNDS);
	kvm_vm_free(vm);
	printf("ok: SCOUNTEREN/SENVCFG swapped around %d guest entries\n", ROUNDS);
	return 0;
}
