// SPDX-License-Identifier: GPL-2.0
/*
 * In-kernel AIA irqchip conformance dump. Writes to stdout (or to -o FILE)
 * one line per thing userspace and a guest see of the AIA device (upstream
 * arch/riscv/kvm/aia_device.c, aia_aplic.c, aia_imsic.c, and the parts of
 * aia.c, vm.c and the vCPU code they go through): KVM_CREATE_DEVICE, every
 * attribute of the CONFIG, ADDR, CTRL, APLIC and IMSIC groups (get, set,
 * has, with good, boundary and bad values, before and after the irqchip is
 * initialized, before and after a vCPU has run), the APLIC's registers as
 * a guest reads and writes them (MMIO), the guest's IMSIC through its
 * indirect CSRs and its MMIO page, KVM_IRQ_LINE edge and level sequences
 * on every source mode, KVM_SIGNAL_MSI to each hart and guest file, and
 * irqfds on IRQCHIP and MSI routes. Each in the emul, hwaccel and auto
 * modes of the device. The dump is deterministic for a given kvm.ko, host
 * and kernel, so that the dumps of our module and of upstream C
 * (tools/testing/host/mode-aiadump, in one boot) can be compared byte for
 * byte.
 *
 * The guest is a small position-independent command loop (ad_guest below)
 * copied to guest physical 0 and run with its MMU off. The host puts a
 * command in a0..a2 through ONE_REG; the guest does it and stores its
 * result (t0) to SYNC_GPA, where no memslot is: that MMIO exit ends the
 * command. Every other exit on the way is printed. The guest never enables
 * interrupts (sstatus.SIE stays 0): what is pending is read, never taken.
 *
 * Nothing that varies from run to run is printed: no host addresses, no
 * times, no file descriptors. The program pins itself to one host CPU, so
 * that in hwaccel mode a vCPU keeps its IMSIC guest file from run to run.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "processor.h"

#define PG		4096UL
#define CODE_GPA	0x0UL		/* slot 0: the guest's code, one page */
#define SYNC_GPA	0x40000000UL	/* no memslot: the command loop's MMIO store */
#define APLIC_GPA	0xc000000UL
#define IMSIC_GPA	0x28000000UL
#define SENTINEL	0x5a5a5a5a5a5a5a5aULL

/* APLIC registers (offsets in the RISC-V AIA specification). */
#define A_DOMAINCFG	0x0000
#define A_SOURCECFG	0x0004		/* sourcecfg[i] at 0x4 * i */
#define A_SETIP		0x1c00
#define A_SETIPNUM	0x1cdc
#define A_IN_CLRIP	0x1d00
#define A_CLRIPNUM	0x1ddc
#define A_SETIE		0x1e00
#define A_SETIENUM	0x1edc
#define A_CLRIE		0x1f00
#define A_CLRIENUM	0x1fdc
#define A_SETIPNUM_LE	0x2000
#define A_SETIPNUM_BE	0x2004
#define A_GENMSI	0x3000
#define A_TARGET	0x3000		/* target[i] at 0x3000 + 0x4 * i */
#define DCFG_IE		(1U << 8)
#define SM_INACTIVE	0
#define SM_DETACHED	1
#define SM_EDGE_RISE	4
#define SM_EDGE_FALL	5
#define SM_LEVEL_HIGH	6
#define SM_LEVEL_LOW	7
#define SRC_D		(1U << 10)
#define TGT(hart, guest, eiid)	(((u32)(hart) << 18) | ((u32)(guest) << 12) | (u32)(eiid))

/* IMSIC indirect registers (iselect values). */
#define I_EIDELIVERY	0x70
#define I_EITHRESHOLD	0x72
#define I_EIP0		0x80
#define I_EIE0		0xc0

/* Guest CSRs, by number. */
#define CSR_SIP_N	0x144
#define CSR_SISELECT_N	0x150
#define CSR_SIREG_N	0x151
#define CSR_STOPEI_N	0x15c

/* Guest commands: a0 = op, a1 = address (or iselect), a2 = value. */
enum {
	OP_NOP, OP_LW, OP_SW, OP_SWLW, OP_LB, OP_LH, OP_LD, OP_SB, OP_SD,
	OP_IREG_R, OP_IREG_W, OP_TOPEI_R, OP_TOPEI_CLAIM, OP_SIP,
};

static const char * const op_name[] = {
	"nop", "lw", "sw", "sw+lw", "lb", "lh", "ld", "sb", "sd",
	"sireg read", "sireg write", "stopei read", "stopei claim", "sip",
};

/* ---------------------------------------------------------------------- */
/* The guest: position independent, MMU off, no stack, no memory of its own. */

/*
 * Two nops first, as a reset may enter at 0 or 4. The loop reads its
 * command from a0..a2; the result goes out as an 8-byte MMIO store of t0
 * to SYNC_GPA. A trap (stvec = ad_trap) stores scause to SYNC_GPA + 8,
 * stval to SYNC_GPA + 16, and ends the command with t0 = -1.
 */
asm(".text\n"
    ".balign 4096\n"
    ".global ad_guest, ad_loop, ad_trap, ad_guest_end\n"
    "ad_guest:\n"
    "	.option push\n"
    "	.option norvc\n"
    "	.option norelax\n"
    "	nop\n"
    "	nop\n"
    "ad_loop:\n"
    "	li t0, 0\n"
    "	beqz a0, ad_sync\n"
    "	li t6, 1\n	beq a0, t6, 1f\n"
    "	li t6, 2\n	beq a0, t6, 2f\n"
    "	li t6, 3\n	beq a0, t6, 3f\n"
    "	li t6, 4\n	beq a0, t6, 4f\n"
    "	li t6, 5\n	beq a0, t6, 5f\n"
    "	li t6, 6\n	beq a0, t6, 6f\n"
    "	li t6, 7\n	beq a0, t6, 7f\n"
    "	li t6, 8\n	beq a0, t6, 8f\n"
    "	li t6, 9\n	beq a0, t6, 9f\n"
    "	li t6, 10\n	beq a0, t6, 10f\n"
    "	li t6, 11\n	beq a0, t6, 11f\n"
    "	li t6, 12\n	beq a0, t6, 12f\n"
    "	li t6, 13\n	beq a0, t6, 13f\n"
    "	li t0, -2\n"
    "	j ad_sync\n"
    "1:	lwu t0, 0(a1)\n	j ad_sync\n"
    "2:	sw a2, 0(a1)\n	j ad_sync\n"
    "3:	sw a2, 0(a1)\n	lwu t0, 0(a1)\n	j ad_sync\n"
    "4:	lb t0, 0(a1)\n	j ad_sync\n"
    "5:	lh t0, 0(a1)\n	j ad_sync\n"
    "6:	ld t0, 0(a1)\n	j ad_sync\n"
    "7:	sb a2, 0(a1)\n	j ad_sync\n"
    "8:	sd a2, 0(a1)\n	j ad_sync\n"
    "9:	csrw 0x150, a1\n	csrr t0, 0x151\n	j ad_sync\n"
    "10:	csrw 0x150, a1\n	csrw 0x151, a2\n	csrr t0, 0x151\n	j ad_sync\n"
    "11:	csrr t0, 0x15c\n	j ad_sync\n"
    "12:	csrrw t0, 0x15c, zero\n	j ad_sync\n"
    "13:	csrr t0, 0x144\n	j ad_sync\n"
    "ad_sync:\n"
    "	li t5, 0x40000000\n"
    "	sd t0, 0(t5)\n"
    "	j ad_loop\n"
    "ad_trap:\n"
    "	li t5, 0x40000000\n"
    "	csrr t0, scause\n	sd t0, 8(t5)\n"
    "	csrr t0, stval\n	sd t0, 16(t5)\n"
    "	li t0, -1\n"
    "	j ad_sync\n"
    "	.option pop\n"
    "ad_guest_end:\n");

extern char ad_guest[], ad_loop[], ad_trap[], ad_guest_end[];

#define OFF(sym)	((u64)((sym) - ad_guest))

/* ---------------------------------------------------------------------- */
/* Output.                                                                 */

static FILE *out;
static unsigned long nlines;
static int failures;
static char sec[64] = "start";
static int kvm_fd;
static long run_size;

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

static void set_sec(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_sec(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sec, sizeof(sec), fmt, ap);
	va_end(ap);
}

/*
 * A line built in parts, each part a statement of its own: the ioctls of a
 * line run in the order they are printed (the order of evaluation of a
 * function's arguments is unspecified in C).
 */
static char pbuf[8192];
static size_t plen;

static void P(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void P(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(pbuf + plen, sizeof(pbuf) - plen, fmt, ap);
	va_end(ap);
	if (n > 0)
		plen = plen + n < sizeof(pbuf) ? plen + n : sizeof(pbuf) - 1;
}

static void E(void)
{
	line("%s", pbuf);
	plen = 0;
	pbuf[0] = 0;
}

/* A self-check that failed: printed, and the run exits 1. */
#define CHECK(cond, ...)						\
	do {								\
		if (!(cond)) {						\
			failures++;					\
			line("CHECK FAILED: " __VA_ARGS__);		\
		}							\
	} while (0)

static const char *errname(int e)
{
	static char s[8][16];
	static int k;

	switch (e) {
	case 0: return "OK";
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
	case ENOSPC: return "ENOSPC";
	case ENOTTY: return "ENOTTY";
	case ERANGE: return "ERANGE";
	case ENOSYS: return "ENOSYS";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case 524: return "ENOTSUPP";
	}
	snprintf(s[k & 7], 16, "E%d", e);
	return s[k++ & 7];
}

/* ioctl: the result (>= 0), or -errno. */
static long xioctl(int fd, unsigned long req, unsigned long arg)
{
	long r = ioctl(fd, req, arg);

	return r < 0 ? -errno : r;
}

#define XIOCTL(fd, req, p)	xioctl(fd, req, (unsigned long)(p))

/* A result as text: the value, or the errno's name. */
static const char *res(long r)
{
	static char s[8][24];
	static int k;

	if (r < 0)
		return errname(-r);
	snprintf(s[k & 7], 24, "%ld", r);
	return s[k++ & 7];
}

#define R(desc, call)	P("%s" desc " -> %s", plen ? ", " : "", res(call))

/* ---------------------------------------------------------------------- */
/* VMs, vCPUs, the AIA device.                                             */

static void on_alarm(int sig)
{
}

static void arm_ms(unsigned int ms)
{
	struct itimerval it = { .it_value = { ms / 1000, (ms % 1000) * 1000 } };

	setitimer(ITIMER_REAL, &it, NULL);
}

static long check_ext(int fd, long cap)
{
	return xioctl(fd, KVM_CHECK_EXTENSION, cap);
}

struct vcpu {
	int fd;
	u32 id;
	struct kvm_run *run;
	bool need_pc;		/* enter at ad_loop (a fresh vCPU, or after a failed run) */
};

static long reg_set(struct vcpu *v, u64 id, u64 val)
{
	struct kvm_one_reg r = { .id = id, .addr = (u64)&val };

	return XIOCTL(v->fd, KVM_SET_ONE_REG, &r);
}

static long reg_get(struct vcpu *v, u64 id, u64 *val)
{
	struct kvm_one_reg r = { .id = id, .addr = (u64)val };

	return XIOCTL(v->fd, KVM_GET_ONE_REG, &r);
}

static long add_vcpu(int vmfd, u32 id, struct vcpu *v)
{
	long fd = xioctl(vmfd, KVM_CREATE_VCPU, id);

	memset(v, 0, sizeof(*v));
	if (fd < 0)
		return fd;
	v->fd = fd;
	v->id = id;
	v->run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	TEST_ASSERT(v->run != MAP_FAILED, "mmap kvm_run");
	v->need_pc = true;
	reg_set(v, RISCV_GENERAL_CSR_REG(stvec), CODE_GPA + OFF(ad_trap));
	/* every vCPU but the first is created stopped (for SBI HSM): start it */
	{
		struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
		long r = XIOCTL(fd, KVM_SET_MP_STATE, &mp);

		TEST_ASSERT(r == 0, "KVM_SET_MP_STATE: %s", errname(-r));
	}
	return 0;
}

static void free_vcpu(struct vcpu *v)
{
	if (!v->run)
		return;
	munmap(v->run, run_size);
	close(v->fd);
	v->run = NULL;
}

/* A VM with the guest's code in slot 0, nv vCPUs and (dev >= 0) the AIA device. */
#define MAXV	8
struct avm {
	int fd, dev, nv;
	struct vcpu v[MAXV];
	u8 *code;
};

static long create_dev(int vm, u32 type, u32 flags, int *fd)
{
	struct kvm_create_device cd = { .type = type, .flags = flags, .fd = ~0U };
	long r = XIOCTL(vm, KVM_CREATE_DEVICE, &cd);

	if (fd)
		*fd = r == 0 && !(flags & KVM_CREATE_DEVICE_TEST) ? (int)cd.fd : -1;
	else if (r == 0 && !(flags & KVM_CREATE_DEVICE_TEST))
		close(cd.fd);
	return r;
}

/* with_dev: create the AIA device after the vCPUs; its result is printed. */
static void avm_new(struct avm *a, int nv, bool with_dev)
{
	long r;
	int i;

	memset(a, 0, sizeof(*a));
	a->dev = -1;
	a->fd = xioctl(kvm_fd, KVM_CREATE_VM, 0);
	TEST_ASSERT(a->fd >= 0, "KVM_CREATE_VM: %s", errname(-a->fd));
	a->code = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	TEST_ASSERT(a->code != MAP_FAILED, "mmap");
	memcpy(a->code, ad_guest, ad_guest_end - ad_guest);
	{
		struct kvm_userspace_memory_region m = {
			.slot = 0, .guest_phys_addr = CODE_GPA, .memory_size = PG,
			.userspace_addr = (u64)a->code,
		};

		r = XIOCTL(a->fd, KVM_SET_USER_MEMORY_REGION, &m);
		TEST_ASSERT(r == 0, "code slot: %s", errname(-r));
	}
	for (i = 0; i < nv; i++)
		TEST_ASSERT(add_vcpu(a->fd, i, &a->v[i]) == 0, "vCPU %d", i);
	a->nv = nv;
	if (with_dev) {
		r = create_dev(a->fd, KVM_DEV_TYPE_RISCV_AIA, 0, &a->dev);
		line("VM with %d vCPUs: KVM_CREATE_DEVICE(RISCV_AIA) -> %s", nv, res(r));
		TEST_ASSERT(r == 0, "AIA device");
	}
}

static void avm_free(struct avm *a)
{
	int i;

	for (i = 0; i < MAXV; i++)
		free_vcpu(&a->v[i]);
	if (a->dev >= 0)
		close(a->dev);
	close(a->fd);
	munmap(a->code, PG);
}

static long dattr(int dev, unsigned long req, u32 grp, u64 attr, void *p)
{
	struct kvm_device_attr a = { .group = grp, .attr = attr, .addr = (u64)p };

	return XIOCTL(dev, req, &a);
}

static long has(int dev, u32 grp, u64 attr)
{
	return dattr(dev, KVM_HAS_DEVICE_ATTR, grp, attr, NULL);
}

/* The size of a group's value: u32, or u64 (an address, an unsigned long). */
static int gsize(u32 grp)
{
	return grp == KVM_DEV_RISCV_AIA_GRP_ADDR || grp == KVM_DEV_RISCV_AIA_GRP_IMSIC ? 8 : 4;
}

/*
 * KVM_GET_DEVICE_ATTR into a buffer filled with SENTINEL: "0x<value>", or
 * the errno's name; either way, what the kernel wrote where it should not
 * have (past the value, or on a failure) is shown.
 */
static u64 last_get;
static long last_get_r;

static const char *get_str(int dev, u32 grp, u64 attr)
{
	static char s[16][80];
	static int k;
	char *p = s[k++ & 15];
	u64 buf[2] = { SENTINEL, SENTINEL };
	int sz = gsize(grp);
	long r = dattr(dev, KVM_GET_DEVICE_ATTR, grp, attr, buf);
	u64 v = sz == 4 ? (u32)buf[0] : buf[0];

	last_get_r = r;
	last_get = r == 0 ? v : 0;
	if (r < 0) {
		if (buf[0] != SENTINEL || buf[1] != SENTINEL)
			snprintf(p, 80, "%s (buffer written: 0x%llx 0x%llx)", errname(-r),
				 (unsigned long long)buf[0], (unsigned long long)buf[1]);
		else
			snprintf(p, 80, "%s", errname(-r));
	} else if ((sz == 4 && (buf[0] >> 32) != (SENTINEL >> 32)) || buf[1] != SENTINEL) {
		snprintf(p, 80, "0x%llx (written past the value: 0x%llx 0x%llx)",
			 (unsigned long long)v, (unsigned long long)buf[0], (unsigned long long)buf[1]);
	} else {
		snprintf(p, 80, "%s0x%llx", r > 0 ? "r>0 " : "", (unsigned long long)v);
	}
	return p;
}

static u64 get_val(int dev, u32 grp, u64 attr)
{
	get_str(dev, grp, attr);
	return last_get;
}

static long set_attr(int dev, u32 grp, u64 attr, u64 val)
{
	u64 buf[2] = { val, SENTINEL };

	return dattr(dev, KVM_SET_DEVICE_ATTR, grp, attr, buf);
}

static u64 imsic_attr(u32 vcpu, u64 isel)
{
	return ((u64)vcpu << KVM_DEV_RISCV_AIA_IMSIC_ISEL_BITS) | isel;
}

static const char * const mode_name[] = { "emul", "hwaccel", "auto" };

static const char *cfg_name(u64 attr)
{
	static const char * const n[] = { "MODE", "IDS", "SRCS", "GROUP_BITS", "GROUP_SHIFT",
		"HART_BITS", "GUEST_BITS" };
	static char s[32];

	if (attr < ARRAY_SIZE(n))
		return n[attr];
	snprintf(s, sizeof(s), "attr 0x%llx", (unsigned long long)attr);
	return s;
}

static const char *aplic_name(u64 off)
{
	static char s[8][40];
	static int k;
	char *p = s[k++ & 7];

	if (off == A_DOMAINCFG)
		return "domaincfg";
	if (off >= A_SOURCECFG && off < 0x1000 && !(off & 3))
		snprintf(p, 40, "sourcecfg[%llu]", (unsigned long long)off / 4);
	else if (off >= A_SETIP && off < A_SETIP + 0x80 && !(off & 3))
		snprintf(p, 40, "setip[%llu]", (unsigned long long)(off - A_SETIP) / 4);
	else if (off == A_SETIPNUM)
		return "setipnum";
	else if (off >= A_IN_CLRIP && off < A_IN_CLRIP + 0x80 && !(off & 3))
		snprintf(p, 40, "in_clrip[%llu]", (unsigned long long)(off - A_IN_CLRIP) / 4);
	else if (off == A_CLRIPNUM)
		return "clripnum";
	else if (off >= A_SETIE && off < A_SETIE + 0x80 && !(off & 3))
		snprintf(p, 40, "setie[%llu]", (unsigned long long)(off - A_SETIE) / 4);
	else if (off == A_SETIENUM)
		return "setienum";
	else if (off >= A_CLRIE && off < A_CLRIE + 0x80 && !(off & 3))
		snprintf(p, 40, "clrie[%llu]", (unsigned long long)(off - A_CLRIE) / 4);
	else if (off == A_CLRIENUM)
		return "clrienum";
	else if (off == A_SETIPNUM_LE)
		return "setipnum_le";
	else if (off == A_SETIPNUM_BE)
		return "setipnum_be";
	else if (off == A_GENMSI)
		return "genmsi";
	else if (off > A_TARGET && off < 0x4000 && !(off & 3))
		snprintf(p, 40, "target[%llu]", (unsigned long long)(off - A_TARGET) / 4);
	else
		snprintf(p, 40, "offset 0x%llx", (unsigned long long)off);
	return p;
}

static const char *isel_name(u64 isel)
{
	static char s[8][24];
	static int k;
	char *p = s[k++ & 7];

	if (isel == I_EIDELIVERY)
		return "eidelivery";
	if (isel == I_EITHRESHOLD)
		return "eithreshold";
	if (isel >= I_EIP0 && isel < I_EIP0 + 64)
		snprintf(p, 24, "eip%llu", (unsigned long long)isel - I_EIP0);
	else if (isel >= I_EIE0 && isel < I_EIE0 + 64)
		snprintf(p, 24, "eie%llu", (unsigned long long)isel - I_EIE0);
	else if (isel >= 0x30 && isel < 0x40)
		snprintf(p, 24, "iprio%llu", (unsigned long long)isel - 0x30);
	else
		snprintf(p, 24, "isel 0x%llx", (unsigned long long)isel);
	return p;
}

/* A configuration of the device, and its init. */
struct cfg {
	u32 mode, ids, srcs, group_bits, group_shift, hart_bits, guest_bits;
	u64 aplic;
	u64 imsic[MAXV];
};

/* Set every attribute of c (unset IMSIC addresses stay unset), then init. */
static long setup(struct avm *a, const struct cfg *c)
{
	long r;
	int i;

	P("setup mode=%s ids=%u srcs=%u group_bits=%u group_shift=%u hart_bits=%u guest_bits=%u:",
	  c->mode < 3 ? mode_name[c->mode] : "?", c->ids, c->srcs, c->group_bits, c->group_shift,
	  c->hart_bits, c->guest_bits);
	P(" %s", res(set_attr(a->dev, KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_MODE, c->mode)));
	P(" %s", res(set_attr(a->dev, KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_IDS, c->ids)));
	P(" %s", res(set_attr(a->dev, KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_SRCS, c->srcs)));
	P(" %s", res(set_attr(a->dev, KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_GROUP_BITS,
			      c->group_bits)));
	P(" %s", res(set_attr(a->dev, KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_GROUP_SHIFT,
			      c->group_shift)));
	P(" %s", res(set_attr(a->dev, KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_HART_BITS,
			      c->hart_bits)));
	P(" %s", res(set_attr(a->dev, KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_GUEST_BITS,
			      c->guest_bits)));
	if (c->aplic) {
		P("; aplic=0x%llx", (unsigned long long)c->aplic);
		P(" %s", res(set_attr(a->dev, KVM_DEV_RISCV_AIA_GRP_ADDR, KVM_DEV_RISCV_AIA_ADDR_APLIC,
				      c->aplic)));
	}
	for (i = 0; i < a->nv; i++) {
		if (!c->imsic[i])
			continue;
		P("; imsic%d=0x%llx", i, (unsigned long long)c->imsic[i]);
		P(" %s", res(set_attr(a->dev, KVM_DEV_RISCV_AIA_GRP_ADDR, KVM_DEV_RISCV_AIA_ADDR_IMSIC(i),
				      c->imsic[i])));
	}
	r = set_attr(a->dev, KVM_DEV_RISCV_AIA_GRP_CTRL, KVM_DEV_RISCV_AIA_CTRL_INIT, 0);
	P("; init -> %s", res(r));
	E();
	return r;
}

/* The usual configuration: nv vCPUs, IMSIC pages one after the other. */
static struct cfg std_cfg(u32 mode, int nv, u32 srcs)
{
	struct cfg c = {
		.mode = mode, .ids = 127, .srcs = srcs, .group_bits = 0, .group_shift = 24,
		.hart_bits = nv > 4 ? 3 : nv > 2 ? 2 : 1, .guest_bits = 0, .aplic = APLIC_GPA,
	};
	int i;

	for (i = 0; i < nv; i++)
		c.imsic[i] = IMSIC_GPA + i * PG;
	return c;
}

/* ---------------------------------------------------------------------- */
/* Running the guest.                                                      */

static const char *exit_name(u32 r)
{
	static char s[16];

	switch (r) {
	case KVM_EXIT_UNKNOWN: return "UNKNOWN";
	case KVM_EXIT_MMIO: return "MMIO";
	case KVM_EXIT_INTR: return "INTR";
	case KVM_EXIT_SHUTDOWN: return "SHUTDOWN";
	case KVM_EXIT_FAIL_ENTRY: return "FAIL_ENTRY";
	case KVM_EXIT_INTERNAL_ERROR: return "INTERNAL_ERROR";
	case KVM_EXIT_SYSTEM_EVENT: return "SYSTEM_EVENT";
	case KVM_EXIT_RISCV_SBI: return "RISCV_SBI";
	case KVM_EXIT_RISCV_CSR: return "RISCV_CSR";
	}
	snprintf(s, sizeof(s), "%u", r);
	return s;
}

static u64 mmio_value(struct kvm_run *run)
{
	u64 v = 0;

	memcpy(&v, run->mmio.data, run->mmio.len <= 8 ? run->mmio.len : 8);
	return v;
}

#define MMIO_FILL	0x8877665544332281ULL	/* what an MMIO load userspace answers reads */
#define CSR_RET		0x5a5a0001ULL		/* what a CSR access userspace answers reads */

/*
 * Quiet runs (the sweeps): the exits of a command are not printed but
 * noted, in short, in qnote, so that the results of neighbouring offsets
 * compare equal.
 */
static bool quiet;
static char qnote[128];

static void qadd(const char *tok)
{
	size_t n = strlen(qnote);

	snprintf(qnote + n, sizeof(qnote) - n, "%s%s", n ? " " : "", tok);
}

/*
 * Run until the command loop's MMIO store; print every other exit. Returns
 * 0 and the guest's t0 in *t0, or -errno of a failed KVM_RUN, or -EPROTO
 * for an exit that ends the command otherwise (printed).
 */
static long grun(struct vcpu *v, u64 *t0)
{
	struct kvm_run *run = v->run;
	u64 scause = 0;
	int n;
	long r;

	for (n = 0; n < 16; n++) {
		arm_ms(5000);
		r = XIOCTL(v->fd, KVM_RUN, 0);
		arm_ms(0);
		if (r < 0) {
			if (quiet)
				qadd(errname(-r));
			else
				line("  KVM_RUN -> %s%s", errname(-r), r == -EINTR ? " (timeout)" : "");
			v->need_pc = true;
			return r;
		}
		if (run->exit_reason == KVM_EXIT_MMIO && run->mmio.is_write &&
		    run->mmio.len == 8 && run->mmio.phys_addr >= SYNC_GPA &&
		    run->mmio.phys_addr <= SYNC_GPA + 16) {
			u64 val = mmio_value(run);

			if (run->mmio.phys_addr == SYNC_GPA) {
				*t0 = val;
				return 0;
			}
			if (run->mmio.phys_addr == SYNC_GPA + 8) {
				scause = val;
			} else if (quiet) {
				char tok[32];

				snprintf(tok, sizeof(tok), "trap-0x%llx", (unsigned long long)scause);
				qadd(tok);
			} else {
				line("  guest trap scause=0x%llx stval=0x%llx",
				     (unsigned long long)scause, (unsigned long long)val);
			}
			continue;
		}
		if (run->exit_reason == KVM_EXIT_MMIO) {
			if (quiet) {
				qadd(run->mmio.is_write ? "mmio-w" : "mmio-r");
			} else if (run->mmio.is_write) {
				line("  exit MMIO addr=0x%llx len=%u write=1 data=0x%llx",
				     (unsigned long long)run->mmio.phys_addr, run->mmio.len,
				     (unsigned long long)mmio_value(run));
			} else {
				line("  exit MMIO addr=0x%llx len=%u write=0",
				     (unsigned long long)run->mmio.phys_addr, run->mmio.len);
			}
			if (!run->mmio.is_write) {
				u64 fill = MMIO_FILL;

				memset(run->mmio.data, 0, sizeof(run->mmio.data));
				memcpy(run->mmio.data, &fill, run->mmio.len <= 8 ? run->mmio.len : 8);
			}
			continue;
		}
		if (run->exit_reason == KVM_EXIT_RISCV_CSR) {
			if (quiet)
				qadd("csr");
			else
				line("  exit RISCV_CSR csr=0x%lx new_value=0x%lx write_mask=0x%lx",
				     run->riscv_csr.csr_num, run->riscv_csr.new_value,
				     run->riscv_csr.write_mask);
			run->riscv_csr.ret_value = CSR_RET;
			continue;
		}
		if (quiet && run->exit_reason == KVM_EXIT_FAIL_ENTRY) {
			char tok[48];

			snprintf(tok, sizeof(tok), "FAIL_ENTRY-0x%llx",
				 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
			qadd(tok);
		} else if (quiet)
			qadd(exit_name(run->exit_reason));
		else if (run->exit_reason == KVM_EXIT_FAIL_ENTRY)
			line("  exit FAIL_ENTRY reason=0x%llx",
			     (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		else
			line("  exit %s", exit_name(run->exit_reason));
		v->need_pc = true;
		return -EPROTO;
	}
	if (quiet)
		qadd("no-boundary");
	else
		line("  no command boundary after %d exits", n);
	v->need_pc = true;
	return -EPROTO;
}

/* One command, quietly: the result in *t0 (-1: a trap), or -errno. */
static long gdo(struct vcpu *v, u64 op, u64 addr, u64 val, u64 *t0)
{
	*t0 = 0;
	reg_set(v, RISCV_CORE_REG(regs.a0), op);
	reg_set(v, RISCV_CORE_REG(regs.a1), addr);
	reg_set(v, RISCV_CORE_REG(regs.a2), val);
	if (v->need_pc) {
		reg_set(v, RISCV_CORE_REG(regs.pc), CODE_GPA + OFF(ad_loop));
		v->need_pc = false;
	}
	return grun(v, t0);
}

/* Where an address is, for the dump. */
static const char *where(u64 addr)
{
	static char s[8][48];
	static int k;
	char *p = s[k++ & 7];

	if (addr >= APLIC_GPA && addr < APLIC_GPA + 0x8000)
		snprintf(p, 48, "aplic+0x%llx (%s)", (unsigned long long)(addr - APLIC_GPA),
			 aplic_name(addr - APLIC_GPA));
	else if (addr >= IMSIC_GPA && addr < IMSIC_GPA + 0x2000000)
		snprintf(p, 48, "imsic+0x%llx", (unsigned long long)(addr - IMSIC_GPA));
	else
		snprintf(p, 48, "0x%llx", (unsigned long long)addr);
	return p;
}

/* One command, printed: "vcpuN op where [= value] -> t0". */
static long gcmd(struct vcpu *v, u64 op, u64 addr, u64 val, u64 *t0p)
{
	u64 t0;
	long r;

	switch (op) {
	case OP_SW: case OP_SWLW: case OP_SB: case OP_SD:
		line("vcpu%u %s %s = 0x%llx", v->id, op_name[op], where(addr), (unsigned long long)val);
		break;
	case OP_IREG_R:
		line("vcpu%u %s %s", v->id, op_name[op], isel_name(addr));
		break;
	case OP_IREG_W:
		line("vcpu%u %s %s = 0x%llx", v->id, op_name[op], isel_name(addr), (unsigned long long)val);
		break;
	case OP_NOP: case OP_TOPEI_R: case OP_TOPEI_CLAIM: case OP_SIP:
		line("vcpu%u %s", v->id, op_name[op]);
		break;
	default:
		line("vcpu%u %s %s", v->id, op_name[op], where(addr));
	}
	r = gdo(v, op, addr, val, &t0);
	if (r == 0) {
		if (op == OP_SIP)
			t0 &= 0x222;	/* SSIP, STIP, SEIP */
		line("  -> t0=0x%llx", (unsigned long long)t0);
	}
	if (t0p)
		*t0p = r == 0 ? t0 : 0;
	return r;
}

/* Run each vCPU once (a nop command), printed. */
static void run_all(struct avm *a, const char *why)
{
	u64 t0;
	int i;

	P("KVM_RUN of every vCPU once (%s):", why);
	for (i = 0; i < a->nv; i++) {
		long r = gdo(&a->v[i], OP_NOP, 0, 0, &t0);

		P(" vcpu%d %s", i, r == 0 ? (t0 == 0 ? "OK" : "t0!=0") : errname(-r));
	}
	E();
}

/* ---------------------------------------------------------------------- */
/* State read back through the device attributes.                          */

/* APLIC: domaincfg, the non-zero sourcecfg and target, the bit words, genmsi. */
static void aplic_state(int dev, u32 srcs, const char *what)
{
	u32 nw = (srcs + 1 + 31) / 32, i;

	P("%s: domaincfg=%s", what, get_str(dev, KVM_DEV_RISCV_AIA_GRP_APLIC, A_DOMAINCFG));
	P(" sourcecfg:");
	for (i = 1; i <= srcs; i++) {
		const char *s = get_str(dev, KVM_DEV_RISCV_AIA_GRP_APLIC, A_SOURCECFG + 4 * (i - 1));

		if (last_get_r || last_get)
			P(" %u=%s", i, s);
	}
	P(" ip=");
	for (i = 0; i < nw; i++)
		P("%s%s", i ? "," : "", get_str(dev, KVM_DEV_RISCV_AIA_GRP_APLIC, A_SETIP + 4 * i));
	P(" in=");
	for (i = 0; i < nw; i++)
		P("%s%s", i ? "," : "", get_str(dev, KVM_DEV_RISCV_AIA_GRP_APLIC, A_IN_CLRIP + 4 * i));
	P(" ie=");
	for (i = 0; i < nw; i++)
		P("%s%s", i ? "," : "", get_str(dev, KVM_DEV_RISCV_AIA_GRP_APLIC, A_SETIE + 4 * i));
	P(" target:");
	for (i = 1; i <= srcs; i++) {
		const char *s = get_str(dev, KVM_DEV_RISCV_AIA_GRP_APLIC, A_TARGET + 4 * i);

		if (last_get_r || last_get)
			P(" %u=%s", i, s);
	}
	P(" genmsi=%s", get_str(dev, KVM_DEV_RISCV_AIA_GRP_APLIC, A_GENMSI));
	E();
}

/* sourcecfg[i] is at 4 * i: A_SOURCECFG + 4 * (i - 1). */
#define SRCCFG(i)	(A_SOURCECFG + 4 * ((i) - 1))
#define TARGET(i)	(A_TARGET + 4 * (i))

/* IMSIC of a vCPU: eidelivery, eithreshold, eip0/2, eie0/2 (ids 127: two words). */
static void imsic_state(int dev, u32 vcpu, const char *what)
{
	static const u32 isel[] = { I_EIDELIVERY, I_EITHRESHOLD, I_EIP0, I_EIP0 + 2, I_EIE0, I_EIE0 + 2 };
	unsigned int i;

	P("%s: imsic vcpu%u", what, vcpu);
	for (i = 0; i < ARRAY_SIZE(isel); i++)
		P(" %s=%s", isel_name(isel[i]), get_str(dev, KVM_DEV_RISCV_AIA_GRP_IMSIC,
							 imsic_attr(vcpu, isel[i])));
	E();
}

/* The pending and enabled bits of every vCPU's IMSIC, one line. */
static void eip_all(struct avm *a, const char *what)
{
	int i;

	P("%s:", what);
	for (i = 0; i < a->nv; i++) {
		P(" vcpu%d eip0=%s", i, get_str(a->dev, KVM_DEV_RISCV_AIA_GRP_IMSIC, imsic_attr(i, I_EIP0)));
		P(" eip2=%s", get_str(a->dev, KVM_DEV_RISCV_AIA_GRP_IMSIC, imsic_attr(i, I_EIP0 + 2)));
	}
	E();
}

/* Clear every vCPU's eip0/eip2 through the attributes (quietly; failures printed). */
static void eip_clear(struct avm *a)
{
	long r;
	int i;

	for (i = 0; i < a->nv; i++) {
		r = set_attr(a->dev, KVM_DEV_RISCV_AIA_GRP_IMSIC, imsic_attr(i, I_EIP0), 0);
		if (r)
			line("  clear eip0 of vcpu%d -> %s", i, res(r));
		r = set_attr(a->dev, KVM_DEV_RISCV_AIA_GRP_IMSIC, imsic_attr(i, I_EIP0 + 2), 0);
		if (r)
			line("  clear eip2 of vcpu%d -> %s", i, res(r));
	}
}

/* ---------------------------------------------------------------------- */
/* Sections.                                                               */

static u32 max_ids;	/* the default IDS + 1: the host's guest IMSIC IDs */

static void sec_host(void)
{
	static const struct { long cap; const char *name; } caps[] = {
		{ KVM_CAP_IRQCHIP, "IRQCHIP" }, { KVM_CAP_DEVICE_CTRL, "DEVICE_CTRL" },
		{ KVM_CAP_IRQFD, "IRQFD" }, { KVM_CAP_IRQFD_RESAMPLE, "IRQFD_RESAMPLE" },
		{ KVM_CAP_IRQ_ROUTING, "IRQ_ROUTING" }, { KVM_CAP_SIGNAL_MSI, "SIGNAL_MSI" },
		{ KVM_CAP_MSI_DEVID, "MSI_DEVID" }, { KVM_CAP_IOEVENTFD, "IOEVENTFD" },
		{ KVM_CAP_IRQ_INJECT_STATUS, "IRQ_INJECT_STATUS" },
	};
	struct avm a;
	unsigned int i;
	u64 v = 0;
	long r;

	set_sec("host");
	avm_new(&a, 1, false);
	for (i = 0; i < ARRAY_SIZE(caps); i++)
		line("CHECK_EXTENSION %s: dev=%s vm=%s", caps[i].name, res(check_ext(kvm_fd, caps[i].cap)),
		     res(check_ext(a.fd, caps[i].cap)));
	r = reg_get(&a.v[0], KVM_REG_RISCV | KVM_REG_SIZE_U64 | KVM_REG_RISCV_ISA_EXT |
		    KVM_REG_RISCV_ISA_SINGLE | KVM_RISCV_ISA_EXT_SSAIA, &v);
	line("vCPU ISA_EXT SSAIA -> %s value=%llu", res(r), (unsigned long long)v);
	avm_free(&a);
}

/* KVM_CREATE_DEVICE: the test flag, twice, after a close, after a vCPU ran. */
static void sec_create(void)
{
	struct avm a;
	int fd;
	long r;

	set_sec("create");
	avm_new(&a, 0, false);
	line("no vCPU: irqchip=%s", res(check_ext(a.fd, KVM_CAP_IRQCHIP)));
	R("KVM_CREATE_DEVICE_TEST(RISCV_AIA)", create_dev(a.fd, KVM_DEV_TYPE_RISCV_AIA, KVM_CREATE_DEVICE_TEST, NULL));
	R("test of type 0xff", create_dev(a.fd, 0xff, KVM_CREATE_DEVICE_TEST, NULL));
	R("create type 0xff", create_dev(a.fd, 0xff, 0, NULL));
	R("test of type ARM_VGIC_V3", create_dev(a.fd, KVM_DEV_TYPE_ARM_VGIC_V3, KVM_CREATE_DEVICE_TEST, NULL));
	E();
	r = create_dev(a.fd, KVM_DEV_TYPE_RISCV_AIA, 0, &fd);
	P("create -> %s", res(r));
	R("test", create_dev(a.fd, KVM_DEV_TYPE_RISCV_AIA, KVM_CREATE_DEVICE_TEST, NULL));
	R("a second", create_dev(a.fd, KVM_DEV_TYPE_RISCV_AIA, 0, NULL));
	E();
	if (r == 0) {
		line("device: get MODE=%s", get_str(fd, KVM_DEV_RISCV_AIA_GRP_CONFIG, 0));
		close(fd);
	}
	R("closed: create again", create_dev(a.fd, KVM_DEV_TYPE_RISCV_AIA, 0, NULL));
	E();
	{
		struct vcpu v;

		R("a vCPU after the device", add_vcpu(a.fd, 0, &v));
		E();
		if (v.run) {
			gcmd(&v, OP_NOP, 0, 0, NULL);
			free_vcpu(&v);
		}
	}
	avm_free(&a);

	avm_new(&a, 2, false);
	gcmd(&a.v[1], OP_NOP, 0, 0, NULL);
	R("vCPU 1 has run: create", create_dev(a.fd, KVM_DEV_TYPE_RISCV_AIA, 0, NULL));
	R("test", create_dev(a.fd, KVM_DEV_TYPE_RISCV_AIA, KVM_CREATE_DEVICE_TEST, NULL));
	R("irqchip", check_ext(a.fd, KVM_CAP_IRQCHIP));
	E();
	avm_free(&a);

	avm_new(&a, 2, false);
	R("two vCPUs, none has run: create flags=2", create_dev(a.fd, KVM_DEV_TYPE_RISCV_AIA, 2, NULL));
	R("again", create_dev(a.fd, KVM_DEV_TYPE_RISCV_AIA, 0, NULL));
	E();
	avm_free(&a);
}

/* has_attr over every group. */
static void has_sweep(struct avm *a, const char *what)
{
	static const struct { u32 grp; u64 attr; } h[] = {
		{ 0, 0 }, { 0, 1 }, { 0, 2 }, { 0, 3 }, { 0, 4 }, { 0, 5 }, { 0, 6 }, { 0, 7 },
		{ 0, 0x100000000ULL }, { 0, ~0ULL },
		{ 1, 0 }, { 1, 1 }, { 1, 2 }, { 1, 3 }, { 1, 4 }, { 1, 0x4000 }, { 1, 0x4001 },
		{ 1, 0x100000001ULL }, { 1, ~0ULL },
		{ 2, 0 }, { 2, 1 }, { 2, ~0ULL },
		{ 3, A_DOMAINCFG }, { 3, 2 }, { 3, SRCCFG(1) }, { 3, A_GENMSI }, { 3, 0x4000 },
		{ 4, I_EIDELIVERY }, { 4, I_EIP0 + 1 }, { 4, 0x1000 | I_EIE0 }, { 4, 0x71 },
		{ 5, 0 }, { 0xffffffff, 0 },
	};
	unsigned int i;

	P("%s: has_attr", what);
	for (i = 0; i < ARRAY_SIZE(h); i++)
		P(" %u/0x%llx=%s", h[i].grp, (unsigned long long)h[i].attr, res(has(a->dev, h[i].grp, h[i].attr)));
	E();
}

/* Every CONFIG attribute: get, set with each value, get after. */
static void config_sweep(struct avm *a)
{
	struct { u64 attr; u32 vals[16]; int n; } t[] = {
		{ KVM_DEV_RISCV_AIA_CONFIG_MODE, { 0, 1, 2, 3, 0xffffffff }, 5 },
		{ KVM_DEV_RISCV_AIA_CONFIG_IDS, { 0, 62, 63, 64, 126, 127, 128, 191, 255, 2047, 2048,
						   0xffffffff, max_ids - 1, max_ids, max_ids + 63 }, 15 },
		{ KVM_DEV_RISCV_AIA_CONFIG_SRCS, { 0, 1, 32, 63, 64, 1023, 1024, 0xffffffff,
						    max_ids - 1, max_ids }, 10 },
		{ KVM_DEV_RISCV_AIA_CONFIG_GROUP_BITS, { 0, 1, 7, 8, 0xffffffff }, 5 },
		{ KVM_DEV_RISCV_AIA_CONFIG_GROUP_SHIFT, { 0, 23, 24, 55, 56, 0xffffffff }, 6 },
		{ KVM_DEV_RISCV_AIA_CONFIG_HART_BITS, { 0, 1, 15, 16, 0xffffffff }, 5 },
		{ KVM_DEV_RISCV_AIA_CONFIG_GUEST_BITS, { 0, 1, 7, 8, 0xffffffff }, 5 },
		{ 7, { 0, 1 }, 2 },
		{ 0x100000000ULL, { 0 }, 1 },
	};
	unsigned int i;
	int j;

	for (i = 0; i < ARRAY_SIZE(t); i++) {
		P("%s: get=%s; set", cfg_name(t[i].attr),
		  get_str(a->dev, KVM_DEV_RISCV_AIA_GRP_CONFIG, t[i].attr));
		for (j = 0; j < t[i].n; j++) {
			P(" %u -> %s", t[i].vals[j],
			  res(set_attr(a->dev, KVM_DEV_RISCV_AIA_GRP_CONFIG, t[i].attr, t[i].vals[j])));
			P(" (%s)", get_str(a->dev, KVM_DEV_RISCV_AIA_GRP_CONFIG, t[i].attr));
		}
		E();
	}
	{
		struct kvm_device_attr at = { .group = 0, .attr = 0, .addr = 8 };

		R("GET CONFIG with a bad address", XIOCTL(a->dev, KVM_GET_DEVICE_ATTR, &at));
		R("SET", XIOCTL(a->dev, KVM_SET_DEVICE_ATTR, &at));
		at.group = 1;
		R("ADDR GET", XIOCTL(a->dev, KVM_GET_DEVICE_ATTR, &at));
		R("SET", XIOCTL(a->dev, KVM_SET_DEVICE_ATTR, &at));
		at.group = 3;
		R("APLIC GET", XIOCTL(a->dev, KVM_GET_DEVICE_ATTR, &at));
		R("SET", XIOCTL(a->dev, KVM_SET_DEVICE_ATTR, &at));
		at.group = 4;
		R("IMSIC GET", XIOCTL(a->dev, KVM_GET_DEVICE_ATTR, &at));
		R("SET", XIOCTL(a->dev, KVM_SET_DEVICE_ATTR, &at));
		E();
		at.group = 0;
		at.flags = 1;
		at.addr = 0;
		R("attr flags=1, addr 0: GET CONFIG", XIOCTL(a->dev, KVM_GET_DEVICE_ATTR, &at));
		at.group = 2;
		R("GET CTRL", XIOCTL(a->dev, KVM_GET_DEVICE_ATTR, &at));
		at.group = 5;
		R("GET group 5", XIOCTL(a->dev, KVM_GET_DEVICE_ATTR, &at));
		R("SET group 5", XIOCTL(a->dev, KVM_SET_DEVICE_ATTR, &at));
		E();
	}
}

/* Every ADDR attribute: get, set with each value, get after. */
static void addr_sweep(struct avm *a)
{
	static const u64 attrs[] = { KVM_DEV_RISCV_AIA_ADDR_APLIC, KVM_DEV_RISCV_AIA_ADDR_IMSIC(0),
		KVM_DEV_RISCV_AIA_ADDR_IMSIC(1), KVM_DEV_RISCV_AIA_ADDR_IMSIC(2),
		KVM_DEV_RISCV_AIA_ADDR_IMSIC(0x3fff), KVM_DEV_RISCV_AIA_ADDR_MAX, 0x100000001ULL };
	static const u64 vals[] = { 0, 0x800, 0x1000, 0x4, 0xfffffffffffff000ULL, ~0ULL, 0x80000000000000ULL };
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(attrs); i++) {
		P("ADDR 0x%llx: get=%s; set", (unsigned long long)attrs[i],
		  get_str(a->dev, KVM_DEV_RISCV_AIA_GRP_ADDR, attrs[i]));
		for (j = 0; j < ARRAY_SIZE(vals); j++) {
			P(" 0x%llx -> %s", (unsigned long long)vals[j],
			  res(set_attr(a->dev, KVM_DEV_RISCV_AIA_GRP_ADDR, attrs[i], vals[j])));
			P(" (%s)", get_str(a->dev, KVM_DEV_RISCV_AIA_GRP_ADDR, attrs[i]));
		}
		E();
	}
}

/* The CONFIG and ADDR values, one line. */
static void cfg_line(struct avm *a, const char *what)
{
	u64 i;

	P("%s:", what);
	for (i = 0; i <= 6; i++)
		P(" %s=%s", cfg_name(i), get_str(a->dev, KVM_DEV_RISCV_AIA_GRP_CONFIG, i));
	P(" aplic=%s", get_str(a->dev, KVM_DEV_RISCV_AIA_GRP_ADDR, KVM_DEV_RISCV_AIA_ADDR_APLIC));
	for (i = 0; i < (u64)a->nv; i++)
		P(" imsic%llu=%s", (unsigned long long)i,
		  get_str(a->dev, KVM_DEV_RISCV_AIA_GRP_ADDR, KVM_DEV_RISCV_AIA_ADDR_IMSIC(i)));
	E();
}

/* CTRL INIT refused, one case at a time; each undone after. */
static void init_failures(struct avm *a, u32 mode)
{
	struct cfg c = std_cfg(mode, a->nv, 40);

	/* nothing but the mode set: no IMSIC address */
	P("init with no address -> %s", res(set_attr(a->dev, 2, 0, 0)));
	R("with srcs 40 and no APLIC", set_attr(a->dev, 0, KVM_DEV_RISCV_AIA_CONFIG_SRCS, 40));
	R("init", set_attr(a->dev, 2, 0, 0));
	E();
	R("APLIC", set_attr(a->dev, 1, 0, c.aplic));
	R("init (no IMSIC)", set_attr(a->dev, 2, 0, 0));
	R("IMSIC 0", set_attr(a->dev, 1, 1, c.imsic[0]));
	R("init (no IMSIC for vCPU 1)", set_attr(a->dev, 2, 0, 0));
	E();
	R("IMSIC 1 on another base", set_attr(a->dev, 1, 2, 0x38001000));
	R("init", set_attr(a->dev, 2, 0, 0));
	R("IMSIC 1", set_attr(a->dev, 1, 2, c.imsic[1]));
	E();
	R("ids 63 srcs 100", set_attr(a->dev, 0, KVM_DEV_RISCV_AIA_CONFIG_IDS, 63));
	R("", set_attr(a->dev, 0, KVM_DEV_RISCV_AIA_CONFIG_SRCS, 100));
	R("init", set_attr(a->dev, 2, 0, 0));
	R("ids 127 srcs 40", set_attr(a->dev, 0, KVM_DEV_RISCV_AIA_CONFIG_IDS, 127));
	R("", set_attr(a->dev, 0, KVM_DEV_RISCV_AIA_CONFIG_SRCS, 40));
	E();
	R("group bits 1 shift 24, hart bits 15, guest bits 7", set_attr(a->dev, 0, 3, 1));
	R("", set_attr(a->dev, 0, 4, 24));
	R("", set_attr(a->dev, 0, 5, 15));
	R("", set_attr(a->dev, 0, 6, 7));
	R("init", set_attr(a->dev, 2, 0, 0));
	R("group shift 13", set_attr(a->dev, 0, 4, 13));
	R("hart bits 1 guest bits 0", set_attr(a->dev, 0, 5, 1));
	R("", set_attr(a->dev, 0, 6, 0));
	R("group bits 0 shift 24", set_attr(a->dev, 0, 3, 0));
	R("", set_attr(a->dev, 0, 4, 24));
	E();
	R("CTRL attr 1", set_attr(a->dev, 2, 1, 0));
	R("CTRL attr ~0", set_attr(a->dev, 2, ~0ULL, 0));
	E();
}

/* APLIC attributes: has, get, set and the state after. */
static void aplic_attr_sweep(struct avm *a, u32 srcs)
{
	static const u64 offs[] = {
		A_DOMAINCFG, 1, 2, 3, 4, 8, SRCCFG(40), SRCCFG(41), 0x3fc, 0x400, 0x1bc0, 0x1bc8,
		0x1bfc, A_SETIP, A_SETIP + 4, A_SETIP + 8, A_SETIP + 0x7c, A_SETIPNUM, A_IN_CLRIP,
		A_IN_CLRIP + 4, A_IN_CLRIP + 8, A_CLRIPNUM, A_SETIE, A_SETIE + 4, A_SETIE + 8,
		A_SETIENUM, A_CLRIE, A_CLRIE + 4, A_CLRIE + 8, A_CLRIENUM, A_SETIPNUM_LE, A_SETIPNUM_BE,
		0x2008, A_GENMSI, A_GENMSI + 2, TARGET(1), TARGET(40), TARGET(41), 0x3ffc, 0x4000,
		0x100000000ULL, ~0ULL,
	};
	static const struct { u64 off; u32 val; } sets[] = {
		{ A_DOMAINCFG, 0xffffffff }, { A_DOMAINCFG, 0 },
		{ SRCCFG(1), SM_DETACHED }, { SRCCFG(1), 2 }, { SRCCFG(1), 3 }, { SRCCFG(1), SM_EDGE_RISE },
		{ SRCCFG(1), SM_EDGE_FALL }, { SRCCFG(1), SM_LEVEL_HIGH }, { SRCCFG(1), SM_LEVEL_LOW },
		{ SRCCFG(1), SRC_D | 5 }, { SRCCFG(1), 0x3f8 | SM_EDGE_RISE }, { SRCCFG(1), 0xffffffff },
		{ SRCCFG(1), SM_EDGE_RISE }, { SRCCFG(2), SM_LEVEL_HIGH }, { SRCCFG(33), SM_EDGE_FALL },
		{ SRCCFG(40), SM_LEVEL_LOW }, { SRCCFG(41), SM_EDGE_RISE },
		{ TARGET(1), 0xffffffff }, { TARGET(1), TGT(0, 0, 5) }, { TARGET(2), TGT(1, 0, 6) },
		{ TARGET(33), TGT(1, 3, 7) }, { TARGET(40), TGT(0x3fff, 0x3f, 0x7ff) }, { TARGET(41), 1 },
		{ A_SETIPNUM, 1 }, { A_SETIPNUM, 2 }, { A_SETIPNUM, 33 }, { A_SETIPNUM, 40 },
		{ A_SETIPNUM, 0 }, { A_SETIPNUM, 41 }, { A_SETIPNUM, 0xffffffff },
		{ A_CLRIPNUM, 1 }, { A_SETIP, 0xffffffff }, { A_SETIP + 4, 0xffffffff },
		{ A_SETIP + 8, 0xffffffff }, { A_IN_CLRIP, 0xffffffff }, { A_IN_CLRIP + 4, 0xffffffff },
		{ A_SETIPNUM_LE, 1 }, { A_SETIPNUM_BE, 0x21000000 }, { A_SETIPNUM_BE, 2 },
		{ A_SETIENUM, 1 }, { A_SETIENUM, 33 }, { A_SETIENUM, 41 }, { A_SETIE, 0x6 },
		{ A_SETIE + 4, 0xffffffff }, { A_CLRIE, 0x4 }, { A_CLRIE + 4, 0xfffffffe },
		{ A_CLRIENUM, 33 }, { A_CLRIE + 8, 0xffffffff },
		{ A_GENMSI, TGT(0, 0, 9) }, { A_GENMSI, TGT(1, 0, 10) }, { A_GENMSI, TGT(1, 5, 11) },
		{ A_GENMSI, TGT(7, 0, 12) }, { A_GENMSI, 0xffffffff },
		{ A_DOMAINCFG, DCFG_IE },
		{ 2, 1 }, { 0x1bc0, 1 }, { 0x4000, 1 }, { 0x2008, 1 },
		{ A_CLRIE + 4, 0xffffffff }, { A_CLRIE, 0xffffffff }, { A_DOMAINCFG, 0 },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(offs); i++) {
		P("APLIC %s: has=%s", aplic_name(offs[i]), res(has(a->dev, 3, offs[i])));
		P(" get=%s", get_str(a->dev, 3, offs[i]));
		E();
	}
	aplic_state(a->dev, srcs, "APLIC state");
	for (i = 0; i < ARRAY_SIZE(sets); i++) {
		P("APLIC set %s = 0x%x -> %s", aplic_name(sets[i].off), sets[i].val,
		  res(set_attr(a->dev, 3, sets[i].off, sets[i].val)));
		P(", get=%s", get_str(a->dev, 3, sets[i].off));
		E();
		if (sets[i].off == A_GENMSI || sets[i].off == A_DOMAINCFG || sets[i].off == A_SETIPNUM_BE) {
			eip_all(a, "  IMSIC");
			eip_clear(a);
		}
	}
	aplic_state(a->dev, srcs, "APLIC state");
}

/* IMSIC attributes: has, get, set, per vCPU and for vCPUs that are not there. */
static void imsic_attr_sweep(struct avm *a, const char *what)
{
	static const u32 keys[] = { 0, 0x30, 0x6f, I_EIDELIVERY, 0x71, I_EITHRESHOLD, 0x73, 0x7f,
		I_EIP0, I_EIP0 + 1, I_EIP0 + 2, I_EIP0 + 3, I_EIP0 + 4, I_EIP0 + 62, I_EIP0 + 63,
		I_EIE0, I_EIE0 + 1, I_EIE0 + 2, I_EIE0 + 4, I_EIE0 + 63, 0x100, 0xfff };
	static const struct { u32 key; u64 val; } sets[] = {
		{ I_EIDELIVERY, 1 }, { I_EIDELIVERY, ~0ULL }, { I_EIDELIVERY, 0x40000000 }, { I_EIDELIVERY, 0 },
		{ I_EITHRESHOLD, 5 }, { I_EITHRESHOLD, ~0ULL }, { I_EITHRESHOLD, 128 }, { I_EITHRESHOLD, 0 },
		{ I_EIP0, ~0ULL }, { I_EIP0, 0x8000000000000001ULL }, { I_EIP0, 0 },
		{ I_EIP0 + 2, ~0ULL }, { I_EIP0 + 2, 0 }, { I_EIP0 + 4, 1 }, { I_EIP0 + 1, 1 },
		{ I_EIE0, ~0ULL }, { I_EIE0, 0 }, { I_EIE0 + 2, 0x10 }, { I_EIE0 + 2, 0 },
		{ 0x71, 1 }, { 0x30, 1 }, { 0xfff, 1 },
	};
	unsigned int i, j;
	u32 vcpus[] = { 0, 1, 2, 3, 0xfffff };

	for (j = 0; j < ARRAY_SIZE(vcpus); j++) {
		if (vcpus[j] == 1 && a->nv < 2)
			continue;
		P("%s: IMSIC vcpu 0x%x:", what, vcpus[j]);
		for (i = 0; i < ARRAY_SIZE(keys); i++) {
			P(" %s has=%s", isel_name(keys[i]), res(has(a->dev, 4, imsic_attr(vcpus[j], keys[i]))));
			P(" get=%s", get_str(a->dev, 4, imsic_attr(vcpus[j], keys[i])));
		}
		E();
	}
	for (j = 0; j < 2 && j < (u32)a->nv; j++) {
		for (i = 0; i < ARRAY_SIZE(sets); i++) {
			P("%s: IMSIC vcpu%u set %s = 0x%llx -> %s", what, j, isel_name(sets[i].key),
			  (unsigned long long)sets[i].val,
			  res(set_attr(a->dev, 4, imsic_attr(j, sets[i].key), sets[i].val)));
			P(", get=%s", get_str(a->dev, 4, imsic_attr(j, sets[i].key)));
			E();
		}
	}
	/* the key's other bits: bits above the iselect's 12 select the vCPU */
	P("%s: IMSIC attr 0x%llx (vcpu 1 eip0) set 0x4", what, (unsigned long long)imsic_attr(1, I_EIP0));
	P(" -> %s", res(set_attr(a->dev, 4, imsic_attr(1, I_EIP0), 4)));
	P("; attr 0x1000000080 get=%s", get_str(a->dev, 4, 0x1000000080ULL));
	P("; vcpu1 eip0 get=%s", get_str(a->dev, 4, imsic_attr(1, I_EIP0)));
	P("; clear -> %s", res(set_attr(a->dev, 4, imsic_attr(1, I_EIP0), 0)));
	E();
}

/*
 * The device, CONFIG, ADDR and CTRL groups, in a mode: defaults, every
 * value, INIT refused and done, EBUSY after; a vCPU runs before INIT and
 * every vCPU after; the APLIC and IMSIC groups before and after INIT.
 */
static void sec_config(u32 mode)
{
	struct cfg c = std_cfg(mode, 2, 40);
	struct avm a;
	struct vcpu extra;
	long r;

	set_sec("config-%s", mode_name[mode]);
	avm_new(&a, 2, true);
	cfg_line(&a, "defaults");
	max_ids = (u32)get_val(a.dev, 0, KVM_DEV_RISCV_AIA_CONFIG_IDS) + 1;
	has_sweep(&a, "not initialized");
	config_sweep(&a);
	addr_sweep(&a);
	P("back to defaults");
	R("MODE", set_attr(a.dev, 0, 0, mode));
	R("IDS", set_attr(a.dev, 0, 1, 127));
	R("SRCS", set_attr(a.dev, 0, 2, 0));
	R("GROUP_BITS", set_attr(a.dev, 0, 3, 0));
	R("GROUP_SHIFT", set_attr(a.dev, 0, 4, 24));
	R("HART_BITS", set_attr(a.dev, 0, 5, 0));
	R("GUEST_BITS", set_attr(a.dev, 0, 6, 0));
	E();
	cfg_line(&a, "now");
	/* addresses are still set from the sweep; unset is not possible: a fresh VM */
	avm_free(&a);

	avm_new(&a, 2, true);
	R("MODE", set_attr(a.dev, 0, 0, mode));
	E();
	P("APLIC group before INIT: get domaincfg=%s", get_str(a.dev, 3, 0));
	R("set", set_attr(a.dev, 3, 0, 0));
	R("has", has(a.dev, 3, 0));
	E();
	P("IMSIC group before INIT: get eidelivery=%s", get_str(a.dev, 4, I_EIDELIVERY));
	R("set", set_attr(a.dev, 4, I_EIDELIVERY, 1));
	R("has", has(a.dev, 4, I_EIDELIVERY));
	E();
	init_failures(&a, mode);
	cfg_line(&a, "after the refused inits");
	gcmd(&a.v[0], OP_NOP, 0, 0, NULL);
	R("vCPU 0 has run, not initialized: set MODE", set_attr(a.dev, 0, 0, mode));
	R("HART_BITS 1", set_attr(a.dev, 0, 5, 1));
	R("APLIC addr", set_attr(a.dev, 1, 0, c.aplic));
	R("create a second device", create_dev(a.fd, KVM_DEV_TYPE_RISCV_AIA, 0, NULL));
	E();
	r = set_attr(a.dev, 2, 0, 0);
	line("INIT -> %s", res(r));
	R("INIT again", set_attr(a.dev, 2, 0, 0));
	E();
	cfg_line(&a, "initialized");
	P("after INIT, set");
	R("MODE", set_attr(a.dev, 0, 0, mode));
	R("IDS", set_attr(a.dev, 0, 1, 127));
	R("SRCS", set_attr(a.dev, 0, 2, 40));
	R("GROUP_BITS", set_attr(a.dev, 0, 3, 0));
	R("GROUP_SHIFT", set_attr(a.dev, 0, 4, 24));
	R("HART_BITS", set_attr(a.dev, 0, 5, 1));
	R("GUEST_BITS", set_attr(a.dev, 0, 6, 0));
	R("unknown 7", set_attr(a.dev, 0, 7, 0));
	R("APLIC addr", set_attr(a.dev, 1, 0, c.aplic));
	R("misaligned", set_attr(a.dev, 1, 0, c.aplic + 4));
	R("IMSIC 0", set_attr(a.dev, 1, 1, c.imsic[0]));
	R("IMSIC 2", set_attr(a.dev, 1, 3, c.imsic[0]));
	E();
	has_sweep(&a, "initialized");
	R("vCPU 2 after INIT", add_vcpu(a.fd, 2, &extra));
	E();
	if (extra.run) {
		P("ADDR IMSIC(2): has=%s", res(has(a.dev, 1, 3)));
		P(" get=%s", get_str(a.dev, 1, 3));
		R(" set", set_attr(a.dev, 1, 3, IMSIC_GPA + 2 * PG));
		E();
		P("IMSIC vcpu 2 eidelivery: has=%s", res(has(a.dev, 4, imsic_attr(2, I_EIDELIVERY))));
		P(" get=%s", get_str(a.dev, 4, imsic_attr(2, I_EIDELIVERY)));
		E();
		gcmd(&extra, OP_NOP, 0, 0, NULL);
		gcmd(&extra, OP_IREG_R, I_EIDELIVERY, 0, NULL);
		gcmd(&extra, OP_TOPEI_R, 0, 0, NULL);
		gcmd(&extra, OP_SW, IMSIC_GPA + 2 * PG, 3, NULL);
		free_vcpu(&extra);
	}
	if (r == 0) {
		aplic_attr_sweep(&a, 40);
		imsic_attr_sweep(&a, "no vCPU ran since INIT");
		/* state set before the run, read after it (hwaccel: moved to a guest file) */
		R("before the run: eidelivery=1", set_attr(a.dev, 4, imsic_attr(0, I_EIDELIVERY), 1));
		R("eithreshold=9", set_attr(a.dev, 4, imsic_attr(0, I_EITHRESHOLD), 9));
		R("eie0=0x2a", set_attr(a.dev, 4, imsic_attr(0, I_EIE0), 0x2a));
		R("eip0=0x2c", set_attr(a.dev, 4, imsic_attr(0, I_EIP0), 0x2c));
		R("vcpu1 eip2=0x8001", set_attr(a.dev, 4, imsic_attr(1, I_EIP0 + 2), 0x8001));
		E();
		imsic_state(a.dev, 0, "before the run");
		run_all(&a, "after INIT");
		imsic_state(a.dev, 0, "after the run");
		imsic_state(a.dev, 1, "after the run");
		gcmd(&a.v[0], OP_SIP, 0, 0, NULL);
		gcmd(&a.v[0], OP_TOPEI_R, 0, 0, NULL);
		imsic_attr_sweep(&a, "every vCPU ran");
		cfg_line(&a, "at the end");
	}
	avm_free(&a);
}

/*
 * The APLIC and IMSIC from the guest: loads and stores of every register,
 * of the wrong sizes and offsets, the IMSIC pages, the guest's IMSIC CSRs.
 */
static void sec_guest(u32 mode)
{
	static const u32 srccfg_vals[] = { 0, 1, 2, 3, 4, 5, 6, 7, SRC_D, SRC_D | 6, 0x7ff, 0xffffffff, 0x3fc };
	struct cfg c = std_cfg(mode, 2, 40);
	struct vcpu *v;
	struct avm a;
	u64 t0, A = APLIC_GPA;
	unsigned int i;

	set_sec("guest-%s", mode_name[mode]);
	avm_new(&a, 2, true);
	if (setup(&a, &c)) {
		avm_free(&a);
		return;
	}
	v = &a.v[0];
	gcmd(&a.v[1], OP_NOP, 0, 0, NULL);
	gcmd(v, OP_LW, A + A_DOMAINCFG, 0, NULL);
	gcmd(v, OP_SWLW, A + A_DOMAINCFG, 0xffffffff, NULL);
	gcmd(v, OP_SWLW, A + A_DOMAINCFG, 0, NULL);
	for (i = 0; i < ARRAY_SIZE(srccfg_vals); i++)
		gcmd(v, OP_SWLW, A + SRCCFG(1), srccfg_vals[i], NULL);
	gcmd(v, OP_SWLW, A + SRCCFG(40), SM_LEVEL_HIGH, NULL);
	gcmd(v, OP_SWLW, A + SRCCFG(41), SM_LEVEL_HIGH, NULL);
	gcmd(v, OP_LW, A + 0x3fc, 0, NULL);
	gcmd(v, OP_SWLW, A + TARGET(1), 0xffffffff, NULL);
	gcmd(v, OP_SWLW, A + TARGET(40), TGT(1, 0, 0x41), NULL);
	gcmd(v, OP_SWLW, A + TARGET(41), TGT(1, 0, 0x41), NULL);
	gcmd(v, OP_LW, A + 0x3ffc, 0, NULL);
	/* every source mode, then pending, input, enable through the guest */
	for (i = 1; i <= 8; i++) {
		static const u32 sm[] = { 0, SM_INACTIVE, SM_DETACHED, SM_EDGE_RISE, SM_EDGE_FALL,
			SM_LEVEL_HIGH, SM_LEVEL_LOW, SRC_D | 1, 2 };

		gdo(v, OP_SW, A + SRCCFG(i), sm[i], &t0);
		gdo(v, OP_SW, A + TARGET(i), TGT(i & 1, 0, 16 + i), &t0);
	}
	aplic_state(a.dev, 40, "after sourcecfg 1-8 by the guest");
	for (i = 1; i <= 8; i++)
		gcmd(v, OP_SW, A + A_SETIPNUM, i, NULL);
	gcmd(v, OP_SW, A + A_SETIPNUM, 33, NULL);
	gcmd(v, OP_LW, A + A_SETIP, 0, NULL);
	gcmd(v, OP_LW, A + A_SETIP + 4, 0, NULL);
	gcmd(v, OP_LW, A + A_SETIPNUM, 0, NULL);
	gcmd(v, OP_LW, A + A_IN_CLRIP, 0, NULL);
	gcmd(v, OP_SW, A + A_CLRIPNUM, 3, NULL);
	gcmd(v, OP_LW, A + A_CLRIPNUM, 0, NULL);
	gcmd(v, OP_LW, A + A_SETIP, 0, NULL);
	gcmd(v, OP_SW, A + A_IN_CLRIP, 0xffffffff, NULL);
	gcmd(v, OP_LW, A + A_SETIP, 0, NULL);
	gcmd(v, OP_SW, A + A_SETIP, 0xffffffff, NULL);
	gcmd(v, OP_LW, A + A_SETIP, 0, NULL);
	gcmd(v, OP_SW, A + A_SETIPNUM_LE, 4, NULL);
	gcmd(v, OP_SW, A + A_SETIPNUM_BE, 0x05000000, NULL);
	gcmd(v, OP_LW, A + A_SETIPNUM_LE, 0, NULL);
	gcmd(v, OP_LW, A + A_SETIPNUM_BE, 0, NULL);
	gcmd(v, OP_LW, A + A_SETIP, 0, NULL);
	gcmd(v, OP_SW, A + A_SETIENUM, 3, NULL);
	gcmd(v, OP_SW, A + A_SETIENUM, 4, NULL);
	gcmd(v, OP_LW, A + A_SETIE, 0, NULL);
	gcmd(v, OP_LW, A + A_SETIENUM, 0, NULL);
	gcmd(v, OP_SW, A + A_SETIE, 0x1fe, NULL);
	gcmd(v, OP_LW, A + A_SETIE, 0, NULL);
	gcmd(v, OP_SW, A + A_CLRIE, 0x180, NULL);
	gcmd(v, OP_LW, A + A_CLRIE, 0, NULL);
	gcmd(v, OP_SW, A + A_CLRIENUM, 6, NULL);
	gcmd(v, OP_LW, A + A_CLRIENUM, 0, NULL);
	gcmd(v, OP_LW, A + A_SETIE, 0, NULL);
	aplic_state(a.dev, 40, "before IE");
	eip_all(&a, "before IE");
	/* IE: the pending and enabled sources go out as MSIs */
	gcmd(v, OP_SWLW, A + A_DOMAINCFG, DCFG_IE, NULL);
	aplic_state(a.dev, 40, "after IE");
	eip_all(&a, "after IE");
	gcmd(v, OP_SIP, 0, 0, NULL);
	gcmd(&a.v[1], OP_SIP, 0, 0, NULL);
	eip_clear(&a);
	gcmd(v, OP_SW, A + A_SETIPNUM, 3, NULL);
	eip_all(&a, "setipnum 3 with IE");
	gcmd(v, OP_SW, A + A_GENMSI, TGT(0, 0, 9), NULL);
	gcmd(v, OP_LW, A + A_GENMSI, 0, NULL);
	gcmd(v, OP_SW, A + A_GENMSI, TGT(1, 2, 10), NULL);
	gcmd(v, OP_LW, A + A_GENMSI, 0, NULL);
	gcmd(v, OP_SW, A + A_GENMSI, TGT(5, 0, 11), NULL);
	gcmd(v, OP_SW, A + A_GENMSI, TGT(0, 0, 0), NULL);
	gcmd(v, OP_SW, A + A_GENMSI, TGT(0, 0, 200), NULL);
	eip_all(&a, "after genmsi");
	eip_clear(&a);
	/* sizes and offsets the APLIC does not take: MMIO exits or traps */
	gcmd(v, OP_LB, A + A_DOMAINCFG, 0, NULL);
	gcmd(v, OP_LH, A + A_DOMAINCFG, 0, NULL);
	gcmd(v, OP_LD, A + A_DOMAINCFG, 0, NULL);
	gcmd(v, OP_SB, A + SRCCFG(1), 4, NULL);
	gcmd(v, OP_SD, A + SRCCFG(1), 0x600000004ULL, NULL);
	gcmd(v, OP_LW, A + 2, 0, NULL);
	gcmd(v, OP_LW, A + 0x1bc0, 0, NULL);
	gcmd(v, OP_SW, A + 0x1bc0, 1, NULL);
	gcmd(v, OP_LW, A + 0x2008, 0, NULL);
	gcmd(v, OP_LW, A + 0x4000, 0, NULL);
	gcmd(v, OP_SW, A + 0x4000, 1, NULL);
	aplic_state(a.dev, 40, "after the odd accesses");
	/* the IMSIC pages */
	gcmd(v, OP_SW, c.imsic[0], 10, NULL);
	gcmd(v, OP_SW, c.imsic[0] + 4, 0x0b000000, NULL);
	gcmd(v, OP_SW, c.imsic[0] + 8, 12, NULL);
	gcmd(v, OP_SW, c.imsic[0], 127, NULL);
	gcmd(v, OP_SW, c.imsic[0], 128, NULL);
	gcmd(v, OP_SW, c.imsic[0], 0, NULL);
	gcmd(v, OP_LW, c.imsic[0], 0, NULL);
	gcmd(v, OP_LW, c.imsic[0] + 4, 0, NULL);
	gcmd(v, OP_LB, c.imsic[0], 0, NULL);
	gcmd(v, OP_SW, c.imsic[1], 13, NULL);
	gcmd(v, OP_SW, c.imsic[1] + 0xffc, 14, NULL);
	gcmd(v, OP_SD, c.imsic[1], 15, NULL);
	gcmd(v, OP_SW, c.imsic[1] + PG, 16, NULL);
	eip_all(&a, "after the IMSIC page stores");
	/* the guest's own IMSIC, through siselect/sireg and stopei */
	gcmd(v, OP_IREG_R, I_EIP0, 0, NULL);
	gcmd(v, OP_IREG_R, I_EIDELIVERY, 0, NULL);
	gcmd(v, OP_IREG_W, I_EIDELIVERY, 1, NULL);
	gcmd(v, OP_IREG_W, I_EITHRESHOLD, 0xffff, NULL);
	gcmd(v, OP_IREG_W, I_EITHRESHOLD, 0, NULL);
	gcmd(v, OP_IREG_W, I_EIE0, ~0ULL, NULL);
	gcmd(v, OP_IREG_W, I_EIE0 + 2, 0xff, NULL);
	gcmd(v, OP_IREG_R, I_EIE0 + 1, 0, NULL);
	gcmd(v, OP_IREG_R, I_EIE0 + 4, 0, NULL);
	gcmd(v, OP_SIP, 0, 0, NULL);
	gcmd(v, OP_TOPEI_R, 0, 0, NULL);
	gcmd(v, OP_TOPEI_CLAIM, 0, 0, NULL);
	gcmd(v, OP_TOPEI_CLAIM, 0, 0, NULL);
	gcmd(v, OP_IREG_W, I_EITHRESHOLD, 12, NULL);
	gcmd(v, OP_TOPEI_R, 0, 0, NULL);
	gcmd(v, OP_IREG_W, I_EITHRESHOLD, 0, NULL);
	gcmd(v, OP_IREG_W, I_EIP0 + 2, 0x8000000000000000ULL, NULL);
	gcmd(v, OP_TOPEI_R, 0, 0, NULL);
	imsic_state(a.dev, 0, "after the guest's CSRs");
	gcmd(v, OP_TOPEI_CLAIM, 0, 0, NULL);
	gcmd(v, OP_TOPEI_CLAIM, 0, 0, NULL);
	gcmd(v, OP_TOPEI_CLAIM, 0, 0, NULL);
	gcmd(v, OP_SIP, 0, 0, NULL);
	gcmd(v, OP_IREG_W, I_EIDELIVERY, 0, NULL);
	gcmd(v, OP_IREG_W, I_EIE0, 0, NULL);
	gcmd(v, OP_IREG_W, I_EIE0 + 2, 0, NULL);
	/* iselect values outside the IMSIC: iprio, odd, reserved */
	gcmd(v, OP_IREG_R, 0x30, 0, NULL);
	gcmd(v, OP_IREG_W, 0x30, 0x0102030405060708ULL, NULL);
	gcmd(v, OP_IREG_W, 0x32, 0xffffffffffffffffULL, NULL);
	gcmd(v, OP_IREG_R, 0x31, 0, NULL);
	gcmd(v, OP_IREG_W, 0x30, 0, NULL);
	gcmd(v, OP_IREG_W, 0x32, 0, NULL);
	gcmd(v, OP_IREG_R, 0x71, 0, NULL);
	gcmd(v, OP_IREG_R, I_EIP0 + 1, 0, NULL);
	gcmd(v, OP_IREG_R, 0x100, 0, NULL);
	gcmd(v, OP_IREG_R, 0x40, 0, NULL);
	imsic_state(a.dev, 0, "at the end");
	imsic_state(a.dev, 1, "at the end");
	aplic_state(a.dev, 40, "at the end");
	avm_free(&a);
}

/* KVM_IRQ_LINE (and _STATUS) */
static long irq_line(int vm, u32 irq, u32 level, bool status, u32 *st)
{
	struct kvm_irq_level l = { .irq = irq, .level = level };
	long r = XIOCTL(vm, status ? KVM_IRQ_LINE_STATUS : KVM_IRQ_LINE, &l);

	if (st)
		*st = l.status;
	return r;
}

/* Source s's pending, input and enable bits, and the target hart's eip0. */
static void src_bits(struct avm *a, u32 s, int hart)
{
	u32 w = s / 32, b = s % 32;
	u64 ip = get_val(a->dev, 3, A_SETIP + 4 * w), in = get_val(a->dev, 3, A_IN_CLRIP + 4 * w);
	u64 ie = get_val(a->dev, 3, A_SETIE + 4 * w);

	P(" ip=%llu in=%llu ie=%llu", (unsigned long long)(ip >> b & 1), (unsigned long long)(in >> b & 1),
	  (unsigned long long)(ie >> b & 1));
	if (hart >= 0)
		P(" vcpu%d eip0=%s", hart, get_str(a->dev, 4, imsic_attr(hart, I_EIP0)));
}

/*
 * KVM_IRQ_LINE sequences on every source mode: without IE (pending and
 * input only), then with IE, the source enabled and targeted at vCPU 1
 * (MSIs). ran: every vCPU runs once first.
 */
static void sec_irq(u32 mode, bool ran)
{
	static const struct { u32 sm; const char *name; } srcs[] = {
		{ SM_INACTIVE, "inactive" }, { SM_DETACHED, "detached" }, { SM_EDGE_RISE, "edge-rise" },
		{ SM_EDGE_FALL, "edge-fall" }, { SM_LEVEL_HIGH, "level-high" }, { SM_LEVEL_LOW, "level-low" },
		{ SRC_D | 1, "delegated" }, { 2, "reserved-2" },
	};
	static const char * const steps[] = { "raise", "lower", "raise", "raise", "lower", "lower",
		"raise-lower", "lower-raise", "lower", "raise-lower" };
	struct cfg c = std_cfg(mode, 2, 40);
	struct avm a;
	unsigned int i, j, ie;
	u32 st;

	set_sec("irq-%s-%s", mode_name[mode], ran ? "ran" : "fresh");
	avm_new(&a, 2, true);
	R("before INIT: IRQ_LINE 1", irq_line(a.fd, 1, 1, false, NULL));
	R("IRQ_LINE_STATUS 1", irq_line(a.fd, 1, 1, true, NULL));
	E();
	if (setup(&a, &c)) {
		avm_free(&a);
		return;
	}
	if (ran)
		run_all(&a, "before the probes");
	for (ie = 0; ie < 2; ie++) {
		line("domaincfg=0x%x -> %s", ie ? DCFG_IE : 0, res(set_attr(a.dev, 3, A_DOMAINCFG, ie ? DCFG_IE : 0)));
		for (i = 0; i < ARRAY_SIZE(srcs); i++) {
			u32 s = i + 1 + (ie ? 32 : 0);	/* the second word with IE */

			P("source %u %s: sourcecfg=0x%x -> %s", s, srcs[i].name, srcs[i].sm,
			  res(set_attr(a.dev, 3, SRCCFG(s), srcs[i].sm)));
			P(" (%s)", get_str(a.dev, 3, SRCCFG(s)));
			if (ie) {
				R("target vcpu1 eiid", set_attr(a.dev, 3, TARGET(s), TGT(1, 0, s)));
				R("setienum", set_attr(a.dev, 3, A_SETIENUM, s));
			}
			E();
			for (j = 0; j < ARRAY_SIZE(steps); j++) {
				long r1 = 0, r2;

				if (!strcmp(steps[j], "raise-lower")) {
					r1 = irq_line(a.fd, s, 1, false, NULL);
					r2 = irq_line(a.fd, s, 0, false, NULL);
				} else if (!strcmp(steps[j], "lower-raise")) {
					r1 = irq_line(a.fd, s, 0, false, NULL);
					r2 = irq_line(a.fd, s, 1, false, NULL);
				} else {
					r2 = irq_line(a.fd, s, steps[j][0] == 'r', false, NULL);
				}
				P("  %s -> %s", steps[j], res(r1 ? r1 : r2));
				src_bits(&a, s, ie ? 1 : -1);
				E();
				if (ie)
					eip_clear(&a);
			}
			P("  setipnum -> %s", res(set_attr(a.dev, 3, A_SETIPNUM, s)));
			src_bits(&a, s, ie ? 1 : -1);
			E();
			P("  raise, setipnum -> %s", res(irq_line(a.fd, s, 1, false, NULL)));
			R("", set_attr(a.dev, 3, A_SETIPNUM, s));
			src_bits(&a, s, ie ? 1 : -1);
			E();
			P("  clripnum -> %s", res(set_attr(a.dev, 3, A_CLRIPNUM, s)));
			src_bits(&a, s, ie ? 1 : -1);
			E();
			P("  lower, clripnum -> %s", res(irq_line(a.fd, s, 0, false, NULL)));
			R("", set_attr(a.dev, 3, A_CLRIPNUM, s));
			src_bits(&a, s, ie ? 1 : -1);
			E();
			if (ie)
				eip_clear(&a);
		}
		aplic_state(a.dev, 40, "APLIC");
	}
	/* targets elsewhere: vCPU 0, a hart that is not there, a guest file */
	{
		static const struct { u32 tgt; const char *name; } t[] = {
			{ TGT(0, 0, 50), "vcpu0 eiid 50" }, { TGT(2, 0, 51), "hart 2" },
			{ TGT(0, 1, 52), "vcpu0 guest 1" }, { TGT(1, 0, 0), "vcpu1 eiid 0" },
			{ TGT(1, 0, 127), "vcpu1 eiid 127" }, { TGT(1, 0, 128), "vcpu1 eiid 128" },
		};

		for (i = 0; i < ARRAY_SIZE(t); i++) {
			P("edge-rise source 35 to %s: %s", t[i].name,
			  res(set_attr(a.dev, 3, TARGET(35), t[i].tgt)));
			R("raise-lower", irq_line(a.fd, 35, 1, false, NULL));
			R("", irq_line(a.fd, 35, 0, false, NULL));
			src_bits(&a, 35, -1);
			E();
			eip_all(&a, "  IMSIC");
			eip_clear(&a);
		}
	}
	for (i = 0; i <= 41; i += (i == 2 ? 37 : 1)) {
		st = ~0U;
		P("IRQ_LINE_STATUS %u level 1 -> %s", i, res(irq_line(a.fd, i, 1, true, &st)));
		P(" status=%u", st);
		st = ~0U;
		P(", level 0 -> %s", res(irq_line(a.fd, i, 0, true, &st)));
		P(" status=%u", st);
		E();
	}
	R("IRQ_LINE 1024", irq_line(a.fd, 1024, 1, false, NULL));
	R("0xffffffff", irq_line(a.fd, 0xffffffff, 1, false, NULL));
	R("level 2 on 3", irq_line(a.fd, 3, 2, false, NULL));
	E();
	aplic_state(a.dev, 40, "at the end");
	eip_all(&a, "at the end");
	avm_free(&a);

	/* no APLIC: sources 0 */
	avm_new(&a, 1, true);
	c = std_cfg(mode, 1, 0);
	c.aplic = 0;
	setup(&a, &c);
	R("no APLIC: IRQ_LINE 1", irq_line(a.fd, 1, 1, false, NULL));
	R("IRQ_LINE 0", irq_line(a.fd, 0, 1, false, NULL));
	R("APLIC get domaincfg", dattr(a.dev, KVM_GET_DEVICE_ATTR, 3, 0, &st));
	R("has", has(a.dev, 3, 0));
	E();
	avm_free(&a);
}

static long msi(int vm, u64 addr, u32 data, u32 flags)
{
	struct kvm_msi m = { .address_lo = (u32)addr, .address_hi = addr >> 32, .data = data,
			     .flags = flags };

	return XIOCTL(vm, KVM_SIGNAL_MSI, &m);
}

/*
 * KVM_SIGNAL_MSI to each hart and guest file: with guest bits 2 (four
 * pages a hart, only guest 0 emulated), then with a group bit (hart
 * indices 0 and 2), each read back through the IMSIC attributes.
 */
static void sec_msi(u32 mode, bool ran)
{
	static const u32 ids[] = { 1, 2, 63, 64, 65, 127, 128, 0, 2047, 2048, 0xffffffff };
	struct cfg c = std_cfg(mode, 2, 8);
	struct avm a;
	unsigned int h, g, i;

	set_sec("msi-%s-%s", mode_name[mode], ran ? "ran" : "fresh");
	avm_new(&a, 2, true);
	R("before INIT: SIGNAL_MSI", msi(a.fd, IMSIC_GPA, 1, 0));
	E();
	c.guest_bits = 2;
	c.imsic[1] = IMSIC_GPA + (1 << 14);
	if (setup(&a, &c)) {
		avm_free(&a);
		return;
	}
	if (ran)
		run_all(&a, "before the probes");
	for (h = 0; h < 3; h++) {
		for (g = 0; g < 4; g++) {
			u64 addr = IMSIC_GPA + (h << 14) + g * PG;

			P("hart %u guest %u (0x%llx): id", h, g, (unsigned long long)addr);
			for (i = 0; i < ARRAY_SIZE(ids); i++)
				P(" %u -> %s", ids[i], res(msi(a.fd, addr, ids[i], 0)));
			E();
			eip_all(&a, "  IMSIC");
			eip_clear(&a);
		}
	}
	{
		static const struct { u64 off; u32 data; const char *name; } o[] = {
			{ 4, 0x05000000, "+4 (big-endian) 0x05000000" }, { 4, 6, "+4 (big-endian) 6" },
			{ 8, 7, "+8" }, { 2, 8, "+2" }, { 0xffc, 9, "+0xffc" }, { 0x1000000, 10, "+16M" },
		};

		for (i = 0; i < ARRAY_SIZE(o); i++) {
			P("vcpu1 %s -> %s", o[i].name, res(msi(a.fd, c.imsic[1] + o[i].off, o[i].data, 0)));
			E();
		}
		eip_all(&a, "  IMSIC");
		eip_clear(&a);
	}
	R("address 0", msi(a.fd, 0, 3, 0));
	R("APLIC", msi(a.fd, APLIC_GPA, 3, 0));
	R("high half", msi(a.fd, (1ULL << 32) | IMSIC_GPA, 3, 0));
	R("~0", msi(a.fd, ~0ULL, 3, 0));
	R("flags devid", msi(a.fd, IMSIC_GPA, 4, KVM_MSI_VALID_DEVID));
	R("flags 2", msi(a.fd, IMSIC_GPA, 5, 2));
	E();
	{
		struct kvm_msi m = { .address_lo = IMSIC_GPA, .data = 6, .pad = { 1 } };

		R("pad not zero", XIOCTL(a.fd, KVM_SIGNAL_MSI, &m));
		E();
	}
	eip_all(&a, "  IMSIC");
	eip_clear(&a);
	/* an MSI to a pending-and-enabled id with delivery on: the guest sees SEIP */
	R("vcpu0 eidelivery=1", set_attr(a.dev, 4, imsic_attr(0, I_EIDELIVERY), 1));
	R("eie0=0x80", set_attr(a.dev, 4, imsic_attr(0, I_EIE0), 0x80));
	R("SIGNAL_MSI id 7 to vcpu0", msi(a.fd, IMSIC_GPA, 7, 0));
	E();
	gcmd(&a.v[0], OP_SIP, 0, 0, NULL);
	gcmd(&a.v[0], OP_TOPEI_CLAIM, 0, 0, NULL);
	gcmd(&a.v[0], OP_SIP, 0, 0, NULL);
	imsic_state(a.dev, 0, "after the claim");
	avm_free(&a);

	/* a group bit: hart indices 0 and 2 */
	avm_new(&a, 2, true);
	c = std_cfg(mode, 2, 8);
	c.group_bits = 1;
	c.group_shift = 24;
	c.hart_bits = 1;
	c.imsic[1] = IMSIC_GPA + (1 << 24);
	if (setup(&a, &c)) {
		avm_free(&a);
		return;
	}
	if (ran)
		run_all(&a, "before the probes");
	R("SIGNAL_MSI to 0x28000000", msi(a.fd, IMSIC_GPA, 1, 0));
	R("0x28001000", msi(a.fd, IMSIC_GPA + PG, 2, 0));
	R("0x29000000", msi(a.fd, IMSIC_GPA + (1 << 24), 3, 0));
	R("0x29001000", msi(a.fd, IMSIC_GPA + (1 << 24) + PG, 4, 0));
	E();
	eip_all(&a, "  IMSIC");
	eip_clear(&a);
	line("APLIC domaincfg IE -> %s", res(set_attr(a.dev, 3, A_DOMAINCFG, DCFG_IE)));
	for (h = 0; h < 4; h++) {
		P("genmsi to hart index %u eiid %u -> %s", h, 20 + h, res(set_attr(a.dev, 3, A_GENMSI, TGT(h, 0, 20 + h))));
		E();
		eip_all(&a, "  IMSIC");
		eip_clear(&a);
	}
	for (h = 0; h < 4; h++) {
		P("source 1 edge-rise to hart index %u eiid %u", h, 30 + h);
		R("sourcecfg", set_attr(a.dev, 3, SRCCFG(1), SM_EDGE_RISE));
		R("target", set_attr(a.dev, 3, TARGET(1), TGT(h, 0, 30 + h)));
		R("setienum", set_attr(a.dev, 3, A_SETIENUM, 1));
		R("raise", irq_line(a.fd, 1, 1, false, NULL));
		R("lower", irq_line(a.fd, 1, 0, false, NULL));
		E();
		eip_all(&a, "  IMSIC");
		eip_clear(&a);
	}
	avm_free(&a);
}

static long routing(int vm, u32 nr, const struct kvm_irq_routing_entry *e)
{
	struct {
		struct kvm_irq_routing r;
		struct kvm_irq_routing_entry e[16];
	} rt;

	memset(&rt, 0, sizeof(rt));
	rt.r.nr = nr;
	if (e)
		memcpy(rt.e, e, (nr < 16 ? nr : 16) * sizeof(*e));
	return XIOCTL(vm, KVM_SET_GSI_ROUTING, &rt);
}

static long irqfd(int vm, int fd, u32 gsi, u32 flags, int rfd)
{
	struct kvm_irqfd f = { .fd = fd, .gsi = gsi, .flags = flags, .resamplefd = rfd };

	return XIOCTL(vm, KVM_IRQFD, &f);
}

static long efd_signal(int fd)
{
	u64 one = 1;

	return write(fd, &one, 8) == 8 ? 0 : -errno;
}

/*
 * irqfds on a routing table of IRQCHIP and MSI routes: each eventfd
 * written, the APLIC's bits and the IMSICs' read back; the route of an
 * assigned irqfd changed; deassign, twice, resample.
 */
static void sec_irqfd(u32 mode, bool ran)
{
	static const struct { u32 gsi; u32 type; u32 pin; u64 addr; u32 data; const char *name; } rt[] = {
		{ 0, KVM_IRQ_ROUTING_IRQCHIP, 3, 0, 0, "pin 3 edge-rise enabled, vcpu1 eiid 20" },
		{ 1, KVM_IRQ_ROUTING_IRQCHIP, 5, 0, 0, "pin 5 level-high enabled, vcpu0 eiid 21" },
		{ 2, KVM_IRQ_ROUTING_IRQCHIP, 6, 0, 0, "pin 6 level-high not enabled" },
		{ 3, KVM_IRQ_ROUTING_MSI, 0, IMSIC_GPA, 33, "MSI vcpu0 id 33" },
		{ 4, KVM_IRQ_ROUTING_MSI, 0, IMSIC_GPA + PG, 70, "MSI vcpu1 id 70" },
		{ 5, KVM_IRQ_ROUTING_MSI, 0, IMSIC_GPA, 200, "MSI vcpu0 id 200" },
		{ 6, KVM_IRQ_ROUTING_MSI, 0, 0x30000000, 35, "MSI nowhere" },
		{ 7, KVM_IRQ_ROUTING_IRQCHIP, 9, 0, 0, "pin 9 (no source)" },
		{ 8, KVM_IRQ_ROUTING_MSI, 0, IMSIC_GPA + PG + 4, 0x24000000, "MSI vcpu1 big-endian id 36" },
	};
	struct kvm_irq_routing_entry e[16];
	struct cfg c = std_cfg(mode, 2, 8);
	int efd[ARRAY_SIZE(rt)], rfd;
	struct avm a;
	unsigned int i;

	set_sec("irqfd-%s-%s", mode_name[mode], ran ? "ran" : "fresh");
	for (i = 0; i < ARRAY_SIZE(rt); i++) {
		efd[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		TEST_ASSERT(efd[i] >= 0, "eventfd");
	}
	rfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	avm_new(&a, 2, false);
	R("no device: IRQFD gsi 0", irqfd(a.fd, efd[0], 0, 0, 0));
	R("signal", efd_signal(efd[0]));
	R("deassign", irqfd(a.fd, efd[0], 0, KVM_IRQFD_FLAG_DEASSIGN, 0));
	R("GSI routing", routing(a.fd, 0, NULL));
	E();
	R("create device", create_dev(a.fd, KVM_DEV_TYPE_RISCV_AIA, 0, &a.dev));
	R("not initialized: IRQFD gsi 0", irqfd(a.fd, efd[0], 0, 0, 0));
	R("signal", efd_signal(efd[0]));
	R("deassign", irqfd(a.fd, efd[0], 0, KVM_IRQFD_FLAG_DEASSIGN, 0));
	E();
	if (setup(&a, &c)) {
		avm_free(&a);
		goto out;
	}
	if (ran)
		run_all(&a, "before the probes");
	R("APLIC: domaincfg IE", set_attr(a.dev, 3, A_DOMAINCFG, DCFG_IE));
	R("sourcecfg 3 edge-rise", set_attr(a.dev, 3, SRCCFG(3), SM_EDGE_RISE));
	R("5 level-high", set_attr(a.dev, 3, SRCCFG(5), SM_LEVEL_HIGH));
	R("6 level-high", set_attr(a.dev, 3, SRCCFG(6), SM_LEVEL_HIGH));
	E();
	R("targets 3", set_attr(a.dev, 3, TARGET(3), TGT(1, 0, 20)));
	R("5", set_attr(a.dev, 3, TARGET(5), TGT(0, 0, 21)));
	R("6", set_attr(a.dev, 3, TARGET(6), TGT(0, 0, 22)));
	R("setienum 3", set_attr(a.dev, 3, A_SETIENUM, 3));
	R("5", set_attr(a.dev, 3, A_SETIENUM, 5));
	E();
	memset(e, 0, sizeof(e));
	for (i = 0; i < ARRAY_SIZE(rt); i++) {
		e[i].gsi = rt[i].gsi;
		e[i].type = rt[i].type;
		if (rt[i].type == KVM_IRQ_ROUTING_IRQCHIP) {
			e[i].u.irqchip.pin = rt[i].pin;
		} else {
			e[i].u.msi.address_lo = (u32)rt[i].addr;
			e[i].u.msi.address_hi = rt[i].addr >> 32;
			e[i].u.msi.data = rt[i].data;
		}
	}
	line("KVM_SET_GSI_ROUTING, %zu routes -> %s", ARRAY_SIZE(rt), res(routing(a.fd, ARRAY_SIZE(rt), e)));
	for (i = 0; i < ARRAY_SIZE(rt); i++) {
		u32 pin = rt[i].type == KVM_IRQ_ROUTING_IRQCHIP ? rt[i].pin : 0;

		P("gsi %u (%s): IRQFD -> %s", rt[i].gsi, rt[i].name, res(irqfd(a.fd, efd[i], rt[i].gsi, 0, 0)));
		R("signal", efd_signal(efd[i]));
		if (pin)
			src_bits(&a, pin, -1);
		E();
		eip_all(&a, "  IMSIC");
		eip_clear(&a);
		P("  signal again -> %s", res(efd_signal(efd[i])));
		if (pin)
			src_bits(&a, pin, -1);
		E();
		eip_all(&a, "  IMSIC");
		eip_clear(&a);
	}
	/* IRQ_LINE lowers pin 3 and 5, then the irqfds again */
	R("IRQ_LINE 3 level 0", irq_line(a.fd, 3, 0, false, NULL));
	R("IRQ_LINE 5 level 0", irq_line(a.fd, 5, 0, false, NULL));
	R("signal gsi 0", efd_signal(efd[0]));
	R("gsi 1", efd_signal(efd[1]));
	src_bits(&a, 3, -1);
	src_bits(&a, 5, -1);
	E();
	eip_all(&a, "  IMSIC");
	eip_clear(&a);
	/* the route of an assigned irqfd changed: gsi 0 to an MSI */
	e[0].type = KVM_IRQ_ROUTING_MSI;
	e[0].u.msi.address_lo = IMSIC_GPA;
	e[0].u.msi.address_hi = 0;
	e[0].u.msi.data = 40;
	R("gsi 0 rerouted to MSI vcpu0 id 40", routing(a.fd, ARRAY_SIZE(rt), e));
	R("signal", efd_signal(efd[0]));
	E();
	eip_all(&a, "  IMSIC");
	eip_clear(&a);
	R("gsi 0 routed nowhere (not in the table)", routing(a.fd, ARRAY_SIZE(rt) - 1, e + 1));
	R("signal", efd_signal(efd[0]));
	E();
	eip_all(&a, "  IMSIC");
	eip_clear(&a);
	/* bad routes */
	memset(e, 0, sizeof(e));
	e[0].type = KVM_IRQ_ROUTING_IRQCHIP;
	e[0].u.irqchip.pin = 1024;
	R("route to pin 1024", routing(a.fd, 1, e));
	e[0].u.irqchip.pin = 1023;
	R("pin 1023", routing(a.fd, 1, e));
	e[0].u.irqchip.pin = 1;
	e[0].u.irqchip.irqchip = 1;
	R("irqchip 1", routing(a.fd, 1, e));
	E();
	/* assign and deassign */
	R("gsi 3 assigned again", irqfd(a.fd, efd[3], 3, 0, 0));
	R("on gsi 4", irqfd(a.fd, efd[3], 4, 0, 0));
	R("deassign gsi 3", irqfd(a.fd, efd[3], 3, KVM_IRQFD_FLAG_DEASSIGN, 0));
	R("again", irqfd(a.fd, efd[3], 3, KVM_IRQFD_FLAG_DEASSIGN, 0));
	R("fd -1", irqfd(a.fd, -1, 3, 0, 0));
	R("flags 4", irqfd(a.fd, efd[3], 3, 4, 0));
	E();
	R("resample on gsi 3", irqfd(a.fd, efd[3], 3, KVM_IRQFD_FLAG_RESAMPLE, rfd));
	R("deassign", irqfd(a.fd, efd[3], 3, KVM_IRQFD_FLAG_DEASSIGN, 0));
	R("gsi 4096", irqfd(a.fd, efd[3], 4096, 0, 0));
	E();
	for (i = 0; i < ARRAY_SIZE(rt); i++)
		P("%sdeassign %u -> %s", i ? ", " : "", rt[i].gsi,
		  res(irqfd(a.fd, efd[i], rt[i].gsi, KVM_IRQFD_FLAG_DEASSIGN, 0)));
	E();
	aplic_state(a.dev, 8, "at the end");
	eip_all(&a, "at the end");
	avm_free(&a);
out:
	for (i = 0; i < ARRAY_SIZE(rt); i++)
		close(efd[i]);
	close(rfd);
}

/* ---------------------------------------------------------------------- */
/* Sweeps: every offset, every iselect; equal neighbours as one line.      */

#define VW	112

static void print_runs(const char *what, u64 base, u64 step, int n, char (*v)[VW])
{
	int i = 0, j;

	while (i < n) {
		for (j = i; j + 1 < n && !strcmp(v[j + 1], v[i]); j++)
			;
		if (j == i)
			line("%s 0x%llx: %s", what, (unsigned long long)(base + i * step), v[i]);
		else
			line("%s 0x%llx-0x%llx: %s", what, (unsigned long long)(base + i * step),
			     (unsigned long long)(base + j * step), v[i]);
		i = j + 1;
	}
}

/* A guest command, quietly: "0x<t0>" and the exits noted on the way. */
static void gq(struct vcpu *v, u64 op, u64 addr, u64 val, char *o)
{
	u64 t0;
	long r;

	quiet = true;
	qnote[0] = 0;
	r = gdo(v, op, addr, val, &t0);
	quiet = false;
	if (r == 0)
		snprintf(o, VW, "0x%llx%s%s", (unsigned long long)t0, qnote[0] ? " " : "", qnote);
	else
		snprintf(o, VW, "%s", qnote);
}

/*
 * The APLIC's whole register page through the attributes (has, get, set
 * with three values), for a few numbers of sources; for 63 sources, the
 * same page from the guest (loads, then stores with a load back).
 */
static void sec_aplic_map(void)
{
	static const u32 nsrcs[] = { 1, 31, 32, 63, 255 };
	static const u32 vals[] = { 0xffffffff, SM_LEVEL_HIGH, 0 };
	char (*v)[VW] = calloc(0x1000, VW);
	unsigned int k, p;
	struct avm a;
	struct cfg c;
	int i;

	TEST_ASSERT(v, "calloc");
	for (k = 0; k < ARRAY_SIZE(nsrcs); k++) {
		set_sec("aplic-map-%u", nsrcs[k]);
		avm_new(&a, 2, true);
		c = std_cfg(KVM_DEV_RISCV_AIA_MODE_EMUL, 2, nsrcs[k]);
		if (c.srcs > c.ids)
			c.ids = max_ids - 1;	/* sources <= IDs */
		if (setup(&a, &c)) {
			avm_free(&a);
			continue;
		}
		for (i = 0; i < 0x1000; i++) {
			long h = has(a.dev, 3, 4 * i);

			snprintf(v[i], VW, "has=%s get=%s", res(h), get_str(a.dev, 3, 4 * i));
		}
		print_runs("attr", 0, 4, 0x1000, v);
		for (p = 0; p < ARRAY_SIZE(vals); p++) {
			for (i = 0; i < 0x1000; i++) {
				long r = set_attr(a.dev, 3, 4 * i, vals[p]);

				snprintf(v[i], VW, "set 0x%x -> %s, get=%s", vals[p], res(r), get_str(a.dev, 3, 4 * i));
			}
			print_runs("attr", 0, 4, 0x1000, v);
			eip_all(&a, "IMSIC");
			eip_clear(&a);
		}
		if (nsrcs[k] == 63) {
			for (i = 0; i < 0x1000; i++)
				gq(&a.v[0], OP_LW, APLIC_GPA + 4 * i, 0, v[i]);
			print_runs("guest lw", 0, 4, 0x1000, v);
			for (p = 0; p < ARRAY_SIZE(vals); p++) {
				for (i = 0; i < 0x1000; i++)
					gq(&a.v[0], OP_SWLW, APLIC_GPA + 4 * i, vals[p], v[i]);
				line("guest sw+lw of 0x%x at every offset:", vals[p]);
				print_runs("guest sw+lw", 0, 4, 0x1000, v);
				eip_all(&a, "IMSIC");
				eip_clear(&a);
			}
			aplic_state(a.dev, nsrcs[k], "APLIC");
		}
		avm_free(&a);
	}
	free(v);
}

/*
 * The IMSIC of vCPU 0, every iselect: through the attributes (has, get,
 * set ~0, set 0) before and after the vCPUs ran (hwaccel: the guest file),
 * and from the guest through siselect/sireg.
 */
static void sec_imsic_map(u32 mode)
{
	struct cfg c = std_cfg(mode, 2, 8);
	char (*v)[VW] = calloc(0x1000, VW);
	struct avm a;
	int i, pass;

	TEST_ASSERT(v, "calloc");
	set_sec("imsic-map-%s", mode_name[mode]);
	avm_new(&a, 2, true);
	if (setup(&a, &c))
		goto out;
	for (pass = 0; pass < 2; pass++) {
		const char *when = pass ? "after the run" : "before a run";

		if (pass)
			run_all(&a, "between the passes");
		line("%s:", when);
		for (i = 0; i < 0x1000; i++) {
			long h = has(a.dev, 4, imsic_attr(0, i));

			snprintf(v[i], VW, "has=%s get=%s", res(h), get_str(a.dev, 4, imsic_attr(0, i)));
		}
		print_runs("isel", 0, 1, 0x1000, v);
		for (i = 0; i < 0x1000; i++) {
			long r = set_attr(a.dev, 4, imsic_attr(0, i), ~0ULL);

			snprintf(v[i], VW, "set ~0 -> %s, get=%s", res(r), get_str(a.dev, 4, imsic_attr(0, i)));
		}
		print_runs("isel", 0, 1, 0x1000, v);
		for (i = 0; i < 0x1000; i++) {
			long r = set_attr(a.dev, 4, imsic_attr(0, i), 0);

			snprintf(v[i], VW, "set 0 -> %s, get=%s", res(r), get_str(a.dev, 4, imsic_attr(0, i)));
		}
		print_runs("isel", 0, 1, 0x1000, v);
	}
	line("the guest's siselect/sireg:");
	for (i = 0; i < 0x200; i++)
		gq(&a.v[0], OP_IREG_R, i, 0, v[i]);
	print_runs("sireg read", 0, 1, 0x200, v);
	for (i = 0; i < 0x200; i++)
		gq(&a.v[0], OP_IREG_W, i, ~0ULL, v[i]);
	print_runs("sireg write ~0, read", 0, 1, 0x200, v);
	imsic_state(a.dev, 0, "after the writes");
	gcmd(&a.v[0], OP_SIP, 0, 0, NULL);
	gcmd(&a.v[0], OP_TOPEI_R, 0, 0, NULL);
	for (i = 0; i < 0x200; i++)
		gq(&a.v[0], OP_IREG_W, i, 0, v[i]);
	print_runs("sireg write 0, read", 0, 1, 0x200, v);
	imsic_state(a.dev, 0, "after the writes");
	gcmd(&a.v[0], OP_SIP, 0, 0, NULL);
out:
	avm_free(&a);
	free(v);
}

/* Pin the dump to one host CPU. */
static long pin(int cpu)
{
	cpu_set_t cpus;

	CPU_ZERO(&cpus);
	CPU_SET(cpu, &cpus);
	return sched_setaffinity(0, sizeof(cpus), &cpus) ? -errno : 0;
}

/*
 * More vCPUs on one host CPU than it has guest files (hwaccel: the run
 * fails, auto: the IMSIC stays in software), and a vCPU moved to the other
 * host CPU and back (its guest file, or its software file, moves along).
 */
static void sec_vsfile(u32 mode)
{
	struct cfg c = std_cfg(mode, 7, 8);
	char buf[VW];
	struct avm a;
	int i;

	set_sec("vsfile-%s", mode_name[mode]);
	avm_new(&a, 7, true);
	if (!setup(&a, &c)) {
		for (i = 0; i < 7; i++) {
			R("eidelivery 1", set_attr(a.dev, 4, imsic_attr(i, I_EIDELIVERY), 1));
			R("eie0 ~0", set_attr(a.dev, 4, imsic_attr(i, I_EIE0), ~0ULL));
			P(", eip0 0x%x -> %s", 2 << i, res(set_attr(a.dev, 4, imsic_attr(i, I_EIP0), 2 << i)));
			P(" (vcpu%d)", i);
			E();
		}
		for (i = 0; i < 7; i++) {
			gq(&a.v[i], OP_IREG_R, I_EIP0, 0, buf);
			P("vcpu%d sireg eip0 -> %s", i, buf);
			gq(&a.v[i], OP_SIP, 0, 0, buf);
			P(", sip -> %s", buf);
			gq(&a.v[i], OP_TOPEI_CLAIM, 0, 0, buf);
			P(", stopei claim -> %s", buf);
			E();
		}
		for (i = 0; i < 7; i++) {
			P("SIGNAL_MSI id %d to vcpu%d -> %s", 40 + i, i, res(msi(a.fd, c.imsic[i], 40 + i, 0)));
			E();
			imsic_state(a.dev, i, "  after the run and the MSI");
		}
		for (i = 0; i < 7; i++) {
			gq(&a.v[i], OP_TOPEI_CLAIM, 0, 0, buf);
			P("vcpu%d stopei claim -> %s", i, buf);
			gq(&a.v[i], OP_IREG_R, I_EIP0, 0, buf);
			P(", sireg eip0 -> %s", buf);
			E();
		}
	}
	avm_free(&a);

	c = std_cfg(mode, 2, 8);
	avm_new(&a, 2, true);
	if (!setup(&a, &c)) {
		R("vcpu0 eidelivery 1", set_attr(a.dev, 4, imsic_attr(0, I_EIDELIVERY), 1));
		R("eie0 0xff", set_attr(a.dev, 4, imsic_attr(0, I_EIE0), 0xff));
		R("eip0 0x6", set_attr(a.dev, 4, imsic_attr(0, I_EIP0), 0x6));
		R("eithreshold 6", set_attr(a.dev, 4, imsic_attr(0, I_EITHRESHOLD), 6));
		E();
		gcmd(&a.v[0], OP_IREG_R, I_EIP0, 0, NULL);
		imsic_state(a.dev, 0, "on CPU 0");
		R("pinned to CPU 1", pin(1));
		E();
		gcmd(&a.v[0], OP_IREG_R, I_EIP0, 0, NULL);
		gcmd(&a.v[0], OP_IREG_R, I_EITHRESHOLD, 0, NULL);
		imsic_state(a.dev, 0, "on CPU 1");
		R("SIGNAL_MSI id 3", msi(a.fd, c.imsic[0], 3, 0));
		R("id 9", msi(a.fd, c.imsic[0], 9, 0));
		E();
		gcmd(&a.v[0], OP_TOPEI_CLAIM, 0, 0, NULL);
		gcmd(&a.v[0], OP_SIP, 0, 0, NULL);
		R("pinned to CPU 0", pin(0));
		E();
		gcmd(&a.v[0], OP_IREG_R, I_EIP0, 0, NULL);
		gcmd(&a.v[0], OP_TOPEI_CLAIM, 0, 0, NULL);
		gcmd(&a.v[0], OP_TOPEI_CLAIM, 0, 0, NULL);
		imsic_state(a.dev, 0, "back on CPU 0");
		gcmd(&a.v[1], OP_NOP, 0, 0, NULL);
		R("pinned to CPU 1", pin(1));
		E();
		gcmd(&a.v[1], OP_NOP, 0, 0, NULL);
		R("SIGNAL_MSI id 5 to vcpu1", msi(a.fd, c.imsic[1], 5, 0));
		R("pinned to CPU 0", pin(0));
		E();
		imsic_state(a.dev, 1, "vcpu1 ran on CPU 1, read from CPU 0");
		gcmd(&a.v[1], OP_IREG_R, I_EIP0, 0, NULL);
	}
	pin(0);
	avm_free(&a);
}

static void usage(const char *p)
{
	fprintf(stderr, "usage: %s [-o FILE]\n", p);
	exit(2);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	u32 m;
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
	pin(0);
	kvm_fd = open("/dev/kvm", O_RDWR);
	TEST_ASSERT(kvm_fd >= 0, "/dev/kvm");
	run_size = xioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	TEST_ASSERT(run_size > 0, "KVM_GET_VCPU_MMAP_SIZE");

	sec_host();
	sec_create();
	for (m = 0; m < 3; m++) {
		sec_config(m);
		sec_guest(m);
		sec_irq(m, false);
		sec_irq(m, true);
		sec_msi(m, false);
		sec_msi(m, true);
		sec_irqfd(m, false);
		sec_irqfd(m, true);
		sec_imsic_map(m);
		sec_vsfile(m);
	}
	sec_aplic_map();

	set_sec("end");
	line("failures=%d", failures);
	fflush(out);
	fprintf(stderr, "aia_dump: %lu lines, %d failures\n", nlines, failures);
	return failures ? 1 : 0;
}
