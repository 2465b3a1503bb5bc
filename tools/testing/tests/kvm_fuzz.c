// SPDX-License-Identifier: GPL-2.0
/*
 * kvm_fuzz: a seeded, bounded, differential fuzzer of the RISC-V KVM
 * backend, on the KVM selftests library.
 *
 *   kvm_fuzz [-s SEED] [-n CASES] [-c FIRST] [-o FILE] [-p PATTERNS]
 *            [-t CASE_SECONDS] [-x MAX_EXITS] [-k OPS_PER_CASE] [-m] [-v] [-R]
 *
 * -m writes "kvm_fuzz: seed S case N" to the kernel log before each case
 * (at notice level: the console shows it, so a case that hangs the host is
 * named); -v flushes every line; -R prints the registers of every block.
 *
 * Each case is a fresh VM (1 to 3 vCPUs, the library's few MiB of memory)
 * in a forked child, under an alarm of CASE_SECONDS; its operations come
 * from a PRNG seeded with (SEED, case number), so any one case can be
 * replayed alone with -c CASE -n 1. Every operation prints one line
 * ("c<case> <op> <arguments> -> <errno> [value]"); a value that depends on
 * time or on a race is printed as "?". The same seeds on our kvm.ko and on
 * upstream C must print the same lines (tools/testing/host/mode-fuzz).
 *
 * After each case the parent reads the new kernel log records (/dev/kmsg)
 * and matches them against the splat patterns (-p, the rig's oops.pat):
 * a match prints "c<case> splat" and, on stderr, the seed, the case and
 * the record, so a splat names what caused it.
 *
 * The operations (weights in pick_op()):
 *  - ONE_REG get/set of ids from the vCPU's own list with one field mutated
 *    (size, type, subtype, index) or fully random, edge values, user
 *    buffers that are NULL, unmapped, read-only or cross into an unmapped
 *    page; KVM_GET_REG_LIST with n = 0, exact - 1, exact, 2^32 + k, ~0;
 *  - vCPU and VM ioctls: vCPU creation with bad and duplicate ids, every
 *    MP_STATE value, KVM_INTERRUPT, KVM_SET_GUEST_DEBUG, the stats fds,
 *    immediate_exit, KVM_CHECK_EXTENSION and KVM_ENABLE_CAP, fds closed
 *    early, and a second thread issuing ioctls while vCPU 0 runs;
 *  - memslots: odd sizes, unaligned and overlapping GPAs, the top of the
 *    GPA space, NULL, PROT_NONE, read-only and unaligned backing,
 *    READONLY and LOG_DIRTY, dirty-log reads, and slots deleted or moved
 *    by a second thread while vCPU 0 runs;
 *  - guest code (vCPU 0 runs a command loop): blocks of random 16- and
 *    32-bit instructions, with control transfers replaced, CSR
 *    instructions on emulated and absent CSRs, wrs, hfence, hlv/hsv,
 *    loads, stores, AMOs and cache-block operations at backed, unbacked
 *    (MMIO), misaligned, IMSIC, top-of-space and unmapped addresses, FP
 *    and vector state on or off; the guest's trap handler skips the
 *    faulting instruction; wfi with a pending interrupt;
 *  - ecall with random and edge a0-a7 over every implemented SBI
 *    extension, and scripted sequences: PMU (SKIP_MATCH, snapshot,
 *    EVENT_GET_INFO with a large count), STA then mprotect of its memory,
 *    HSM, SUSP, DBCN, FWFT;
 *  - userspace exits (MMIO, SBI, CSR, debug) completed after kvm_run was
 *    corrupted (data, is_write, exit_reason, return values, immediate_exit);
 *  - the AIA device: attributes in every group, a proper setup, double
 *    init, KVM_IRQ_LINE, KVM_SIGNAL_MSI, irqfd.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "processor.h"
#include "sbi.h"
#include "ucall_common.h"

#define MAX_VCPUS	3
#define CODE_WORDS	64
#define MAX_TRAPS	16
#define SCAUSE_ILLEGAL	2		/* illegal instruction */

/* Guest physical/virtual windows mapped in the guest's page tables. */
#define MMIO_GPA	0x10000000UL	/* unbacked: loads and stores exit */
#define IMSIC_GPA	0x28000000UL	/* the IMSIC of vCPU n at + n * 4 KiB */
#define APLIC_GPA	0x0c000000UL
#define WIN_GVA		0x7f0000000UL	/* MMIO, IMSIC, top, slot windows */

/* SBI extension ids (the selftests' sbi.h names only a few). */
#define EXT_TIME	0x54494D45UL
#define EXT_IPI		0x735049UL
#define EXT_RFENCE	0x52464E43UL
#define EXT_HSM		0x48534DUL
#define EXT_SRST	0x53525354UL
#define EXT_SUSP	0x53555350UL
#define EXT_DBCN	0x4442434EUL
#define EXT_FWFT	0x46574654UL
#define EXT_MPXY	0x4D505859UL
#define EXT_NACL	0x4E41434CUL
#define EXT_DBTR	0x44425452UL
#define EXT_VENDOR_START	0x09000000UL
#define EXT_VENDOR_END		0x09FFFFFFUL

/* ---------------------------------------------------------------------- */
/* The guest.                                                              */

enum gcmd_kind { CMD_EXEC = 1, CMD_ECALL, CMD_WFI, CMD_DONE };

struct gcmd {
	u64 kind;
	u64 regs[32];		/* EXEC: x1..x30 in; ECALL: a0..a7 in x10..x17 */
	u64 nwords;		/* EXEC: instructions in gcode before the end mark */
	u64 fs, vs;		/* EXEC: sstatus.FS and VS while it runs */
};

struct gres {
	u64 regs[32];
	u64 ntraps;
	u64 traps[MAX_TRAPS][2];	/* scause, stval */
	u64 escaped;			/* sepc of a trap outside the block */
	u64 nirqs;
	u64 sbi_error, sbi_value;
};

/* Not static: fz_vector and fz_exec name gcmd, gcode, gctx and ggp. */
struct gcmd gcmd;
static struct gres gres;
u32 gcode[CODE_WORDS + 2] __attribute__((aligned(4096)));
static u8 gdata[2 * 4096] __attribute__((aligned(4096)));	/* loads and stores */
static u8 gsta[2 * 4096] __attribute__((aligned(4096)));	/* STA, PMU snapshot */
static u8 gstack[4096] __attribute__((aligned(16)));		/* the trap stack */
u64 gctx[17];	/* ra, sp, gp, tp, s0..s11, where to go back */
u64 ggp;

/* Frame of fz_vector: [0] sepc, [1..31] x1..x31, [32] scause, [33] stval. */
asm(".text\n"
    ".balign 4\n"
    ".global fz_vector\n"
    "fz_vector:\n"
    "	csrrw sp, sscratch, sp\n"
    "	addi sp, sp, -8*34\n"
    "	sd x1, 8(sp)\n	sd x3, 24(sp)\n	sd x4, 32(sp)\n	sd x5, 40(sp)\n"
    "	sd x6, 48(sp)\n	sd x7, 56(sp)\n	sd x8, 64(sp)\n	sd x9, 72(sp)\n"
    "	sd x10, 80(sp)\n	sd x11, 88(sp)\n	sd x12, 96(sp)\n	sd x13, 104(sp)\n"
    "	sd x14, 112(sp)\n	sd x15, 120(sp)\n	sd x16, 128(sp)\n	sd x17, 136(sp)\n"
    "	sd x18, 144(sp)\n	sd x19, 152(sp)\n	sd x20, 160(sp)\n	sd x21, 168(sp)\n"
    "	sd x22, 176(sp)\n	sd x23, 184(sp)\n	sd x24, 192(sp)\n	sd x25, 200(sp)\n"
    "	sd x26, 208(sp)\n	sd x27, 216(sp)\n	sd x28, 224(sp)\n	sd x29, 232(sp)\n"
    "	sd x30, 240(sp)\n	sd x31, 248(sp)\n"
    "	csrr t0, sscratch\n	sd t0, 16(sp)\n"
    "	csrr t0, sepc\n	sd t0, 0(sp)\n"
    "	csrr t0, scause\n	sd t0, 256(sp)\n"
    "	csrr t0, stval\n	sd t0, 264(sp)\n"
    "	lla t0, ggp\n	ld gp, 0(t0)\n"
    "	mv a0, sp\n"
    "	call fz_trap\n"
    "	ld t0, 0(sp)\n	csrw sepc, t0\n"
    "	addi t0, sp, 8*34\n	csrw sscratch, t0\n"
    "	ld x1, 8(sp)\n	ld x3, 24(sp)\n	ld x4, 32(sp)\n	ld x5, 40(sp)\n"
    "	ld x6, 48(sp)\n	ld x7, 56(sp)\n	ld x8, 64(sp)\n	ld x9, 72(sp)\n"
    "	ld x10, 80(sp)\n	ld x11, 88(sp)\n	ld x12, 96(sp)\n	ld x13, 104(sp)\n"
    "	ld x14, 112(sp)\n	ld x15, 120(sp)\n	ld x16, 128(sp)\n	ld x17, 136(sp)\n"
    "	ld x18, 144(sp)\n	ld x19, 152(sp)\n	ld x20, 160(sp)\n	ld x21, 168(sp)\n"
    "	ld x22, 176(sp)\n	ld x23, 184(sp)\n	ld x24, 192(sp)\n	ld x25, 200(sp)\n"
    "	ld x26, 208(sp)\n	ld x27, 216(sp)\n	ld x28, 224(sp)\n	ld x29, 232(sp)\n"
    "	ld x30, 240(sp)\n	ld x31, 248(sp)\n"
    "	ld x2, 16(sp)\n"
    "	sret\n");

void fz_vector(void);
void fz_trap(u64 *f);

/*
 * A trap: recorded; inside the block, the faulting instruction is skipped;
 * at the block's end mark, or outside the block, or after too many traps,
 * the block ends: its registers are kept and the context saved by
 * fz_exec() is restored.
 */
void fz_trap(u64 *f)
{
	u64 start = (u64)gcode, end = start + 4 * gcmd.nwords;
	u64 epc = f[0], n = gres.ntraps;
	int i;

	if ((long)f[32] < 0) {		/* interrupts are off (sstatus.SIE) */
		gres.nirqs++;
		return;
	}
	/*
	 * The stval of an illegal-instruction trap is not recorded: when one
	 * of QEMU's helpers raises it (mret, for one), QEMU reports the last
	 * instruction bits it saved, which may belong to an earlier trap of
	 * whatever the emulated hart ran (seed 101 case 34: a "sb" where C's
	 * run saw the "mret"). KVM passes the value on as it got it.
	 */
	if (n < MAX_TRAPS) {
		gres.traps[n][0] = f[32];
		gres.traps[n][1] = f[32] == SCAUSE_ILLEGAL ? 0 : f[33];
	}
	gres.ntraps = n + 1;
	if (epc >= start && epc < end && n < 200) {
		f[0] = epc + ((*(volatile u16 *)epc & 3) == 3 ? 4 : 2);
		return;
	}
	if (epc != end)
		gres.escaped = epc | 1;
	/* Back to S mode, whatever a random sret left in sstatus.SPP. */
	csr_set(CSR_SSTATUS, SR_SPP);
	for (i = 1; i < 32; i++)
		gres.regs[i] = f[i];
	f[1] = gctx[0];
	f[2] = gctx[1];
	f[3] = gctx[2];
	f[4] = gctx[3];
	f[8] = gctx[4];
	f[9] = gctx[5];
	for (i = 0; i < 10; i++)
		f[18 + i] = gctx[6 + i];
	f[0] = gctx[16];
}

/* Run the block in gcode with x1..x30 from gcmd.regs (x31: its address). */
static void fz_exec(void)
{
	asm volatile(
		"lla t0, gctx\n"
		"sd ra, 0(t0)\n	sd sp, 8(t0)\n	sd gp, 16(t0)\n	sd tp, 24(t0)\n"
		"sd s0, 32(t0)\n	sd s1, 40(t0)\n	sd s2, 48(t0)\n	sd s3, 56(t0)\n"
		"sd s4, 64(t0)\n	sd s5, 72(t0)\n	sd s6, 80(t0)\n	sd s7, 88(t0)\n"
		"sd s8, 96(t0)\n	sd s9, 104(t0)\n	sd s10, 112(t0)\n	sd s11, 120(t0)\n"
		"lla t1, 1f\n	sd t1, 128(t0)\n"
		"lla t6, gcmd\n	addi t6, t6, 8\n"
		"ld x1, 8(t6)\n	ld x2, 16(t6)\n	ld x3, 24(t6)\n	ld x4, 32(t6)\n"
		"ld x5, 40(t6)\n	ld x6, 48(t6)\n	ld x7, 56(t6)\n	ld x8, 64(t6)\n"
		"ld x9, 72(t6)\n	ld x10, 80(t6)\n	ld x11, 88(t6)\n	ld x12, 96(t6)\n"
		"ld x13, 104(t6)\n	ld x14, 112(t6)\n	ld x15, 120(t6)\n	ld x16, 128(t6)\n"
		"ld x17, 136(t6)\n	ld x18, 144(t6)\n	ld x19, 152(t6)\n	ld x20, 160(t6)\n"
		"ld x21, 168(t6)\n	ld x22, 176(t6)\n	ld x23, 184(t6)\n	ld x24, 192(t6)\n"
		"ld x25, 200(t6)\n	ld x26, 208(t6)\n	ld x27, 216(t6)\n	ld x28, 224(t6)\n"
		"ld x29, 232(t6)\n	ld x30, 240(t6)\n"
		"lla t6, gcode\n"
		"jr t6\n"
		"1:\n"
		: : : "memory", "ra", "t0", "t1", "t2", "t3", "t4", "t5", "t6",
		  "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7");
}

#define SSTATUS_FS_SHIFT	13
#define SSTATUS_VS_SHIFT	9

static void guest_code(void)
{
	struct sbiret r;

	asm volatile("lla t0, ggp\n sd gp, 0(t0)" : : : "t0", "memory");
	csr_write(CSR_STVEC, (unsigned long)fz_vector);
	csr_write(CSR_SSCRATCH, (unsigned long)(gstack + sizeof(gstack)));
	/* Interrupts enabled one by one but not globally: wfi wakes, no trap. */
	csr_write(CSR_SIE, (1UL << 1) | (1UL << 5) | (1UL << 9));
	csr_clear(CSR_SSTATUS, SR_SIE);
	for (;;) {
		GUEST_SYNC(0);
		memset(&gres, 0, sizeof(gres));
		switch (READ_ONCE(gcmd.kind)) {
		case CMD_EXEC:
			csr_clear(CSR_SSTATUS, (3UL << SSTATUS_FS_SHIFT) | (3UL << SSTATUS_VS_SHIFT));
			csr_set(CSR_SSTATUS, (gcmd.fs << SSTATUS_FS_SHIFT) | (gcmd.vs << SSTATUS_VS_SHIFT));
			asm volatile("fence.i" ::: "memory");
			fz_exec();
			break;
		case CMD_ECALL:
			r = sbi_ecall(gcmd.regs[17], gcmd.regs[16], gcmd.regs[10], gcmd.regs[11],
				      gcmd.regs[12], gcmd.regs[13], gcmd.regs[14], gcmd.regs[15]);
			gres.sbi_error = r.error;
			gres.sbi_value = r.value;
			break;
		case CMD_WFI:
			asm volatile("wfi" ::: "memory");
			break;
		default:
			GUEST_DONE();
		}
	}
}

/* ---------------------------------------------------------------------- */
/* Randomness and output.                                                  */

static u64 rs;

static u64 mix(u64 x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static u64 rnd(void)
{
	rs = mix(rs);
	return rs;
}

static u64 below(u64 n)
{
	return n ? rnd() % n : 0;
}

static bool chance(unsigned int pct)
{
	return below(100) < pct;
}

#define PICK(a)	((a)[below(ARRAY_SIZE(a))])

static u64 edge(void)
{
	static const u64 e[] = {
		0, 1, 2, 3, 4, 7, 8, 0xff, 0x100, 0xfff, 0x1000, 0x7fff, 0xffff,
		0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ULL,
		0x7fffffffffffffffULL, 0x8000000000000000ULL, ~0ULL, ~0ULL - 1,
		0x80000000UL, 0x80001000UL, MMIO_GPA, IMSIC_GPA,
	};

	return chance(70) ? PICK(e) : rnd();
}

static FILE *out;
static unsigned long cur_case, nops;
static u64 case_seed;
static int verbose, print_regs;

static void line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static bool racy;		/* a second thread is at work: nothing is compared */

static void line(const char *fmt, ...)
{
	va_list ap;

	if (racy)
		return;
	fprintf(out, "c%lu ", cur_case);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	nops++;
	if (verbose)
		fflush(out);
}

static const char *ename(int rc)
{
	static char s[16];

	if (rc >= 0)
		return "OK";
	switch (errno) {
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case ENXIO: return "ENXIO";
	case E2BIG: return "E2BIG";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EEXIST: return "EEXIST";
	case ENODEV: return "ENODEV";
	case EINVAL: return "EINVAL";
	case ENOTTY: return "ENOTTY";
	case ENOSPC: return "ENOSPC";
	case ERANGE: return "ERANGE";
	case ENOSYS: return "ENOSYS";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case 524: return "ENOTSUPP";
	}
	snprintf(s, sizeof(s), "E%d", errno);
	return s;
}

/* FNV-1a, to print large or many values as one. */
static u64 hash(const void *p, size_t n)
{
	const u8 *b = p;
	u64 h = 0xcbf29ce484222325ULL;

	while (n--)
		h = (h ^ *b++) * 0x100000001b3ULL;
	return h;
}

/* ---------------------------------------------------------------------- */
/* The case's state.                                                       */

static struct kvm_vm *vm;
static struct kvm_vcpu *vcpus[MAX_VCPUS];
static int nvcpus;
static int aia_fd = -1;
static bool stuck;		/* vCPU 0 no longer answers: no more runs */
static unsigned int max_exits = 64;
static u8 *page_ro, *page_none, *page_cross;	/* user buffers for ONE_REG */
static u64 *reg_list[MAX_VCPUS];
static u64 nregs[MAX_VCPUS];

static void run_alarm(int sig)
{
}

/* Arm a one-shot SIGUSR1 after ms milliseconds (0 disarms). */
static timer_t run_timer;
static void arm(unsigned int ms)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L },
	};

	timer_settime(run_timer, 0, &its, NULL);
}

/* ---------------------------------------------------------------------- */
/* ONE_REG.                                                                */

static bool volatile_reg(u64 id)
{
	u64 type = id & KVM_REG_RISCV_TYPE_MASK;
	u64 sub = id & KVM_REG_RISCV_SUBTYPE_MASK;
	u64 idx = id & ~(KVM_REG_ARCH_MASK | KVM_REG_SIZE_MASK | KVM_REG_RISCV_TYPE_MASK |
			 KVM_REG_RISCV_SUBTYPE_MASK);

	if (type == KVM_REG_RISCV_TIMER)
		return idx != KVM_REG_RISCV_TIMER_REG(frequency) - KVM_REG_RISCV_TIMER;
	if (type == KVM_REG_RISCV_CSR && sub == KVM_REG_RISCV_CSR_GENERAL)
		return idx == KVM_REG_RISCV_CSR_REG(sip);
	return false;
}

static void fetch_reg_list(int v)
{
	struct kvm_reg_list probe = { .n = 0 }, *l;

	free(reg_list[v]);
	reg_list[v] = NULL;
	nregs[v] = 0;
	__vcpu_ioctl(vcpus[v], KVM_GET_REG_LIST, &probe);
	if (!probe.n || probe.n > 100000)
		return;
	l = calloc(1, sizeof(*l) + probe.n * sizeof(u64));
	l->n = probe.n;
	if (__vcpu_ioctl(vcpus[v], KVM_GET_REG_LIST, l) == 0) {
		reg_list[v] = malloc(l->n * sizeof(u64));
		memcpy(reg_list[v], l->reg, l->n * sizeof(u64));
		nregs[v] = l->n;
	}
	free(l);
}

static u64 fuzz_reg_id(int v)
{
	u64 id;

	if (!nregs[v] || chance(10))
		return chance(50) ? rnd() : (KVM_REG_RISCV | (rnd() & 0x00ffffffffffffffULL));
	id = reg_list[v][below(nregs[v])];
	switch (below(6)) {
	case 0:
		break;
	case 1:	/* size */
		id = (id & ~KVM_REG_SIZE_MASK) | (below(16) << KVM_REG_SIZE_SHIFT);
		break;
	case 2:	/* type */
		id = (id & ~KVM_REG_RISCV_TYPE_MASK) | (below(16) << KVM_REG_RISCV_TYPE_SHIFT);
		break;
	case 3:	/* subtype */
		id = (id & ~KVM_REG_RISCV_SUBTYPE_MASK) | (below(8) << KVM_REG_RISCV_SUBTYPE_SHIFT);
		break;
	case 4: {	/* index edges */
		static const u64 ix[] = { 0, 1, 31, 32, 63, 64, 127, 0x3f, 0xff, 0xffff };
		u64 m = 0xffff;

		id = (id & ~m) | (chance(50) ? PICK(ix) : ((id & m) + 1));
		break;
	}
	default:	/* another architecture's bits */
		id = (id & ~KVM_REG_ARCH_MASK) | (below(16) << 56);
	}
	return id;
}

static u8 regbuf[4096 + 64] __attribute__((aligned(64)));

static const char *where_name[] = { "buf", "null", "unmapped", "ro", "cross" };

static void *reg_addr(int where, size_t sz)
{
	switch (where) {
	case 1: return NULL;
	case 2: return page_none;
	case 3: return page_ro;
	case 4: return page_cross + 4096 - (sz > 1 ? sz / 2 : 1);
	default: return regbuf;
	}
}

static void op_one_reg(void)
{
	int v = below(nvcpus), where = chance(80) ? 0 : 1 + below(4), rc;
	bool set = chance(40);
	u64 id = fuzz_reg_id(v);
	size_t sz = KVM_REG_SIZE(id);
	struct kvm_one_reg reg = { .id = id };
	u64 val = edge();

	if (sz > 4096)
		sz = 4096;
	reg.addr = (u64)reg_addr(where, sz);
	/* Registers that would only stop vCPU 0's command loop: rarely. */
	if (set && v == 0 && !stuck && ((id & KVM_REG_RISCV_TYPE_MASK) == KVM_REG_RISCV_CORE ||
					(id & KVM_REG_RISCV_TYPE_MASK) == KVM_REG_RISCV_CSR) &&
	    !chance(5))
		v = nvcpus - 1;
	if (set) {
		for (size_t i = 0; i < sz && where == 0; i++)
			regbuf[i] = (u8)(val >> (8 * (i % 8)));
		if (where == 4)
			memset(page_cross + 4096 - (sz > 1 ? sz / 2 : 1), 0x5a, sz > 1 ? sz / 2 : 1);
		rc = __vcpu_ioctl(vcpus[v], KVM_SET_ONE_REG, &reg);
		line("set_one_reg v%d id=0x%llx %s val=0x%llx -> %s", v, (unsigned long long)id,
		     where_name[where], (unsigned long long)val, ename(rc));
		if (rc == 0 && v == 0 && ((id & KVM_REG_RISCV_TYPE_MASK) == KVM_REG_RISCV_CORE ||
					  (id & KVM_REG_RISCV_TYPE_MASK) == KVM_REG_RISCV_CSR))
			stuck = true;	/* the guest's state is now anything */
		if (rc == 0 && ((id & KVM_REG_RISCV_TYPE_MASK) == KVM_REG_RISCV_ISA_EXT ||
				(id & KVM_REG_RISCV_TYPE_MASK) == KVM_REG_RISCV_SBI_EXT))
			fetch_reg_list(v);
		return;
	}
	memset(regbuf, 0, sizeof(regbuf));
	rc = __vcpu_ioctl(vcpus[v], KVM_GET_ONE_REG, &reg);
	/*
	 * vCPU 0 after it stopped answering: where its last run was cut off
	 * (a timer, the exit cap) depends on time, and so do its registers
	 * (seed 3, case 7: sepc 0 or 0xc0228).
	 */
	if (rc == 0 && where == 0 && !racy && !volatile_reg(id) && !(v == 0 && stuck))
		line("get_one_reg v%d id=0x%llx %s -> OK 0x%llx", v, (unsigned long long)id,
		     where_name[where], (unsigned long long)(sz <= 8 ? *(u64 *)regbuf &
					(sz == 8 ? ~0ULL : (1ULL << (8 * sz)) - 1) : hash(regbuf, sz)));
	else
		line("get_one_reg v%d id=0x%llx %s -> %s%s", v, (unsigned long long)id,
		     where_name[where], ename(rc), rc == 0 ? " ?" : "");
}

static void op_reg_list(void)
{
	int v = below(nvcpus), rc;
	u64 exact = nregs[v], n;
	struct kvm_reg_list *l;

	switch (below(6)) {
	case 0: n = 0; break;
	case 1: n = exact ? exact - 1 : 0; break;
	case 2: n = exact; break;
	case 3: n = (1ULL << 32) + below(4); break;
	case 4: n = ~0ULL; break;
	default: n = exact + below(3);
	}
	/* The kernel writes at most the exact count (upstream keeps n's low 32 bits). */
	l = calloc(1, sizeof(*l) + (exact + 8) * sizeof(u64));
	l->n = n;
	rc = __vcpu_ioctl(vcpus[v], KVM_GET_REG_LIST, l);
	line("get_reg_list v%d n=0x%llx -> %s n=%llu list=0x%llx", v, (unsigned long long)n, ename(rc),
	     (unsigned long long)l->n,
	     (unsigned long long)(rc == 0 ? hash(l->reg, l->n * sizeof(u64)) : 0));
	free(l);
}

/* ---------------------------------------------------------------------- */
/* Running vCPU 0.                                                         */

static const char *exit_name(u32 r)
{
	static char s[16];

	switch (r) {
	case KVM_EXIT_MMIO: return "MMIO";
	case KVM_EXIT_RISCV_SBI: return "SBI";
	case KVM_EXIT_RISCV_CSR: return "CSR";
	case KVM_EXIT_SYSTEM_EVENT: return "SYSTEM_EVENT";
	case KVM_EXIT_DEBUG: return "DEBUG";
	case KVM_EXIT_INTR: return "INTR";
	case KVM_EXIT_FAIL_ENTRY: return "FAIL_ENTRY";
	case KVM_EXIT_INTERNAL_ERROR: return "INTERNAL_ERROR";
	case KVM_EXIT_UNKNOWN: return "UNKNOWN";
	}
	snprintf(s, sizeof(s), "exit%u", r);
	return s;
}

/*
 * vCPU 0's registers as the library set them (pc at guest_code, the stack,
 * gp, satp, sstatus, ...), taken before its first run; recover() puts them back after a run
 * that failed (an error, a stop, a timeout) and runs the guest to its first
 * command boundary again, so that one case goes on exercising the guest.
 * At most 3 times a case.
 */
#define NR_CORE	(sizeof(struct kvm_riscv_core) / sizeof(unsigned long))
#define NR_CSR	(sizeof(struct kvm_riscv_csr) / sizeof(unsigned long))
static unsigned long snap[NR_CORE + NR_CSR];

/* The i-th register of the snapshot: the core registers, then the CSRs. */
static u64 snap_id(unsigned int i)
{
	return i < NR_CORE ? RISCV_CORE_REG(regs.pc) + i : RISCV_GENERAL_CSR_REG(sstatus) + i - NR_CORE;
}
static bool have_snap;
static int recoveries;
static bool race_done;		/* the case ends after a race */

static void take_snapshot(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(snap); i++) {
		struct kvm_one_reg r = { .id = snap_id(i), .addr = (u64)&snap[i] };

		if (__vcpu_ioctl(vcpus[0], KVM_GET_ONE_REG, &r))
			return;
	}
	have_snap = true;
}

static bool run_loop(const char *what);

static bool recover(void)
{
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
	unsigned int i;
	int rc = 0;
	bool ok;

	if (!have_snap || recoveries >= 3)
		return false;
	recoveries++;
	rc |= __vcpu_ioctl(vcpus[0], KVM_SET_MP_STATE, &mp);
	for (i = 0; i < ARRAY_SIZE(snap); i++) {
		struct kvm_one_reg r = { .id = snap_id(i), .addr = (u64)&snap[i] };

		rc |= __vcpu_ioctl(vcpus[0], KVM_SET_ONE_REG, &r);
	}
	/* Nothing for KVM_RUN to complete. */
	vcpus[0]->run->exit_reason = KVM_EXIT_UNKNOWN;
	vcpus[0]->run->immediate_exit = 0;
	stuck = false;
	ok = !rc && run_loop("recover");
	line("recover v0 -> %s", ok ? "OK" : "failed");
	stuck = !ok;
	return ok;
}

/*
 * Run vCPU 0 until the guest's next command boundary (its ucall), at most
 * max_exits KVM_RUNs, each under a 2 s timer. Exits to userspace are
 * completed with values from a PRNG of the operation's own (so that the
 * main PRNG does not depend on what the module did), after kvm_run was
 * sometimes corrupted. Returns true at a command boundary.
 */
static bool run_vcpu0(const char *what)
{
	if (stuck && (racy || !recover())) {
		line("run %s skipped (vCPU 0 stopped answering)", what);
		return false;
	}
	return run_loop(what);
}

static bool run_loop(const char *what)
{
	struct kvm_vcpu *vcpu = vcpus[0];
	struct kvm_run *run = vcpu->run;
	u64 ls = rnd(), corrupt = chance(15) ? rnd() : 0;
	unsigned int n;
	int rc;

	for (n = 0; n < max_exits; n++) {
		arm(1000);
		rc = __vcpu_run(vcpu);
		arm(0);
		if (rc < 0) {
			line("run %s #%u -> %s", what, n, ename(rc));
			if (errno != EAGAIN)
				stuck = true;
			return false;
		}
		ls = mix(ls);
		switch (run->exit_reason) {
		case KVM_EXIT_RISCV_SBI:
			if (run->riscv_sbi.extension_id == KVM_RISCV_SELFTESTS_SBI_EXT) {
				if (run->riscv_sbi.function_id == KVM_RISCV_SELFTESTS_SBI_UCALL) {
					struct ucall uc;

					if (get_ucall(vcpu, &uc) == UCALL_SYNC)
						return true;
					line("run %s #%u -> ucall %lu", what, n, (unsigned long)uc.cmd);
					stuck = true;
					return false;
				}
				line("run %s #%u -> unexpected trap in the guest", what, n);
				stuck = true;
				return false;
			}
			line("run %s #%u -> SBI ext=0x%lx fid=0x%lx a0=0x%lx a1=0x%lx a2=0x%lx", what, n,
			     run->riscv_sbi.extension_id, run->riscv_sbi.function_id,
			     run->riscv_sbi.args[0], run->riscv_sbi.args[1], run->riscv_sbi.args[2]);
			run->riscv_sbi.ret[0] = (ls & 1) ? 0 : -(long)(ls % 12);
			run->riscv_sbi.ret[1] = ls >> 8;
			break;
		case KVM_EXIT_MMIO:
			line("run %s #%u -> MMIO addr=0x%llx len=%u w=%u data=0x%llx", what, n,
			     (unsigned long long)run->mmio.phys_addr, run->mmio.len, run->mmio.is_write,
			     run->mmio.is_write ? (unsigned long long)*(u64 *)run->mmio.data &
				(run->mmio.len >= 8 ? ~0ULL : (1ULL << (8 * run->mmio.len)) - 1) : 0ULL);
			if (!run->mmio.is_write)
				memcpy(run->mmio.data, &ls, sizeof(run->mmio.data));
			break;
		case KVM_EXIT_RISCV_CSR:
			line("run %s #%u -> CSR num=0x%lx new=0x%lx mask=0x%lx", what, n,
			     run->riscv_csr.csr_num, run->riscv_csr.new_value, run->riscv_csr.write_mask);
			run->riscv_csr.ret_value = ls;
			break;
		case KVM_EXIT_DEBUG: {
			u64 pc = vcpu_get_reg(vcpu, RISCV_CORE_REG(regs.pc));

			line("run %s #%u -> DEBUG pc=0x%llx", what, n, (unsigned long long)pc);
			vcpu_set_reg(vcpu, RISCV_CORE_REG(regs.pc), pc + 4);
			break;
		}
		case KVM_EXIT_SYSTEM_EVENT:
			line("run %s #%u -> SYSTEM_EVENT type=%u ndata=%u data0=0x%llx", what, n,
			     run->system_event.type, run->system_event.ndata,
			     (unsigned long long)run->system_event.data[0]);
			if (run->system_event.type != KVM_SYSTEM_EVENT_SUSPEND)
				stuck = true;
			return false;
		case KVM_EXIT_INTR:
			line("run %s #%u -> INTR", what, n);
			break;
		default:
			line("run %s #%u -> %s", what, n, exit_name(run->exit_reason));
			stuck = true;
			return false;
		}
		/* Corrupt what the kernel will read back when it completes the exit. */
		if (corrupt && (corrupt >> (n % 32) & 1)) {
			switch ((corrupt >> 40) % 5) {
			case 0: run->exit_reason = (u32)ls; break;
			case 1: run->mmio.is_write ^= 1; break;
			case 2: run->mmio.len = (u32)(ls >> 3); break;
			case 3: run->riscv_sbi.ret[0] = ls; run->riscv_sbi.ret[1] = ~ls; break;
			default: run->immediate_exit = 1; break;
			}
			line("run %s #%u corrupted kvm_run (%llu)", what, n,
			     (unsigned long long)((corrupt >> 40) % 5));
		}
		if (run->immediate_exit && (ls & 3) == 0)
			run->immediate_exit = 0;
	}
	line("run %s: no command boundary after %u exits", what, n);
	stuck = true;
	return false;
}

static void send_cmd(void)
{
	sync_global_to_guest(vm, gcmd);
	sync_global_to_guest(vm, gcode);
}

static void read_res(void)
{
	sync_global_from_guest(vm, gres);
}

/* ---- random code ---- */

static const u16 csr_pool[] = {
	0x001, 0x002, 0x003,		/* fflags, frm, fcsr */
	0x008, 0x009, 0x00a, 0x00f,	/* vstart, vxsat, vxrm, vcsr */
	0x015,				/* seed */
	0x100, 0x104, 0x106, 0x10a, 0x10c,	/* sstatus(R), sie, scounteren, senvcfg, sstateen0 */
	0x140, 0x141, 0x142, 0x143, 0x144,	/* read-only uses below; sip */
	0x14d, 0x150, 0x151, 0x15c,	/* stimecmp, siselect, sireg, stopei */
	0x5a8, 0xda0, 0xdb0,		/* scontext, scountovf, stopi */
	0xc00, 0xc01, 0xc02, 0xc03, 0xc04, 0xc1f, 0xc20, 0xc21, 0xc22,
	0x200, 0x240, 0x280,		/* vsstatus, vsscratch, vsatp */
	0x600, 0x602, 0x603, 0x604, 0x680, 0x645, 0x606, 0x60a, 0x60c, 0x615, 0x618,
	0x300, 0x301, 0x305, 0x340, 0x7a0, 0x7b0, 0x7c0, 0x5c0, 0x9c0, 0xdc0, 0xfc0,
	0x0c0, 0x30a, 0x31a, 0x3a0, 0x3b0,
};

/*
 * CSRs whose value changes with time or interrupts: reads make registers
 * "?". And stval, which after an illegal-instruction trap may hold what
 * the emulated hart ran before (see fz_trap()).
 */
static bool volatile_csr(u32 c)
{
	return c == 0x015 || c == 0x143 || c == 0x144 || c == 0x15c || c == 0xdb0 ||
	       c == 0xda0 || (c >= 0xc00 && c <= 0xc1f);
}

/* CSRs the guest's own trap handling needs: never written by random code. */
static bool guarded_csr(u32 c)
{
	return c == 0x100 || c == 0x105 || c == 0x140 || c == 0x141 || c == 0x142 ||
	       c == 0x143 || c == 0x180 || c == 0x104;
}

static bool code_volatile;
static u64 gpa_of(void *gva);
static bool tainted;	/* guest memory may hold time: blocks are not compared */

static u32 rreg(void)
{
	return below(32);
}

/* Address registers: a0..a7 (x10..x17) hold the interesting addresses. */
static u32 areg(void)
{
	return 10 + below(8);
}

static u32 csr_insn(void)
{
	u32 c = PICK(csr_pool), f3 = 1 + below(7), rd = rreg(), rs1 = rreg();

	if (f3 == 4)
		f3 = 2;
	if (guarded_csr(c) && c != 0x104) {
		/* reads only: csrrs/csrrc with rs1 = x0 */
		f3 = chance(50) ? 2 : 3;
		rs1 = 0;
	}
	if (c == 0x104)
		rs1 = 0, f3 = 2;
	/*
	 * A value that changes with time: mostly read into x0 (KVM's access
	 * path runs all the same), else the block's results are not compared.
	 */
	if (volatile_csr(c) && chance(90))
		rd = 0;
	if (volatile_csr(c) && rd)
		code_volatile = true;
	return (c << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | 0x73;
}

static u32 mem_insn(void)
{
	u32 rs1 = areg(), off = (below(3) == 0) ? below(4096) : below(16);
	u32 f3, rd = rreg();

	switch (below(8)) {
	case 0: case 1: case 2:		/* loads, every width */
		f3 = below(7);
		if (f3 == 7)
			f3 = 3;
		return (off << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | 0x03;
	case 3: case 4:			/* stores */
		f3 = below(4);
		return ((off >> 5) << 25) | (rd << 20) | (rs1 << 15) | (f3 << 12) |
		       ((off & 31) << 7) | 0x23;
	case 5:				/* FP loads and stores */
		f3 = 2 + below(2);
		if (chance(50))
			return (off << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | 0x07;
		return ((off >> 5) << 25) | (rd << 20) | (rs1 << 15) | (f3 << 12) |
		       ((off & 31) << 7) | 0x27;
	case 6:				/* AMOs, LR/SC */
		return (below(32) << 27) | (below(4) << 25) | (rreg() << 20) | (rs1 << 15) |
		       ((2 + below(2)) << 12) | (rd << 7) | 0x2f;
	default:			/* cbo.*, prefetch, fence.i */
		if (chance(30))
			return 0x0000100f;
		return (below(5) << 20) | (rs1 << 15) | (2 << 12) | 0x0f;
	}
}

static u32 system_insn(void)
{
	static const u32 sys[] = {
		0x00d00073,	/* wrs.nto */
		0x01d00073,	/* wrs.sto */
		0x12000073,	/* sfence.vma */
		0x22000073,	/* hfence.vvma */
		0x62000073,	/* hfence.gvma */
		0x16000073,	/* sinval.vma */
		0x18000073,	/* sfence.w.inval */
		0x18100073,	/* sfence.inval.ir */
		0x00100073,	/* ebreak */
		0x30200073,	/* mret */
		0x7b200073,	/* dret */
	};	/* not wfi (CMD_WFI only: it could wait for ever), not sret */
	u32 w = PICK(sys);

	if (chance(40)) {	/* hlv, hlvx, hsv: every width */
		static const u32 h[] = { 0x600, 0x601, 0x640, 0x641, 0x643, 0x680, 0x681,
					 0x6c0, 0x6c3, 0x620, 0x660, 0x6a0, 0x6e0 };
		u32 f7rs2 = PICK(h);

		return (f7rs2 << 20) | (areg() << 15) | (4 << 12) | (rreg() << 7) | 0x73;
	}
	return w;
}

static u32 sanitize32(u32 w)
{
	u32 op;

	w |= 3;
	op = w & 0x7f;
	switch (op) {
	case 0x63: case 0x6f: case 0x67:
		return 0x00000013;
	case 0x73:
		if (((w >> 12) & 7) == 0)
			return system_insn();
		if (((w >> 12) & 7) == 4)
			return w;
		return csr_insn();
	}
	return w;
}

static u16 sanitize16(u16 h)
{
	u32 q = h & 3, f3 = h >> 13;

	if (q == 3)
		return 0x0001;
	if (q == 1 && f3 >= 5)			/* c.j, c.beqz, c.bnez */
		return 0x0001;
	if (q == 2 && f3 == 4 && ((h >> 2) & 31) == 0)	/* c.jr, c.jalr, c.ebreak */
		return 0x0001;
	return h;
}

static u32 gen_insn(void)
{
	switch (below(20)) {
	case 0: case 1: case 2: case 3: case 4:
		return sanitize32(rnd());
	case 5: case 6: case 7:
		return sanitize16(rnd()) | ((u32)sanitize16(rnd() >> 16) << 16);
	case 8: case 9: case 10: case 11:
		return csr_insn();
	case 12: case 13: case 14: case 15: case 16:
		return mem_insn();
	case 17:
		return system_insn();
	case 18: {	/* compressed loads and stores (x8..x12 as the base) */
		u32 f3 = below(2) ? 2 + below(2) : 6 + below(2);
		u32 c = (f3 << 13) | (below(8) << 10) | ((below(5)) << 7) | (below(4) << 5) |
			(below(8) << 2);

		return sanitize16(c) | (0x0001u << 16);
	}
	default:	/* vector configuration and a unit-stride load/store */
		if (chance(50))
			return (below(0x400) << 20) | (rreg() << 15) | (7 << 12) | (rreg() << 7) | 0x57;
		return (areg() << 15) | (below(8) << 12) | (rreg() << 7) |
		       (chance(50) ? 0x07 : 0x27) | (1u << 25);
	}
}

static u64 gva_top, gva_imsic, gva_mmio, gva_slot;

static u64 addr_value(void)
{
	u64 data = (u64)gdata;

	switch (below(10)) {
	case 0: return data + below(64) * 8;			/* backed, aligned */
	case 1: return data + 4096 - 4 + below(8);		/* misaligned, page-crossing */
	case 2: return gva_mmio + below(32) * 8;		/* unbacked: MMIO exits */
	case 3: return gva_mmio + 1 + below(7);			/* unbacked, misaligned */
	case 4: return gva_imsic + (chance(50) ? 0 : 4 * below(4));	/* IMSIC page */
	case 5: return gva_top + 4096 - 8 * (1 + below(2));	/* top of GPA space */
	case 6: return gva_slot + below(4096);			/* a fuzzed memslot */
	case 7: return (u64)gcode + 4 * below(CODE_WORDS);	/* self-modifying */
	case 8: return edge();					/* anything */
	default: return WIN_GVA + 0x100000 + below(1 << 20);	/* unmapped */
	}
}

static void op_exec(void)
{
	unsigned int n = 1 + below(CODE_WORDS), i;
	static u32 sent[CODE_WORDS + 2], modified[CODE_WORDS + 2];
	bool smc;

	code_volatile = false;
	memset(&gcmd, 0, sizeof(gcmd));
	gcmd.kind = CMD_EXEC;
	gcmd.nwords = n;
	gcmd.fs = below(4);
	gcmd.vs = below(4);
	for (i = 1; i < 31; i++)
		gcmd.regs[i] = (i >= 10 && i <= 17) ? addr_value() : edge();
	gcmd.regs[2] = addr_value();	/* sp: c.*sp loads and stores */
	for (i = 0; i < n; i++) {
		if (i + 4 <= n && chance(3)) {
			/* sret to the next instruction (sepc is not written otherwise) */
			gcode[i++] = 0x00000297;	/* auipc t0, 0 */
			gcode[i++] = 0x01028293;	/* addi t0, t0, 16 */
			gcode[i++] = 0x14129073;	/* csrw sepc, t0 */
			gcode[i] = 0x10200073;		/* sret */
			continue;
		}
		gcode[i] = gen_insn();
	}
	gcode[n] = 0;			/* the end mark: illegal */
	gcode[n + 1] = 0;
	send_cmd();
	memcpy(sent, gcode, sizeof(sent));
	if (!run_vcpu0("exec"))
		return;
	/* What it stored may hold time too: later blocks are not compared. */
	if (code_volatile)
		tainted = true;
	/*
	 * A block that stored into its own code and may then run it: without a
	 * fence.i whether the hart fetches the old or the new word is
	 * unspecified (QEMU: whether the word was in the translation block
	 * being run, which depends on the history of its code cache).
	 */
	sync_global_from_guest(vm, gcode);
	memcpy(modified, gcode, sizeof(modified));
	smc = memcmp(sent, modified, 4 * (n + 2)) != 0;
	memcpy(gcode, sent, sizeof(sent));
	if (tainted || smc) {
		line("exec n=%u fs=%llu vs=%llu code=0x%llx -> ? (%s)", n,
		     (unsigned long long)gcmd.fs, (unsigned long long)gcmd.vs,
		     (unsigned long long)hash(gcode, 4 * n),
		     tainted ? "time in guest memory" : "self-modified");
	} else {
		read_res();
		line("exec n=%u fs=%llu vs=%llu code=0x%llx -> traps=%llu irqs=%llu escaped=0x%llx "
		     "log=0x%llx regs=%s%llx", n, (unsigned long long)gcmd.fs,
		     (unsigned long long)gcmd.vs, (unsigned long long)hash(gcode, 4 * n),
		     (unsigned long long)gres.ntraps, (unsigned long long)gres.nirqs,
		     (unsigned long long)gres.escaped,
		     (unsigned long long)hash(gres.traps, sizeof(gres.traps)),
		     code_volatile ? "?" : "0x",
		     code_volatile ? 0ULL : (unsigned long long)hash(gres.regs, sizeof(gres.regs)));
	}
	if (print_regs) {
		read_res();
		for (i = 0; i < n; i++)
			fprintf(out, "  code[%u] %08x%s\n", i, gcode[i],
				smc && gcode[i] != modified[i] ? " (modified)" : "");
		for (i = 1; i < 32; i++)
			fprintf(out, "  x%u in=0x%llx out=0x%llx\n", i, (unsigned long long)gcmd.regs[i],
				(unsigned long long)gres.regs[i]);
		for (i = 0; i < MAX_TRAPS && i < gres.ntraps; i++)
			fprintf(out, "  trap %llx %llx\n", (unsigned long long)gres.traps[i][0],
				(unsigned long long)gres.traps[i][1]);
	}
}

static void do_ecall(u64 ext, u64 fid, const u64 *a, bool value_is_volatile)
{
	int i;

	memset(&gcmd, 0, sizeof(gcmd));
	gcmd.kind = CMD_ECALL;
	gcmd.regs[17] = ext;
	gcmd.regs[16] = fid;
	for (i = 0; i < 6; i++)
		gcmd.regs[10 + i] = a[i];
	send_cmd();
	if (run_vcpu0("ecall")) {
		read_res();
		/*
		 * KVM now writes time (steal time, counter snapshots) at a[0]:
		 * outside gsta, memory the guest may read (an aliased memslot),
		 * so what the guest computes is no longer compared.
		 */
		if (gres.sbi_error == 0 && ((ext == SBI_EXT_STA && fid == 0) ||
					    (ext == SBI_EXT_PMU && fid == 7)) &&
		    a[0] != ~0ULL && (a[0] < gpa_of(gsta) || a[0] >= gpa_of(gsta) + sizeof(gsta)))
			tainted = true;
		line("ecall ext=0x%llx fid=0x%llx a0=0x%llx a1=0x%llx a2=0x%llx a3=0x%llx -> error=%lld value=%s%llx",
		     (unsigned long long)ext, (unsigned long long)fid, (unsigned long long)a[0],
		     (unsigned long long)a[1], (unsigned long long)a[2], (unsigned long long)a[3],
		     (long long)gres.sbi_error, value_is_volatile || racy ? "?" : "0x",
		     value_is_volatile || racy ? 0ULL : (unsigned long long)gres.sbi_value);
	}
}

static const u64 sbi_exts[] = {
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9,		/* v0.1 */
	SBI_EXT_BASE, EXT_TIME, EXT_IPI, EXT_RFENCE, EXT_HSM, EXT_SRST,
	EXT_SUSP, SBI_EXT_PMU, EXT_DBCN, SBI_EXT_STA, EXT_FWFT, EXT_MPXY,
	EXT_NACL, EXT_DBTR, SBI_EXT_EXPERIMENTAL_START, SBI_EXT_EXPERIMENTAL_START + 1,
	EXT_VENDOR_START, EXT_VENDOR_END, 0x0a000000, 0xffffffff,
};

/* Calls that end vCPU 0's command loop for good (stop, shutdown, reset). */
static bool fatal_call(u64 ext, u64 fid, const u64 *a)
{
	if (ext == 8)			/* v0.1 shutdown */
		return true;
	if (ext == EXT_HSM && fid == 1)
		return true;
	if (ext == EXT_HSM && fid == 3 && (a[0] & 0x80000000))
		return true;	/* non-retentive suspend: resumes without paging */
	if (ext == EXT_SRST && fid == 0)
		return true;
	if (ext == EXT_SUSP)
		return true;
	return false;
}

/* gpa of a guest global. */
static u64 gpa_of(void *gva)
{
	return addr_gva2gpa(vm, (gva_t)gva);
}

static u64 sbi_arg(void)
{
	switch (below(6)) {
	case 0: return gpa_of(gsta) + (chance(70) ? 0 : below(128));
	case 1: return gpa_of(gsta) + 4096 - below(16);
	case 2: return below(4);
	case 3: return MMIO_GPA;
	default: return edge();
	}
}

static void op_ecall(void)
{
	u64 ext = PICK(sbi_exts), fid = chance(80) ? below(10) : edge(), a[6];
	bool vol;
	int i;

	for (i = 0; i < 6; i++)
		a[i] = sbi_arg();
	if (fatal_call(ext, fid, a) && !chance(10))
		fid = 2;	/* HSM status, SRST/SUSP unknown functions, ... */
	if (ext == EXT_HSM && fid == 3)
		a[0] &= 0x7fffffff;
	/* Counter values, mvendorid and friends of the base: depend on the host. */
	vol = ext == SBI_EXT_PMU && (fid == 5 || fid == 6);
	do_ecall(ext, fid, a, vol);
}

/* Delicate sequences, step by step. */
static void op_sbi_script(void)
{
	u64 a[6] = { 0 };
	u64 sta = gpa_of(gsta);

	switch (below(7)) {
	case 0:	/* PMU: snapshot, SKIP_MATCH, counters started and stopped */
		a[0] = chance(80) ? sta : edge();
		a[1] = 0;
		a[2] = chance(90) ? 0 : edge();
		do_ecall(SBI_EXT_PMU, 7, a, false);		/* snapshot_set_shmem */
		a[0] = 0; a[1] = ~0ULL; a[2] = below(8);
		a[3] = chance(50) ? 0x10000 + below(22) : (chance(50) ? 1 + below(10) : edge());
		a[4] = 0;
		do_ecall(SBI_EXT_PMU, 2, a, false);		/* cfg_match */
		a[0] = below(4); a[1] = ~0ULL >> below(64); a[2] = below(4); a[3] = edge();
		do_ecall(SBI_EXT_PMU, 2, a, false);		/* cfg_match, SKIP_MATCH maybe */
		a[0] = 0; a[1] = ~0ULL; a[2] = below(4); a[3] = edge();
		do_ecall(SBI_EXT_PMU, 3, a, false);		/* start */
		a[2] = below(4);
		do_ecall(SBI_EXT_PMU, 4, a, false);		/* stop */
		a[0] = ~0ULL; a[1] = ~0ULL; a[2] = 0;
		do_ecall(SBI_EXT_PMU, 7, a, false);		/* snapshot off */
		break;
	case 1:	/* PMU: EVENT_GET_INFO with a large count */
		a[0] = chance(70) ? sta : edge();
		a[1] = 0;
		a[2] = PICK(((u64[]){ 0, 1, 64, 255, 256, 4096, 0x100000, ~0ULL }));
		a[3] = chance(90) ? 0 : edge();
		do_ecall(SBI_EXT_PMU, 8, a, false);
		break;
	case 2: {	/* STA, then its memory made read-only or inaccessible */
		u8 *hva = addr_gva2hva(vm, (gva_t)gsta);

		/* gsta is page aligned, and so is its host address */
		int prot = chance(50) ? PROT_READ : PROT_NONE;

		a[0] = sta + (chance(80) ? 0 : 8 * below(16));
		a[1] = 0;
		a[2] = 0;
		do_ecall(SBI_EXT_STA, 0, a, false);
		line("mprotect sta %s -> %s", prot == PROT_NONE ? "none" : "ro",
		     ename(mprotect(hva, 4096, prot)));
		{
			u64 b[6] = { 0 };

			do_ecall(SBI_EXT_BASE, 3, b, false);	/* a KVM_RUN that records steal time */
		}
		line("mprotect sta rw -> %s", ename(mprotect(hva, 4096, PROT_READ | PROT_WRITE)));
		a[0] = ~0ULL; a[1] = ~0ULL;
		do_ecall(SBI_EXT_STA, 0, a, false);
		break;
	}
	case 3:	/* HSM: status of every id, start bad and good, retentive suspend */
		if (nvcpus > 1 && chance(50)) {
			struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_STOPPED };

			line("set_mp_state v1 stopped -> %s",
			     ename(__vcpu_ioctl(vcpus[1], KVM_SET_MP_STATE, &mp)));
		}
		for (int i = 0; i < nvcpus + 1; i++) {
			a[0] = i;
			do_ecall(EXT_HSM, 2, a, false);
		}
		a[0] = below(nvcpus + 2); a[1] = chance(50) ? gpa_of(gcode) : edge(); a[2] = edge();
		do_ecall(EXT_HSM, 0, a, false);
		if (chance(50)) {
			struct kvm_interrupt irq = { .irq = KVM_INTERRUPT_SET };

			line("interrupt v0 set -> %s", ename(__vcpu_ioctl(vcpus[0], KVM_INTERRUPT, &irq)));
			a[0] = chance(80) ? 0 : 0x10000000 + below(4);
			a[1] = 0; a[2] = 0;
			do_ecall(EXT_HSM, 3, a, false);
			irq.irq = KVM_INTERRUPT_UNSET;
			line("interrupt v0 unset -> %s", ename(__vcpu_ioctl(vcpus[0], KVM_INTERRUPT, &irq)));
		}
		break;
	case 6: {	/* SUSP: the other vCPUs stopped (or not), then system suspend */
		struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_STOPPED };

		for (int i = 1; i < nvcpus; i++)
			if (chance(80))
				line("set_mp_state v%d stopped -> %s", i,
				     ename(__vcpu_ioctl(vcpus[i], KVM_SET_MP_STATE, &mp)));
		a[0] = chance(80) ? 0 : edge();			/* sleep type */
		a[1] = chance(80) ? gpa_of(gcode) : edge();	/* resume address */
		a[2] = edge();					/* opaque */
		do_ecall(EXT_SUSP, chance(90) ? 0 : below(4), a, false);
		/* Resumed, the guest runs at the resume address without paging. */
		stuck = true;
		break;
	}
	case 4:	/* DBCN: enabled through ONE_REG, then writes */
		{
			struct kvm_one_reg r = { .id = RISCV_SBI_EXT_REG(KVM_RISCV_SBI_EXT_DBCN),
						 .addr = (u64)regbuf };

			*(u64 *)regbuf = 1;
			line("enable dbcn -> %s", ename(__vcpu_ioctl(vcpus[0], KVM_SET_ONE_REG, &r)));
		}
		a[0] = PICK(((u64[]){ 0, 1, 16, 4096, 8192, ~0ULL }));
		a[1] = chance(70) ? gpa_of(gdata) + 4096 - below(32) : edge();
		a[2] = chance(80) ? 0 : edge();
		do_ecall(EXT_DBCN, below(3), a, false);
		break;
	default:	/* FWFT: set, get, lock, and a misaligned load after */
		a[0] = PICK(((u64[]){ 0, 1, 2, 3, 4, 5, 6, 0x3fffffff, 0x40000000, 0x80000000, ~0ULL }));
		a[1] = chance(70) ? below(2) : edge();
		a[2] = PICK(((u64[]){ 0, 0, 1, 2, ~0ULL }));
		do_ecall(EXT_FWFT, 0, a, false);
		do_ecall(EXT_FWFT, 1, a, false);
		break;
	}
}

/* ---------------------------------------------------------------------- */
/* vCPU and VM ioctls.                                                     */

static void op_mp_state(void)
{
	int v = below(nvcpus), rc;
	struct kvm_mp_state mp = { .mp_state = chance(80) ? below(10) : (u32)edge() };

	if (chance(50)) {
		if (v == 0 && mp.mp_state != KVM_MP_STATE_RUNNABLE && !chance(10))
			v = nvcpus - 1;
		rc = __vcpu_ioctl(vcpus[v], KVM_SET_MP_STATE, &mp);
		line("set_mp_state v%d %u -> %s", v, mp.mp_state, ename(rc));
		if (rc == 0 && v == 0 && mp.mp_state != KVM_MP_STATE_RUNNABLE)
			stuck = true;
	} else {
		mp.mp_state = ~0U;
		rc = __vcpu_ioctl(vcpus[v], KVM_GET_MP_STATE, &mp);
		line("get_mp_state v%d -> %s %u", v, ename(rc), rc ? 0 : mp.mp_state);
	}
}

static void op_interrupt(void)
{
	static const u32 irqs[] = { KVM_INTERRUPT_SET, KVM_INTERRUPT_UNSET, 0, 1, 5, 9, 0x80000000 };
	int v = below(nvcpus);
	struct kvm_interrupt irq = { .irq = chance(80) ? PICK(irqs) : (u32)rnd() };

	line("interrupt v%d 0x%x -> %s", v, irq.irq, ename(__vcpu_ioctl(vcpus[v], KVM_INTERRUPT, &irq)));
}

static void op_guest_debug(void)
{
	struct kvm_guest_debug dbg = { 0 };
	static const u32 ctl[] = { 0, KVM_GUESTDBG_ENABLE, KVM_GUESTDBG_ENABLE | 0x10000,
				   0x10000, KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP,
				   0xffffffff };

	dbg.control = chance(90) ? PICK(ctl) : (u32)rnd();
	line("guest_debug v0 0x%x -> %s", dbg.control,
	     ename(__vcpu_ioctl(vcpus[0], KVM_SET_GUEST_DEBUG, &dbg)));
}

static void op_stats(void)
{
	int v = below(nvcpus + 1), fd;
	struct kvm_stats_header h;
	char *names = NULL;
	ssize_t r;

	fd = v == nvcpus ? __vm_ioctl(vm, KVM_GET_STATS_FD, NULL) :
			   __vcpu_ioctl(vcpus[v], KVM_GET_STATS_FD, NULL);
	if (fd < 0) {
		line("stats_fd %s%d -> %s", v == nvcpus ? "vm" : "v", v, ename(fd));
		return;
	}
	r = pread(fd, &h, sizeof(h), 0);
	if (r == sizeof(h) && h.num_desc < 1000) {
		size_t dsz = sizeof(struct kvm_stats_desc) + h.name_size;

		names = calloc(h.num_desc, dsz);
		r = pread(fd, names, h.num_desc * dsz, h.desc_offset);
		/* The descriptors are the ABI; the values are time. */
		line("stats_fd %s%d -> OK num_desc=%u name_size=%u descs=0x%llx read_past_end=%zd",
		     v == nvcpus ? "vm" : "v", v, h.num_desc, h.name_size,
		     (unsigned long long)hash(names, h.num_desc * dsz),
		     pread(fd, &h, sizeof(h), 1 << 20));
		free(names);
	} else {
		line("stats_fd %s%d -> OK header read %zd", v == nvcpus ? "vm" : "v", v, r);
	}
	close(fd);
}

static void op_immediate_exit(void)
{
	struct kvm_run *run = vcpus[0]->run;
	int rc;

	if (stuck) {
		line("immediate_exit skipped");
		return;
	}
	run->immediate_exit = 1;
	rc = __vcpu_run(vcpus[0]);
	run->immediate_exit = 0;
	line("immediate_exit v0 -> %s reason=%s", ename(rc), exit_name(run->exit_reason));
}

static void op_check_cap(void)
{
	u64 cap = chance(70) ? below(250) : edge();
	struct kvm_enable_cap ec = { .cap = (u32)cap };
	int rc;

	if (chance(60)) {
		rc = __vm_ioctl(vm, KVM_CHECK_EXTENSION, (void *)cap);
		line("check_extension 0x%llx -> %s %d", (unsigned long long)cap, ename(rc), rc < 0 ? 0 : rc);
		return;
	}
	ec.args[0] = chance(50) ? below(4) : edge();
	ec.args[1] = edge();
	ec.flags = chance(90) ? 0 : (u32)rnd();
	if (chance(50)) {
		rc = __vm_ioctl(vm, KVM_ENABLE_CAP, &ec);
		line("enable_cap vm %u 0x%llx flags=0x%x -> %s", ec.cap, (unsigned long long)ec.args[0],
		     ec.flags, ename(rc));
	} else {
		int v = below(nvcpus);

		rc = __vcpu_ioctl(vcpus[v], KVM_ENABLE_CAP, &ec);
		line("enable_cap v%d %u 0x%llx -> %s", v, ec.cap, (unsigned long long)ec.args[0], ename(rc));
	}
}

static void op_create_vcpu(void)
{
	static const u64 ids[] = { 0, 1, 2, 3, 4, 7, 1023, 1024, 4095, 4096, 0x7fffffff, ~0ULL };
	u64 id = chance(80) ? PICK(ids) : edge();
	int fd = __vm_ioctl(vm, KVM_CREATE_VCPU, (void *)id);

	line("create_vcpu id=0x%llx -> %s", (unsigned long long)id, ename(fd));
	if (fd >= 0)
		close(fd);
}

static void op_close_early(void)
{
	int v = 1 + below(MAX_VCPUS);

	if (v >= nvcpus || chance(30)) {
		/* The VM fd: the vCPUs keep the VM alive; VM ioctls now fail. */
		line("close vm fd -> %s", ename(close(vm->fd)));
		vm->fd = open("/dev/null", O_RDONLY);
		return;
	}
	line("close v%d fd -> %s", v, ename(close(vcpus[v]->fd)));
	vcpus[v]->fd = open("/dev/null", O_RDONLY);
}

/* ---------------------------------------------------------------------- */
/* Memslots.                                                               */

static u8 *backing;
#define BACKING_SIZE	(4UL << 20)

static void op_memslot(void)
{
	struct kvm_userspace_memory_region2 r = { 0 };
	static const u32 slots[] = { 1, 2, 3, 4, 5, 31, 511, 512, 32767, 0x10001, 0xffff };
	static const u64 sizes[] = { 0, 4096, 8192, 0x1234, 1 << 20, 2 << 20, 4096 + 1, 1ULL << 40 };
	u64 top = 1ULL << vm->pa_bits;
	int rc;

	r.slot = chance(95) ? PICK(slots) : (chance(50) ? 0 : (u32)rnd());
	r.flags = chance(70) ? (u32)below(4) : (u32)rnd();
	r.flags &= ~KVM_MEM_GUEST_MEMFD;
	r.memory_size = PICK(sizes);
	switch (below(7)) {
	case 0: r.guest_phys_addr = MMIO_GPA; break;
	case 1: r.guest_phys_addr = 0x40000000 + below(4) * 0x100000; break;
	case 2: r.guest_phys_addr = 0x40000000 + 0x123; break;
	case 3: r.guest_phys_addr = gpa_of(gdata) & ~0xfffULL; break;	/* overlaps slot 0 */
	case 4: r.guest_phys_addr = top - (r.memory_size ? r.memory_size : 4096); break;
	case 5: r.guest_phys_addr = top; break;
	default: r.guest_phys_addr = edge() & ~0xfffULL;
	}
	switch (below(7)) {
	case 0: r.userspace_addr = 0; break;
	case 1: r.userspace_addr = (u64)page_none; break;
	case 2: r.userspace_addr = (u64)page_ro; break;
	case 3: r.userspace_addr = (u64)backing + 1; break;
	case 4: r.userspace_addr = 0xffffffc000000000ULL; break;
	default: r.userspace_addr = (u64)backing + below(4) * 4096;
	}
	if (r.memory_size > BACKING_SIZE && r.userspace_addr >= (u64)backing &&
	    r.userspace_addr < (u64)backing + BACKING_SIZE && chance(80))
		r.memory_size = 4096;
	if (chance(50)) {
		struct kvm_userspace_memory_region r1 = {
			.slot = r.slot, .flags = r.flags, .guest_phys_addr = r.guest_phys_addr,
			.memory_size = r.memory_size, .userspace_addr = r.userspace_addr,
		};

		rc = __vm_ioctl(vm, KVM_SET_USER_MEMORY_REGION, &r1);
	} else {
		rc = __vm_ioctl(vm, KVM_SET_USER_MEMORY_REGION2, &r);
	}
	line("memslot slot=0x%x flags=0x%x gpa=0x%llx size=0x%llx uaddr=%s -> %s", r.slot, r.flags,
	     (unsigned long long)r.guest_phys_addr, (unsigned long long)r.memory_size,
	     r.userspace_addr == 0 ? "null" : r.userspace_addr == (u64)page_none ? "none" :
	     r.userspace_addr == (u64)page_ro ? "ro" : r.userspace_addr == (u64)backing + 1 ? "unaligned" :
	     r.userspace_addr >= (u64)backing && r.userspace_addr < (u64)backing + BACKING_SIZE ?
	     "anon" : "kernel", ename(rc));
	if (rc == 0 && r.slot == 0)
		stuck = true;
	if (chance(40)) {
		static u8 bitmap[(BACKING_SIZE >> 12) / 8 + 4096];
		struct kvm_dirty_log dl = { .slot = r.slot, .dirty_bitmap = chance(80) ? bitmap : NULL };

		rc = __vm_ioctl(vm, KVM_GET_DIRTY_LOG, &dl);
		line("get_dirty_log slot=0x%x -> %s", r.slot, ename(rc));
	}
}

/* A second thread issuing ioctls while vCPU 0 runs its command. */
struct racer {
	int kind;
	u64 seed;
	unsigned int n;
};

static void *racer_fn(void *p)
{
	struct racer *rc = p;
	u64 s = rc->seed;
	unsigned int i;

	for (i = 0; i < 40; i++) {
		s = mix(s);
		switch (rc->kind) {
		case 0: {
			struct kvm_one_reg r = { .id = RISCV_CORE_REG(regs.pc), .addr = (u64)&s };

			ioctl(vcpus[s % nvcpus]->fd, KVM_GET_ONE_REG, &r);
			break;
		}
		case 1: {
			struct kvm_mp_state mp;

			ioctl(vcpus[s % nvcpus]->fd, KVM_GET_MP_STATE, &mp);
			break;
		}
		case 2: {
			struct kvm_interrupt irq = { .irq = (s & 1) ? KVM_INTERRUPT_SET : KVM_INTERRUPT_UNSET };

			ioctl(vcpus[0]->fd, KVM_INTERRUPT, &irq);
			break;
		}
		default: {	/* a slot over the MMIO window, added, moved, deleted */
			struct kvm_userspace_memory_region r = {
				.slot = 7, .guest_phys_addr = (s & 2) ? MMIO_GPA : MMIO_GPA + 0x100000,
				.memory_size = (s & 1) ? 0x2000 : 0,
				.userspace_addr = (u64)backing + 0x200000,
				.flags = (s & 4) ? KVM_MEM_LOG_DIRTY_PAGES : 0,
			};

			ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &r);
			break;
		}
		}
		rc->n++;
	}
	return NULL;
}

static void op_race(void)
{
	struct racer r = { .kind = below(4), .seed = rnd() };
	pthread_t t;

	racy = true;
	pthread_create(&t, NULL, racer_fn, &r);
	if (chance(70))
		op_exec();
	else
		op_one_reg();
	pthread_join(t, NULL);
	line("race kind=%d ops=%u", r.kind, r.n);
	racy = false;
	/*
	 * Where the race left the VM is not compared, and cannot be: vCPU 0's
	 * registers and the guest's memory depend on how far its run went.
	 * The race ends the case (after cleaning up what it added).
	 */
	if (r.kind == 3) {
		struct kvm_userspace_memory_region d = { .slot = 7 };

		ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &d);
	}
	if (r.kind == 2) {
		struct kvm_interrupt irq = { .irq = KVM_INTERRUPT_UNSET };

		ioctl(vcpus[0]->fd, KVM_INTERRUPT, &irq);
	}
	stuck = true;
	race_done = true;
}

static void op_wfi(void)
{
	struct kvm_interrupt irq = { .irq = KVM_INTERRUPT_SET };
	int rc = __vcpu_ioctl(vcpus[0], KVM_INTERRUPT, &irq);

	line("wfi: interrupt v0 set -> %s", ename(rc));
	memset(&gcmd, 0, sizeof(gcmd));
	gcmd.kind = CMD_WFI;
	send_cmd();
	if (run_vcpu0("wfi"))
		line("wfi -> woke");
	irq.irq = KVM_INTERRUPT_UNSET;
	line("wfi: interrupt v0 unset -> %s", ename(__vcpu_ioctl(vcpus[0], KVM_INTERRUPT, &irq)));
}

/* ---------------------------------------------------------------------- */
/* The AIA device.                                                         */

static int aia_attr(int op, u32 group, u64 attr, u64 *val)
{
	struct kvm_device_attr a = { .group = group, .attr = attr, .addr = (u64)val };
	static const unsigned long req[] = { KVM_SET_DEVICE_ATTR, KVM_GET_DEVICE_ATTR, KVM_HAS_DEVICE_ATTR };

	return ioctl(aia_fd, req[op], &a);
}

static void op_aia_create(void)
{
	struct kvm_create_device cd = { .type = KVM_DEV_TYPE_RISCV_AIA,
					.flags = chance(20) ? KVM_CREATE_DEVICE_TEST : 0 };
	int rc;

	if (chance(10))
		cd.type = (u32)rnd();
	rc = __vm_ioctl(vm, KVM_CREATE_DEVICE, &cd);
	line("aia create type=0x%x flags=%u -> %s", cd.type, cd.flags, ename(rc));
	if (rc == 0 && !(cd.flags & KVM_CREATE_DEVICE_TEST) && aia_fd < 0)
		aia_fd = cd.fd;
	else if (rc == 0 && !(cd.flags & KVM_CREATE_DEVICE_TEST))
		close(cd.fd);
}

/* The setup QEMU does, with a value fuzzed now and then. */
static void op_aia_setup(void)
{
	u64 v;
	int i, rc;

	if (aia_fd < 0)
		op_aia_create();
	if (aia_fd < 0)
		return;
	v = chance(80) ? below(3) : edge();
	rc = aia_attr(0, KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_MODE, &v);
	line("aia mode %llu -> %s", (unsigned long long)v, ename(rc));
	v = chance(80) ? 255 : edge();
	line("aia ids %llu -> %s", (unsigned long long)v,
	     ename(aia_attr(0, KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_IDS, &v)));
	v = chance(80) ? 32 : edge();
	line("aia srcs %llu -> %s", (unsigned long long)v,
	     ename(aia_attr(0, KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_SRCS, &v)));
	v = chance(80) ? 2 : edge();
	line("aia hart_bits %llu -> %s", (unsigned long long)v,
	     ename(aia_attr(0, KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_HART_BITS, &v)));
	v = chance(80) ? APLIC_GPA : edge();
	line("aia aplic addr 0x%llx -> %s", (unsigned long long)v,
	     ename(aia_attr(0, KVM_DEV_RISCV_AIA_GRP_ADDR, KVM_DEV_RISCV_AIA_ADDR_APLIC, &v)));
	for (i = 0; i < nvcpus; i++) {
		v = chance(90) ? IMSIC_GPA + i * 0x1000 : edge();
		line("aia imsic%d addr 0x%llx -> %s", i, (unsigned long long)v,
		     ename(aia_attr(0, KVM_DEV_RISCV_AIA_GRP_ADDR, KVM_DEV_RISCV_AIA_ADDR_IMSIC(i), &v)));
	}
	for (i = 0; i < (chance(20) ? 2 : 1); i++) {
		v = 0;
		line("aia init -> %s", ename(aia_attr(0, KVM_DEV_RISCV_AIA_GRP_CTRL,
						     KVM_DEV_RISCV_AIA_CTRL_INIT, &v)));
	}
}

static void op_aia(void)
{
	static u64 val;
	int rc;

	if (aia_fd < 0 || chance(10)) {
		op_aia_setup();
		return;
	}
	switch (below(5)) {
	case 0: case 1: {	/* any attribute */
		u32 group = chance(90) ? below(6) : (u32)rnd();
		u64 attr = chance(80) ? below(group == 3 || group == 4 ? 0x4000 : 12) : edge();
		int op = below(3);

		if (group == 4 && chance(70))	/* IMSIC: (vcpu << 12) | isel */
			attr = (below(nvcpus + 1) << 12) | PICK(((u64[]){ 0x70, 0x72, 0x80, 0x81, 0xc0, 0xff, 0x100 }));
		bool null = chance(5);

		val = edge();
		line("aia %s group=%u attr=0x%llx val=%s -> %s", op == 0 ? "set" : op == 1 ? "get" : "has",
		     group, (unsigned long long)attr, null ? "null" : "buf",
		     ename(aia_attr(op, group, attr, null ? NULL : &val)));
		if (op == 1 && !null)
			line("aia get value 0x%llx", (unsigned long long)val);
		break;
	}
	case 2: {
		struct kvm_irq_level l = { .irq = chance(80) ? below(40) : (u32)rnd(), .level = below(3) };

		rc = __vm_ioctl(vm, KVM_IRQ_LINE, &l);
		line("irq_line %u %u -> %s", l.irq, l.level, ename(rc));
		break;
	}
	case 3: {
		struct kvm_msi m = { .address_lo = IMSIC_GPA + below(nvcpus + 1) * 0x1000,
				     .data = chance(80) ? below(300) : (u32)rnd() };

		if (chance(20))
			m.address_lo = (u32)edge(), m.address_hi = (u32)edge();
		m.flags = chance(90) ? 0 : (u32)rnd();
		rc = __vm_ioctl(vm, KVM_SIGNAL_MSI, &m);
		line("signal_msi 0x%x:%x data=%u flags=0x%x -> %s%s", m.address_hi, m.address_lo, m.data,
		     m.flags, ename(rc), rc >= 0 ? (rc ? " 1" : " 0") : "");
		break;
	}
	default: {
		int efd = eventfd(0, 0);
		struct kvm_irqfd f = { .fd = efd, .gsi = chance(80) ? below(40) : (u32)rnd() };
		u64 one = 1;

		rc = __vm_ioctl(vm, KVM_IRQFD, &f);
		line("irqfd gsi=%u -> %s", f.gsi, ename(rc));
		if (rc == 0) {
			line("irqfd write -> %zd", write(efd, &one, sizeof(one)));
			f.flags = KVM_IRQFD_FLAG_DEASSIGN;
			line("irqfd deassign -> %s", ename(__vm_ioctl(vm, KVM_IRQFD, &f)));
		}
		close(efd);
	}
	}
}

/* ---------------------------------------------------------------------- */
/* A case.                                                                 */

static void setup_case(void)
{
	u64 top;
	int i;

	nvcpus = 1 + below(MAX_VCPUS);
	vm = vm_create_with_vcpus(nvcpus, guest_code, vcpus);
	top = (1ULL << vm->pa_bits) - 4096;
	gva_mmio = WIN_GVA;
	gva_imsic = WIN_GVA + 0x10000;
	gva_top = WIN_GVA + 0x20000;
	gva_slot = WIN_GVA + 0x30000;
	virt_pg_map(vm, gva_mmio, MMIO_GPA);
	virt_pg_map(vm, gva_mmio + 4096, MMIO_GPA + 4096);
	virt_pg_map(vm, gva_imsic, IMSIC_GPA);
	virt_pg_map(vm, gva_top, top);
	virt_pg_map(vm, gva_slot, 0x40000000);
	for (i = 0; i < nvcpus; i++)
		fetch_reg_list(i);
	line("vm vcpus=%d pa_bits=%u regs=%llu", nvcpus, vm->pa_bits, (unsigned long long)nregs[0]);
	/* The first run: the guest reaches its command loop. */
	take_snapshot();
	run_vcpu0("start");
}

static void run_case(unsigned int nops_case)
{
	unsigned int i;

	setup_case();
	for (i = 0; i < nops_case; i++) {
		unsigned int w;

		/* Each operation's own PRNG: what one did cannot shift the next. */
		rs = mix(case_seed ^ mix(i + 1));
		w = below(100);

		if (w < 20)
			op_one_reg();
		else if (w < 24)
			op_reg_list();
		else if (w < 42)
			op_exec();
		else if (w < 52)
			op_ecall();
		else if (w < 58)
			op_sbi_script();
		else if (w < 62)
			op_mp_state();
		else if (w < 64)
			op_interrupt();
		else if (w < 66)
			op_guest_debug();
		else if (w < 68)
			op_stats();
		else if (w < 70)
			op_immediate_exit();
		else if (w < 73)
			op_check_cap();
		else if (w < 75)
			op_create_vcpu();
		else if (w < 82)
			op_memslot();
		else if (w < 90)
			op_aia();
		else if (w < 92)
			op_race();
		else if (w < 97)
			op_wfi();
		else if (w < 98)
			op_close_early();
		else
			op_exec();
		if (race_done)
			return;
	}
	if (!stuck) {
		memset(&gcmd, 0, sizeof(gcmd));
		gcmd.kind = CMD_DONE;
		send_cmd();
		line("done -> %s", run_vcpu0("done") ? "sync" : "no sync");
	}
}

/* ---------------------------------------------------------------------- */
/* The parent: cases in children, the kernel log after each.               */

static regex_t pats[64];
static int npats;
static int kmsg = -1, kmsg_mark = -1;

static void load_patterns(const char *path)
{
	char buf[512];
	FILE *f = fopen(path, "r");

	TEST_ASSERT(f, "cannot open %s", path);
	while (fgets(buf, sizeof(buf), f) && npats < (int)ARRAY_SIZE(pats)) {
		buf[strcspn(buf, "\n")] = 0;
		if (!buf[0] || buf[0] == '#')
			continue;
		TEST_ASSERT(!regcomp(&pats[npats], buf, REG_EXTENDED | REG_NOSUB), "bad pattern %s", buf);
		npats++;
	}
	fclose(f);
}

/* New kernel log records: returns how many matched a splat pattern. */
static int scan_kmsg(unsigned long seed, unsigned long c)
{
	char rec[2048];
	int splats = 0;
	ssize_t r;

	if (kmsg < 0)
		return 0;
	for (;;) {
		char *msg;
		int i;

		r = read(kmsg, rec, sizeof(rec) - 1);
		if (r < 0 && errno == EPIPE)
			continue;	/* records were overwritten */
		if (r <= 0)
			break;
		rec[r] = 0;
		msg = strchr(rec, ';');
		msg = msg ? msg + 1 : rec;
		msg[strcspn(msg, "\n")] = 0;
		for (i = 0; i < npats; i++) {
			if (!regexec(&pats[i], msg, 0, NULL, 0)) {
				fprintf(stderr, "kvm_fuzz: splat: seed %lu case %lu: %s\n", seed, c, msg);
				splats++;
				break;
			}
		}
	}
	return splats;
}

int main(int argc, char *argv[])
{
	unsigned long seed = 1, ncases = 10, first = 0, c, splat_cases = 0;
	unsigned int secs = 30, nops_case = 80;
	const char *pfile = NULL;
	int opt;

	out = stdout;
	while ((opt = getopt(argc, argv, "s:n:c:o:p:t:x:k:vRm")) != -1) {
		switch (opt) {
		case 's': seed = strtoul(optarg, NULL, 0); break;
		case 'n': ncases = strtoul(optarg, NULL, 0); break;
		case 'c': first = strtoul(optarg, NULL, 0); break;
		case 'o': out = fopen(optarg, "w"); TEST_ASSERT(out, "cannot open %s", optarg); break;
		case 'p': pfile = optarg; break;
		case 't': secs = strtoul(optarg, NULL, 0); break;
		case 'x': max_exits = strtoul(optarg, NULL, 0); break;
		case 'k': nops_case = strtoul(optarg, NULL, 0); break;
		case 'v': verbose = 1; break;
		case 'R': print_regs = 1; break;
		case 'm': kmsg_mark = open("/dev/kmsg", O_WRONLY); break;
		default:
			fprintf(stderr, "usage: %s [-s SEED] [-n CASES] [-c FIRST] [-o FILE] [-p PATTERNS] "
				"[-t CASE_SECONDS] [-x MAX_EXITS] [-k OPS_PER_CASE] [-v]\n", argv[0]);
			return 1;
		}
	}
	if (pfile) {
		load_patterns(pfile);
		kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
		if (kmsg >= 0)
			lseek(kmsg, 0, SEEK_END);
	}
	for (c = first; c < first + ncases; c++) {
		int status, splats;
		pid_t pid;

		if (kmsg_mark >= 0)
			dprintf(kmsg_mark, "<5>kvm_fuzz: seed %lu case %lu\n", seed, c);
		fflush(out);
		pid = fork();
		TEST_ASSERT(pid >= 0, "fork");
		if (pid == 0) {
			struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1 };
			struct sigaction sa = { .sa_handler = run_alarm };

			sigaction(SIGUSR1, &sa, NULL);
			timer_create(CLOCK_MONOTONIC, &sev, &run_timer);
			alarm(secs);
			cur_case = c;
			case_seed = mix(seed * 0x100000001b3ULL ^ mix(c));
			rs = case_seed;
			page_ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			page_none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			page_cross = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			munmap(page_cross + 4096, 4096);
			backing = mmap(NULL, BACKING_SIZE, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			run_case(nops_case);
			fprintf(out, "c%lu ops %lu\n", c, nops);
			fflush(out);
			_exit(0);
		}
		waitpid(pid, &status, 0);
		splats = scan_kmsg(seed, c);
		if (WIFEXITED(status))
			fprintf(out, "c%lu end exit=%d\n", c, WEXITSTATUS(status));
		else
			fprintf(out, "c%lu end signal=%d\n", c, WTERMSIG(status));
		if (splats) {
			fprintf(out, "c%lu splat\n", c);
			splat_cases++;
		}
	}
	fflush(out);
	fprintf(stderr, "kvm_fuzz: seed %lu cases %lu..%lu: %lu with a splat\n", seed, first,
		first + ncases - 1, splat_cases);
	return splat_cases ? 2 : 0;
}
