// SPDX-License-Identifier: GPL-2.0
/*
 * SBI PMU firmware counters of the guest traps KVM sees and redirects.
 *
 * KVM counts five firmware events when a guest trap reaches it and is sent
 * back to the guest (kvm_riscv_vcpu_exit()): ILLEGAL_INSN, MISALIGNED_LOAD,
 * MISALIGNED_STORE, ACCESS_LOAD and ACCESS_STORE. The guest configures one
 * firmware counter per event (counter_config_matching, counter_start with an
 * initial value of 0), raises each trap N times (N differs per event), takes
 * every redirected trap in its own VS-mode handler (one per cause), and reads
 * all five counters with counter_fw_read after each phase. The host checks,
 * per phase:
 *  - the guest handler of the cause ran exactly N times (and no other one),
 *    with STVAL the faulting address;
 *  - each counter moved exactly as much as the vCPU statistic of the same
 *    exit (instr_illegal_exits, load_misaligned_exits, ...) did: a counter
 *    counts the traps KVM saw, no more and no fewer;
 *  - the counter of the phase's event moved by N, the others not at all.
 *
 * Triggers, for QEMU -cpu max as the host CPU:
 *  - illegal instruction: unimp (csrrw zero, cycle, zero) and c.unimp. The
 *    hypervisor delegates it (KVM_HEDELEG_DEFAULT has EXC_INST_ILLEGAL), so
 *    it goes straight to the guest and KVM never counts it: the guest handler
 *    runs N times, the counter and instr_illegal_exits stay 0.
 *  - load misaligned: lr.d / lr.w at a misaligned address (QEMU carries out
 *    misaligned plain loads without trapping, but never a misaligned LR).
 *  - store/AMO misaligned: the Zabha AMOs amoadd.h / amoswap.h and the Zacas
 *    amocas.d / amocas.w at a misaligned address. Not amoadd.d / amoadd.w:
 *    -cpu max has Zama16b, and QEMU then translates 32- and 64-bit AMOs
 *    without an alignment check and carries out a misaligned one, even across
 *    16 bytes. Those, an sc.d without a reservation (QEMU compares the address
 *    with the reservation first and just fails it) and plain misaligned
 *    ld / sd are run once as probes: whatever they do, the counters must
 *    agree with what KVM saw, and the output says which ones do not trap.
 *  - load/store access fault: the vCPU's IMSIC guest interrupt file, mapped
 *    into the G-stage by the in-kernel AIA irqchip (hardware-accelerated
 *    mode). QEMU's IMSIC accepts only 4-byte accesses; an 8-, 2- or 1-byte
 *    one is a bus decode error, an access fault that is not delegated.
 *  - instruction access fault: a fetch from a guest physical page no memslot
 *    backs (KVM turns the G-stage fault into an instruction access fault for
 *    the guest) and from the interrupt file page. It is redirected but is no
 *    firmware event: no counter and no statistic may move.
 * Then a stress phase: 100,000 illegal instructions and 100,000 misaligned
 * AMOs (amoadd.h), with the same checks; the host measures how long it takes.
 * Exits of the stress phase go through KVM's trap path 100,000 times; the rig
 * fails the run if the host's kernel log shows an oops, WARN or BUG.
 *
 * The rig shows a test's output only when it fails; so that the counts and
 * the NOTE lines are in the console log of every run, the output is copied
 * to /dev/console when stdout is not a terminal.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "processor.h"
#include "sbi.h"
#include "ucall_common.h"

/* Guest physical (and, identity-mapped, virtual) addresses. */
#define IMSIC_GPA	0x28000000UL	/* vCPU 0's interrupt file (in-kernel AIA) */
#define HOLE_GPA	0x30000000UL	/* no memslot */

#define N_ILLEGAL	3
#define N_MIS_LOAD	4
#define N_MIS_STORE	5
#define N_ACC_LOAD	6
#define N_ACC_STORE	7
#define N_INST_ACCESS	8
#define STRESS_ITERS	100000UL

enum ev { EV_ILLEGAL, EV_MIS_LOAD, EV_MIS_STORE, EV_ACC_LOAD, EV_ACC_STORE, NR_EV };

static const unsigned long ev_code[NR_EV] = {
	[EV_ILLEGAL]	= SBI_PMU_FW_ILLEGAL_INSN,
	[EV_MIS_LOAD]	= SBI_PMU_FW_MISALIGNED_LOAD,
	[EV_MIS_STORE]	= SBI_PMU_FW_MISALIGNED_STORE,
	[EV_ACC_LOAD]	= SBI_PMU_FW_ACCESS_LOAD,
	[EV_ACC_STORE]	= SBI_PMU_FW_ACCESS_STORE,
};

static const char *const ev_name[NR_EV] = {
	"ILLEGAL_INSN", "MISALIGNED_LOAD", "MISALIGNED_STORE", "ACCESS_LOAD", "ACCESS_STORE",
};

/* The vCPU statistic of the exit that counts each event. */
static const char *const ev_stat[NR_EV] = {
	"instr_illegal_exits", "load_misaligned_exits", "store_misaligned_exits",
	"load_access_exits", "store_access_exits",
};

/* The exception cause that raises each event. */
static const int ev_cause[NR_EV] = {
	EXC_INST_ILLEGAL, EXC_LOAD_MISALIGNED, EXC_STORE_MISALIGNED,
	EXC_LOAD_ACCESS, EXC_STORE_ACCESS,
};

enum phase {
	PH_START, PH_ILLEGAL, PH_MIS_LOAD, PH_MIS_STORE, PH_PROBE,
	PH_ACC_LOAD, PH_ACC_STORE, PH_INST_ACCESS, PH_STRESS, NR_PH,
};

static const char *const ph_name[NR_PH] = {
	"start", "illegal-insn", "load-misaligned", "store-misaligned", "no-trap-probe",
	"load-access", "store-access", "inst-access", "stress",
};

/* ---- guest ---- */

/* Written by the guest's trap handlers, read by the host. */
static unsigned long hits[NR_EXCEPTIONS];
static unsigned long tval[NR_EXCEPTIONS];
static unsigned long ctr_idx[NR_EV];

/*
 * Candidate triggers that may or may not trap on this CPU: each either traps
 * once (and must then be counted) or runs to completion (and must not be).
 */
enum probe { PR_AMOADD_D, PR_AMOADD_W, PR_SC_D, PR_SD, PR_LD, NR_PR };

static const char *const pr_name[NR_PR] = {
	"amoadd.d at a misaligned address crossing 16 bytes",
	"amoadd.w at a misaligned address crossing 16 bytes",
	"sc.d at a misaligned address, without a reservation",
	"sd (plain store) at a misaligned address",
	"ld (plain load) at a misaligned address",
};

static const char *const pr_why[NR_PR] = {
	"QEMU, with Zama16b in -cpu max, translates 32/64-bit AMOs without an alignment check",
	"QEMU, with Zama16b in -cpu max, translates 32/64-bit AMOs without an alignment check",
	"QEMU compares the address with the reservation before any access and fails the sc.d",
	"QEMU carries out misaligned plain stores",
	"QEMU carries out misaligned plain loads",
};

static const int pr_cause[NR_PR] = {
	EXC_STORE_MISALIGNED, EXC_STORE_MISALIGNED, EXC_STORE_MISALIGNED,
	EXC_STORE_MISALIGNED, EXC_LOAD_MISALIGNED,
};

static unsigned long pr_trapped[NR_PR];

/* 16-byte aligned: +12 makes an 8-byte access cross a 16-byte boundary too. */
static u64 mis_buf[4] __aligned(16);

static unsigned long insn_len(unsigned long epc)
{
	return (*(volatile u16 *)epc & 3) == 3 ? 4 : 2;
}

static void count_trap(struct pt_regs *regs, unsigned long cause)
{
	__GUEST_ASSERT(regs->cause == cause, "cause %lu in the handler of cause %lu",
		       regs->cause, cause);
	WRITE_ONCE(hits[cause], hits[cause] + 1);
	WRITE_ONCE(tval[cause], regs->badaddr);
}

static void illegal_insn_handler(struct pt_regs *regs)
{
	count_trap(regs, EXC_INST_ILLEGAL);
	regs->epc += insn_len(regs->epc);
}

static void load_misaligned_handler(struct pt_regs *regs)
{
	count_trap(regs, EXC_LOAD_MISALIGNED);
	regs->epc += insn_len(regs->epc);
}

static void store_misaligned_handler(struct pt_regs *regs)
{
	count_trap(regs, EXC_STORE_MISALIGNED);
	regs->epc += insn_len(regs->epc);
}

static void load_access_handler(struct pt_regs *regs)
{
	count_trap(regs, EXC_LOAD_ACCESS);
	regs->epc += insn_len(regs->epc);
}

static void store_access_handler(struct pt_regs *regs)
{
	count_trap(regs, EXC_STORE_ACCESS);
	regs->epc += insn_len(regs->epc);
}

/* The fetch was a jalr ra: resume after it. */
static void inst_access_handler(struct pt_regs *regs)
{
	count_trap(regs, EXC_INST_ACCESS);
	regs->epc = regs->ra;
}

/* Run one trigger, check that it trapped once with STVAL = addr. */
#define EXPECT_TRAP(cause, addr, trigger) do {					\
	unsigned long __h = READ_ONCE(hits[cause]);				\
	trigger;								\
	__GUEST_ASSERT(READ_ONCE(hits[cause]) == __h + 1,			\
		       "%s at 0x%lx: no trap of cause %d", #trigger,		\
		       (unsigned long)(addr), cause);				\
	__GUEST_ASSERT(READ_ONCE(tval[cause]) == (unsigned long)(addr),		\
		       "%s: stval 0x%lx, expected 0x%lx", #trigger,		\
		       READ_ONCE(tval[cause]), (unsigned long)(addr));		\
} while (0)

static inline void unimp32(void)
{
	asm volatile(".4byte 0xc0001073" ::: "memory");	/* csrrw zero, cycle, zero */
}

static inline void unimp16(void)
{
	asm volatile(".2byte 0x0000" ::: "memory");		/* c.unimp */
}

static inline void lr_d(void *p)
{
	unsigned long v;

	asm volatile("lr.d %0, (%1)" : "=r"(v) : "r"(p) : "memory");
}

static inline void lr_w(void *p)
{
	unsigned long v;

	asm volatile("lr.w %0, (%1)" : "=r"(v) : "r"(p) : "memory");
}

/* Zabha */
static inline void amoadd_h(void *p)
{
	asm volatile(".insn r 0x2f, 1, 0x00, zero, %0, %1" : : "r"(p), "r"(1UL) : "memory");
}

/* Zabha */
static inline void amoswap_h(void *p)
{
	asm volatile(".insn r 0x2f, 1, 0x04, zero, %0, %1" : : "r"(p), "r"(1UL) : "memory");
}

/* Zacas */
static inline void amocas_d(void *p)
{
	unsigned long cmp = 0;

	asm volatile(".insn r 0x2f, 3, 0x14, %0, %1, %2" : "+r"(cmp) : "r"(p), "r"(1UL) : "memory");
}

/* Zacas */
static inline void amocas_w(void *p)
{
	unsigned long cmp = 0;

	asm volatile(".insn r 0x2f, 2, 0x14, %0, %1, %2" : "+r"(cmp) : "r"(p), "r"(1UL) : "memory");
}

static inline void amoadd_d(void *p)
{
	asm volatile("amoadd.d zero, %1, (%0)" : : "r"(p), "r"(1UL) : "memory");
}

static inline void amoadd_w(void *p)
{
	asm volatile("amoadd.w zero, %1, (%0)" : : "r"(p), "r"(1UL) : "memory");
}

static inline void sc_d(void *p)
{
	unsigned long rd;

	asm volatile("sc.d %0, %2, (%1)" : "=r"(rd) : "r"(p), "r"(0UL) : "memory");
}

static inline void plain_sd(void *p)
{
	asm volatile("sd zero, 0(%0)" : : "r"(p) : "memory");
}

static inline void plain_ld(void *p)
{
	unsigned long v;

	asm volatile("ld %0, 0(%1)" : "=r"(v) : "r"(p) : "memory");
}

static inline unsigned long mmio_lw(unsigned long a)
{
	unsigned long v;

	asm volatile("lw %0, 0(%1)" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static inline void mmio_ld(unsigned long a)
{
	unsigned long v;

	asm volatile("ld %0, 0(%1)" : "=r"(v) : "r"(a) : "memory");
}

static inline void mmio_lh(unsigned long a)
{
	unsigned long v;

	asm volatile("lh %0, 0(%1)" : "=r"(v) : "r"(a) : "memory");
}

static inline void mmio_lb(unsigned long a)
{
	unsigned long v;

	asm volatile("lb %0, 0(%1)" : "=r"(v) : "r"(a) : "memory");
}

static inline void mmio_sd(unsigned long a)
{
	asm volatile("sd zero, 0(%0)" : : "r"(a) : "memory");
}

static inline void mmio_sh(unsigned long a)
{
	asm volatile("sh zero, 0(%0)" : : "r"(a) : "memory");
}

static inline void mmio_sb(unsigned long a)
{
	asm volatile("sb zero, 0(%0)" : : "r"(a) : "memory");
}

static inline void fetch(unsigned long a)
{
	asm volatile("jalr ra, 0(%0)" : : "r"(a) : "ra", "memory");
}

static unsigned long fw_read(int e)
{
	struct sbiret r = sbi_ecall(SBI_EXT_PMU, SBI_EXT_PMU_COUNTER_FW_READ,
				    ctr_idx[e], 0, 0, 0, 0, 0);

	__GUEST_ASSERT(!r.error, "counter_fw_read(%lu) of %s: error %ld",
		       ctr_idx[e], ev_name[e], r.error);
	return r.value;
}

static void report(int phase)
{
	GUEST_SYNC6(phase, fw_read(0), fw_read(1), fw_read(2), fw_read(3), fw_read(4));
}

static void pmu_setup(void)
{
	unsigned long num, mask;
	union sbi_pmu_ctr_info info;
	struct sbiret r;
	long probe = 0;
	int e, f;

	GUEST_ASSERT(guest_sbi_probe_extension(SBI_EXT_PMU, &probe) && probe);
	r = sbi_ecall(SBI_EXT_PMU, SBI_EXT_PMU_NUM_COUNTERS, 0, 0, 0, 0, 0, 0);
	GUEST_ASSERT(!r.error && r.value > 0);
	num = r.value;
	mask = num >= BITS_PER_LONG ? ~0UL : BIT(num) - 1;

	for (e = 0; e < NR_EV; e++) {
		unsigned long eidx = ((unsigned long)SBI_PMU_EVENT_TYPE_FW << 16) | ev_code[e];

		r = sbi_ecall(SBI_EXT_PMU, SBI_EXT_PMU_COUNTER_CFG_MATCH, 0, mask, 0,
			      eidx, 0, 0);
		__GUEST_ASSERT(!r.error, "counter_config_matching(%s): error %ld",
			       ev_name[e], r.error);
		ctr_idx[e] = r.value;
		for (f = 0; f < e; f++)
			GUEST_ASSERT(ctr_idx[f] != ctr_idx[e]);

		r = sbi_ecall(SBI_EXT_PMU, SBI_EXT_PMU_COUNTER_GET_INFO, ctr_idx[e],
			      0, 0, 0, 0, 0);
		GUEST_ASSERT(!r.error);
		info.value = r.value;
		__GUEST_ASSERT(info.type == SBI_PMU_CTR_TYPE_FW,
			       "counter %lu of %s is not a firmware counter",
			       ctr_idx[e], ev_name[e]);

		r = sbi_ecall(SBI_EXT_PMU, SBI_EXT_PMU_COUNTER_START, ctr_idx[e], 1,
			      SBI_PMU_START_FLAG_SET_INIT_VALUE, 0, 0, 0);
		__GUEST_ASSERT(!r.error, "counter_start(%s): error %ld", ev_name[e], r.error);
	}
}

static void pmu_stop(void)
{
	struct sbiret r;
	int e;

	for (e = 0; e < NR_EV; e++) {
		r = sbi_ecall(SBI_EXT_PMU, SBI_EXT_PMU_COUNTER_STOP, ctr_idx[e], 1,
			      SBI_PMU_STOP_FLAG_RESET, 0, 0, 0);
		__GUEST_ASSERT(!r.error, "counter_stop(%s): error %ld", ev_name[e], r.error);
	}
}

static void guest_code(unsigned long imsic, unsigned long hole, unsigned long have_imsic)
{
	char *buf = (char *)mis_buf;
	unsigned long i;

	pmu_setup();
	report(PH_START);

	for (i = 0; i < N_ILLEGAL; i++) {
		unsigned long h = READ_ONCE(hits[EXC_INST_ILLEGAL]);

		if (i % 2)
			unimp16();
		else
			unimp32();
		GUEST_ASSERT_EQ(READ_ONCE(hits[EXC_INST_ILLEGAL]), h + 1);
	}
	report(PH_ILLEGAL);

	for (i = 0; i < N_MIS_LOAD; i++) {
		if (i % 2)
			EXPECT_TRAP(EXC_LOAD_MISALIGNED, buf + 6, lr_w(buf + 6));
		else
			EXPECT_TRAP(EXC_LOAD_MISALIGNED, buf + 12, lr_d(buf + 12));
	}
	report(PH_MIS_LOAD);

	for (i = 0; i < N_MIS_STORE; i++) {
		switch (i % 4) {
		case 0: EXPECT_TRAP(EXC_STORE_MISALIGNED, buf + 1, amoadd_h(buf + 1)); break;
		case 1: EXPECT_TRAP(EXC_STORE_MISALIGNED, buf + 12, amocas_d(buf + 12)); break;
		case 2: EXPECT_TRAP(EXC_STORE_MISALIGNED, buf + 15, amoswap_h(buf + 15)); break;
		case 3: EXPECT_TRAP(EXC_STORE_MISALIGNED, buf + 2, amocas_w(buf + 2)); break;
		}
	}
	report(PH_MIS_STORE);

	for (i = 0; i < NR_PR; i++) {
		unsigned long h = READ_ONCE(hits[pr_cause[i]]);

		switch (i) {
		case PR_AMOADD_D: amoadd_d(buf + 12); break;
		case PR_AMOADD_W: amoadd_w(buf + 14); break;
		case PR_SC_D: sc_d(buf + 12); break;
		case PR_SD: plain_sd(buf + 3); break;
		case PR_LD: plain_ld(buf + 3); break;
		}
		WRITE_ONCE(pr_trapped[i], READ_ONCE(hits[pr_cause[i]]) - h);
	}
	report(PH_PROBE);

	if (have_imsic) {
		/* A 4-byte read is valid: the page is mapped, no trap. */
		mmio_lw(imsic);
		GUEST_ASSERT_EQ(READ_ONCE(hits[EXC_LOAD_ACCESS]), 0);
		for (i = 0; i < N_ACC_LOAD; i++) {
			switch (i % 3) {
			case 0: EXPECT_TRAP(EXC_LOAD_ACCESS, imsic, mmio_ld(imsic)); break;
			case 1: EXPECT_TRAP(EXC_LOAD_ACCESS, imsic + 0x10, mmio_lb(imsic + 0x10)); break;
			case 2: EXPECT_TRAP(EXC_LOAD_ACCESS, imsic + 0x20, mmio_lh(imsic + 0x20)); break;
			}
		}
	}
	report(PH_ACC_LOAD);

	if (have_imsic) {
		for (i = 0; i < N_ACC_STORE; i++) {
			/* Away from seteipnum_le (offset 0), should a store get through. */
			switch (i % 3) {
			case 0: EXPECT_TRAP(EXC_STORE_ACCESS, imsic + 0x40, mmio_sd(imsic + 0x40)); break;
			case 1: EXPECT_TRAP(EXC_STORE_ACCESS, imsic + 0x48, mmio_sb(imsic + 0x48)); break;
			case 2: EXPECT_TRAP(EXC_STORE_ACCESS, imsic + 0x50, mmio_sh(imsic + 0x50)); break;
			}
		}
	}
	report(PH_ACC_STORE);

	for (i = 0; i < N_INST_ACCESS; i++) {
		if (have_imsic && i % 4 == 3)
			EXPECT_TRAP(EXC_INST_ACCESS, imsic + 0x100, fetch(imsic + 0x100));
		else
			EXPECT_TRAP(EXC_INST_ACCESS, hole + 8 * i, fetch(hole + 8 * i));
	}
	report(PH_INST_ACCESS);

	for (i = 0; i < STRESS_ITERS; i++) {
		unimp32();
		amoadd_h(buf + 1);
	}
	report(PH_STRESS);

	pmu_stop();
	GUEST_DONE();
}

/* ---- host ---- */

static FILE *console;

/* printf to stdout, and whole lines to the console too. */
static void say(const char *fmt, ...)
{
	static char line[1024];
	static size_t len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	va_end(ap);
	if (n > 0)
		len = len + n < sizeof(line) ? len + n : sizeof(line) - 1;
	if (len && line[len - 1] != '\n' && len < sizeof(line) - 1)
		return;
	fputs(line, stdout);
	fflush(stdout);
	if (console) {
		fprintf(console, "pmu_fw_test: %s", line);
		fflush(console);
	}
	len = 0;
	line[0] = 0;
}

/*
 * The in-kernel AIA irqchip, with vCPU 0's IMSIC at IMSIC_GPA. True when it
 * runs in hardware-accelerated mode, i.e. the guest interrupt file is mapped
 * into the G-stage and guest accesses reach QEMU's IMSIC directly.
 */
static bool setup_aia(struct kvm_vm *vm)
{
	u64 addr = IMSIC_GPA;
	u32 mode = 0;
	int fd;

	fd = __kvm_create_device(vm, KVM_DEV_TYPE_RISCV_AIA);
	if (fd < 0) {
		say("NOTE: access faults cannot be raised: no in-kernel AIA irqchip (KVM_CREATE_DEVICE: %s), so no guest interrupt file to access with a wrong width\n",
		    strerror(errno));
		return false;
	}
	kvm_device_attr_get(fd, KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_MODE, &mode);
	if (mode != KVM_DEV_RISCV_AIA_MODE_EMUL) {
		mode = KVM_DEV_RISCV_AIA_MODE_HWACCEL;
		kvm_device_attr_set(fd, KVM_DEV_RISCV_AIA_GRP_CONFIG,
				    KVM_DEV_RISCV_AIA_CONFIG_MODE, &mode);
	}
	kvm_device_attr_set(fd, KVM_DEV_RISCV_AIA_GRP_ADDR, KVM_DEV_RISCV_AIA_ADDR_IMSIC(0), &addr);
	kvm_device_attr_set(fd, KVM_DEV_RISCV_AIA_GRP_CTRL, KVM_DEV_RISCV_AIA_CTRL_INIT, NULL);
	if (mode == KVM_DEV_RISCV_AIA_MODE_EMUL) {
		say("NOTE: access faults cannot be raised: the host has no guest interrupt files (AIA emulation mode), so KVM emulates the IMSIC page as MMIO and a wrong-width access exits to userspace instead of faulting\n");
		return false;
	}
	return true;
}

static u64 stat_of(struct kvm_vcpu *vcpu, int e)
{
	u64 v;

	kvm_get_stat(&vcpu->stats, ev_stat[e], &v, 1);
	return v;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
	u64 ctr[NR_EV] = {}, prev_ctr[NR_EV] = {}, st[NR_EV], prev_st[NR_EV] = {};
	unsigned long h[NR_EXCEPTIONS], prev_h[NR_EXCEPTIONS] = {};
	unsigned long want_h[NR_EXCEPTIONS];
	u64 d_ctr[NR_EV], d_st[NR_EV];
	double t_stress = 0, t0 = 0;
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	bool have_imsic;
	int phase = 0, e, c, p;

	if (!isatty(1))
		console = fopen("/dev/console", "w");

	vm = vm_create_with_one_vcpu(&vcpu, guest_code);
	TEST_REQUIRE(__vcpu_has_sbi_ext(vcpu, KVM_RISCV_SBI_EXT_PMU));

	vm_init_vector_tables(vm);
	vcpu_init_vector_tables(vcpu);
	vm_install_exception_handler(vm, EXC_INST_ILLEGAL, illegal_insn_handler);
	vm_install_exception_handler(vm, EXC_LOAD_MISALIGNED, load_misaligned_handler);
	vm_install_exception_handler(vm, EXC_STORE_MISALIGNED, store_misaligned_handler);
	vm_install_exception_handler(vm, EXC_LOAD_ACCESS, load_access_handler);
	vm_install_exception_handler(vm, EXC_STORE_ACCESS, store_access_handler);
	vm_install_exception_handler(vm, EXC_INST_ACCESS, inst_access_handler);

	have_imsic = setup_aia(vm);
	virt_map(vm, HOLE_GPA, HOLE_GPA, 1);
	if (have_imsic)
		virt_map(vm, IMSIC_GPA, IMSIC_GPA, 1);
	vcpu_args_set(vcpu, 3, IMSIC_GPA, HOLE_GPA, (unsigned long)have_imsic);

	for (;;) {
		if (phase == PH_STRESS)
			t0 = now();
		vcpu_run(vcpu);
		if (phase == PH_STRESS)
			t_stress = now() - t0;
		TEST_ASSERT(vcpu->run->exit_reason == KVM_EXIT_RISCV_SBI,
			    "phase %s: exit reason %u (%s), not a ucall%s", ph_name[phase],
			    vcpu->run->exit_reason, exit_reason_str(vcpu->run->exit_reason),
			    vcpu->run->exit_reason == KVM_EXIT_MMIO ?
			    ": a guest access became MMIO instead of an access fault" : "");

		switch (get_ucall(vcpu, &uc)) {
		case UCALL_SYNC:
			break;
		case UCALL_DONE:
			goto done;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
		case UCALL_UNHANDLED:
			TEST_FAIL("phase %s: guest trap of cause %lu with no handler",
				  ph_name[phase], uc.args[1]);
		default:
			TEST_FAIL("unexpected ucall %lu", uc.cmd);
		}
		TEST_ASSERT_EQ(uc.args[0], phase);

		for (e = 0; e < NR_EV; e++) {
			ctr[e] = uc.args[1 + e];
			st[e] = stat_of(vcpu, e);
			d_ctr[e] = ctr[e] - prev_ctr[e];
			d_st[e] = st[e] - prev_st[e];
		}
		sync_global_from_guest(vm, hits);
		sync_global_from_guest(vm, pr_trapped);
		memcpy(h, hits, sizeof(h));

		/* What the guest handlers must have seen in this phase. */
		memset(want_h, 0, sizeof(want_h));
		switch (phase) {
		case PH_ILLEGAL:	want_h[EXC_INST_ILLEGAL] = N_ILLEGAL; break;
		case PH_MIS_LOAD:	want_h[EXC_LOAD_MISALIGNED] = N_MIS_LOAD; break;
		case PH_MIS_STORE:	want_h[EXC_STORE_MISALIGNED] = N_MIS_STORE; break;
		case PH_PROBE:
			for (p = 0; p < NR_PR; p++) {
				TEST_ASSERT(pr_trapped[p] <= 1, "%s trapped %lu times",
					    pr_name[p], pr_trapped[p]);
				want_h[pr_cause[p]] += pr_trapped[p];
			}
			break;
		case PH_ACC_LOAD:	want_h[EXC_LOAD_ACCESS] = have_imsic ? N_ACC_LOAD : 0; break;
		case PH_ACC_STORE:	want_h[EXC_STORE_ACCESS] = have_imsic ? N_ACC_STORE : 0; break;
		case PH_INST_ACCESS:	want_h[EXC_INST_ACCESS] = N_INST_ACCESS; break;
		case PH_STRESS:
			want_h[EXC_INST_ILLEGAL] = STRESS_ITERS;
			want_h[EXC_STORE_MISALIGNED] = STRESS_ITERS;
			break;
		}

		say("# phase %-15s guest handler runs:", ph_name[phase]);
		for (c = 0; c < NR_EXCEPTIONS; c++)
			if (h[c] - prev_h[c])
				say(" cause%d=%lu", c, h[c] - prev_h[c]);
		say("\n");
		say("# phase %-15s counter/stat deltas:", ph_name[phase]);
		for (e = 0; e < NR_EV; e++)
			say(" %s %lu/%lu", ev_name[e], d_ctr[e], d_st[e]);
		say("\n");

		for (c = 0; c < NR_EXCEPTIONS; c++)
			TEST_ASSERT(h[c] - prev_h[c] == want_h[c],
				    "phase %s: the guest handler of cause %d ran %lu times, expected %lu",
				    ph_name[phase], c, h[c] - prev_h[c], want_h[c]);

		for (e = 0; e < NR_EV; e++) {
			u64 n = want_h[ev_cause[e]];

			/* The counter counts exactly the traps KVM saw. */
			TEST_ASSERT(d_ctr[e] == d_st[e],
				    "phase %s: counter %s moved by %lu but KVM saw %lu %s",
				    ph_name[phase], ev_name[e], d_ctr[e], d_st[e], ev_stat[e]);
			if (e == EV_ILLEGAL && n && d_st[e] == 0) {
				/* Delegated to VS mode: never seen by KVM. */
				continue;
			}
			/* Every trap of the cause went through KVM, no other did. */
			TEST_ASSERT(d_ctr[e] == n,
				    "phase %s: counter %s moved by %lu, expected %lu",
				    ph_name[phase], ev_name[e], d_ctr[e], n);
		}

		switch (phase) {
		case PH_ILLEGAL:
			if (d_st[EV_ILLEGAL] == 0)
				say("NOTE: SBI_PMU_FW_ILLEGAL_INSN stays 0: KVM_HEDELEG_DEFAULT delegates EXC_INST_ILLEGAL to VS mode, so the %d illegal instructions went straight to the guest handler (it ran %d times) and KVM saw none (instr_illegal_exits 0)\n",
				    N_ILLEGAL, N_ILLEGAL);
			break;
		case PH_PROBE:
			for (p = 0; p < NR_PR; p++) {
				if (pr_trapped[p])
					say("# %s traps and is counted\n", pr_name[p]);
				else
					say("NOTE: %s does not trap here, so it is no trigger (%s); nothing counted\n",
					    pr_name[p], pr_why[p]);
			}
			break;
		case PH_INST_ACCESS:
			say("# %d instruction access faults redirected to the guest, counted nowhere\n",
			    N_INST_ACCESS);
			break;
		case PH_STRESS:
			say("# stress: %lu illegal instructions + %lu misaligned amoadd.h in %.1f s\n",
			    STRESS_ITERS, STRESS_ITERS, t_stress);
			break;
		}

		memcpy(prev_ctr, ctr, sizeof(ctr));
		memcpy(prev_st, st, sizeof(st));
		memcpy(prev_h, h, sizeof(h));
		phase++;
	}
done:
	TEST_ASSERT_EQ(phase, NR_PH);
	kvm_vm_free(vm);
	say("ok: firmware counters ILLEGAL_INSN %lu, MISALIGNED_LOAD %lu, MISALIGNED_STORE %lu, ACCESS_LOAD %lu, ACCESS_STORE %lu (access faults %s); stress %.1f s\n",
	    ctr[EV_ILLEGAL], ctr[EV_MIS_LOAD], ctr[EV_MIS_STORE], ctr[EV_ACC_LOAD],
	    ctr[EV_ACC_STORE], have_imsic ? "raised" : "not raisable here", t_stress);
	if (console)
		fclose(console);
	return 0;
}
