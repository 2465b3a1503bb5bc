// SPDX-License-Identifier: GPL-2.0
/*
 * SBI conformance dump. Writes to stdout (or to -o FILE) one line per SBI
 * call a guest makes and per thing userspace sees, deterministic for a given
 * kvm.ko, host and kernel, so that the dumps of our module and of upstream C
 * (tools/testing/host/mode-sbi, in one boot) can be compared byte for byte.
 *
 * Each vCPU runs a command loop: it stops at an MMIO store to SYNC_GPA (not
 * an SBI call, so that the loop works whatever extensions are disabled),
 * the host writes the next command into the vCPU's slot in guest memory and
 * runs it again. A command is an ecall with a0..a7 from the slot (a0/a1 as
 * returned are recorded, with sip and the traps the guest took), or a probe
 * of the guest's own state (sip, misaligned accesses). While a vCPU runs,
 * every exit to userspace is printed: KVM_EXIT_RISCV_SBI (extension,
 * function, args; completed with ret[0..1] from a counter, printed too) and
 * KVM_EXIT_SYSTEM_EVENT (type, data[0]); after each call, the mp_state of
 * every vCPU of the VM.
 *
 * A vCPU started by HSM hart_start or resumed after SUSP system_suspend
 * enters at a trampoline on an identity-mapped page (TRAMP_GPA) with the MMU
 * off; the trampoline records a0 (hart id), a1 (opaque), satp and sstatus
 * as it found them, turns the MMU on and joins the command loop, and the
 * host prints that entry.
 *
 * One host thread runs every vCPU in turn. A KVM_RUN is interrupted by a
 * timer after 300 ms: a vCPU that stopped itself (hart_stop) then reads as
 * STOPPED. Nothing that depends on time is printed: timer arguments are
 * relative to the guest's time CSR, and only whether an interrupt is
 * pending is recorded.
 *
 * VMs: "base" (one vCPU, default extensions), "ext" (DBCN, SUSP and MPXY
 * enabled through ONE_REG), "multi" (vCPU ids 0, 2, 3 and 70), "srst-*" (a
 * fresh 2-vCPU VM per reset that exits), "off-*" (one extension disabled
 * through ONE_REG before the first run).
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "processor.h"

/* SBI extension ids and error codes, from the SBI specification. */
#define EXT_BASE	0x10UL
#define EXT_TIME	0x54494D45UL
#define EXT_IPI		0x735049UL
#define EXT_RFENCE	0x52464E43UL
#define EXT_HSM		0x48534DUL
#define EXT_SRST	0x53525354UL
#define EXT_SUSP	0x53555350UL
#define EXT_PMU		0x504D55UL
#define EXT_DBCN	0x4442434EUL
#define EXT_STA		0x535441UL
#define EXT_NACL	0x4E41434CUL
#define EXT_FWFT	0x46574654UL
#define EXT_MPXY	0x4D505859UL
#define EXT_DBTR	0x44425452UL
#define EXT_EXP_START	0x08000000UL
#define EXT_EXP_END	0x08FFFFFFUL
#define EXT_VEN_START	0x09000000UL
#define EXT_VEN_END	0x09FFFFFFUL
#define EXT_FW_START	0x0A000000UL

#define FWFT_LOCK	1UL

/* Guest physical (and, identity-mapped, virtual) addresses. */
#define TRAMP_GPA	0x100000000UL	/* memslot 1, one page: the entry trampoline */
#define SYNC_GPA	0x200000000UL	/* no memslot: the command loop's MMIO store */
#define BAD_GPA		0x300000000UL	/* no memslot, not mapped */
#define ROM_GPA		0x400000000UL	/* memslot 2, read-only: the trampoline again */
#define POOL_OFF	0x400		/* trampoline's literals: satp, gp, stacks, target */

#define NSLOT		8
#define SLOT(id)	((id) & (NSLOT - 1))
#define NVCPU		4

#define SIP_SSIP	(1UL << 1)
#define SIP_STIP	(1UL << 5)
#define SIP_SEIP	(1UL << 9)

/* ---------------------------------------------------------------------- */
/* The guest.                                                              */

enum { CMD_ECALL = 1, CMD_SIP, CMD_MISALIGNED, CMD_TOUCH };

/* Command flags. */
#define F_TIME_A0	1UL	/* a0 += the time CSR */
#define F_ARM		2UL	/* timer armed delay ticks ahead (sie.STIE) around the call */
#define F_WAIT_STIP	4UL	/* after the call, wfi until the timer interrupt is pending */

struct gslot {
	u64 kind;		/* 0 */
	u64 flags;		/* 8 */
	u64 a[8];		/* 16 */
	u64 r[8];		/* 80 */
	u64 ntraps;		/* 144: the trap handler's fields */
	u64 scause;		/* 152 */
	u64 stval;		/* 160 */
	u64 sepc;		/* 168 */
	u64 save;		/* 176 */
	u64 entries;		/* 184: trampoline entries */
	u64 entry[4];		/* 192: a0, a1, satp, sstatus at entry */
	u64 delay;		/* 224 */
	u64 pad[3];
};

struct gslot gslot[NSLOT] __attribute__((aligned(4096)));
u8 gstack[NSLOT][4096] __attribute__((aligned(4096)));
static u8 gdata[2 * 4096] __attribute__((aligned(4096)));
static u64 gmask[4] __attribute__((aligned(64)));

_Static_assert(__builtin_offsetof(struct gslot, ntraps) == 144, "trap handler offsets");
_Static_assert(__builtin_offsetof(struct gslot, save) == 176, "trap handler offsets");
_Static_assert(sizeof(struct gslot) == 256, "slot size");

/*
 * The trap handler: sscratch holds the vCPU's slot. Records scause, stval
 * and sepc, counts, and skips the 4-byte instruction that trapped (every
 * instruction of the guest that may trap is 4 bytes). Interrupts never
 * trap: sstatus.SIE stays 0.
 */
asm(".text\n"
    ".balign 4\n"
    ".global sd_vector\n"
    "sd_vector:\n"
    "	csrrw t0, sscratch, t0\n"
    "	sd t1, 176(t0)\n"
    "	csrr t1, scause\n	sd t1, 152(t0)\n"
    "	csrr t1, stval\n	sd t1, 160(t0)\n"
    "	csrr t1, sepc\n	sd t1, 168(t0)\n"
    "	addi t1, t1, 4\n	csrw sepc, t1\n"
    "	ld t1, 144(t0)\n	addi t1, t1, 1\n	sd t1, 144(t0)\n"
    "	ld t1, 176(t0)\n"
    "	csrrw t0, sscratch, t0\n"
    "	sret\n");

/*
 * The entry trampoline, copied by the host to TRAMP_GPA: position
 * independent, entered with the MMU off (hart_start, a resume from
 * system_suspend). Two c.nop first, so that an entry at +2 lands on an
 * instruction too. Keeps satp and sstatus as found, turns on the VM's page
 * table, takes gp, a stack and the C entry from the literals at POOL_OFF.
 */
asm(".text\n"
    ".balign 4\n"
    ".global sd_tramp\n"
    ".global sd_tramp_end\n"
    "sd_tramp:\n"
    "	.option push\n"
    "	.option rvc\n"
    "	c.nop\n"
    "	c.nop\n"
    "	.option norvc\n"
    "	csrr t3, satp\n"
    "	csrr t4, sstatus\n"
    "	auipc t0, 0\n"
    "	srli t0, t0, 12\n"
    "	slli t0, t0, 12\n"
    "	ld t1, 0x400(t0)\n"
    "	csrw satp, t1\n"
    "	sfence.vma\n"
    "	ld gp, 0x408(t0)\n"
    "	ld sp, 0x410(t0)\n"
    "	andi t2, a0, 7\n"
    "	addi t2, t2, 1\n"
    "	slli t2, t2, 12\n"
    "	add sp, sp, t2\n"
    "	mv a2, t3\n"
    "	mv a3, t4\n"
    "	ld t1, 0x418(t0)\n"
    "	jr t1\n"
    "	.option pop\n"
    "sd_tramp_end:\n");

extern char sd_vector[], sd_tramp[], sd_tramp_end[];

static void sync_host(u64 id)
{
	*(volatile u64 *)SYNC_GPA = id;
}

static inline void g_ecall(u64 *a, u64 *r0, u64 *r1)
{
	register unsigned long a0 asm("a0") = a[0];
	register unsigned long a1 asm("a1") = a[1];
	register unsigned long a2 asm("a2") = a[2];
	register unsigned long a3 asm("a3") = a[3];
	register unsigned long a4 asm("a4") = a[4];
	register unsigned long a5 asm("a5") = a[5];
	register unsigned long a6 asm("a6") = a[6];
	register unsigned long a7 asm("a7") = a[7];

	asm volatile(".option push\n.option norvc\necall\n.option pop"
		     : "+r"(a0), "+r"(a1)
		     : "r"(a2), "r"(a3), "r"(a4), "r"(a5), "r"(a6), "r"(a7)
		     : "memory");
	*r0 = a0;
	*r1 = a1;
}

static void g_set_timer(u64 when)
{
	u64 a[8] = { when, 0, 0, 0, 0, 0, 0, EXT_TIME }, r0, r1;

	g_ecall(a, &r0, &r1);
}

static u64 g_sip(void)
{
	return csr_read(CSR_SIP) & (SIP_SSIP | SIP_STIP | SIP_SEIP);
}

static u64 mis_load(u64 addr)
{
	u64 v = 0x5a5a;

	asm volatile(".option push\n.option norvc\nld %0, 0(%1)\n.option pop"
		     : "+r"(v) : "r"(addr) : "memory");
	return v;
}

static void mis_store(u64 addr, u64 v)
{
	asm volatile(".option push\n.option norvc\nsd %0, 0(%1)\n.option pop"
		     : : "r"(v), "r"(addr) : "memory");
}

static u64 mis_amo(u64 addr)
{
	u64 v = 0x5a5a;

	asm volatile(".option push\n.option norvc\namoadd.w %0, %1, (%2)\n.option pop"
		     : "+r"(v) : "r"(1UL), "r"(addr) : "memory");
	return v;
}

/* One misaligned access: r[2*i] the value, r[2*i+1] traps and scause. */
#define MIS_REC(s, i, expr)						\
	do {								\
		(s)->ntraps = 0;					\
		(s)->scause = 0;					\
		(s)->r[2 * (i)] = (expr);				\
		(s)->r[2 * (i) + 1] = ((s)->ntraps << 32) | (s)->scause; \
	} while (0)

static void run_cmd(struct gslot *s)
{
	u64 i;

	s->ntraps = 0;
	s->scause = 0;
	s->stval = 0;
	switch (READ_ONCE(s->kind)) {
	case CMD_ECALL:
		if (s->flags & F_TIME_A0)
			s->a[0] += csr_read(CSR_TIME);
		if (s->flags & F_ARM) {
			g_set_timer(csr_read(CSR_TIME) + s->delay);
			csr_set(CSR_SIE, SIP_STIP);
		}
		g_ecall(s->a, &s->r[0], &s->r[1]);
		s->r[2] = g_sip();
		/* when the timer fires is time: not recorded */
		if (s->flags & (F_ARM | F_WAIT_STIP))
			s->r[2] &= ~SIP_STIP;
		s->r[3] = s->ntraps;
		s->r[4] = s->scause;
		s->r[5] = s->stval;
		s->r[6] = 0;
		if (s->flags & F_WAIT_STIP) {
			csr_set(CSR_SIE, SIP_STIP);
			for (i = 0; i < 100 && !(g_sip() & SIP_STIP); i++)
				asm volatile("wfi" ::: "memory");
			s->r[6] = !!(g_sip() & SIP_STIP);
			csr_clear(CSR_SIE, SIP_STIP);
		}
		if (s->flags & F_ARM) {
			g_set_timer(~0UL);
			csr_clear(CSR_SIE, SIP_STIP);
		}
		break;
	case CMD_SIP:
		s->r[0] = g_sip();
		csr_clear(CSR_SIP, SIP_SSIP);
		s->r[1] = g_sip();
		break;
	case CMD_MISALIGNED:
		for (i = 0; i < 16; i++)
			gdata[i] = 0x10 + i;
		MIS_REC(s, 0, mis_load((u64)&gdata[1]));
		MIS_REC(s, 1, (mis_store((u64)&gdata[3], 0x1122334455667788UL), 0));
		MIS_REC(s, 2, mis_amo((u64)&gdata[14]));	/* across 16 bytes */
		MIS_REC(s, 3, *(volatile u64 *)&gdata[0]);
		break;
	case CMD_TOUCH:
		s->r[0] = READ_ONCE(gmask[0]) + READ_ONCE(gmask[1]);
		break;
	}
}

static void __attribute__((noreturn)) guest_loop(u64 id)
{
	struct gslot *s = &gslot[SLOT(id)];

	csr_write(CSR_STVEC, (unsigned long)sd_vector);
	csr_write(CSR_SSCRATCH, (unsigned long)s);
	csr_clear(CSR_SSTATUS, SR_SIE);
	csr_write(CSR_SIE, 0);
	for (;;) {
		sync_host(id);
		run_cmd(s);
	}
}

/* Initial vCPUs: a0 = the vCPU id (vcpu_args_set). */
static void guest_main(u64 id)
{
	guest_loop(id);
}

/* From the trampoline: a0, a1, satp and sstatus as KVM left them. */
void guest_entry(u64 a0, u64 a1, u64 satp, u64 sstatus)
{
	struct gslot *s = &gslot[SLOT(a0)];

	s->entry[0] = a0;
	s->entry[1] = a1;
	s->entry[2] = satp;
	s->entry[3] = sstatus;
	s->entries++;
	/* FP on for the C code, as the library leaves it for the first entry. */
	csr_set(CSR_SSTATUS, SR_FS);
	guest_loop(a0);
}

/* ---------------------------------------------------------------------- */
/* The host.                                                               */

static FILE *out;
static unsigned long nlines;
static int failures;
static u64 vmm_seq;
static const char *sec;

static void line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void line(const char *fmt, ...)
{
	va_list ap;

	fprintf(out, "%s ", sec);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	nlines++;
}

static const char *errname(int e)
{
	switch (e) {
	case 0: return "OK";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case ENXIO: return "ENXIO";
	case E2BIG: return "E2BIG";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EINVAL: return "EINVAL";
	case ENOSPC: return "ENOSPC";
	case ENOSYS: return "ENOSYS";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case 524: return "ENOTSUPP";
	default: return "E?";
	}
}

/* An SBI error code by name, or the number. */
static const char *sbierr(u64 v)
{
	static char s[4][24];
	static int k;
	char *p = s[k++ & 3];

	switch ((long)v) {
	case 0: return "SUCCESS";
	case -1: return "FAILED";
	case -2: return "NOT_SUPPORTED";
	case -3: return "INVALID_PARAM";
	case -4: return "DENIED";
	case -5: return "INVALID_ADDRESS";
	case -6: return "ALREADY_AVAILABLE";
	case -7: return "ALREADY_STARTED";
	case -8: return "ALREADY_STOPPED";
	case -9: return "NO_SHMEM";
	case -10: return "INVALID_STATE";
	case -11: return "BAD_RANGE";
	case -12: return "TIMEOUT";
	case -13: return "IO";
	case -14: return "DENIED_LOCKED";
	}
	snprintf(p, 24, "0x%llx", (unsigned long long)v);
	return p;
}

static void on_alarm(int sig)
{
}

static void arm_ms(unsigned int ms)
{
	struct itimerval it = { .it_value = { ms / 1000, (ms % 1000) * 1000 } };

	setitimer(ITIMER_REAL, &it, NULL);
}

struct vmc {
	struct kvm_vm *vm;
	int n;
	struct kvm_vcpu *v[NVCPU];
	u32 id[NVCPU];
	struct gslot *slot[NVCPU];	/* host view of each vCPU's slot */
	u64 entries[NVCPU];		/* trampoline entries printed so far */
	bool stuck[NVCPU];		/* no command boundary any more: not run again */
};

static u32 mp_state(struct kvm_vcpu *vcpu)
{
	struct kvm_mp_state mp = { .mp_state = ~0U };

	if (__vcpu_ioctl(vcpu, KVM_GET_MP_STATE, &mp))
		return ~0U;
	return mp.mp_state;
}

static const char *mp_str(struct vmc *c)
{
	static char s[128];
	int i, n = 0;

	for (i = 0; i < c->n; i++) {
		u32 m = mp_state(c->v[i]);

		n += snprintf(s + n, sizeof(s) - n, "%s%u:%s", i ? " " : "", c->id[i],
			      m == KVM_MP_STATE_RUNNABLE ? "run" :
			      m == KVM_MP_STATE_STOPPED ? "stop" : "?");
	}
	return s;
}

enum { ST_SYNC, ST_STOPPED, ST_SYSEVENT, ST_STUCK, ST_ERROR };

static const char *st_str(int st)
{
	switch (st) {
	case ST_SYNC: return "sync";
	case ST_STOPPED: return "stopped";
	case ST_SYSEVENT: return "system-event";
	case ST_STUCK: return "no-sync";
	default: return "error";
	}
}

/*
 * Run vCPU i until its next command boundary (ST_SYNC), printing and
 * completing the exits on the way. A KVM_RUN interrupted by the timer is
 * not printed: the vCPU is either STOPPED (ST_STOPPED) or run again, up to
 * max_eintr times (then ST_STUCK).
 */
static int run_vcpu(struct vmc *c, int i, int max_eintr)
{
	struct kvm_vcpu *vcpu = c->v[i];
	struct kvm_run *run = vcpu->run;
	int n, eintr = 0, rc;

	for (n = 0; n < 200; n++) {
		arm_ms(300);
		rc = __vcpu_run(vcpu);
		arm_ms(0);
		if (rc < 0) {
			int e = errno;

			if (e == EINTR) {
				if (mp_state(vcpu) == KVM_MP_STATE_STOPPED)
					return ST_STOPPED;
				if (++eintr >= max_eintr)
					return ST_STUCK;
				continue;
			}
			line("  v%u KVM_RUN -> %s", c->id[i], errname(e));
			return ST_ERROR;
		}
		switch (run->exit_reason) {
		case KVM_EXIT_MMIO:
			if (run->mmio.phys_addr == SYNC_GPA && run->mmio.is_write)
				return ST_SYNC;
			line("  v%u exit MMIO addr=0x%llx len=%u write=%u", c->id[i],
			     (unsigned long long)run->mmio.phys_addr, run->mmio.len,
			     run->mmio.is_write);
			if (!run->mmio.is_write)
				memset(run->mmio.data, 0, sizeof(run->mmio.data));
			break;
		case KVM_EXIT_RISCV_SBI:
			vmm_seq++;
			line("  v%u exit SBI ext=0x%lx fid=0x%lx args=0x%lx,0x%lx,0x%lx,0x%lx,0x%lx,0x%lx ret_in=%s,0x%lx -> vmm ret=%s,0x%llx",
			     c->id[i], run->riscv_sbi.extension_id, run->riscv_sbi.function_id,
			     run->riscv_sbi.args[0], run->riscv_sbi.args[1],
			     run->riscv_sbi.args[2], run->riscv_sbi.args[3],
			     run->riscv_sbi.args[4], run->riscv_sbi.args[5],
			     sbierr(run->riscv_sbi.ret[0]), run->riscv_sbi.ret[1],
			     sbierr(-(long)(vmm_seq % 4)), 0x5000ULL + vmm_seq);
			run->riscv_sbi.ret[0] = -(long)(vmm_seq % 4);
			run->riscv_sbi.ret[1] = 0x5000 + vmm_seq;
			break;
		case KVM_EXIT_SYSTEM_EVENT:
			line("  v%u exit SYSTEM_EVENT type=%u ndata=%u data0=0x%llx", c->id[i],
			     run->system_event.type, run->system_event.ndata,
			     (unsigned long long)run->system_event.data[0]);
			return ST_SYSEVENT;
		default:
			line("  v%u exit %u", c->id[i], run->exit_reason);
			return ST_ERROR;
		}
	}
	line("  v%u: no command boundary after %d exits", c->id[i], n);
	return ST_ERROR;
}

/* Print the trampoline entries of every vCPU not printed yet. */
static void show_entries(struct vmc *c)
{
	int i;

	for (i = 0; i < c->n; i++) {
		struct gslot *s = c->slot[i];

		if (s->entries == c->entries[i])
			continue;
		c->entries[i] = s->entries;
		line("  v%u entry #%llu a0=0x%llx a1=0x%llx satp=0x%llx sstatus.SIE=%llu sstatus.SPP=%llu",
		     c->id[i], (unsigned long long)s->entries,
		     (unsigned long long)s->entry[0], (unsigned long long)s->entry[1],
		     (unsigned long long)s->entry[2],
		     (unsigned long long)!!(s->entry[3] & SR_SIE),
		     (unsigned long long)!!(s->entry[3] & SR_SPP));
	}
}

static int vidx(struct vmc *c, u32 id)
{
	int i;

	for (i = 0; i < c->n; i++)
		if (c->id[i] == id)
			return i;
	TEST_FAIL("no vCPU %u", id);
	return 0;
}

/* Run vCPU id (a stopped one, or one whose command is in its slot). */
static int step(struct vmc *c, u32 id, int max_eintr)
{
	int i = vidx(c, id), st;

	if (c->stuck[i])
		return ST_STUCK;
	st = run_vcpu(c, i, max_eintr);
	show_entries(c);
	if (st == ST_STUCK || st == ST_ERROR)
		c->stuck[i] = true;
	return st;
}

/* KVM_SET_MP_STATE STOPPED from userspace. */
static void host_stop(struct vmc *c, u32 id)
{
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_STOPPED };
	int i = vidx(c, id);

	line("v%u set_mp_state stopped -> %s", id,
	     errname(__vcpu_ioctl(c->v[i], KVM_SET_MP_STATE, &mp) ? errno : 0));
}

/* Run vCPU id (one just started) to its command boundary, and say so. */
static void run_line(struct vmc *c, u32 id)
{
	line("v%u run", id);
	line("  -> %s mp=[%s]", st_str(step(c, id, 20)), mp_str(c));
}

/*
 * The call: ecall(ext, fid, a0..a5) on vCPU id, with flags (F_*). Prints
 * the call, the exits, and what the guest saw: a0, a1, sip and its traps.
 */
static int ecall6(struct vmc *c, u32 id, u64 flags, u64 ext, u64 fid, u64 a0, u64 a1,
		  u64 a2, u64 a3, u64 a4, u64 a5)
{
	struct gslot *s = c->slot[vidx(c, id)];
	char args[160];
	u64 entries;
	int st, n;

	n = snprintf(args, sizeof(args), "a0=%s0x%llx a1=0x%llx a2=0x%llx",
		     (flags & F_TIME_A0) ? "time+" : "", (unsigned long long)a0,
		     (unsigned long long)a1, (unsigned long long)a2);
	if (a3 || a4 || a5)
		snprintf(args + n, sizeof(args) - n, " a3=0x%llx a4=0x%llx a5=0x%llx",
			 (unsigned long long)a3, (unsigned long long)a4, (unsigned long long)a5);
	line("v%u ecall ext=0x%llx fid=0x%llx %s%s", id, (unsigned long long)ext,
	     (unsigned long long)fid, args,
	     (flags & F_ARM) ? " (timer armed)" : (flags & F_WAIT_STIP) ? " (then wfi)" : "");
	s->kind = CMD_ECALL;
	s->flags = flags;
	s->delay = 20000;
	s->a[0] = a0;
	s->a[1] = a1;
	s->a[2] = a2;
	s->a[3] = a3;
	s->a[4] = a4;
	s->a[5] = a5;
	s->a[6] = fid;
	s->a[7] = ext;
	memset(s->r, 0xee, sizeof(s->r));
	entries = s->entries;
	st = step(c, id, 20);
	if (st != ST_SYNC) {
		line("  -> %s mp=[%s]", st_str(st), mp_str(c));
		if (st == ST_STUCK || st == ST_ERROR)
			failures++;
		return st;
	}
	if (s->entries != entries) {
		line("  -> entered at the trampoline mp=[%s]", mp_str(c));
		return st;
	}
	if (s->r[3])
		line("  -> a0=%s a1=0x%llx sip=0x%llx%s traps=%llu scause=0x%llx stval=0x%llx mp=[%s]",
		     sbierr(s->r[0]), (unsigned long long)s->r[1], (unsigned long long)s->r[2],
		     (flags & F_WAIT_STIP) ? (s->r[6] ? " stip-came" : " stip-never") : "",
		     (unsigned long long)s->r[3], (unsigned long long)s->r[4],
		     (unsigned long long)s->r[5], mp_str(c));
	else
		line("  -> a0=%s a1=0x%llx sip=0x%llx%s mp=[%s]",
		     sbierr(s->r[0]), (unsigned long long)s->r[1], (unsigned long long)s->r[2],
		     (flags & F_WAIT_STIP) ? (s->r[6] ? " stip-came" : " stip-never") : "",
		     mp_str(c));
	return st;
}

#define EC(c, id, ext, fid, a0, a1, a2) ecall6(c, id, 0, ext, fid, a0, a1, a2, 0, 0, 0)

/* sip of every running vCPU (and SSIP cleared). */
static void sip_sweep(struct vmc *c)
{
	char s[160];
	int i, n = 0;

	for (i = 0; i < c->n; i++) {
		struct gslot *g = c->slot[i];

		if (mp_state(c->v[i]) != KVM_MP_STATE_RUNNABLE) {
			n += snprintf(s + n, sizeof(s) - n, " %u:stopped", c->id[i]);
			continue;
		}
		g->kind = CMD_SIP;
		g->r[0] = g->r[1] = ~0ULL;
		if (step(c, c->id[i], 20) != ST_SYNC) {
			n += snprintf(s + n, sizeof(s) - n, " %u:no-sync", c->id[i]);
			failures++;
			continue;
		}
		n += snprintf(s + n, sizeof(s) - n, " %u:0x%llx", c->id[i], (unsigned long long)g->r[0]);
	}
	line("  sip%s", s);
}

static u64 sbi_ext_reg(u64 idx)
{
	return KVM_REG_RISCV | KVM_REG_SIZE_U64 | KVM_REG_RISCV_SBI_EXT |
	       KVM_REG_RISCV_SBI_SINGLE | idx;
}

static const char * const kvm_ext_name[] = {
	"V01", "TIME", "IPI", "RFENCE", "SRST", "HSM", "PMU", "EXPERIMENTAL",
	"VENDOR", "DBCN", "STA", "SUSP", "FWFT", "MPXY",
};

/* ONE_REG SBI_EXT set of KVM's extension idx to val on every vCPU (before the first run). */
static void set_ext(struct vmc *c, u64 idx, u64 val)
{
	int i;

	for (i = 0; i < c->n; i++) {
		u64 v = val, g = ~0ULL;
		struct kvm_one_reg r = { .id = sbi_ext_reg(idx), .addr = (u64)&v };
		int e = __vcpu_ioctl(c->v[i], KVM_SET_ONE_REG, &r) ? errno : 0, eg;

		r.addr = (u64)&g;
		eg = __vcpu_ioctl(c->v[i], KVM_GET_ONE_REG, &r) ? errno : 0;
		line("v%u one_reg sbi_ext %s set %llu -> %s, get -> %s 0x%llx", c->id[i],
		     idx < ARRAY_SIZE(kvm_ext_name) ? kvm_ext_name[idx] : "?",
		     (unsigned long long)val, errname(e), errname(eg),
		     (unsigned long long)(eg ? 0 : g));
	}
}

static struct vmc *vm_new(const char *name, int n, const u32 *ids)
{
	struct vmc *c = calloc(1, sizeof(*c));
	u64 *pool;
	u64 gp;
	int i;

	sec = name;
	c->n = n;
	c->vm = vm_create(n);
	for (i = 0; i < n; i++) {
		c->id[i] = ids[i];
		c->v[i] = vm_vcpu_add(c->vm, ids[i], guest_main);
		vcpu_args_set(c->v[i], 1, (u64)ids[i]);
		c->slot[i] = addr_gva2hva(c->vm, (gva_t)&gslot[SLOT(ids[i])]);
	}
	vm_userspace_mem_region_add(c->vm, VM_MEM_SRC_ANONYMOUS, TRAMP_GPA, 1, 1, 0);
	virt_pg_map(c->vm, TRAMP_GPA, TRAMP_GPA);
	virt_pg_map(c->vm, SYNC_GPA, SYNC_GPA);
	memcpy(addr_gpa2hva(c->vm, TRAMP_GPA), sd_tramp, sd_tramp_end - sd_tramp);
	pool = addr_gpa2hva(c->vm, TRAMP_GPA + POOL_OFF);
	asm volatile("mv %0, gp" : "=r"(gp));
	pool[0] = vcpu_get_reg(c->v[0], RISCV_GENERAL_CSR_REG(satp));
	pool[1] = gp;
	pool[2] = (u64)gstack;
	pool[3] = (u64)guest_entry;
	/* A read-only memslot (ROM, flash) is a valid resume address too. */
	vm_userspace_mem_region_add(c->vm, VM_MEM_SRC_ANONYMOUS, ROM_GPA, 2, 1, KVM_MEM_READONLY);
	virt_pg_map(c->vm, ROM_GPA, ROM_GPA);
	memcpy(addr_gpa2hva(c->vm, ROM_GPA), addr_gpa2hva(c->vm, TRAMP_GPA), 4096);
	return c;
}

/* Every vCPU to its first command boundary. */
static void vm_start(struct vmc *c)
{
	int i, st;

	for (i = 0; i < c->n; i++) {
		st = run_vcpu(c, i, 20);
		if (st != ST_SYNC) {
			line("v%u first run -> %s", c->id[i], st_str(st));
			failures++;
		}
	}
	line("started mp=[%s]", mp_str(c));
}

static void vm_done(struct vmc *c)
{
	kvm_vm_free(c->vm);
	free(c);
}

static const u32 one_id[] = { 0 };
static const u32 two_ids[] = { 0, 1 };
static const u32 multi_ids[] = { 0, 2, 3, 70 };

/* ---- sections ---- */

static const struct {
	const char *name;
	u64 eid;
} probe_ids[] = {
	{ "v01_set_timer", 0 }, { "v01_putchar", 1 }, { "v01_getchar", 2 },
	{ "v01_clear_ipi", 3 }, { "v01_send_ipi", 4 }, { "v01_fence_i", 5 },
	{ "v01_sfence_vma", 6 }, { "v01_sfence_vma_asid", 7 }, { "v01_shutdown", 8 },
	{ "after_v01", 9 }, { "below_base", 0xf }, { "base", EXT_BASE }, { "after_base", 0x11 },
	{ "time", EXT_TIME }, { "ipi", EXT_IPI }, { "rfence", EXT_RFENCE }, { "hsm", EXT_HSM },
	{ "srst", EXT_SRST }, { "susp", EXT_SUSP }, { "pmu", EXT_PMU }, { "dbcn", EXT_DBCN },
	{ "sta", EXT_STA }, { "nacl", EXT_NACL }, { "fwft", EXT_FWFT }, { "mpxy", EXT_MPXY },
	{ "dbtr", EXT_DBTR }, { "below_experimental", EXT_EXP_START - 1 },
	{ "experimental_start", EXT_EXP_START }, { "experimental_end", EXT_EXP_END },
	{ "vendor_start", EXT_VEN_START }, { "vendor_end", EXT_VEN_END },
	{ "firmware_start", EXT_FW_START }, { "firmware_end", 0x0AFFFFFF },
	{ "int32_max", 0x7fffffff }, { "bit31", 0x80000000UL }, { "u32_max", 0xffffffffUL },
	{ "base_bit32", EXT_BASE | (1UL << 32) }, { "time_bit63", EXT_TIME | (1UL << 63) },
	{ "all_ones", ~0UL },
};

static void probe_all(struct vmc *c, u32 id)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(probe_ids); i++) {
		line("probe %s", probe_ids[i].name);
		EC(c, id, EXT_BASE, 3, probe_ids[i].eid, 0, 0);
	}
}

static void sec_base(struct vmc *c)
{
	u64 f;

	for (f = 0; f <= 6; f++)
		EC(c, 0, EXT_BASE, f, 0, 0, 0);
	EC(c, 0, EXT_BASE, 7, 0, 0, 0);
	EC(c, 0, EXT_BASE, 0x7fffffff, 0, 0, 0);
	EC(c, 0, EXT_BASE, 1UL << 32, 0, 0, 0);
	EC(c, 0, EXT_BASE, ~0UL, 0, 0, 0);
	/* a1..a5 do not matter to get_spec_version */
	ecall6(c, 0, 0, EXT_BASE, 0, ~0UL, ~0UL, ~0UL, ~0UL, ~0UL, ~0UL);
	probe_all(c, 0);
}

/* Calls with ids no extension has, and unknown function ids of each. */
static void sec_unknown(struct vmc *c)
{
	static const u64 bad_ext[] = { 9, 0xf, 0x11, EXT_NACL, EXT_DBTR, EXT_FW_START, 0x0AFFFFFF,
		0x7fffffff, 0x80000000UL, 0xffffffffUL, EXT_BASE | (1UL << 32), ~0UL };
	static const struct { u64 ext, fid; } bad_fid[] = {
		{ EXT_TIME, 1 }, { EXT_TIME, ~0UL }, { EXT_IPI, 1 }, { EXT_RFENCE, 7 },
		{ EXT_RFENCE, ~0UL }, { EXT_HSM, 4 }, { EXT_HSM, ~0UL }, { EXT_SRST, 1 },
		{ EXT_SUSP, 1 }, { EXT_FWFT, 2 }, { EXT_FWFT, ~0UL }, { EXT_STA, 1 },
		{ EXT_PMU, 0x100 }, { EXT_TIME, 1UL << 32 }, { EXT_IPI, 1UL << 32 },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(bad_ext); i++)
		EC(c, 0, bad_ext[i], 0, 1, 2, 3);
	for (i = 0; i < ARRAY_SIZE(bad_fid); i++)
		EC(c, 0, bad_fid[i].ext, bad_fid[i].fid, 0, 0, 0);
}

/* Experimental and vendor ranges go to userspace; the VMM's ret[0..1] come back. */
static void sec_forward(struct vmc *c)
{
	static const u64 ext[] = { EXT_EXP_START, EXT_EXP_START + 0x1234, EXT_EXP_END,
		EXT_VEN_START, EXT_VEN_START + 0x42, EXT_VEN_END };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(ext); i++) {
		ecall6(c, 0, 0, ext[i], i, 0x100 + i, 0x200 + i, 0x300 + i, 0x400 + i, 0x500 + i,
		       0x600 + i);
		EC(c, 0, ext[i], ~0UL, ~0UL, 0, 0);
	}
}

static void sec_time(struct vmc *c)
{
	/* far future: not pending */
	ecall6(c, 0, F_TIME_A0, EXT_TIME, 0, 1000000000000UL, 0, 0, 0, 0, 0);
	/* in the past: pending, at once or after a wfi */
	ecall6(c, 0, F_TIME_A0 | F_WAIT_STIP, EXT_TIME, 0, -100000UL, 0, 0, 0, 0, 0);
	/* ~0: not pending any more */
	EC(c, 0, EXT_TIME, 0, ~0UL, 0, 0);
	/* 0: long past */
	ecall6(c, 0, F_WAIT_STIP, EXT_TIME, 0, 0, 0, 0, 0, 0, 0);
	/* a1 is not part of the time on RV64 */
	ecall6(c, 0, F_TIME_A0, EXT_TIME, 0, 1000000000000UL, ~0UL, 0, 0, 0, 0);
	EC(c, 0, EXT_TIME, 0, ~0UL, 0, 0);
	/* the legacy call */
	ecall6(c, 0, F_TIME_A0 | F_WAIT_STIP, 0, 0, -100000UL, 0x1111, 0, 0, 0, 0);
	ecall6(c, 0, F_TIME_A0, 0, 0, 1000000000000UL, 0x1111, 0, 0, 0, 0);
	EC(c, 0, 0, 0, ~0UL, 0x1111, 0);
}

/* FWFT: every feature id range; set, get, the lock. */
static void sec_fwft(struct vmc *c, u32 id)
{
	static const u64 feat[] = { 0, 1, 2, 3, 4, 5, 6, 0x3fffffff, 0x40000000, 0x7fffffff,
		0x80000000UL, 0x80000001UL, 0xbfffffffUL, 0xc0000000UL, 0xffffffffUL,
		1UL << 32, ~0UL };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(feat); i++) {
		/* landing pads stay off: the guest's code has none */
		u64 on = (u32)feat[i] == 1 ? 0 : 1;

		EC(c, id, EXT_FWFT, 1, feat[i], 0, 0);
		EC(c, id, EXT_FWFT, 0, feat[i], on, 0);
		EC(c, id, EXT_FWFT, 1, feat[i], 0, 0);
		EC(c, id, EXT_FWFT, 0, feat[i], 2, 0);
		EC(c, id, EXT_FWFT, 0, feat[i], 0, 2);
		EC(c, id, EXT_FWFT, 0, feat[i], 0, 0);
		EC(c, id, EXT_FWFT, 1, feat[i], 0, 0);
	}
	/* pointer masking: the lengths HENVCFG takes, others refused */
	for (i = 0; i < 4; i++) {
		static const u64 pmlen[] = { 7, 16, 8, 0 };

		EC(c, id, EXT_FWFT, 0, 5, pmlen[i], 0);
		EC(c, id, EXT_FWFT, 1, 5, 0, 0);
	}
}

/* The lock: set with LOCK, then every later set is refused until reset. */
static void sec_fwft_lock(struct vmc *c, u32 id, u64 feat, u64 val)
{
	EC(c, id, EXT_FWFT, 0, feat, val, FWFT_LOCK);
	EC(c, id, EXT_FWFT, 1, feat, 0, 0);
	EC(c, id, EXT_FWFT, 0, feat, !val, 0);
	EC(c, id, EXT_FWFT, 0, feat, val, 0);
	EC(c, id, EXT_FWFT, 0, feat, val, FWFT_LOCK);
	EC(c, id, EXT_FWFT, 1, feat, 0, 0);
	/* the same on pointer masking, which this host has */
	if (feat != 5)
		sec_fwft_lock(c, id, 5, 0);
}

static void misaligned(struct vmc *c, u32 id)
{
	struct gslot *s = c->slot[vidx(c, id)];
	int st;

	s->kind = CMD_MISALIGNED;
	memset(s->r, 0xee, sizeof(s->r));
	st = step(c, id, 20);
	if (st != ST_SYNC) {
		line("v%u misaligned -> %s", id, st_str(st));
		failures++;
		return;
	}
	line("v%u misaligned ld=0x%llx traps=%llu scause=0x%llx | sd traps=%llu scause=0x%llx | amoadd.w=0x%llx traps=%llu scause=0x%llx | data=0x%llx",
	     id, (unsigned long long)s->r[0], (unsigned long long)(s->r[1] >> 32),
	     (unsigned long long)(s->r[1] & 0xffffffff), (unsigned long long)(s->r[3] >> 32),
	     (unsigned long long)(s->r[3] & 0xffffffff), (unsigned long long)s->r[4],
	     (unsigned long long)(s->r[5] >> 32), (unsigned long long)(s->r[5] & 0xffffffff),
	     (unsigned long long)s->r[6]);
}

/* The guest reads gmask (so that its G-stage mapping exists). */
static void touch(struct vmc *c, u32 id)
{
	struct gslot *s = c->slot[vidx(c, id)];

	s->kind = CMD_TOUCH;
	line("v%u reads the hart mask -> %s", id, st_str(step(c, id, 20)));
}

static void sec_misaligned(struct vmc *c)
{
	EC(c, 0, EXT_FWFT, 1, 0, 0, 0);
	misaligned(c, 0);
	EC(c, 0, EXT_FWFT, 0, 0, 1, 0);
	EC(c, 0, EXT_FWFT, 1, 0, 0, 0);
	misaligned(c, 0);
	EC(c, 0, EXT_FWFT, 0, 0, 0, 0);
	EC(c, 0, EXT_FWFT, 1, 0, 0, 0);
	misaligned(c, 0);
}

/* HSM on a single vCPU: itself, bad ids, statuses, suspend types. */
static void sec_hsm_single(struct vmc *c)
{
	EC(c, 0, EXT_HSM, 2, 0, 0, 0);
	EC(c, 0, EXT_HSM, 2, 1, 0, 0);
	EC(c, 0, EXT_HSM, 2, ~0UL, 0, 0);
	EC(c, 0, EXT_HSM, 2, 1UL << 32, 0, 0);
	EC(c, 0, EXT_HSM, 0, 0, TRAMP_GPA, 0x77);
	EC(c, 0, EXT_HSM, 0, 1, TRAMP_GPA, 0x77);
	EC(c, 0, EXT_HSM, 0, ~0UL, TRAMP_GPA, 0x77);
	/* retentive suspend: the armed timer wakes it; resume address and opaque unused */
	ecall6(c, 0, F_ARM, EXT_HSM, 3, 0, TRAMP_GPA, 0x1234, 0, 0, 0);
	ecall6(c, 0, F_ARM, EXT_HSM, 3, 1UL << 32, BAD_GPA, 0x1234, 0, 0, 0);
	/* reserved and platform retentive, non-retentive default and others */
	ecall6(c, 0, F_ARM, EXT_HSM, 3, 1, TRAMP_GPA, 0x1234, 0, 0, 0);
	ecall6(c, 0, F_ARM, EXT_HSM, 3, 0x0fffffff, TRAMP_GPA, 0x1234, 0, 0, 0);
	ecall6(c, 0, F_ARM, EXT_HSM, 3, 0x10000000, TRAMP_GPA, 0x1234, 0, 0, 0);
	ecall6(c, 0, F_ARM, EXT_HSM, 3, 0x7fffffff, TRAMP_GPA, 0x1234, 0, 0, 0);
	ecall6(c, 0, F_ARM, EXT_HSM, 3, 0x80000000UL, TRAMP_GPA, 0x1234, 0, 0, 0);
	ecall6(c, 0, F_ARM, EXT_HSM, 3, 0x80000000UL, BAD_GPA, 0x1234, 0, 0, 0);
	ecall6(c, 0, F_ARM, EXT_HSM, 3, 0x80000001UL, TRAMP_GPA, 0x1234, 0, 0, 0);
	ecall6(c, 0, F_ARM, EXT_HSM, 3, 0x90000000UL, TRAMP_GPA, 0x1234, 0, 0, 0);
	ecall6(c, 0, F_ARM, EXT_HSM, 3, 0xffffffffUL, TRAMP_GPA, 0x1234, 0, 0, 0);
}

/* IPI and RFENCE on the 1-vCPU VM. */
static void sec_ipi_rfence_single(struct vmc *c)
{
	u64 f;

	EC(c, 0, EXT_IPI, 0, 1, 0, 0);
	EC(c, 0, EXT_IPI, 0, 0, ~0UL, 0);
	EC(c, 0, EXT_IPI, 0, 2, 0, 0);
	EC(c, 0, EXT_IPI, 0, 0, 0, 0);
	sip_sweep(c);
	for (f = 0; f <= 6; f++) {
		ecall6(c, 0, 0, EXT_RFENCE, f, 1, 0, 0, 0, 1, 0);
		ecall6(c, 0, 0, EXT_RFENCE, f, 0, ~0UL, 0x1000, 0x2000, 1, 0);
		ecall6(c, 0, 0, EXT_RFENCE, f, 2, 0, 0, ~0UL, 1, 0);
	}
}

static void sec_v01_single(struct vmc *c)
{
	EC(c, 0, 1, 0, 'x', 0x1111, 0);		/* putchar: to userspace */
	EC(c, 0, 1, 5, 0x1ff, 0x1111, 0);
	EC(c, 0, 2, 0, 0, 0x1111, 0);		/* getchar: to userspace */
	EC(c, 0, 3, 0, 0, 0x1111, 0);		/* clear_ipi */
}

/* DBCN (enabled through ONE_REG): everything goes to userspace. */
static void sec_dbcn(struct vmc *c)
{
	u64 gpa = addr_gva2gpa(c->vm, (gva_t)gdata);

	EC(c, 0, EXT_BASE, 3, EXT_DBCN, 0, 0);
	EC(c, 0, EXT_DBCN, 0, 16, gpa + 4096 - 8, 0);		/* across a page */
	EC(c, 0, EXT_DBCN, 0, 8, BAD_GPA, 0);			/* no memory there */
	EC(c, 0, EXT_DBCN, 0, 8, gpa, 1);			/* high half */
	EC(c, 0, EXT_DBCN, 0, 0, gpa, 0);			/* nothing */
	EC(c, 0, EXT_DBCN, 0, ~0UL, ~0UL, ~0UL);
	EC(c, 0, EXT_DBCN, 1, 16, gpa, 0);			/* read */
	EC(c, 0, EXT_DBCN, 1, 16, BAD_GPA, 0);
	EC(c, 0, EXT_DBCN, 2, 'A', 0x2222, 0);			/* write_byte */
	EC(c, 0, EXT_DBCN, 2, 0xffffff00UL | 'B', 0, 0);
	EC(c, 0, EXT_DBCN, 3, 0, 0, 0);				/* unknown function */
	EC(c, 0, EXT_DBCN, ~0UL, 0, 0, 0);
}

static void sec_mpxy(struct vmc *c)
{
	EC(c, 0, EXT_BASE, 3, EXT_MPXY, 0, 0);
	EC(c, 0, EXT_MPXY, 0, 0, 0, 0);
	EC(c, 0, EXT_MPXY, 1, 0x1000, 0, 0);
	EC(c, 0, EXT_MPXY, 0x100, 1, 2, 3);
}

/* SUSP on one vCPU: bad types and addresses, then a suspend and a resume. */
static void sec_susp_single(struct vmc *c)
{
	EC(c, 0, EXT_BASE, 3, EXT_SUSP, 0, 0);
	EC(c, 0, EXT_SUSP, 0, 1, TRAMP_GPA, 0x99);
	EC(c, 0, EXT_SUSP, 0, 0x7fffffff, TRAMP_GPA, 0x99);
	EC(c, 0, EXT_SUSP, 0, 0x80000000UL, TRAMP_GPA, 0x99);
	EC(c, 0, EXT_SUSP, 0, 0xffffffffUL, TRAMP_GPA, 0x99);
	EC(c, 0, EXT_SUSP, 0, 0, BAD_GPA, 0x99);
	EC(c, 0, EXT_SUSP, 1, 0, TRAMP_GPA, 0x99);
	/* suspend to RAM: to userspace, then the vCPU resumes at the trampoline */
	EC(c, 0, EXT_SUSP, 0, 0, TRAMP_GPA, 0x99);
	EC(c, 0, EXT_SUSP, 0, 1UL << 32, TRAMP_GPA + 2, 0xaa);
	EC(c, 0, EXT_SUSP, 0, 0, TRAMP_GPA, 0xbc);
	/* resume in a read-only memslot */
	EC(c, 0, EXT_SUSP, 0, 0, ROM_GPA, 0xbd);
	/* the FWFT lock is gone after the resume (a reset) */
	sec_fwft_lock(c, 0, 0, 1);
	EC(c, 0, EXT_SUSP, 0, 0, TRAMP_GPA, 0xcc);
	EC(c, 0, EXT_FWFT, 1, 0, 0, 0);
	EC(c, 0, EXT_FWFT, 0, 0, 0, 0);
	EC(c, 0, EXT_FWFT, 1, 5, 0, 0);
	EC(c, 0, EXT_FWFT, 0, 5, 0, 0);
}

/* The 4-vCPU VM: ids 0, 2, 3 and 70. */
static void sec_multi(struct vmc *c)
{
	static const struct { u64 mask, base; } ipi[] = {
		{ 0, ~0UL }, { 1, 0 }, { 0xd, 0 }, { 0x2, 0 }, { 0xf, 0 }, { 1, 2 }, { 3, 2 },
		{ 1, 70 }, { 1UL << 6, 64 }, { 1UL << 7, 64 }, { 1, 71 }, { 0, 0 }, { 0, 1000 },
		{ ~0UL, 0 }, { ~0UL, 64 }, { 1, ~1UL }, { 1UL << 63, 7 }, { 0x5, 1UL << 40 },
	};
	static const struct { u64 mask, base; } rf[] = {
		{ 0, ~0UL }, { 0xd, 0 }, { 0x2, 0 }, { 1, 70 }, { 1, 71 }, { ~0UL, 0 }, { 1, 1000 },
	};
	u64 gva_mask = (u64)gmask;
	unsigned int i;
	u64 f;

	line("hart status of every id");
	for (f = 0; f <= 4; f++)
		EC(c, 0, EXT_HSM, 2, f, 0, 0);
	EC(c, 0, EXT_HSM, 2, 70, 0, 0);
	EC(c, 0, EXT_HSM, 2, 71, 0, 0);
	/* hart ids wider than 32 bits, and negative as an int */
	EC(c, 0, EXT_HSM, 2, (1UL << 32) | 2, 0, 0);
	EC(c, 0, EXT_HSM, 2, (1UL << 32) | 70, 0, 0);
	EC(c, 0, EXT_HSM, 2, 0x80000002UL, 0, 0);
	EC(c, 0, EXT_HSM, 2, 0xffffffffUL, 0, 0);

	line("IPI");
	for (i = 0; i < ARRAY_SIZE(ipi); i++) {
		EC(c, 0, EXT_IPI, 0, ipi[i].mask, ipi[i].base, 0);
		sip_sweep(c);
	}
	EC(c, 70, EXT_IPI, 0, 0x1, 2, 0);
	sip_sweep(c);

	line("RFENCE");
	for (f = 0; f <= 6; f++)
		for (i = 0; i < ARRAY_SIZE(rf); i++)
			ecall6(c, 2, 0, EXT_RFENCE, f, rf[i].mask, rf[i].base, 0x1000, 0x1000, 5, 0);

	line("legacy IPI and fences, hart mask in guest memory");
	{
		u64 *hm = addr_gva2hva(c->vm, (gva_t)gmask);

		hm[0] = 0x5;	/* ids 0 and 2 */
		hm[1] = 0;
		hm[2] = 0;
	}
	EC(c, 0, 4, 0, gva_mask, 0x1111, 0);		/* not touched by the guest yet */
	sip_sweep(c);
	touch(c, 0);
	EC(c, 0, 4, 0, gva_mask, 0x1111, 0);
	sip_sweep(c);
	EC(c, 0, 4, 0, 0, 0x1111, 0);			/* all */
	sip_sweep(c);
	EC(c, 0, 4, 0, BAD_GPA, 0x1111, 0);		/* unmapped */
	sip_sweep(c);
	EC(c, 0, 4, 0, gva_mask + 1, 0x1111, 0);	/* misaligned */
	sip_sweep(c);
	EC(c, 0, 4, 0, gva_mask + 4, 0x1111, 0);
	sip_sweep(c);
	EC(c, 2, 3, 0, 0, 0x1111, 0);			/* clear_ipi of 2 only */
	EC(c, 0, 4, 0, 0, 0x1111, 0);
	EC(c, 0, 3, 0, 0, 0x1111, 0);
	sip_sweep(c);
	for (f = 5; f <= 7; f++) {
		ecall6(c, 0, 0, f, 0, gva_mask, 0, 0, 0, 0, 0);
		ecall6(c, 0, 0, f, 0, 0, 0x1000, 0x1000, 3, 0, 0);
		ecall6(c, 0, 0, f, 0, BAD_GPA, 0x1000, 0x1000, 3, 0, 0);
		ecall6(c, 0, 0, f, 0, gva_mask + 1, 0, 0, 0, 0, 0);
	}

	line("HSM");
	EC(c, 0, EXT_HSM, 0, 2, TRAMP_GPA, 0x22);	/* already started */
	EC(c, 2, EXT_HSM, 1, 0, 0, 0);			/* 2 stops */
	EC(c, 0, EXT_HSM, 2, 2, 0, 0);
	EC(c, 0, EXT_HSM, 0, 2, TRAMP_GPA, 0x22);
	run_line(c, 2);
	EC(c, 0, EXT_HSM, 2, 2, 0, 0);
	EC(c, 0, EXT_HSM, 0, 2, TRAMP_GPA, 0x23);
	/* an IPI pending before the stop is gone after the start */
	EC(c, 0, EXT_IPI, 0, 1, 3, 0);
	EC(c, 3, EXT_HSM, 1, 0, 0, 0);
	EC(c, 0, EXT_HSM, 0, 3, TRAMP_GPA + 2, 0x33);	/* 2-byte aligned */
	run_line(c, 3);
	sip_sweep(c);
	/* an odd address: only what hart_start says (the emulated CPU decides the rest) */
	EC(c, 3, EXT_HSM, 1, 0, 0, 0);
	EC(c, 0, EXT_HSM, 0, 3, TRAMP_GPA + 1, 0x34);
	host_stop(c, 3);
	EC(c, 0, EXT_HSM, 2, 3, 0, 0);
	EC(c, 0, EXT_HSM, 0, 3, TRAMP_GPA, 0x34);
	run_line(c, 3);
	/* the FWFT lock of 3 is gone once it was stopped and started again */
	sec_fwft_lock(c, 3, 0, 1);
	EC(c, 3, EXT_HSM, 1, 0, 0, 0);
	EC(c, 0, EXT_HSM, 0, 3, TRAMP_GPA, 0x35);
	run_line(c, 3);
	EC(c, 3, EXT_FWFT, 1, 0, 0, 0);
	EC(c, 3, EXT_FWFT, 0, 0, 0, 0);
	EC(c, 3, EXT_FWFT, 1, 5, 0, 0);
	EC(c, 3, EXT_FWFT, 0, 5, 0, 0);
	/* a start by a hart id with upper bits, in a read-only memslot */
	EC(c, 3, EXT_HSM, 1, 0, 0, 0);
	EC(c, 0, EXT_HSM, 0, (1UL << 32) | 3, ROM_GPA, 0x36);
	run_line(c, 3);
	/* a start at an address without memory */
	EC(c, 70, EXT_HSM, 1, 0, 0, 0);
	EC(c, 0, EXT_HSM, 2, 70, 0, 0);
	EC(c, 0, EXT_HSM, 0, 70, BAD_GPA, 0x70);
	{
		int st = run_vcpu(c, vidx(c, 70), 2);

		show_entries(c);
		line("  v70 run -> %s scause=0x%lx", st_str(st),
		     vcpu_get_reg(c->v[vidx(c, 70)], RISCV_GENERAL_CSR_REG(scause)));
	}
	host_stop(c, 70);
	EC(c, 0, EXT_HSM, 2, 70, 0, 0);
	EC(c, 0, EXT_HSM, 0, 70, TRAMP_GPA, 0x71);
	run_line(c, 70);
	EC(c, 0, EXT_HSM, 2, 70, 0, 0);

	line("SUSP with other harts running, then alone");
	EC(c, 0, EXT_SUSP, 0, 0, TRAMP_GPA, 0x99);
	EC(c, 2, EXT_HSM, 1, 0, 0, 0);
	EC(c, 3, EXT_HSM, 1, 0, 0, 0);
	EC(c, 0, EXT_SUSP, 0, 0, TRAMP_GPA, 0x99);
	EC(c, 70, EXT_HSM, 1, 0, 0, 0);
	EC(c, 0, EXT_SUSP, 0, 0, TRAMP_GPA, 0x9a);
	for (f = 0; f <= 4; f++)
		EC(c, 0, EXT_HSM, 2, f, 0, 0);
	EC(c, 0, EXT_HSM, 2, 70, 0, 0);
	/* a stopped hart asks nothing; 70 started again by 0 */
	EC(c, 0, EXT_HSM, 0, 70, TRAMP_GPA, 0x72);
	run_line(c, 70);
	EC(c, 70, EXT_SUSP, 0, 0, TRAMP_GPA, 0x9b);
}

/* SRST and the legacy shutdown, each in a fresh 2-vCPU VM. */
static void sec_srst(void)
{
	static const u64 reason[] = { 0, 1, 2, 0xefffffffUL, 0xf0000000UL, 0xffffffffUL,
		(1UL << 32) | 1 };
	static const u64 type[] = { 0, 1, 2, 1UL << 32 };
	unsigned int t, r;
	struct vmc *c;
	char name[64];

	for (t = 0; t < ARRAY_SIZE(type); t++) {
		for (r = 0; r < ARRAY_SIZE(reason); r++) {
			if (t == 3 && r > 0)
				break;
			snprintf(name, sizeof(name), "srst-%u-%u", t, r);
			c = vm_new(strdup(name), 2, two_ids);
			vm_start(c);
			EC(c, 0, EXT_SRST, 0, type[t], reason[r], 0x55);
			vm_done(c);
		}
	}
	c = vm_new("srst-bad", 2, two_ids);
	vm_start(c);
	EC(c, 1, EXT_SRST, 0, 3, 0, 0);
	EC(c, 1, EXT_SRST, 0, 0xefffffffUL, 0, 0);
	EC(c, 1, EXT_SRST, 0, 0xf0000000UL, 0, 0);
	EC(c, 1, EXT_SRST, 0, 0xffffffffUL, 1, 0);
	EC(c, 1, EXT_SRST, 1, 0, 0, 0);
	EC(c, 1, EXT_SRST, ~0UL, 0, 0, 0);
	/* from vCPU 1, with 0 running */
	EC(c, 1, EXT_SRST, 0, 1, 0, 0);
	vm_done(c);

	c = vm_new("v01-shutdown", 2, two_ids);
	vm_start(c);
	EC(c, 0, 8, 0, 0x1234, 0x5678, 0);
	vm_done(c);
}

/* Each of KVM's extensions disabled through ONE_REG before the first run. */
static void sec_disabled(void)
{
	static const struct { u64 eid, fid, a0, a1, a2; } call[] = {
		[KVM_RISCV_SBI_EXT_V01] = { 3, 0, 0, 0, 0 },
		[KVM_RISCV_SBI_EXT_TIME] = { EXT_TIME, 0, ~0UL, 0, 0 },
		[KVM_RISCV_SBI_EXT_IPI] = { EXT_IPI, 0, 0, 0, 0 },
		[KVM_RISCV_SBI_EXT_RFENCE] = { EXT_RFENCE, 0, 0, 0, 0 },
		[KVM_RISCV_SBI_EXT_SRST] = { EXT_SRST, 0, 3, 0, 0 },
		[KVM_RISCV_SBI_EXT_HSM] = { EXT_HSM, 2, 0, 0, 0 },
		[KVM_RISCV_SBI_EXT_PMU] = { EXT_PMU, 0, 0, 0, 0 },
		[KVM_RISCV_SBI_EXT_EXPERIMENTAL] = { EXT_EXP_START, 0, 1, 2, 3 },
		[KVM_RISCV_SBI_EXT_VENDOR] = { EXT_VEN_START, 0, 1, 2, 3 },
		[KVM_RISCV_SBI_EXT_DBCN] = { EXT_DBCN, 2, 'z', 0, 0 },
		[KVM_RISCV_SBI_EXT_STA] = { EXT_STA, 0, ~0UL, ~0UL, 0 },
		[KVM_RISCV_SBI_EXT_SUSP] = { EXT_SUSP, 0, 1, 0, 0 },
		[KVM_RISCV_SBI_EXT_FWFT] = { EXT_FWFT, 1, 0, 0, 0 },
		[KVM_RISCV_SBI_EXT_MPXY] = { EXT_MPXY, 0, 0, 0, 0 },
	};
	unsigned int x;
	struct vmc *c;
	char name[64];

	for (x = 0; x < KVM_RISCV_SBI_EXT_MAX && x < ARRAY_SIZE(call); x++) {
		snprintf(name, sizeof(name), "off-%s", kvm_ext_name[x]);
		c = vm_new(strdup(name), 1, one_id);
		set_ext(c, x, 0);
		vm_start(c);
		EC(c, 0, EXT_BASE, 3, call[x].eid, 0, 0);
		EC(c, 0, call[x].eid, call[x].fid, call[x].a0, call[x].a1, call[x].a2);
		if (x == KVM_RISCV_SBI_EXT_V01) {
			EC(c, 0, 1, 0, 'x', 0, 0);
			EC(c, 0, 4, 0, 0, 0, 0);
			EC(c, 0, 8, 0, 0, 0, 0);
		}
		if (x == KVM_RISCV_SBI_EXT_HSM)
			ecall6(c, 0, F_ARM, EXT_HSM, 3, 0, 0, 0, 0, 0, 0);
		if (x == KVM_RISCV_SBI_EXT_SRST)
			EC(c, 0, EXT_SRST, 0, 0, 0, 0);
		if (x == KVM_RISCV_SBI_EXT_TIME)
			ecall6(c, 0, F_TIME_A0, EXT_TIME, 0, -100000UL, 0, 0, 0, 0, 0);
		vm_done(c);
	}
	/* Everything but BASE off at once: base still answers. */
	c = vm_new("off-all", 1, one_id);
	{
		u64 v = ~0UL;
		struct kvm_one_reg r = {
			.id = KVM_REG_RISCV | KVM_REG_SIZE_U64 | KVM_REG_RISCV_SBI_EXT |
			      KVM_REG_RISCV_SBI_MULTI_DIS | 0,
			.addr = (u64)&v,
		};

		line("v0 one_reg sbi_ext multi_dis 0 ~0 -> %s",
		     errname(__vcpu_ioctl(c->v[0], KVM_SET_ONE_REG, &r) ? errno : 0));
	}
	vm_start(c);
	EC(c, 0, EXT_BASE, 0, 0, 0, 0);
	probe_all(c, 0);
	sec_unknown(c);
	vm_done(c);
}

static void usage(const char *p)
{
	fprintf(stderr, "usage: %s [-o FILE]\n", p);
	exit(2);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct vmc *c;
	int opt;

	out = stdout;
	while ((opt = getopt(argc, argv, "o:h")) != -1) {
		switch (opt) {
		case 'o':
			out = fopen(optarg, "w");
			if (!out) {
				perror(optarg);
				return 2;
			}
			break;
		default:
			usage(argv[0]);
		}
	}
	sigaction(SIGALRM, &sa, NULL);

	c = vm_new("base", 1, one_id);
	vm_start(c);
	sec_base(c);
	sec_unknown(c);
	sec_forward(c);
	sec_time(c);
	sec_hsm_single(c);
	sec_ipi_rfence_single(c);
	sec_v01_single(c);
	sec_fwft(c, 0);
	sec_misaligned(c);
	sec_fwft_lock(c, 0, 0, 1);
	line("DBCN, SUSP and MPXY are off by default");
	EC(c, 0, EXT_DBCN, 2, 'a', 0, 0);
	EC(c, 0, EXT_SUSP, 0, 0, TRAMP_GPA, 0x99);
	EC(c, 0, EXT_MPXY, 0, 0, 0, 0);
	vm_done(c);

	c = vm_new("ext", 1, one_id);
	set_ext(c, KVM_RISCV_SBI_EXT_DBCN, 1);
	set_ext(c, KVM_RISCV_SBI_EXT_SUSP, 1);
	set_ext(c, KVM_RISCV_SBI_EXT_MPXY, 1);
	vm_start(c);
	sec_dbcn(c);
	sec_mpxy(c);
	sec_susp_single(c);
	vm_done(c);

	c = vm_new("multi", 4, multi_ids);
	set_ext(c, KVM_RISCV_SBI_EXT_SUSP, 1);
	vm_start(c);
	sec_multi(c);
	vm_done(c);

	sec_srst();
	sec_disabled();

	sec = "end";
	line("failures=%d", failures);
	fflush(out);
	fprintf(stderr, "sbi_dump: %lu lines, %d failures\n", nlines, failures);
	return failures ? 1 : 0;
}
