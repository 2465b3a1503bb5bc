// SPDX-License-Identifier: GPL-2.0
/*
 * VM, memslot and G-stage conformance dump. Writes to stdout (or to -o FILE)
 * one line per thing userspace sees of what upstream keeps in
 * arch/riscv/kvm/vm.c, mmu.c and gstage.c (and of the generic code they
 * answer for): capabilities, KVM_ENABLE_CAP, VM types, memslots, the
 * G-stage's GPA width and its top page, MMIO exits around memslots, dirty
 * logging (bitmap, manual protect, ring), host memory changes (mmu
 * notifiers), huge pages, the irqchip entry points and the VM stats. The
 * dump is deterministic for a given kvm.ko, host and kernel, so that the
 * dumps of our module and of upstream C (tools/testing/host/mode-vm, in one
 * boot) can be compared byte for byte.
 *
 * The guest is a small position-independent command loop (vd_guest below)
 * copied to guest physical 0 and run with its MMU off: with satp Bare a
 * guest reaches every GPA the G-stage allows (Sv57x4: 59 bits), which no
 * guest page table can (Sv57 maps 56-bit physical addresses). The host puts
 * a command in a0..a4 through ONE_REG; the guest does it and stores its
 * result (t0) to SYNC_GPA, where no memslot is: that MMIO exit ends the
 * command. Every other exit on the way is printed.
 *
 * Nothing that varies from run to run is printed: no host addresses, no
 * times, no file descriptors, no pids. Every page the host gives a slot is
 * written by the host first, so that no slot is backed by the shared zero
 * page (see zero_page_probe(), run by -z only).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "processor.h"

#define PG		4096UL
#define CODE_GPA	0x0UL		/* slot 0: the guest's code, one page */
#define SYNC_GPA	0x40000000UL	/* no memslot: the command loop's MMIO store */
#define DATA_GPA	0x10000000UL	/* data slots */
#define HUGE_GPA	0x20000000UL	/* a 2 MiB hugetlb slot */
#define HUGE_SZ		(2UL << 20)
#define RET_INSN	0x00008067U	/* jalr x0, 0(ra) */

/* Commands: a0 = op, a1 = address, a2 = value, a3 = page mask, a4 = stride. */
enum {
	OP_NOP, OP_SDLD, OP_LD, OP_SD, OP_SB, OP_SH, OP_SW, OP_LB, OP_LH, OP_LW,
	OP_LBU, OP_LHU, OP_LWU, OP_WMASK, OP_RMASK, OP_CALL,
};

static const char * const op_name[] = {
	"nop", "sd+ld", "ld", "sd", "sb", "sh", "sw", "lb", "lh", "lw", "lbu", "lhu", "lwu",
	"wmask", "rmask", "call",
};

/* ---------------------------------------------------------------------- */
/* The guest: position independent, MMU off, no stack, no memory of its own. */

/*
 * Two nops first: a vCPU reset through KVM_SET_MP_STATE may enter at 0 or
 * at 4 (a pending MMIO completion advances the reset pc). The loop reads
 * its command from a0..a4; the result goes out as an 8-byte MMIO store of
 * t0 to SYNC_GPA. A trap (stvec = vd_trap) stores scause to SYNC_GPA + 8,
 * stval to SYNC_GPA + 16, and ends the command with t0 = -1.
 * wmask: for each bit i of a3, sd (a2 + i) at a1 + i * a4.
 * rmask: for each bit i of a3, t0 = t0 * 31 + ld(a1 + i * a4).
 */
asm(".text\n"
    ".balign 4096\n"
    ".global vd_guest, vd_loop, vd_sync_insn, vd_trap, vd_guest_end\n"
    "vd_guest:\n"
    "	.option push\n"
    "	.option norvc\n"
    "	.option norelax\n"
    "	nop\n"
    "	nop\n"
    "vd_loop:\n"
    "	li t0, 0\n"
    "	beqz a0, vd_sync\n"
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
    "	li t6, 14\n	beq a0, t6, 14f\n"
    "	li t6, 15\n	beq a0, t6, 15f\n"
    "	li t0, -2\n"
    "	j vd_sync\n"
    "1:	sd a2, 0(a1)\n	ld t0, 0(a1)\n	j vd_sync\n"
    "2:	ld t0, 0(a1)\n	j vd_sync\n"
    "3:	sd a2, 0(a1)\n	j vd_sync\n"
    "4:	sb a2, 0(a1)\n	j vd_sync\n"
    "5:	sh a2, 0(a1)\n	j vd_sync\n"
    "6:	sw a2, 0(a1)\n	j vd_sync\n"
    "7:	lb t0, 0(a1)\n	j vd_sync\n"
    "8:	lh t0, 0(a1)\n	j vd_sync\n"
    "9:	lw t0, 0(a1)\n	j vd_sync\n"
    "10:	lbu t0, 0(a1)\n	j vd_sync\n"
    "11:	lhu t0, 0(a1)\n	j vd_sync\n"
    "12:	lwu t0, 0(a1)\n	j vd_sync\n"
    "13:	mv t1, a1\n	mv t2, a3\n	mv t3, a2\n"
    "16:	beqz t2, vd_sync\n"
    "	andi t4, t2, 1\n	beqz t4, 17f\n"
    "	sd t3, 0(t1)\n"
    "17:	srli t2, t2, 1\n	add t1, t1, a4\n	addi t3, t3, 1\n	j 16b\n"
    "14:	mv t1, a1\n	mv t2, a3\n"
    "18:	beqz t2, vd_sync\n"
    "	andi t4, t2, 1\n	beqz t4, 19f\n"
    "	ld t3, 0(t1)\n"
    "	slli t4, t0, 5\n	sub t0, t4, t0\n	add t0, t0, t3\n"
    "19:	srli t2, t2, 1\n	add t1, t1, a4\n	j 18b\n"
    "15:	jalr ra, 0(a1)\n	li t0, 1\n	j vd_sync\n"
    "vd_sync:\n"
    "	li t5, 0x40000000\n"
    "vd_sync_insn:\n"
    "	sd t0, 0(t5)\n"
    "	j vd_loop\n"
    "vd_trap:\n"
    "	li t5, 0x40000000\n"
    "	csrr t0, scause\n	sd t0, 8(t5)\n"
    "	csrr t0, stval\n	sd t0, 16(t5)\n"
    "	li t0, -1\n"
    "	j vd_sync\n"
    "	.option pop\n"
    "vd_guest_end:\n");

extern char vd_guest[], vd_loop[], vd_sync_insn[], vd_trap[], vd_guest_end[];

#define OFF(sym)	((u64)((sym) - vd_guest))

/* ---------------------------------------------------------------------- */
/* Output.                                                                 */

static FILE *out;
static unsigned long nlines;
static int failures;
static const char *sec = "start";
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

/*
 * A line built in parts, each part a statement of its own: the ioctls of a
 * line run in the order they are printed (the order of evaluation of a
 * function's arguments is unspecified in C).
 */
static char pbuf[4096];
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

static const char * const cap_name[] = {
	[0] = "IRQCHIP", [1] = "HLT", [2] = "MMU_SHADOW_CACHE_CONTROL", [3] = "USER_MEMORY",
	[4] = "SET_TSS_ADDR", [6] = "VAPIC", [7] = "EXT_CPUID", [8] = "CLOCKSOURCE",
	[9] = "NR_VCPUS", [10] = "NR_MEMSLOTS", [11] = "PIT", [12] = "NOP_IO_DELAY",
	[13] = "PV_MMU", [14] = "MP_STATE", [15] = "COALESCED_MMIO", [16] = "SYNC_MMU",
	[18] = "IOMMU", [21] = "DESTROY_MEMORY_REGION_WORKS", [22] = "USER_NMI",
	[23] = "SET_GUEST_DEBUG", [24] = "REINJECT_CONTROL", [25] = "IRQ_ROUTING",
	[26] = "IRQ_INJECT_STATUS", [29] = "ASSIGN_DEV_IRQ", [30] = "JOIN_MEMORY_REGIONS_WORKS",
	[31] = "MCE", [32] = "IRQFD", [33] = "PIT2", [34] = "SET_BOOT_CPU_ID", [35] = "PIT_STATE2",
	[36] = "IOEVENTFD", [37] = "SET_IDENTITY_MAP_ADDR", [38] = "XEN_HVM",
	[39] = "ADJUST_CLOCK", [40] = "INTERNAL_ERROR_DATA", [41] = "VCPU_EVENTS",
	[42] = "S390_PSW", [43] = "PPC_SEGSTATE", [44] = "HYPERV", [45] = "HYPERV_VAPIC",
	[46] = "HYPERV_SPIN", [47] = "PCI_SEGMENT", [48] = "PPC_PAIRED_SINGLES",
	[49] = "INTR_SHADOW", [50] = "DEBUGREGS", [51] = "X86_ROBUST_SINGLESTEP", [52] = "PPC_OSI",
	[53] = "PPC_UNSET_IRQ", [54] = "ENABLE_CAP", [55] = "XSAVE", [56] = "XCRS",
	[57] = "PPC_GET_PVINFO", [58] = "PPC_IRQ_LEVEL", [59] = "ASYNC_PF", [60] = "TSC_CONTROL",
	[61] = "GET_TSC_KHZ", [62] = "PPC_BOOKE_SREGS", [63] = "SPAPR_TCE", [64] = "PPC_SMT",
	[65] = "PPC_RMA", [66] = "MAX_VCPUS", [67] = "PPC_HIOR", [68] = "PPC_PAPR",
	[69] = "SW_TLB", [70] = "ONE_REG", [71] = "S390_GMAP", [72] = "TSC_DEADLINE_TIMER",
	[73] = "S390_UCONTROL", [74] = "SYNC_REGS", [75] = "PCI_2_3", [76] = "KVMCLOCK_CTRL",
	[77] = "SIGNAL_MSI", [78] = "PPC_GET_SMMU_INFO", [79] = "S390_COW",
	[80] = "PPC_ALLOC_HTAB", [81] = "READONLY_MEM", [82] = "IRQFD_RESAMPLE",
	[83] = "PPC_BOOKE_WATCHDOG", [84] = "PPC_HTAB_FD", [85] = "S390_CSS_SUPPORT",
	[86] = "PPC_EPR", [87] = "ARM_PSCI", [88] = "ARM_SET_DEVICE_ADDR", [89] = "DEVICE_CTRL",
	[90] = "IRQ_MPIC", [91] = "PPC_RTAS", [92] = "IRQ_XICS", [93] = "ARM_EL1_32BIT",
	[94] = "SPAPR_MULTITCE", [95] = "EXT_EMUL_CPUID", [96] = "HYPERV_TIME",
	[97] = "IOAPIC_POLARITY_IGNORED", [98] = "ENABLE_CAP_VM", [99] = "S390_IRQCHIP",
	[100] = "IOEVENTFD_NO_LENGTH", [101] = "VM_ATTRIBUTES", [102] = "ARM_PSCI_0_2",
	[103] = "PPC_FIXUP_HCALL", [104] = "PPC_ENABLE_HCALL", [105] = "CHECK_EXTENSION_VM",
	[106] = "S390_USER_SIGP", [107] = "S390_VECTOR_REGISTERS", [108] = "S390_MEM_OP",
	[109] = "S390_USER_STSI", [110] = "S390_SKEYS", [111] = "MIPS_FPU", [112] = "MIPS_MSA",
	[113] = "S390_INJECT_IRQ", [114] = "S390_IRQ_STATE", [115] = "PPC_HWRNG",
	[116] = "DISABLE_QUIRKS", [117] = "X86_SMM", [118] = "MULTI_ADDRESS_SPACE",
	[119] = "GUEST_DEBUG_HW_BPS", [120] = "GUEST_DEBUG_HW_WPS", [121] = "SPLIT_IRQCHIP",
	[122] = "IOEVENTFD_ANY_LENGTH", [123] = "HYPERV_SYNIC", [124] = "S390_RI",
	[125] = "SPAPR_TCE_64", [126] = "ARM_PMU_V3", [127] = "VCPU_ATTRIBUTES",
	[128] = "MAX_VCPU_ID", [129] = "X2APIC_API", [130] = "S390_USER_INSTR0",
	[131] = "MSI_DEVID", [132] = "PPC_HTM", [133] = "SPAPR_RESIZE_HPT",
	[134] = "PPC_MMU_RADIX", [135] = "PPC_MMU_HASH_V3", [136] = "IMMEDIATE_EXIT",
	[137] = "MIPS_VZ", [138] = "MIPS_TE", [139] = "MIPS_64BIT", [140] = "S390_GS",
	[141] = "S390_AIS", [142] = "SPAPR_TCE_VFIO", [143] = "X86_DISABLE_EXITS",
	[144] = "ARM_USER_IRQ", [145] = "S390_CMMA_MIGRATION", [146] = "PPC_FWNMI",
	[147] = "PPC_SMT_POSSIBLE", [148] = "HYPERV_SYNIC2", [149] = "HYPERV_VP_INDEX",
	[150] = "S390_AIS_MIGRATION", [151] = "PPC_GET_CPU_CHAR", [152] = "S390_BPB",
	[153] = "GET_MSR_FEATURES", [154] = "HYPERV_EVENTFD", [155] = "HYPERV_TLBFLUSH",
	[156] = "S390_HPAGE_1M", [157] = "NESTED_STATE", [158] = "ARM_INJECT_SERROR_ESR",
	[159] = "MSR_PLATFORM_INFO", [160] = "PPC_NESTED_HV", [161] = "HYPERV_SEND_IPI",
	[162] = "COALESCED_PIO", [163] = "HYPERV_ENLIGHTENED_VMCS", [164] = "EXCEPTION_PAYLOAD",
	[165] = "ARM_VM_IPA_SIZE", [166] = "MANUAL_DIRTY_LOG_PROTECT", [167] = "HYPERV_CPUID",
	[168] = "MANUAL_DIRTY_LOG_PROTECT2", [169] = "PPC_IRQ_XIVE", [170] = "ARM_SVE",
	[171] = "ARM_PTRAUTH_ADDRESS", [172] = "ARM_PTRAUTH_GENERIC", [173] = "PMU_EVENT_FILTER",
	[174] = "ARM_IRQ_LINE_LAYOUT_2", [175] = "HYPERV_DIRECT_TLBFLUSH",
	[176] = "PPC_GUEST_DEBUG_SSTEP", [177] = "ARM_NISV_TO_USER", [178] = "ARM_INJECT_EXT_DABT",
	[179] = "S390_VCPU_RESETS", [180] = "S390_PROTECTED", [181] = "PPC_SECURE_GUEST",
	[182] = "HALT_POLL", [183] = "ASYNC_PF_INT", [184] = "LAST_CPU",
	[185] = "SMALLER_MAXPHYADDR", [186] = "S390_DIAG318", [187] = "STEAL_TIME",
	[188] = "X86_USER_SPACE_MSR", [189] = "X86_MSR_FILTER", [190] = "ENFORCE_PV_FEATURE_CPUID",
	[191] = "SYS_HYPERV_CPUID", [192] = "DIRTY_LOG_RING", [193] = "X86_BUS_LOCK_EXIT",
	[194] = "PPC_DAWR1", [195] = "SET_GUEST_DEBUG2", [196] = "SGX_ATTRIBUTE",
	[197] = "VM_COPY_ENC_CONTEXT_FROM", [198] = "PTP_KVM", [199] = "HYPERV_ENFORCE_CPUID",
	[200] = "SREGS2", [201] = "EXIT_HYPERCALL", [202] = "PPC_RPT_INVALIDATE",
	[203] = "BINARY_STATS_FD", [204] = "EXIT_ON_EMULATION_FAILURE", [205] = "ARM_MTE",
	[206] = "VM_MOVE_ENC_CONTEXT_FROM", [207] = "VM_GPA_BITS", [208] = "XSAVE2",
	[209] = "SYS_ATTRIBUTES", [210] = "PPC_AIL_MODE_3", [211] = "S390_MEM_OP_EXTENSION",
	[212] = "PMU_CAPABILITY", [213] = "DISABLE_QUIRKS2", [214] = "VM_TSC_CONTROL",
	[215] = "SYSTEM_EVENT_DATA", [216] = "ARM_SYSTEM_SUSPEND", [217] = "S390_PROTECTED_DUMP",
	[218] = "X86_TRIPLE_FAULT_EVENT", [219] = "X86_NOTIFY_VMEXIT",
	[220] = "VM_DISABLE_NX_HUGE_PAGES", [221] = "S390_ZPCI_OP", [222] = "S390_CPU_TOPOLOGY",
	[223] = "DIRTY_LOG_RING_ACQ_REL", [224] = "S390_PROTECTED_ASYNC_DISABLE",
	[225] = "DIRTY_LOG_RING_WITH_BITMAP", [226] = "PMU_EVENT_MASKED_EVENTS",
	[227] = "COUNTER_OFFSET", [228] = "ARM_EAGER_SPLIT_CHUNK_SIZE",
	[229] = "ARM_SUPPORTED_BLOCK_SIZES", [230] = "ARM_SUPPORTED_REG_MASK_RANGES",
	[231] = "USER_MEMORY2", [232] = "MEMORY_FAULT_INFO", [233] = "MEMORY_ATTRIBUTES",
	[234] = "GUEST_MEMFD", [235] = "VM_TYPES", [236] = "PRE_FAULT_MEMORY",
	[237] = "X86_APIC_BUS_CYCLES_NS", [238] = "X86_GUEST_MODE",
	[239] = "ARM_WRITABLE_IMP_ID_REGS", [240] = "ARM_EL2", [241] = "ARM_EL2_E2H0",
	[242] = "RISCV_MP_STATE_RESET", [243] = "ARM_CACHEABLE_PFNMAP_SUPPORTED",
	[244] = "GUEST_MEMFD_FLAGS", [245] = "ARM_SEA_TO_USER", [246] = "S390_USER_OPEREXEC",
	[247] = "S390_KEYOP", [248] = "S390_VSIE_ESAMODE", [249] = "S390_HPAGE_2G",
	[250] = "PPC_COMPAT_CAPS", [251] = "ARM_PMU_V3_STRICT",
};

static const char *capname(long cap)
{
	if (cap >= 0 && cap < (long)ARRAY_SIZE(cap_name) && cap_name[cap])
		return cap_name[cap];
	return "-";
}

/* ---------------------------------------------------------------------- */
/* VMs, memory, vCPUs.                                                     */

static void on_alarm(int sig)
{
}

static void arm_ms(unsigned int ms)
{
	struct itimerval it = { .it_value = { ms / 1000, (ms % 1000) * 1000 } };

	setitimer(ITIMER_REAL, &it, NULL);
}

static long create_vm(unsigned long type)
{
	return xioctl(kvm_fd, KVM_CREATE_VM, type);
}

static int new_vm(void)
{
	long fd = create_vm(0);

	TEST_ASSERT(fd >= 0, "KVM_CREATE_VM: %s", errname(-fd));
	return fd;
}

static long check_ext(int fd, long cap)
{
	return xioctl(fd, KVM_CHECK_EXTENSION, cap);
}

static long enable_cap(int vmfd, u32 cap, u32 flags, u64 a0, u64 a1)
{
	struct kvm_enable_cap c = { .cap = cap, .flags = flags, .args = { a0, a1 } };

	return XIOCTL(vmfd, KVM_ENABLE_CAP, &c);
}

/*
 * Anonymous memory, never backed by transparent huge pages, every page
 * written once by the host: no page of it is the shared zero page, which a
 * guest could otherwise write (see zero_page_probe()).
 */
static void *map_pages(size_t n)
{
	u8 *p = mmap(NULL, n * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	size_t i;

	TEST_ASSERT(p != MAP_FAILED, "mmap %zu pages", n);
	madvise(p, n * PG, MADV_NOHUGEPAGE);
	for (i = 0; i < n; i++)
		WRITE_ONCE(p[i * PG], 0);
	return p;
}

static long set_mem(int vmfd, u32 slot, u32 flags, u64 gpa, u64 size, const void *uaddr)
{
	struct kvm_userspace_memory_region m = {
		.slot = slot, .flags = flags, .guest_phys_addr = gpa,
		.memory_size = size, .userspace_addr = (u64)uaddr,
	};

	return XIOCTL(vmfd, KVM_SET_USER_MEMORY_REGION, &m);
}

static long set_mem2(int vmfd, u32 slot, u32 flags, u64 gpa, u64 size, const void *uaddr)
{
	struct kvm_userspace_memory_region2 m = {
		.slot = slot, .flags = flags, .guest_phys_addr = gpa,
		.memory_size = size, .userspace_addr = (u64)uaddr,
	};

	return XIOCTL(vmfd, KVM_SET_USER_MEMORY_REGION2, &m);
}

struct vcpu {
	int fd;
	u32 id;
	struct kvm_run *run;
	bool need_pc;		/* enter at vd_loop (a fresh vCPU, or after a failed run) */
	bool sync;		/* the last run ended at the command loop's MMIO store */
	u64 mmio_fill;		/* what an MMIO load outside SYNC_GPA reads */
};

static long reg_get(struct vcpu *v, u64 id, u64 *val)
{
	struct kvm_one_reg r = { .id = id, .addr = (u64)val };

	return XIOCTL(v->fd, KVM_GET_ONE_REG, &r);
}

static long reg_set(struct vcpu *v, u64 id, u64 val)
{
	struct kvm_one_reg r = { .id = id, .addr = (u64)&val };

	return XIOCTL(v->fd, KVM_SET_ONE_REG, &r);
}

static u64 reg(struct vcpu *v, u64 id)
{
	u64 val = 0;
	long r = reg_get(v, id, &val);

	TEST_ASSERT(r == 0, "GET_ONE_REG 0x%llx: %s", (unsigned long long)id, errname(-r));
	return val;
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
	v->mmio_fill = 0x8877665544332281ULL;
	/* traps of the guest go to vd_trap */
	reg_set(v, RISCV_GENERAL_CSR_REG(stvec), CODE_GPA + OFF(vd_trap));
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

/* A VM with the guest's code in slot 0 and one vCPU. */
struct gvm {
	int fd;
	struct vcpu v;
	void *code;
};

static void gvm_code_slot(struct gvm *g)
{
	long r;

	g->code = map_pages(1);
	memcpy(g->code, vd_guest, vd_guest_end - vd_guest);
	r = set_mem(g->fd, 0, 0, CODE_GPA, PG, g->code);
	TEST_ASSERT(r == 0, "code slot: %s", errname(-r));
}

/* gpa_bits: 0 for the default, else KVM_ENABLE_CAP(VM_GPA_BITS) first. */
static long gvm_new(struct gvm *g, u64 gpa_bits)
{
	long r = 0;

	memset(g, 0, sizeof(*g));
	g->fd = new_vm();
	if (gpa_bits)
		r = enable_cap(g->fd, KVM_CAP_VM_GPA_BITS, 0, gpa_bits, 0);
	gvm_code_slot(g);
	TEST_ASSERT(add_vcpu(g->fd, 0, &g->v) == 0, "vCPU 0");
	return r;
}

static void gvm_free(struct gvm *g)
{
	free_vcpu(&g->v);
	close(g->fd);
	munmap(g->code, PG);
}

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
	case KVM_EXIT_DIRTY_RING_FULL: return "DIRTY_RING_FULL";
	case KVM_EXIT_MEMORY_FAULT: return "MEMORY_FAULT";
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

/*
 * Run until the command loop's MMIO store; print every other exit (an MMIO
 * load outside SYNC_GPA reads v->mmio_fill). Returns 0 and the guest's t0
 * in *t0, or -errno of a failed KVM_RUN, or -EPROTO for an exit that ends
 * the command otherwise (printed).
 */
static long grun(struct vcpu *v, u64 *t0)
{
	struct kvm_run *run = v->run;
	u64 scause = 0;
	int n;
	long r;

	v->sync = false;
	for (n = 0; n < 64; n++) {
		arm_ms(5000);
		r = XIOCTL(v->fd, KVM_RUN, 0);
		arm_ms(0);
		if (r < 0) {
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
				v->sync = true;
				return 0;
			}
			if (run->mmio.phys_addr == SYNC_GPA + 8)
				scause = val;
			else
				line("  guest trap scause=0x%llx stval=0x%llx",
				     (unsigned long long)scause, (unsigned long long)val);
			continue;
		}
		if (run->exit_reason == KVM_EXIT_MMIO) {
			if (run->mmio.is_write) {
				line("  exit MMIO addr=0x%llx len=%u write=1 data=0x%llx",
				     (unsigned long long)run->mmio.phys_addr, run->mmio.len,
				     (unsigned long long)mmio_value(run));
			} else {
				line("  exit MMIO addr=0x%llx len=%u write=0 (reads 0x%llx)",
				     (unsigned long long)run->mmio.phys_addr, run->mmio.len,
				     (unsigned long long)v->mmio_fill);
				memset(run->mmio.data, 0, sizeof(run->mmio.data));
				memcpy(run->mmio.data, &v->mmio_fill,
				       run->mmio.len <= 8 ? run->mmio.len : 8);
			}
			continue;
		}
		if (run->exit_reason == KVM_EXIT_DIRTY_RING_FULL) {
			line("  exit DIRTY_RING_FULL");
			return -EPROTO;
		}
		line("  exit %s", exit_name(run->exit_reason));
		v->need_pc = true;
		return -EPROTO;
	}
	line("  no command boundary after %d exits", n);
	v->need_pc = true;
	return -EPROTO;
}

/* One command; prints "what -> t0" or the failure, returns as grun(). */
static long gcmd(struct vcpu *v, const char *what, u64 op, u64 addr, u64 val, u64 mask,
		 u64 stride, u64 *t0)
{
	u64 dummy;
	long r;

	if (!t0)
		t0 = &dummy;
	*t0 = 0;
	reg_set(v, RISCV_CORE_REG(regs.a0), op);
	reg_set(v, RISCV_CORE_REG(regs.a1), addr);
	reg_set(v, RISCV_CORE_REG(regs.a2), val);
	reg_set(v, RISCV_CORE_REG(regs.a3), mask);
	reg_set(v, RISCV_CORE_REG(regs.a4), stride);
	if (v->need_pc) {
		reg_set(v, RISCV_CORE_REG(regs.pc), CODE_GPA + OFF(vd_loop));
		v->need_pc = false;
	}
	if (op == OP_SD || op == OP_SB || op == OP_SH || op == OP_SW || op == OP_SDLD)
		line("%s: %s 0x%llx value 0x%llx", what, op_name[op], (unsigned long long)addr,
		     (unsigned long long)val);
	else
		line("%s: %s 0x%llx", what, op_name[op], (unsigned long long)addr);
	r = grun(v, t0);
	if (r == 0)
		line("  -> t0=0x%llx", (unsigned long long)*t0);
	return r;
}

/* The short forms. */
static long g_sdld(struct vcpu *v, const char *what, u64 addr, u64 val, u64 *t0)
{
	return gcmd(v, what, OP_SDLD, addr, val, 0, 0, t0);
}

static long g_ld(struct vcpu *v, const char *what, u64 addr, u64 *t0)
{
	return gcmd(v, what, OP_LD, addr, 0, 0, 0, t0);
}

static long g_sd(struct vcpu *v, const char *what, u64 addr, u64 val)
{
	return gcmd(v, what, OP_SD, addr, val, 0, 0, NULL);
}

static long g_wmask(struct vcpu *v, const char *what, u64 base, u64 mask, u64 stride, u64 val)
{
	line("%s: pages mask=0x%llx stride=0x%llx value=0x%llx+i", what, (unsigned long long)mask,
	     (unsigned long long)stride, (unsigned long long)val);
	return gcmd(v, "  write", OP_WMASK, base, val, mask, stride, NULL);
}

static long g_rmask(struct vcpu *v, const char *what, u64 base, u64 mask, u64 stride, u64 *t0)
{
	line("%s: pages mask=0x%llx stride=0x%llx", what, (unsigned long long)mask,
	     (unsigned long long)stride);
	return gcmd(v, "  read", OP_RMASK, base, 0, mask, stride, t0);
}

/* What rmask computes, from the host's view of the memory. */
static u64 host_hash(const u8 *base, u64 mask, u64 stride)
{
	u64 h = 0, x;
	int i;

	for (i = 0; i < 64; i++) {
		if (!(mask >> i & 1))
			continue;
		memcpy(&x, base + i * stride, 8);
		h = h * 31 + x;
	}
	return h;
}

/* ---------------------------------------------------------------------- */
/* Sections.                                                               */

static u64 max_gpa_bits;

static const char *gstage_mode(long bits)
{
	switch (bits) {
	case 41: return "Sv39x4";
	case 50: return "Sv48x4";
	case 59: return "Sv57x4";
	}
	return "?";
}

static void sec_host(void)
{
	sec = "host";
	max_gpa_bits = check_ext(kvm_fd, KVM_CAP_VM_GPA_BITS);
	line("gstage gpa_bits=%s (%s, the largest G-stage mode of this host)", res(max_gpa_bits),
	     gstage_mode(max_gpa_bits));
	line("KVM_GET_API_VERSION 0 -> %s, 1 -> %s", res(xioctl(kvm_fd, KVM_GET_API_VERSION, 0)),
	     res(xioctl(kvm_fd, KVM_GET_API_VERSION, 1)));
	line("KVM_GET_VCPU_MMAP_SIZE 0 -> %s, 1 -> %s", res(run_size),
	     res(xioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 1)));
}

/* KVM_CHECK_EXTENSION of every capability number, on /dev/kvm and a VM. */
static void sec_caps(void)
{
	static const long odd[] = { -1, -2, -207, 1000, 4096, 0x7fffffff, 0x80000000L,
		0x100000000L + KVM_CAP_VM_GPA_BITS, 0x100000000L + KVM_CAP_NR_MEMSLOTS,
		(long)(~0UL >> 1) };
	int vm1, vm2;
	long cap;
	unsigned int i;

	sec = "caps";
	vm1 = new_vm();
	vm2 = create_vm(1);
	line("every capability: on /dev/kvm, on a VM of type 0, of type 1");
	for (cap = 0; cap <= 260; cap++) {
		long d = check_ext(kvm_fd, cap), v = check_ext(vm1, cap), w = check_ext(vm2, cap);

		line("%ld %s dev=%s vm=%s vm1=%s", cap, capname(cap), res(d), res(v), res(w));
	}
	for (i = 0; i < ARRAY_SIZE(odd); i++) {
		cap = odd[i];
		line("0x%lx dev=%s vm=%s", cap, res(check_ext(kvm_fd, cap)), res(check_ext(vm1, cap)));
	}
	close(vm1);
	close(vm2);
}

/* KVM_CREATE_VM with each type: riscv has no VM types to choose. */
static void sec_vm_types(void)
{
	static const unsigned long types[] = { 0, 1, 2, 3, 41, 50, 59, 0x80000000UL,
		0x100000000UL, ~0UL };
	unsigned int i;

	sec = "vm-type";
	for (i = 0; i < ARRAY_SIZE(types); i++) {
		long fd = create_vm(types[i]);

		if (fd < 0) {
			line("type 0x%lx -> %s", types[i], errname(-fd));
			continue;
		}
		line("type 0x%lx -> OK gpa_bits=%s nr_memslots=%s irqchip=%s", types[i],
		     res(check_ext(fd, KVM_CAP_VM_GPA_BITS)), res(check_ext(fd, KVM_CAP_NR_MEMSLOTS)),
		     res(check_ext(fd, KVM_CAP_IRQCHIP)));
		close(fd);
	}
}

/*
 * KVM_ENABLE_CAP of every capability number on a VM, with the argument
 * sets below, in order. A VM on which an enable succeeded is replaced by a
 * fresh one for the next capability.
 */
static void sec_enable_caps(void)
{
	static const struct { u32 flags; u64 a0, a1; const char *name; } set[] = {
		{ 1, 0, 0, "flags=1" }, { 0x80000000U, 0, 0, "flags=1<<31" },
		{ 0, ~0UL, 0, "a0=~0" }, { 0, 0x100000000UL, 0, "a0=1<<32" },
		{ 0, 4096, 0, "a0=4096" }, { 0, 3, 0, "a0=3" }, { 0, 1, 7, "a0=1,a1=7" },
		{ 0, 0, 0, "a0=0" },
	};
	char buf[512];
	int vm = new_vm(), n;
	unsigned int i;
	long cap;
	bool dirty;

	sec = "enable-cap";
	line("every capability on a fresh VM, argument sets in this order:%s",
	     " flags=1 flags=1<<31 a0=~0 a0=1<<32 a0=4096 a0=3 a0=1,a1=7 a0=0");
	for (cap = -1; cap <= 260; cap++) {
		n = 0;
		dirty = false;
		for (i = 0; i < ARRAY_SIZE(set); i++) {
			long r = enable_cap(vm, (u32)cap, set[i].flags, set[i].a0, set[i].a1);

			n += snprintf(buf + n, sizeof(buf) - n, " %s", res(r));
			dirty |= r >= 0;
		}
		line("%ld %s:%s", cap, capname(cap), buf);
		if (dirty) {
			close(vm);
			vm = new_vm();
		}
	}
	/* the enable ioctl elsewhere: /dev/kvm and a vCPU */
	{
		struct kvm_enable_cap c = { .cap = KVM_CAP_VM_GPA_BITS, .args = { 41 } };
		struct vcpu v;

		line("KVM_ENABLE_CAP on /dev/kvm -> %s", res(XIOCTL(kvm_fd, KVM_ENABLE_CAP, &c)));
		TEST_ASSERT(add_vcpu(vm, 0, &v) == 0, "vCPU");
		line("KVM_ENABLE_CAP on a vCPU: VM_GPA_BITS -> %s", res(XIOCTL(v.fd, KVM_ENABLE_CAP, &c)));
		c.cap = KVM_CAP_RISCV_MP_STATE_RESET;
		c.args[0] = 0;
		line("KVM_ENABLE_CAP on a vCPU: RISCV_MP_STATE_RESET -> %s",
		     res(XIOCTL(v.fd, KVM_ENABLE_CAP, &c)));
		line("KVM_CHECK_EXTENSION on a vCPU: VM_GPA_BITS -> %s, USER_MEMORY -> %s",
		     res(check_ext(v.fd, KVM_CAP_VM_GPA_BITS)), res(check_ext(v.fd, KVM_CAP_USER_MEMORY)));
		free_vcpu(&v);
	}
	close(vm);
}

/* KVM_CAP_VM_GPA_BITS: the values taken, what CHECK_EXTENSION says after, EBUSY. */
static void sec_gpa_bits(void)
{
	static const u64 bits[] = { 59, 60, 64, 0, 1, 34, 40, 41, 42, 49, 50, 51, 57, 58, 59,
		0x100000000UL + 41, 1UL << 63, ~0UL, 41 };
	int vm = new_vm();
	unsigned int i;
	void *mem = map_pages(2);
	struct vcpu v;
	u64 top;

	sec = "gpa-bits";
	line("fresh VM: gpa_bits=%s", res(check_ext(vm, KVM_CAP_VM_GPA_BITS)));
	for (i = 0; i < ARRAY_SIZE(bits); i++) {
		P("enable %llu -> %s", (unsigned long long)bits[i],
		  res(enable_cap(vm, KVM_CAP_VM_GPA_BITS, 0, bits[i], 0)));
		P(", then vm=%s", res(check_ext(vm, KVM_CAP_VM_GPA_BITS)));
		P(" dev=%s", res(check_ext(kvm_fd, KVM_CAP_VM_GPA_BITS)));
		E();
	}
	P("enable 50 flags=1 -> %s", res(enable_cap(vm, KVM_CAP_VM_GPA_BITS, 1, 50, 0)));
	P(", vm=%s", res(check_ext(vm, KVM_CAP_VM_GPA_BITS)));
	P("; enable 50 a1=5 -> %s", res(enable_cap(vm, KVM_CAP_VM_GPA_BITS, 0, 50, 5)));
	P(", vm=%s", res(check_ext(vm, KVM_CAP_VM_GPA_BITS)));
	E();
	P("enable 41 -> %s", res(enable_cap(vm, KVM_CAP_VM_GPA_BITS, 0, 41, 0)));
	E();
	top = 1UL << 41;
	P("at 41 bits: slot 1 at 2^41-4K -> %s", res(set_mem(vm, 1, 0, top - PG, PG, mem)));
	P(", slot 2 at 2^41 -> %s", res(set_mem(vm, 2, 0, top, PG, mem)));
	P(", slot 3 at 2^41-4K size 8K -> %s", res(set_mem(vm, 3, 0, top - PG, 2 * PG, mem)));
	P(", slot 3 at 2^41-8K size 8K -> %s", res(set_mem(vm, 3, 0, top - 2 * PG, 2 * PG, mem)));
	E();
	P("with memslots: enable 59 -> %s", res(enable_cap(vm, KVM_CAP_VM_GPA_BITS, 0, 59, 0)));
	P(", enable 41 -> %s", res(enable_cap(vm, KVM_CAP_VM_GPA_BITS, 0, 41, 0)));
	P(", enable 60 -> %s", res(enable_cap(vm, KVM_CAP_VM_GPA_BITS, 0, 60, 0)));
	P(", vm=%s", res(check_ext(vm, KVM_CAP_VM_GPA_BITS)));
	E();
	P("slot 3 deleted -> %s", res(set_mem(vm, 3, 0, 0, 0, mem)));
	P("; slot 1 moved to 2^41 -> %s", res(set_mem(vm, 1, 0, top, PG, mem)));
	P(", to 2^40 -> %s", res(set_mem(vm, 1, 0, top >> 1, PG, mem)));
	P(", deleted -> %s", res(set_mem(vm, 1, 0, 0, 0, mem)));
	E();
	P("no memslot left: enable 50 -> %s", res(enable_cap(vm, KVM_CAP_VM_GPA_BITS, 0, 50, 0)));
	P(", vm=%s", res(check_ext(vm, KVM_CAP_VM_GPA_BITS)));
	E();
	top = 1UL << 50;
	P("at 50 bits: slot 1 at 2^50-4K -> %s", res(set_mem(vm, 1, 0, top - PG, PG, mem)));
	P(", slot 2 at 2^50 -> %s", res(set_mem(vm, 2, 0, top, PG, mem)));
	P(", slot 2 at 2^41 -> %s", res(set_mem(vm, 2, 0, 1UL << 41, PG, mem)));
	E();
	P("slots deleted -> %s", res(set_mem(vm, 1, 0, 0, 0, mem)));
	P(" %s", res(set_mem(vm, 2, 0, 0, 0, mem)));
	E();
	TEST_ASSERT(add_vcpu(vm, 0, &v) == 0, "vCPU");
	P("with a vCPU and no memslot: enable 41 -> %s", res(enable_cap(vm, KVM_CAP_VM_GPA_BITS, 0, 41, 0)));
	P(", enable 50 -> %s", res(enable_cap(vm, KVM_CAP_VM_GPA_BITS, 0, 50, 0)));
	P(", vm=%s", res(check_ext(vm, KVM_CAP_VM_GPA_BITS)));
	E();
	free_vcpu(&v);
	P("vCPU fd closed: enable 41 -> %s", res(enable_cap(vm, KVM_CAP_VM_GPA_BITS, 0, 41, 0)));
	P(", vm=%s", res(check_ext(vm, KVM_CAP_VM_GPA_BITS)));
	E();
	close(vm);
	munmap(mem, 2 * PG);
}

static const char *mp_name(u32 m)
{
	static char s[16];

	switch (m) {
	case KVM_MP_STATE_RUNNABLE: return "RUNNABLE";
	case KVM_MP_STATE_UNINITIALIZED: return "UNINITIALIZED";
	case KVM_MP_STATE_INIT_RECEIVED: return "INIT_RECEIVED";
	case KVM_MP_STATE_HALTED: return "HALTED";
	case KVM_MP_STATE_SIPI_RECEIVED: return "SIPI_RECEIVED";
	case KVM_MP_STATE_STOPPED: return "STOPPED";
	case KVM_MP_STATE_CHECK_STOP: return "CHECK_STOP";
	case KVM_MP_STATE_OPERATING: return "OPERATING";
	case KVM_MP_STATE_LOAD: return "LOAD";
	case KVM_MP_STATE_AP_RESET_HOLD: return "AP_RESET_HOLD";
	case KVM_MP_STATE_SUSPENDED: return "SUSPENDED";
	}
	snprintf(s, sizeof(s), "%u", m);
	return s;
}

static const char *get_mp(struct vcpu *v)
{
	struct kvm_mp_state mp = { .mp_state = ~0U };
	long r = XIOCTL(v->fd, KVM_GET_MP_STATE, &mp);

	return r < 0 ? errname(-r) : mp_name(mp.mp_state);
}

static long set_mp(struct vcpu *v, u32 m)
{
	struct kvm_mp_state mp = { .mp_state = m };

	return XIOCTL(v->fd, KVM_SET_MP_STATE, &mp);
}

static void show_regs(struct vcpu *v, const char *when)
{
	line("%s: pc=0x%llx a0=0x%llx a1=0x%llx sp=0x%llx sstatus=0x%llx stvec=0x%llx satp=0x%llx sscratch=0x%llx",
	     when, (unsigned long long)reg(v, RISCV_CORE_REG(regs.pc)),
	     (unsigned long long)reg(v, RISCV_CORE_REG(regs.a0)),
	     (unsigned long long)reg(v, RISCV_CORE_REG(regs.a1)),
	     (unsigned long long)reg(v, RISCV_CORE_REG(regs.sp)),
	     (unsigned long long)reg(v, RISCV_GENERAL_CSR_REG(sstatus)),
	     (unsigned long long)reg(v, RISCV_GENERAL_CSR_REG(stvec)),
	     (unsigned long long)reg(v, RISCV_GENERAL_CSR_REG(satp)),
	     (unsigned long long)reg(v, RISCV_GENERAL_CSR_REG(sscratch)));
}

/* KVM_CAP_RISCV_MP_STATE_RESET: KVM_SET_MP_STATE(INIT_RECEIVED) resets the vCPU. */
static void sec_mp_reset(void)
{
	static const u32 states[] = { 0, 1, 3, 4, 6, 7, 8, 9, 10, 11, 0xffffffff, 5, 0 };
	struct gvm g;
	unsigned int i;
	int pass;
	u64 t0;

	sec = "mp-reset";
	for (pass = 0; pass < 2; pass++) {
		gvm_new(&g, 0);
		line("%s", pass ? "VM with RISCV_MP_STATE_RESET enabled" : "VM without RISCV_MP_STATE_RESET");
		if (pass) {
			P("enable flags=1 -> %s", res(enable_cap(g.fd, KVM_CAP_RISCV_MP_STATE_RESET, 1, 0, 0)));
			P(", a0=1 -> %s", res(enable_cap(g.fd, KVM_CAP_RISCV_MP_STATE_RESET, 0, 1, 0)));
			P(", a0=0 -> %s", res(enable_cap(g.fd, KVM_CAP_RISCV_MP_STATE_RESET, 0, 0, 0)));
			E();
		}
		g_sd(&g.v, "first command", SYNC_GPA + 0x1000, 0x77);
		reg_set(&g.v, RISCV_CORE_REG(regs.sp), 0x5000);
		reg_set(&g.v, RISCV_CORE_REG(regs.a1), SYNC_GPA + 0x2000);
		reg_set(&g.v, RISCV_GENERAL_CSR_REG(sscratch), 0x2222);
		reg_set(&g.v, RISCV_GENERAL_CSR_REG(satp), 0);
		show_regs(&g.v, "before");
		line("mp_state %s", get_mp(&g.v));
		P("set INIT_RECEIVED -> %s", res(set_mp(&g.v, KVM_MP_STATE_INIT_RECEIVED)));
		P(", mp_state %s", get_mp(&g.v));
		E();
		show_regs(&g.v, "after");
		/* the reset vCPU runs from its reset pc with a0 = 0: the nop command */
		line("run (no register set)");
		if (grun(&g.v, &t0) == 0)
			line("  -> t0=0x%llx pc at the sync store: +0x%llx (the store is at +0x%llx)",
			     (unsigned long long)t0,
			     (unsigned long long)(reg(&g.v, RISCV_CORE_REG(regs.pc)) - CODE_GPA),
			     (unsigned long long)OFF(vd_sync_insn));
		reg_set(&g.v, RISCV_GENERAL_CSR_REG(stvec), CODE_GPA + OFF(vd_trap));
		for (i = 0; i < ARRAY_SIZE(states); i++) {
			P("set %s -> %s", mp_name(states[i]), res(set_mp(&g.v, states[i])));
			P(", get %s", get_mp(&g.v));
			E();
		}
		P("set STOPPED -> %s", res(set_mp(&g.v, KVM_MP_STATE_STOPPED)));
		P(", INIT_RECEIVED -> %s", res(set_mp(&g.v, KVM_MP_STATE_INIT_RECEIVED)));
		P(", get %s", get_mp(&g.v));
		E();
		show_regs(&g.v, "stopped and reset");
		line("set RUNNABLE -> %s", res(set_mp(&g.v, KVM_MP_STATE_RUNNABLE)));
		g.v.need_pc = true;
		g_sd(&g.v, "a command", SYNC_GPA + 0x1000, 0x78);
		gvm_free(&g);
	}
}

/* One case of a line: its description and the result of the call. */
#define R(desc, call)	P("%s" desc " -> %s", plen ? ", " : "", res(call))

/* KVM_SET_USER_MEMORY_REGION(2): every check, with the errno of each case. */
static void sec_memslots(void)
{
	const u64 top = 1UL << max_gpa_bits;
	u8 *buf = map_pages(64);
	u8 *ro, *hole, *mixed;
	int vm = new_vm();
	long nslots = check_ext(vm, KVM_CAP_NR_MEMSLOTS);
	struct vcpu v;

	sec = "memslot";
	ro = mmap(NULL, 4 * PG, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	TEST_ASSERT(ro != MAP_FAILED, "mmap");
	/* two pages read-write, then two read-only */
	mixed = map_pages(4);
	mprotect(mixed + 2 * PG, 2 * PG, PROT_READ);
	/* four pages where nothing is mapped (nothing is mapped before they are used) */
	hole = map_pages(4);
	munmap(hole, 4 * PG);

	line("NR_MEMSLOTS=%s", res(nslots));
	R("create slot 1 gpa=0x100000 size=16 pages", set_mem(vm, 1, 0, 0x100000, 16 * PG, buf));
	E();
	R("gpa +0x800", set_mem(vm, 2, 0, 0x200800, PG, buf));
	R("gpa +8", set_mem(vm, 2, 0, 0x200008, PG, buf));
	R("size 0x800", set_mem(vm, 2, 0, 0x200000, 0x800, buf));
	R("size 4K+1", set_mem(vm, 2, 0, 0x200000, PG + 1, buf));
	R("size 0 of a slot that does not exist", set_mem(vm, 2, 0, 0x200000, 0, buf));
	E();
	R("uaddr +0x800", set_mem(vm, 2, 0, 0x200000, PG, buf + 0x800));
	R("uaddr 0", set_mem(vm, 2, 0, 0x200000, PG, NULL));
	R("deleted", set_mem(vm, 2, 0, 0x200000, 0, NULL));
	R("uaddr kernel", set_mem(vm, 2, 0, 0x200000, PG, (void *)0xffffffd800000000UL));
	R("uaddr with bit 63", set_mem(vm, 2, 0, 0x200000, PG, (void *)((u64)buf | (1UL << 63))));
	R("uaddr with bit 56", set_mem(vm, 2, 0, 0x200000, PG, (void *)((u64)buf | (1UL << 56))));
	E();
	R("uaddr not mapped", set_mem(vm, 2, 0, 0x200000, 4 * PG, hole));
	R("deleted", set_mem(vm, 2, 0, 0x200000, 0, hole));
	R("uaddr read-only, slot writable", set_mem(vm, 2, 0, 0x200000, 4 * PG, ro));
	R("uaddr read-only, slot READONLY", set_mem(vm, 2, KVM_MEM_READONLY, 0x200000, 4 * PG, ro));
	R("deleted", set_mem(vm, 2, 0, 0x200000, 0, ro));
	E();
	R("uaddr half read-only, slot writable", set_mem(vm, 2, 0, 0x200000, 4 * PG, mixed));
	R("READONLY|LOG_DIRTY_PAGES", set_mem(vm, 2, KVM_MEM_READONLY | KVM_MEM_LOG_DIRTY_PAGES,
					      0x200000, 4 * PG, mixed));
	R("deleted", set_mem(vm, 2, 0, 0x200000, 0, mixed));
	E();
	R("overlaps slot 1 at its start", set_mem(vm, 2, 0, 0x100000, PG, buf));
	R("inside", set_mem(vm, 2, 0, 0x104000, PG, buf));
	R("at its end", set_mem(vm, 2, 0, 0x10f000, PG, buf));
	R("around it", set_mem(vm, 2, 0, 0xff000, 32 * PG, buf));
	E();
	R("right after slot 1 (slot 2)", set_mem(vm, 2, 0, 0x110000, PG, buf));
	R("right before (slot 3)", set_mem(vm, 3, 0, 0xff000, PG, buf));
	R("same uaddr as slot 1, other gpa (slot 4)", set_mem(vm, 4, 0, 0x300000, 16 * PG, buf));
	E();
	R("slot 1 again, same everything", set_mem(vm, 1, 0, 0x100000, 16 * PG, buf));
	R("other size", set_mem(vm, 1, 0, 0x100000, 8 * PG, buf));
	R("other uaddr", set_mem(vm, 1, 0, 0x100000, 16 * PG, buf + PG));
	R("READONLY", set_mem(vm, 1, KVM_MEM_READONLY, 0x100000, 16 * PG, buf));
	E();
	R("slot 1 LOG_DIRTY_PAGES on", set_mem(vm, 1, KVM_MEM_LOG_DIRTY_PAGES, 0x100000, 16 * PG, buf));
	R("off", set_mem(vm, 1, 0, 0x100000, 16 * PG, buf));
	R("moved onto slot 2", set_mem(vm, 1, 0, 0x10f000, 16 * PG, buf));
	R("to 0x500000", set_mem(vm, 1, 0, 0x500000, 16 * PG, buf));
	R("back", set_mem(vm, 1, 0, 0x100000, 16 * PG, buf));
	R("moved and LOG_DIRTY_PAGES at once", set_mem(vm, 1, KVM_MEM_LOG_DIRTY_PAGES, 0x500000, 16 * PG, buf));
	R("back", set_mem(vm, 1, 0, 0x100000, 16 * PG, buf));
	E();
	R("flags bit 2 (GUEST_MEMFD)", set_mem(vm, 5, 1U << 2, 0x600000, PG, buf));
	R("bit 3", set_mem(vm, 5, 1U << 3, 0x600000, PG, buf));
	R("bit 31", set_mem(vm, 5, 1U << 31, 0x600000, PG, buf));
	E();
	R("REGION2: bit 2 (GUEST_MEMFD)", set_mem2(vm, 5, 1U << 2, 0x600000, PG, buf));
	R("bit 3", set_mem2(vm, 5, 1U << 3, 0x600000, PG, buf));
	R("READONLY", set_mem2(vm, 5, KVM_MEM_READONLY, 0x600000, PG, buf));
	R("deleted", set_mem2(vm, 5, 0, 0x600000, 0, buf));
	E();
	{
		struct kvm_userspace_memory_region2 m = {
			.slot = 5, .guest_phys_addr = 0x600000, .memory_size = PG,
			.userspace_addr = (u64)buf, .guest_memfd_offset = 0x123, .guest_memfd = 99,
			.pad1 = 7,
		};

		R("REGION2 with guest_memfd fields and padding set, no GUEST_MEMFD flag",
		  XIOCTL(vm, KVM_SET_USER_MEMORY_REGION2, &m));
		R("deleted", set_mem2(vm, 5, 0, 0x600000, 0, buf));
		E();
	}
	R("slot ids: NR_MEMSLOTS-1", set_mem(vm, nslots - 1, 0, 0x700000, PG, buf));
	R("NR_MEMSLOTS", set_mem(vm, nslots, 0, 0x701000, PG, buf));
	R("0x7fff", set_mem(vm, 0x7fff, 0, 0x702000, PG, buf));
	R("0xffff", set_mem(vm, 0xffff, 0, 0x703000, PG, buf));
	R("as_id 1", set_mem(vm, 0x10006, 0, 0x704000, PG, buf));
	R("0xffffffff", set_mem(vm, 0xffffffff, 0, 0x705000, PG, buf));
	E();
	R("slot NR_MEMSLOTS-1 deleted", set_mem(vm, nslots - 1, 0, 0x700000, 0, buf));
	R("again", set_mem(vm, nslots - 1, 0, 0x700000, 0, buf));
	E();
	line("G-stage top, %llu bits:", (unsigned long long)max_gpa_bits);
	R("  the last page (slot 10)", set_mem(vm, 10, 0, top - PG, PG, buf));
	R("the first page beyond", set_mem(vm, 11, 0, top, PG, buf));
	R("the two pages below the last", set_mem(vm, 12, 0, top - 3 * PG, 2 * PG, buf));
	R("the last two pages", set_mem(vm, 13, 0, top - 2 * PG, 2 * PG, buf));
	R("the last page and one beyond", set_mem(vm, 13, 0, top - PG, 2 * PG, buf));
	E();
	R("  slot 10 moved one page up", set_mem(vm, 10, 0, top, PG, buf));
	R("to 2^63", set_mem(vm, 10, 0, 1UL << 63, PG, buf));
	R("its flags changed", set_mem(vm, 10, KVM_MEM_LOG_DIRTY_PAGES, top - PG, PG, buf));
	E();
	R("  at 2^63", set_mem(vm, 14, 0, 1UL << 63, PG, buf));
	R("at 2^64-4K", set_mem(vm, 14, 0, -PG, PG, buf));
	R("at 2^64-8K size 8K", set_mem(vm, 14, 0, -2 * PG, 2 * PG, buf));
	R("at 2^64-4K size 8K", set_mem(vm, 14, 0, -PG, 2 * PG, buf));
	E();
	/* READONLY: whatever the process has mapped after buf, nothing makes it EPERM */
	R("size 2^31 pages", set_mem(vm, 14, KVM_MEM_READONLY, 0x800000000UL, (1UL << 31) * PG, buf));
	R("size 2^31-1 pages", set_mem(vm, 14, KVM_MEM_READONLY, 0x800000000UL, ((1UL << 31) - 1) * PG, buf));
	R("deleted", set_mem(vm, 14, 0, 0, 0, buf));
	R("size 2^44", set_mem(vm, 14, KVM_MEM_READONLY, 0x800000000UL, 1UL << 44, buf));
	E();
	R("deleted: slot 10", set_mem(vm, 10, 0, 0, 0, buf));
	R("12", set_mem(vm, 12, 0, 0, 0, buf));
	R("13", set_mem(vm, 13, 0, 0, 0, buf));
	R("14", set_mem(vm, 14, 0, 0, 0, buf));
	R("2", set_mem(vm, 2, 0, 0, 0, buf));
	R("3", set_mem(vm, 3, 0, 0, 0, buf));
	R("4", set_mem(vm, 4, 0, 0, 0, buf));
	R("1", set_mem(vm, 1, 0, 0, 0, buf));
	R("1 again", set_mem(vm, 1, 0, 0, 0, buf));
	E();
	TEST_ASSERT(add_vcpu(vm, 0, &v) == 0, "vCPU");
	R("with a vCPU: slot 1", set_mem(vm, 1, 0, 0x100000, 16 * PG, buf));
	R("moved", set_mem(vm, 1, 0, 0x200000, 16 * PG, buf));
	R("flags", set_mem(vm, 1, KVM_MEM_LOG_DIRTY_PAGES, 0x200000, 16 * PG, buf));
	R("deleted", set_mem(vm, 1, 0, 0, 0, buf));
	E();
	free_vcpu(&v);
	close(vm);
	munmap(buf, 64 * PG);
	munmap(ro, 4 * PG);
	munmap(mixed, 4 * PG);
}

/* A guest at the top of its GPA space, and the MMIO exits around it. */
static void sec_top(u64 bits)
{
	const u64 top = 1UL << bits;
	char name[32];
	struct gvm g;
	u8 *mem, *data;
	u64 t0, x;
	long r;

	snprintf(name, sizeof(name), "top-%llu", (unsigned long long)bits);
	sec = name;
	if (bits > max_gpa_bits) {
		line("skipped: this host's G-stage has %llu bits", (unsigned long long)max_gpa_bits);
		return;
	}
	r = gvm_new(&g, bits == max_gpa_bits ? 0 : bits);
	line("VM (%s VM_GPA_BITS %llu -> %s): gpa_bits=%s", bits == max_gpa_bits ? "default, no" : "enable",
	     (unsigned long long)bits, res(r), res(check_ext(g.fd, KVM_CAP_VM_GPA_BITS)));
	mem = map_pages(1);
	data = map_pages(4);
	/* a ret at +0x800 of the top page */
	memcpy(mem + 0x800, &(u32){ RET_INSN }, 4);
	line("slot 1 at the top page 0x%llx -> %s", (unsigned long long)(top - PG),
	     res(set_mem(g.fd, 1, 0, top - PG, PG, mem)));
	line("slot 2 (4 pages) at 0x%llx -> %s", (unsigned long long)DATA_GPA,
	     res(set_mem(g.fd, 2, 0, DATA_GPA, 4 * PG, data)));
	g_sdld(&g.v, "top page, first word", top - PG, 0x1122334455667788ULL, &t0);
	g_sdld(&g.v, "top page, last word", top - 8, 0xa5a5a5a5deadbeefULL, &t0);
	memcpy(&x, mem, 8);
	line("host reads the first word 0x%llx", (unsigned long long)x);
	CHECK(x == 0x1122334455667788ULL, "top page first word");
	memcpy(&x, mem + PG - 8, 8);
	line("host reads the last word 0x%llx", (unsigned long long)x);
	CHECK(x == 0xa5a5a5a5deadbeefULL, "top page last word");
	memcpy(mem + 0x100, &(u64){ 0x0102030405060708ULL }, 8);
	g_ld(&g.v, "top page, a word the host wrote", top - PG + 0x100, &t0);
	CHECK(t0 == 0x0102030405060708ULL, "top page host word");
	gcmd(&g.v, "top page, code", OP_CALL, top - PG + 0x800, 0, 0, 0, &t0);
	gcmd(&g.v, "top page, code at a word of zeros", OP_CALL, top - PG + 0x804, 0, 0, 0, &t0);
	line("byte, half and word stores at the top page's last bytes");
	gcmd(&g.v, "sb", OP_SB, top - 1, 0x1ff, 0, 0, NULL);
	gcmd(&g.v, "sh", OP_SH, top - 4, 0x12345, 0, 0, NULL);
	gcmd(&g.v, "lwu", OP_LWU, top - 4, 0, 0, 0, NULL);
	gcmd(&g.v, "lw", OP_LW, top - 4, 0, 0, 0, NULL);

	line("MMIO: just below the top slot, just beyond the data slot, beyond the G-stage");
	g_sdld(&g.v, "below the top slot", top - PG - 8, 0x42, &t0);
	g_sdld(&g.v, "beyond the data slot", DATA_GPA + 4 * PG, 0x43, &t0);
	gcmd(&g.v, "the data slot's last byte", OP_SB, DATA_GPA + 4 * PG - 1, 0x44, 0, 0, NULL);
	gcmd(&g.v, "halfword across the data slot's end", OP_LH, DATA_GPA + 4 * PG - 1, 0, 0, 0, NULL);
	g_sdld(&g.v, "first byte beyond the G-stage", top, 0x45, &t0);
	g_ld(&g.v, "beyond the G-stage, +4K", top + PG, &t0);
	if (bits < 59)
		g_ld(&g.v, "beyond the G-stage, 2^59-8", (1UL << 59) - 8, &t0);
	g_ld(&g.v, "2^63", 1UL << 63, &t0);
	g_sd(&g.v, "2^64-8", -8UL, 0x46);
	line("MMIO loads of each size (the VMM returns 0x%llx)", (unsigned long long)g.v.mmio_fill);
	gcmd(&g.v, "lb", OP_LB, SYNC_GPA + 0x100, 0, 0, 0, NULL);
	gcmd(&g.v, "lbu", OP_LBU, SYNC_GPA + 0x100, 0, 0, 0, NULL);
	gcmd(&g.v, "lh", OP_LH, SYNC_GPA + 0x102, 0, 0, 0, NULL);
	gcmd(&g.v, "lhu", OP_LHU, SYNC_GPA + 0x102, 0, 0, 0, NULL);
	gcmd(&g.v, "lw", OP_LW, SYNC_GPA + 0x104, 0, 0, 0, NULL);
	gcmd(&g.v, "lwu", OP_LWU, SYNC_GPA + 0x104, 0, 0, 0, NULL);
	gcmd(&g.v, "sb", OP_SB, SYNC_GPA + 0x100, 0x1234, 0, 0, NULL);
	gcmd(&g.v, "sh", OP_SH, SYNC_GPA + 0x102, 0x123456, 0, 0, NULL);
	gcmd(&g.v, "sw", OP_SW, SYNC_GPA + 0x104, 0x123456789aULL, 0, 0, NULL);
	line("misaligned: MMIO, and across the G-stage's top");
	g_sd(&g.v, "sd at an odd MMIO address", SYNC_GPA + 0x201, 0x47);
	g_ld(&g.v, "ld at a 4-aligned MMIO address", SYNC_GPA + 0x204, &t0);
	g_sdld(&g.v, "sd and ld across the top", top - 4, 0x4847464544434241ULL, &t0);
	memcpy(&x, mem + PG - 8, 8);
	line("host reads the top page's last word 0x%llx", (unsigned long long)x);
	line("code where no memslot is");
	gcmd(&g.v, "call", OP_CALL, top - PG - PG, 0, 0, 0, &t0);
	gcmd(&g.v, "after it", OP_NOP, 0, 0, 0, 0, &t0);
	gvm_free(&g);
	munmap(mem, PG);
	munmap(data, 4 * PG);
}

/* A read-only memslot: loads and code work, stores are MMIO. */
static void sec_readonly(void)
{
	struct gvm g;
	u8 *mem;
	u64 t0, x;

	sec = "readonly";
	gvm_new(&g, 0);
	mem = map_pages(2);
	memcpy(mem, &(u64){ 0x5555666677778888ULL }, 8);
	memcpy(mem + 0x100, &(u32){ RET_INSN }, 4);
	line("slot 1 READONLY -> %s", res(set_mem(g.fd, 1, KVM_MEM_READONLY, DATA_GPA, 2 * PG, mem)));
	g_ld(&g.v, "load", DATA_GPA, &t0);
	g_sd(&g.v, "store", DATA_GPA + 8, 0x99);
	gcmd(&g.v, "byte store", OP_SB, DATA_GPA + PG + 3, 0x9a, 0, 0, NULL);
	gcmd(&g.v, "code", OP_CALL, DATA_GPA + 0x100, 0, 0, 0, &t0);
	memcpy(&x, mem + 8, 8);
	line("host reads 0x%llx where the guest stored", (unsigned long long)x);
	line("the host writes; the guest loads again");
	memcpy(mem, &(u64){ 0x1212343456567878ULL }, 8);
	g_ld(&g.v, "load", DATA_GPA, &t0);
	R("slot 1 deleted", set_mem(g.fd, 1, 0, DATA_GPA, 0, mem));
	R("created writable at the same place", set_mem(g.fd, 1, 0, DATA_GPA, 2 * PG, mem));
	E();
	g_sdld(&g.v, "store and load", DATA_GPA + 8, 0x9b, &t0);
	gvm_free(&g);
	munmap(mem, 2 * PG);
}

/* Slots deleted and moved under a guest that has touched them. */
static void sec_move(void)
{
	struct gvm g;
	u8 *mem;
	u64 t0;

	sec = "move";
	gvm_new(&g, 0);
	mem = map_pages(4);
	line("slot 1 at 0x%llx (4 pages) -> %s", (unsigned long long)DATA_GPA,
	     res(set_mem(g.fd, 1, 0, DATA_GPA, 4 * PG, mem)));
	g_wmask(&g.v, "guest", DATA_GPA, 0xf, PG, 0x100);
	line("slot 1 moved to 0x%llx -> %s", (unsigned long long)(DATA_GPA + 0x100000),
	     res(set_mem(g.fd, 1, 0, DATA_GPA + 0x100000, 4 * PG, mem)));
	g_ld(&g.v, "old place", DATA_GPA + PG, &t0);
	g_ld(&g.v, "new place", DATA_GPA + 0x100000 + PG, &t0);
	g_sd(&g.v, "store at the old place", DATA_GPA + 2 * PG, 0x200);
	line("slot 1 deleted -> %s", res(set_mem(g.fd, 1, 0, DATA_GPA + 0x100000, 0, mem)));
	g_ld(&g.v, "where it was", DATA_GPA + 0x100000 + PG, &t0);
	line("slot 1 created again at 0x%llx -> %s", (unsigned long long)DATA_GPA,
	     res(set_mem(g.fd, 1, 0, DATA_GPA, 4 * PG, mem)));
	g_rmask(&g.v, "guest", DATA_GPA, 0xf, PG, &t0);
	CHECK(t0 == host_hash(mem, 0xf, PG), "move: hash");
	R("slot 1 deleted", set_mem(g.fd, 1, 0, DATA_GPA, 0, mem));
	R("created READONLY", set_mem(g.fd, 1, KVM_MEM_READONLY, DATA_GPA, 4 * PG, mem));
	E();
	g_sd(&g.v, "store", DATA_GPA + 3 * PG, 0x300);
	g_ld(&g.v, "load", DATA_GPA + 3 * PG, &t0);
	gvm_free(&g);
	munmap(mem, 4 * PG);
}

/* The host changes the memory behind a slot: the guest must see it (mmu notifiers). */
static void sec_host_mm(void)
{
	struct gvm g;
	u8 *mem;
	u64 t0;
	void *p;

	sec = "host-mm";
	gvm_new(&g, 0);
	mem = map_pages(4);
	line("slot 1 (4 pages) -> %s", res(set_mem(g.fd, 1, 0, DATA_GPA, 4 * PG, mem)));
	g_wmask(&g.v, "guest", DATA_GPA, 0xf, PG, 0x500);
	line("MADV_DONTNEED on page 1 -> %d", madvise(mem + PG, PG, MADV_DONTNEED));
	g_rmask(&g.v, "guest", DATA_GPA, 0xf, PG, &t0);
	CHECK(t0 == host_hash(mem, 0xf, PG), "host-mm: hash after DONTNEED");
	line("the host writes page 2");
	memcpy(mem + 2 * PG, &(u64){ 0xabcdef }, 8);
	g_ld(&g.v, "guest", DATA_GPA + 2 * PG, &t0);
	line("mprotect(PROT_READ) of page 3 -> %d", mprotect(mem + 3 * PG, PG, PROT_READ));
	g_ld(&g.v, "load", DATA_GPA + 3 * PG, &t0);
	g_sd(&g.v, "store", DATA_GPA + 3 * PG, 0x600);
	line("mprotect(PROT_READ|PROT_WRITE) of page 3 -> %d; the store again",
	     mprotect(mem + 3 * PG, PG, PROT_READ | PROT_WRITE));
	line("run");
	if (grun(&g.v, &t0) == 0)
		line("  -> t0=0x%llx", (unsigned long long)t0);
	line("host reads 0x%llx", (unsigned long long)*(u64 *)(mem + 3 * PG));
	line("munmap of page 0");
	munmap(mem, PG);
	g_ld(&g.v, "load", DATA_GPA, &t0);
	p = mmap(mem, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	line("mapped again: %s", p == mem ? "yes" : "no");
	madvise(mem, PG, MADV_NOHUGEPAGE);
	line("run");
	if (grun(&g.v, &t0) == 0)
		line("  -> t0=0x%llx", (unsigned long long)t0);
	g_sdld(&g.v, "store and load", DATA_GPA, 0x700, &t0);
	line("host reads 0x%llx", (unsigned long long)*(u64 *)mem);
	gvm_free(&g);
	munmap(mem, 4 * PG);
}

/* ---- dirty logging ---- */

#define DPAGES	100	/* not a multiple of 64: the bitmap's last word is partial */

static long get_log(int vm, u32 slot, u64 *bm)
{
	struct kvm_dirty_log l = { .slot = slot, .dirty_bitmap = bm };

	memset(bm, 0xee, 2 * 8);
	return XIOCTL(vm, KVM_GET_DIRTY_LOG, &l);
}

/* The bitmap of a slot of npages pages (at most 128). */
static void show_log(int vm, u32 slot, u32 npages, const char *what)
{
	u64 bm[8];
	long r = get_log(vm, slot, bm);

	if (r)
		line("%s: GET_DIRTY_LOG -> %s", what, errname(-r));
	else if (npages > 64)
		line("%s: GET_DIRTY_LOG -> OK 0x%016llx 0x%09llx", what, (unsigned long long)bm[0],
		     (unsigned long long)bm[1]);
	else
		line("%s: GET_DIRTY_LOG -> OK 0x%016llx", what, (unsigned long long)bm[0]);
}

static long clear_log(int vm, u32 slot, u64 first, u32 num, u64 m0, u64 m1)
{
	u64 bm[2] = { m0, m1 };
	struct kvm_clear_dirty_log c = {
		.slot = slot, .num_pages = num, .first_page = first, .dirty_bitmap = bm,
	};

	return XIOCTL(vm, KVM_CLEAR_DIRTY_LOG, &c);
}

static void clr(int vm, u32 slot, u64 first, u32 num, u64 m0, u64 m1)
{
	line("CLEAR_DIRTY_LOG first=%llu num=%u mask=0x%llx,0x%llx -> %s", (unsigned long long)first, num,
	     (unsigned long long)m0, (unsigned long long)m1, res(clear_log(vm, slot, first, num, m0, m1)));
}

/* Pages 0..63 (a0) and 64..99 (a1) written by the guest. */
static void dwrite(struct vcpu *v, u64 m0, u64 m1, u64 val)
{
	if (m0)
		g_wmask(v, "guest writes", DATA_GPA, m0, PG, val);
	if (m1)
		g_wmask(v, "guest writes", DATA_GPA + 64 * PG, m1, PG, val + 64);
}

static void dread(struct vcpu *v, u64 m0, u64 m1)
{
	if (m0)
		g_rmask(v, "guest reads", DATA_GPA, m0, PG, NULL);
	if (m1)
		g_rmask(v, "guest reads", DATA_GPA + 64 * PG, m1, PG, NULL);
}

static const u64 M1 = 0x8000000f000000f1ULL, M2 = 0x00f0f0f0f0f0f0f0ULL, M3 = 0xff00000000000003ULL;

/* manual: 0 (GET clears and protects), 1 (manual protect), 3 (and initially set). */
static void sec_dirty(u64 manual)
{
	char name[32];
	struct gvm g;
	u8 *mem;

	snprintf(name, sizeof(name), "dirty-%llu", (unsigned long long)manual);
	sec = name;
	gvm_new(&g, 0);
	if (manual)
		line("enable MANUAL_DIRTY_LOG_PROTECT2 %llu -> %s", (unsigned long long)manual,
		     res(enable_cap(g.fd, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, 0, manual, 0)));
	mem = map_pages(DPAGES);
	show_log(g.fd, 1, DPAGES, "no slot 1");
	line("slot 1 (%d pages) without logging -> %s", DPAGES,
	     res(set_mem(g.fd, 1, 0, DATA_GPA, DPAGES * PG, mem)));
	show_log(g.fd, 1, DPAGES, "not logged");
	show_log(g.fd, 0xffff, DPAGES, "slot 0xffff");
	show_log(g.fd, 0x10001, DPAGES, "as_id 1");
	dwrite(&g.v, 0x3, 0x1, 0x1000);
	line("slot 1 LOG_DIRTY_PAGES on -> %s", res(set_mem(g.fd, 1, KVM_MEM_LOG_DIRTY_PAGES, DATA_GPA, DPAGES * PG, mem)));
	show_log(g.fd, 1, DPAGES, "logging, nothing written");
	dwrite(&g.v, M1, 0x5, 0x2000);
	dread(&g.v, M2, 0xf0);
	show_log(g.fd, 1, DPAGES, "written");
	show_log(g.fd, 1, DPAGES, "again");
	dwrite(&g.v, M2, 0x3, 0x3000);
	show_log(g.fd, 1, DPAGES, "written");
	if (manual) {
		line("CLEAR_DIRTY_LOG argument checks");
		clr(g.fd, 1, 1, 64, 1, 0);
		clr(g.fd, 1, 32, 64, 1, 0);
		clr(g.fd, 1, 0, 65, 1, 0);
		clr(g.fd, 1, 0, 101, 1, 0);
		clr(g.fd, 1, 64, 37, 1, 0);
		clr(g.fd, 1, 128, 0, 0, 0);
		clr(g.fd, 1, 64, 0, 1, 0);
		clr(g.fd, 2, 0, 64, 1, 0);
		clr(g.fd, 0, 0, 1, 1, 0);
		clr(g.fd, 0x10001, 0, 64, 1, 0);
		show_log(g.fd, 1, DPAGES, "after the checks");
		line("clear pages that were written and some that were not");
		clr(g.fd, 1, 0, 64, M1 | 0xff00, 0);
		show_log(g.fd, 1, DPAGES, "cleared");
		clr(g.fd, 1, 64, 36, ~0UL, 0);
		show_log(g.fd, 1, DPAGES, "cleared");
		line("the guest writes cleared pages (write-protected again) and others");
		dwrite(&g.v, M3 | 0x1, 0x7, 0x4000);
		show_log(g.fd, 1, DPAGES, "written");
		clr(g.fd, 1, 0, DPAGES, ~0UL, ~0UL);
		show_log(g.fd, 1, DPAGES, "all cleared");
		dread(&g.v, ~0UL, 0xfffffffffULL);
		show_log(g.fd, 1, DPAGES, "all read");
		dwrite(&g.v, M2, 0x8, 0x5000);
		show_log(g.fd, 1, DPAGES, "written");
	} else {
		line("CLEAR_DIRTY_LOG without manual protect");
		clr(g.fd, 1, 0, 64, M2, 0);
		show_log(g.fd, 1, DPAGES, "after the clear");
		dwrite(&g.v, M3, 0x2, 0x4000);
		show_log(g.fd, 1, DPAGES, "written");
		show_log(g.fd, 1, DPAGES, "again");
	}
	line("slot 1 LOG_DIRTY_PAGES off -> %s", res(set_mem(g.fd, 1, 0, DATA_GPA, DPAGES * PG, mem)));
	show_log(g.fd, 1, DPAGES, "not logged");
	dwrite(&g.v, M1, 0x3, 0x6000);
	line("slot 1 LOG_DIRTY_PAGES on -> %s", res(set_mem(g.fd, 1, KVM_MEM_LOG_DIRTY_PAGES, DATA_GPA, DPAGES * PG, mem)));
	show_log(g.fd, 1, DPAGES, "logging again");
	dwrite(&g.v, M3, 0x4, 0x7000);
	show_log(g.fd, 1, DPAGES, "written");
	line("slot 1 moved -> %s", res(set_mem(g.fd, 1, KVM_MEM_LOG_DIRTY_PAGES, DATA_GPA + 0x1000000, DPAGES * PG, mem)));
	show_log(g.fd, 1, DPAGES, "moved");
	line("READONLY|LOG_DIRTY_PAGES slot 2 -> %s", res(set_mem(g.fd, 2, KVM_MEM_READONLY | KVM_MEM_LOG_DIRTY_PAGES,
								  DATA_GPA, 4 * PG, mem)));
	g_sd(&g.v, "store", DATA_GPA, 0x8000);
	g_ld(&g.v, "load", DATA_GPA + PG, NULL);
	show_log(g.fd, 2, 4, "read-only");
	{
		u64 x, bad = 0;
		int i;

		/* the last value each page was written with, from wmask */
		for (i = 0; i < DPAGES; i++) {
			memcpy(&x, mem + i * PG, 8);
			bad += x != 0 && (x & 0xfff) != (u64)i;
		}
		line("host: pages whose word is not its own index: %llu", (unsigned long long)bad);
		CHECK(bad == 0, "dirty: page contents");
	}
	gvm_free(&g);
	munmap(mem, DPAGES * PG);
}

/* The dirty ring: the gfns in the order the guest dirtied them, then reset. */
static void sec_dirty_ring(void)
{
	const u32 ring_bytes = 4096, n = ring_bytes / sizeof(struct kvm_dirty_gfn);
	struct kvm_dirty_gfn *ring;
	u32 fetch = 0;
	struct gvm g;
	u8 *mem;
	int round;

	sec = "dirty-ring";
	memset(&g, 0, sizeof(g));
	g.fd = new_vm();
	line("DIRTY_LOG_RING_ACQ_REL: check -> %s, DIRTY_LOG_RING -> %s",
	     res(check_ext(g.fd, KVM_CAP_DIRTY_LOG_RING_ACQ_REL)), res(check_ext(g.fd, KVM_CAP_DIRTY_LOG_RING)));
	R("enable ACQ_REL size 1000", enable_cap(g.fd, KVM_CAP_DIRTY_LOG_RING_ACQ_REL, 0, 1000, 0));
	R("2048", enable_cap(g.fd, KVM_CAP_DIRTY_LOG_RING_ACQ_REL, 0, 2048, 0));
	R("1<<21", enable_cap(g.fd, KVM_CAP_DIRTY_LOG_RING_ACQ_REL, 0, 1 << 21, 0));
	R("4096 with flags=1", enable_cap(g.fd, KVM_CAP_DIRTY_LOG_RING_ACQ_REL, 1, ring_bytes, 0));
	R("4096 again", enable_cap(g.fd, KVM_CAP_DIRTY_LOG_RING_ACQ_REL, 0, ring_bytes, 0));
	R("8192 after", enable_cap(g.fd, KVM_CAP_DIRTY_LOG_RING_ACQ_REL, 0, 8192, 0));
	R("DIRTY_LOG_RING 4096 after", enable_cap(g.fd, KVM_CAP_DIRTY_LOG_RING, 0, ring_bytes, 0));
	E();
	R("DIRTY_LOG_RING_WITH_BITMAP", enable_cap(g.fd, KVM_CAP_DIRTY_LOG_RING_WITH_BITMAP, 0, 0, 0));
	E();
	gvm_code_slot(&g);
	TEST_ASSERT(add_vcpu(g.fd, 0, &g.v) == 0, "vCPU");
	ring = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, g.v.fd,
		    KVM_DIRTY_LOG_PAGE_OFFSET * PG);
	line("ring mapped: %s", ring == MAP_FAILED ? "no" : "yes");
	if (ring == MAP_FAILED) {
		failures++;
		gvm_free(&g);
		return;
	}
	mem = map_pages(64);
	line("slot 1 LOG_DIRTY_PAGES (64 pages) -> %s",
	     res(set_mem(g.fd, 1, KVM_MEM_LOG_DIRTY_PAGES, DATA_GPA, 64 * PG, mem)));
	show_log(g.fd, 1, 64, "with a ring");
	for (round = 0; round < 3; round++) {
		char s[1024];
		int k = 0, cnt = 0;

		if (round == 0) {
			g_wmask(&g.v, "guest", DATA_GPA + 5 * PG, 1, PG, 0x11);
			g_wmask(&g.v, "guest", DATA_GPA, 0x8000000000000f0fULL, PG, 0x100);
		} else if (round == 1) {
			g_rmask(&g.v, "guest", DATA_GPA, 0xf0f0, PG, NULL);
			g_wmask(&g.v, "guest", DATA_GPA, 0xff00ULL, PG, 0x200);
		} else {
			g_wmask(&g.v, "guest", DATA_GPA, 0x8000000000000f0fULL, PG, 0x300);
		}
		s[0] = 0;
		for (;;) {
			struct kvm_dirty_gfn *e = &ring[fetch % n];

			if (!(__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) & KVM_DIRTY_GFN_F_DIRTY))
				break;
			if (k < (int)sizeof(s) - 32)
				k += snprintf(s + k, sizeof(s) - k, " %u:%llu", e->slot,
					      (unsigned long long)e->offset);
			__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET, __ATOMIC_RELEASE);
			fetch++;
			cnt++;
		}
		line("ring: %d entries:%s", cnt, s);
		line("KVM_RESET_DIRTY_RINGS -> %s", res(xioctl(g.fd, KVM_RESET_DIRTY_RINGS, 0)));
		line("KVM_RESET_DIRTY_RINGS again -> %s", res(xioctl(g.fd, KVM_RESET_DIRTY_RINGS, 0)));
	}
	munmap(ring, ring_bytes);
	gvm_free(&g);
	munmap(mem, 64 * PG);
}

/* A 2 MiB hugetlb page behind a slot: a G-stage block, write-protected and split by logging. */
static void sec_huge(u64 manual)
{
	const u64 stride = 8 * PG, mask = ~0UL;	/* 64 pages, every 8th: the whole 2 MiB */
	char name[32];
	struct gvm g;
	u8 *mem;
	u64 t0, h;
	u64 bm[8];
	int i;
	long r;

	snprintf(name, sizeof(name), "huge-%llu", (unsigned long long)manual);
	sec = name;
	mem = mmap(NULL, HUGE_SZ, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (mem == MAP_FAILED) {
		line("no 2 MiB hugetlb page (vm.nr_hugepages): skipped");
		return;
	}
	for (i = 0; i < 512; i++)
		memcpy(mem + i * PG, &(u64){ 0xc0de0000ULL + i }, 8);
	gvm_new(&g, 0);
	if (manual)
		line("enable MANUAL_DIRTY_LOG_PROTECT2 %llu -> %s", (unsigned long long)manual,
		     res(enable_cap(g.fd, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, 0, manual, 0)));
	line("slot 1 hugetlb 2 MiB at 0x%llx -> %s", (unsigned long long)HUGE_GPA,
	     res(set_mem(g.fd, 1, 0, HUGE_GPA, HUGE_SZ, mem)));
	g_rmask(&g.v, "guest", HUGE_GPA, mask, stride, &t0);
	h = host_hash(mem, mask, stride);
	CHECK(t0 == h, "huge: first read");
	g_rmask(&g.v, "guest, the pages between", HUGE_GPA + 3 * PG, mask, stride, &t0);
	CHECK(t0 == host_hash(mem + 3 * PG, mask, stride), "huge: read between");
	g_wmask(&g.v, "guest", HUGE_GPA + PG, 0xff, stride, 0xd000);
	line("slot 1 LOG_DIRTY_PAGES on -> %s", res(set_mem(g.fd, 1, KVM_MEM_LOG_DIRTY_PAGES, HUGE_GPA, HUGE_SZ, mem)));
	r = 0;
	{
		struct kvm_dirty_log l = { .slot = 1, .dirty_bitmap = bm };

		memset(bm, 0xee, sizeof(bm));
		r = XIOCTL(g.fd, KVM_GET_DIRTY_LOG, &l);
		line("GET_DIRTY_LOG -> %s words 0..7: %llx %llx %llx %llx %llx %llx %llx %llx", res(r),
		     (unsigned long long)bm[0], (unsigned long long)bm[1], (unsigned long long)bm[2],
		     (unsigned long long)bm[3], (unsigned long long)bm[4], (unsigned long long)bm[5],
		     (unsigned long long)bm[6], (unsigned long long)bm[7]);
	}
	if (manual) {
		line("clear pages 0-3 and 64 of the huge page");
		clr(g.fd, 1, 0, 64, 0xf, 0);
		clr(g.fd, 1, 64, 64, 1, 0);
	}
	g_rmask(&g.v, "guest", HUGE_GPA + 3 * PG, mask, stride, &t0);
	CHECK(t0 == host_hash(mem + 3 * PG, mask, stride), "huge: read after logging on");
	g_wmask(&g.v, "guest", HUGE_GPA, 0x8000000000000005ULL, PG, 0xe000);
	g_wmask(&g.v, "guest", HUGE_GPA + 64 * PG, 0x3, 64 * PG, 0xe100);
	{
		struct kvm_dirty_log l = { .slot = 1, .dirty_bitmap = bm };

		memset(bm, 0xee, sizeof(bm));
		r = XIOCTL(g.fd, KVM_GET_DIRTY_LOG, &l);
		line("GET_DIRTY_LOG -> %s words 0..7: %llx %llx %llx %llx %llx %llx %llx %llx", res(r),
		     (unsigned long long)bm[0], (unsigned long long)bm[1], (unsigned long long)bm[2],
		     (unsigned long long)bm[3], (unsigned long long)bm[4], (unsigned long long)bm[5],
		     (unsigned long long)bm[6], (unsigned long long)bm[7]);
	}
	g_rmask(&g.v, "guest", HUGE_GPA, mask, stride, &t0);
	CHECK(t0 == host_hash(mem, mask, stride), "huge: read after writes");
	line("slot 1 LOG_DIRTY_PAGES off -> %s", res(set_mem(g.fd, 1, 0, HUGE_GPA, HUGE_SZ, mem)));
	g_wmask(&g.v, "guest", HUGE_GPA + 2 * PG, ~0UL, stride, 0xf000);
	g_rmask(&g.v, "guest", HUGE_GPA + 2 * PG, mask, stride, &t0);
	CHECK(t0 == host_hash(mem + 2 * PG, mask, stride), "huge: read after logging off");
	line("slot 1 deleted -> %s", res(set_mem(g.fd, 1, 0, HUGE_GPA, 0, mem)));
	g_ld(&g.v, "guest", HUGE_GPA + PG, &t0);
	gvm_free(&g);
	munmap(mem, HUGE_SZ);
}

/* The irqchip entry points of vm.c, without an irqchip and with the AIA device. */
static long irq_line(int vm, u32 irq, u32 level, bool status, u32 *st)
{
	struct kvm_irq_level l = { .irq = irq, .level = level };
	long r = XIOCTL(vm, status ? KVM_IRQ_LINE_STATUS : KVM_IRQ_LINE, &l);

	if (st)
		*st = l.status;
	return r;
}

static long msi(int vm, u64 addr, u32 data, u32 flags)
{
	struct kvm_msi m = { .address_lo = (u32)addr, .address_hi = addr >> 32, .data = data,
			     .flags = flags };

	return XIOCTL(vm, KVM_SIGNAL_MSI, &m);
}

static long routing(int vm, u32 nr, const struct kvm_irq_routing_entry *e, u32 flags)
{
	struct {
		struct kvm_irq_routing r;
		struct kvm_irq_routing_entry e[4];
	} rt;

	memset(&rt, 0, sizeof(rt));
	rt.r.nr = nr;
	rt.r.flags = flags;
	if (e)
		memcpy(rt.e, e, (nr < 4 ? nr : 4) * sizeof(*e));
	return XIOCTL(vm, KVM_SET_GSI_ROUTING, &rt);
}

static void routing_cases(int vm)
{
	struct kvm_irq_routing_entry e[2];

	memset(e, 0, sizeof(e));
	e[0].gsi = 1;
	e[0].type = KVM_IRQ_ROUTING_IRQCHIP;
	e[0].u.irqchip.irqchip = 0;
	e[0].u.irqchip.pin = 1;
	R("GSI routing: none", routing(vm, 0, NULL, 0));
	R("irqchip pin 1", routing(vm, 1, e, 0));
	E();
	e[0].u.irqchip.pin = 1023;
	line("  pin 1023 -> %s", res(routing(vm, 1, e, 0)));
	e[0].u.irqchip.pin = 1024;
	line("  pin 1024 -> %s", res(routing(vm, 1, e, 0)));
	e[0].u.irqchip.pin = 1;
	e[0].u.irqchip.irqchip = 1;
	line("  irqchip 1 -> %s", res(routing(vm, 1, e, 0)));
	e[0].u.irqchip.irqchip = 0;
	e[0].flags = 1;
	line("  entry flags 1 -> %s", res(routing(vm, 1, e, 0)));
	e[0].flags = 0;
	e[1] = e[0];
	e[1].type = KVM_IRQ_ROUTING_MSI;
	e[1].gsi = 2;
	e[1].u.msi.address_lo = 0x28000000;
	e[1].u.msi.data = 3;
	line("  irqchip and MSI -> %s", res(routing(vm, 2, e, 0)));
	e[1].flags = KVM_MSI_VALID_DEVID;
	line("  MSI with a devid -> %s", res(routing(vm, 2, e, 0)));
	e[1].flags = 0;
	e[1].type = KVM_IRQ_ROUTING_S390_ADAPTER;
	line("  S390_ADAPTER -> %s", res(routing(vm, 2, e, 0)));
	e[1].type = 99;
	line("  type 99 -> %s", res(routing(vm, 2, e, 0)));
	e[1].type = KVM_IRQ_ROUTING_IRQCHIP;
	e[1].gsi = 1;
	line("  the same gsi twice -> %s", res(routing(vm, 2, e, 0)));
	R("  routing flags 1", routing(vm, 1, e, 1));
	R("nr 4097", routing(vm, 4097, e, 0));
	E();
}

static long aia_attr(int dev, u32 group, u64 attr, u64 val)
{
	struct kvm_device_attr a = { .group = group, .attr = attr, .addr = (u64)&val };

	return XIOCTL(dev, KVM_SET_DEVICE_ATTR, &a);
}

static void sec_irq(void)
{
	struct kvm_create_device cd = { .type = KVM_DEV_TYPE_RISCV_AIA };
	struct vcpu v;
	u32 st = ~0U;
	int vm, dev;
	long r;
	u32 i;

	sec = "irq";
	vm = new_vm();
	R("no irqchip: IRQ_LINE 1", irq_line(vm, 1, 1, false, NULL));
	R("IRQ_LINE_STATUS 1", irq_line(vm, 1, 1, true, NULL));
	R("SIGNAL_MSI", msi(vm, 0x28000000, 1, 0));
	E();
	routing_cases(vm);
	{
		struct kvm_irqfd f = { .fd = -1, .gsi = 1 };

		line("IRQFD with fd -1 -> %s", res(XIOCTL(vm, KVM_IRQFD, &f)));
	}
	TEST_ASSERT(add_vcpu(vm, 0, &v) == 0, "vCPU");
	cd.flags = KVM_CREATE_DEVICE_TEST;
	line("AIA device: test -> %s", res(XIOCTL(vm, KVM_CREATE_DEVICE, &cd)));
	cd.flags = 0;
	r = XIOCTL(vm, KVM_CREATE_DEVICE, &cd);
	line("AIA device: create -> %s", r < 0 ? errname(-r) : "OK");
	if (r < 0) {
		free_vcpu(&v);
		close(vm);
		return;
	}
	dev = cd.fd;
	line("a second one -> %s", res(XIOCTL(vm, KVM_CREATE_DEVICE, &cd)));
	line("irqchip=%s", res(check_ext(vm, KVM_CAP_IRQCHIP)));
	R("not initialized: IRQ_LINE 1", irq_line(vm, 1, 1, false, NULL));
	R("SIGNAL_MSI", msi(vm, 0x28000000, 1, 0));
	R("devid flag", msi(vm, 0x28000000, 1, KVM_MSI_VALID_DEVID));
	R("bad flag", msi(vm, 0x28000000, 1, 2));
	E();
	routing_cases(vm);
	R("mode EMUL", aia_attr(dev, KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_MODE,
				KVM_DEV_RISCV_AIA_MODE_EMUL));
	R("sources 16", aia_attr(dev, KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_SRCS, 16));
	R("APLIC 0xc000000", aia_attr(dev, KVM_DEV_RISCV_AIA_GRP_ADDR, KVM_DEV_RISCV_AIA_ADDR_APLIC, 0xc000000));
	R("IMSIC of vCPU 0 0x28000000", aia_attr(dev, KVM_DEV_RISCV_AIA_GRP_ADDR,
						 KVM_DEV_RISCV_AIA_ADDR_IMSIC(0), 0x28000000));
	E();
	line("init -> %s", res(aia_attr(dev, KVM_DEV_RISCV_AIA_GRP_CTRL, KVM_DEV_RISCV_AIA_CTRL_INIT, 0)));
	for (i = 0; i <= 17; i += (i == 2 ? 13 : 1)) {
		r = irq_line(vm, i, 1, true, &st);
		P("IRQ_LINE_STATUS %u level 1 -> %s status=%u", i, res(r), st);
		R("level 0", irq_line(vm, i, 0, false, NULL));
		E();
	}
	R("IRQ_LINE 1024", irq_line(vm, 1024, 1, false, NULL));
	R("0xffffffff", irq_line(vm, 0xffffffff, 1, false, NULL));
	E();
	R("SIGNAL_MSI to vCPU 0's IMSIC: id 1", msi(vm, 0x28000000, 1, 0));
	R("id 0", msi(vm, 0x28000000, 0, 0));
	R("id 63", msi(vm, 0x28000000, 63, 0));
	R("id 64", msi(vm, 0x28000000, 64, 0));
	R("id 2048", msi(vm, 0x28000000, 2048, 0));
	E();
	R("SIGNAL_MSI elsewhere: +4", msi(vm, 0x28000004, 1, 0));
	R("+4K", msi(vm, 0x28001000, 1, 0));
	R("0", msi(vm, 0, 1, 0));
	R("high half", msi(vm, 0x128000000ULL, 1, 0));
	E();
	routing_cases(vm);
	line("init again -> %s", res(aia_attr(dev, KVM_DEV_RISCV_AIA_GRP_CTRL, KVM_DEV_RISCV_AIA_CTRL_INIT, 0)));
	close(dev);
	free_vcpu(&v);
	close(vm);
}

/* ioctl numbers no one handles, on each file. */
static void sec_ioctls(void)
{
	static const struct { unsigned long nr; const char *name; } nr[] = {
		{ _IO(KVMIO, 0x60), "CREATE_IRQCHIP" }, { _IO(KVMIO, 0x47), "SET_TSS_ADDR" },
		{ _IOR(KVMIO, 0xaf, u64), "ARM_PREFERRED_TARGET" }, { _IO(KVMIO, 0xff), "_IO(KVMIO,0xff)" },
		{ _IOWR(KVMIO, 0x05, u64), "GET_SUPPORTED_CPUID" }, { _IO(0x12, 0x34), "_IO(0x12,0x34)" },
		{ KVM_GET_REG_LIST, "GET_REG_LIST" }, { KVM_GET_ONE_REG, "GET_ONE_REG" },
		{ KVM_RUN, "RUN" }, { KVM_SET_USER_MEMORY_REGION, "SET_USER_MEMORY_REGION" },
		{ KVM_GET_STATS_FD, "GET_STATS_FD" },
	};
	struct vcpu v;
	int vm = new_vm();
	unsigned int i;
	u8 arg[256];

	sec = "ioctl";
	TEST_ASSERT(add_vcpu(vm, 0, &v) == 0, "vCPU");
	for (i = 0; i < ARRAY_SIZE(nr); i++) {
		long d, m, c, s;

		memset(arg, 0, sizeof(arg));
		d = XIOCTL(kvm_fd, nr[i].nr, arg);
		memset(arg, 0, sizeof(arg));
		m = XIOCTL(vm, nr[i].nr, arg);
		if (m >= 0 && nr[i].nr == KVM_GET_STATS_FD) {
			close(m);
			m = 0;
		}
		memset(arg, 0, sizeof(arg));
		c = nr[i].nr == KVM_RUN ? 0 : XIOCTL(v.fd, nr[i].nr, arg);
		if (c > 0 && nr[i].nr == KVM_GET_STATS_FD) {
			close(c);
			c = 0;
		}
		s = nr[i].nr == KVM_RUN ? 0 : 1;
		line("%s: dev -> %s, vm -> %s, vcpu -> %s", nr[i].name, res(d), res(m), s ? res(c) : "-");
	}
	{
		static const u32 ids[] = { 0, 1023, 1024, 0x7fffffff, 0xffffffff };
		struct vcpu w;

		for (i = 0; i < ARRAY_SIZE(ids); i++) {
			R("CREATE_VCPU", add_vcpu(vm, ids[i], &w));
			P(" (id 0x%x)", ids[i]);
			free_vcpu(&w);
		}
		E();
	}
	free_vcpu(&v);
	close(vm);
}

/* The binary stats of a VM (vm.c's descriptors) and of a vCPU. */
static void show_stats(int fd, const char *what, bool values)
{
	struct kvm_stats_header h;
	struct kvm_stats_desc *d;
	size_t dsz;
	u32 i;
	u64 *data;

	if (pread(fd, &h, sizeof(h), 0) != sizeof(h)) {
		line("%s: header unreadable", what);
		failures++;
		return;
	}
	line("%s: name_size=%u num_desc=%u id_offset=%u desc_offset=%u data_offset=%u", what, h.name_size,
	     h.num_desc, h.id_offset, h.desc_offset, h.data_offset);
	dsz = sizeof(*d) + h.name_size;
	d = calloc(h.num_desc, dsz);
	data = calloc(h.num_desc * 16 + 1, 8);
	if (pread(fd, d, h.num_desc * dsz, h.desc_offset) != (ssize_t)(h.num_desc * dsz)) {
		line("%s: descriptors unreadable", what);
		failures++;
	} else {
		for (i = 0; i < h.num_desc; i++) {
			struct kvm_stats_desc *e = (void *)((u8 *)d + i * dsz);
			u64 val = 0;

			pread(fd, &val, 8, h.data_offset + e->offset);
			if (values)
				line("  %s flags=0x%x exponent=%d size=%u offset=%u bucket_size=%u value=%llu",
				     e->name, e->flags, e->exponent, e->size, e->offset, e->bucket_size,
				     (unsigned long long)val);
			else
				line("  %s flags=0x%x exponent=%d size=%u offset=%u bucket_size=%u", e->name,
				     e->flags, e->exponent, e->size, e->offset, e->bucket_size);
		}
	}
	free(d);
	free(data);
}

static void sec_stats(void)
{
	struct gvm g;
	u8 *mem;
	int fd;

	sec = "stats";
	gvm_new(&g, 0);
	fd = xioctl(g.fd, KVM_GET_STATS_FD, 0);
	show_stats(fd, "vm", true);
	mem = map_pages(8);
	line("slot 1 LOG_DIRTY_PAGES -> %s", res(set_mem(g.fd, 1, KVM_MEM_LOG_DIRTY_PAGES, DATA_GPA, 8 * PG, mem)));
	g_wmask(&g.v, "guest", DATA_GPA, 0xff, PG, 0x10);
	show_log(g.fd, 1, 8, "written");
	g_wmask(&g.v, "guest", DATA_GPA, 0x0f, PG, 0x20);
	show_log(g.fd, 1, 8, "written");
	line("slot 1 deleted -> %s", res(set_mem(g.fd, 1, 0, DATA_GPA, 0, mem)));
	show_stats(fd, "vm after logging and a delete", true);
	close(fd);
	fd = xioctl(g.v.fd, KVM_GET_STATS_FD, 0);
	show_stats(fd, "vcpu", false);
	close(fd);
	gvm_free(&g);
	munmap(mem, 8 * PG);
}

/*
 * -z: not part of the dump. Upstream's dirty-logging write fault fast path
 * (kvm_riscv_mmu_dirty_log_write_fault_fast() in mmu.c) makes any present
 * 4K G-stage leaf of a logged slot writable, including the read-only
 * mapping a guest read fault made of a page the host never wrote: the
 * shared zero page. The guest's store then lands in the host's zero page,
 * which every untouched anonymous page of every process reads. This shows
 * it, and puts the zero page back to zeros through the same mapping. Exit
 * status 1 when the zero page was written (upstream C), 0 when the store
 * went to the slot's own page (ours: README, known differences).
 */
static int zero_page_probe(void)
{
	struct gvm g;
	u8 *mem, *fresh;
	u64 t0, x, own;

	sec = "zero-page";
	gvm_new(&g, 0);
	mem = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	TEST_ASSERT(mem != MAP_FAILED, "mmap");
	madvise(mem, 2 * PG, MADV_NOHUGEPAGE);
	line("slot 1 LOG_DIRTY_PAGES over 2 pages the host never wrote -> %s",
	     res(set_mem(g.fd, 1, KVM_MEM_LOG_DIRTY_PAGES, DATA_GPA, 2 * PG, mem)));
	g_ld(&g.v, "guest load (a read-only G-stage mapping)", DATA_GPA, &t0);
	g_sd(&g.v, "guest store", DATA_GPA, 0x5a5a5a5a12345678ULL);
	fresh = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	madvise(fresh, PG, MADV_NOHUGEPAGE);
	x = READ_ONCE(*(u64 *)fresh);
	own = READ_ONCE(*(u64 *)mem);
	line("host: a fresh anonymous page reads 0x%llx, the slot's page 0x%llx, its page 1 0x%llx",
	     (unsigned long long)x, (unsigned long long)own,
	     (unsigned long long)READ_ONCE(*(u64 *)(mem + PG)));
	g_sd(&g.v, "guest stores 0 back", DATA_GPA, 0);
	line("host: a fresh anonymous page reads 0x%llx", (unsigned long long)READ_ONCE(*(u64 *)fresh));
	munmap(fresh, PG);
	gvm_free(&g);
	munmap(mem, 2 * PG);
	if (x != 0 || own != 0x5a5a5a5a12345678ULL) {
		line("FAIL: the guest's store went to the host's zero page");
		return 1;
	}
	line("ok: the guest's store went to the slot's own page");
	return 0;
}

/* MemFree of /proc/meminfo, kB, after the page cache is dropped. */
static long memfree_kb(void)
{
	char l[128];
	long kb = -1;
	FILE *f;

	sync();
	f = fopen("/proc/sys/vm/drop_caches", "w");
	if (f) {
		fputs("3\n", f);
		fclose(f);
	}
	f = fopen("/proc/meminfo", "r");
	TEST_ASSERT(f, "/proc/meminfo");
	while (fgets(l, sizeof(l), f))
		if (sscanf(l, "MemFree: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/*
 * -l: not part of the dump. Upstream's kvm_riscv_mmu_free_pgd() unmaps the
 * whole G-stage with kvm_riscv_gstage_unmap_range(), which clears leaves
 * only, and frees the root alone: the tables below it leak, page-table
 * pages that Slab, kmemleak and PageTables do not see. This creates and
 * destroys VMs whose guest loads from 8 pages, each under its own root
 * entry (4 table pages each on Sv57x4), and exits 1 when MemFree fell by
 * more than 4 MiB over 100 VMs (upstream C: about 12 MiB; ours frees every
 * table: README, known differences).
 */
static int gstage_leak_probe(void)
{
	enum { WARM = 20, VMS = 100, PAGES = 8 };
	FILE *o = out;
	long before = 0, after, drop;
	struct gvm g;
	u64 t0, shift;
	u8 *mem;
	int i, j;

	sec = "gstage-leak";
	mem = mmap(NULL, PAGES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	TEST_ASSERT(mem != MAP_FAILED, "mmap");
	memset(mem, 1, PAGES * PG);
	/* The root's 2048 entries split the G-stage: 11 bits of the address. */
	shift = check_ext(kvm_fd, KVM_CAP_VM_GPA_BITS) - 11;
	out = fopen("/dev/null", "w");
	TEST_ASSERT(out, "/dev/null");
	for (i = 0; i < WARM + VMS; i++) {
		if (i == WARM)
			before = memfree_kb();
		gvm_new(&g, 0);
		for (j = 1; j <= PAGES; j++) {
			TEST_ASSERT(set_mem(g.fd, j, 0, (u64)j << shift, PG, mem + (j - 1) * PG) == 0,
				    "slot %d", j);
			TEST_ASSERT(g_ld(&g.v, "", (u64)j << shift, &t0) == 0 && t0 == 0x0101010101010101ULL,
				    "guest load %d", j);
		}
		gvm_free(&g);
	}
	after = memfree_kb();
	fclose(out);
	out = o;
	drop = before - after;
	line("%d VMs, each loading from %d pages under their own root entries: MemFree %ld kB, then %ld kB (%+ld kB)",
	     VMS, PAGES, before, after, -drop);
	munmap(mem, PAGES * PG);
	if (drop > 4096) {
		line("FAIL: %ld kB lost, about %ld kB a VM", drop, drop / VMS);
		return 1;
	}
	line("ok");
	return 0;
}

static void usage(const char *p)
{
	fprintf(stderr, "usage: %s [-o FILE] [-z] [-l]\n", p);
	exit(2);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	bool zero = false, leak = false;
	int opt;

	out = stdout;
	while ((opt = getopt(argc, argv, "o:zlh")) != -1) {
		switch (opt) {
		case 'o':
			out = fopen(optarg, "w");
			if (!out) {
				perror(optarg);
				return 2;
			}
			break;
		case 'z':
			zero = true;
			break;
		case 'l':
			leak = true;
			break;
		default:
			usage(argv[0]);
		}
	}
	sigaction(SIGALRM, &sa, NULL);
	kvm_fd = open("/dev/kvm", O_RDWR);
	TEST_ASSERT(kvm_fd >= 0, "/dev/kvm");
	run_size = xioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	TEST_ASSERT(run_size > 0, "KVM_GET_VCPU_MMAP_SIZE");
	if (zero)
		return zero_page_probe();
	if (leak)
		return gstage_leak_probe();

	sec_host();
	sec_caps();
	sec_vm_types();
	sec_enable_caps();
	sec_gpa_bits();
	sec_mp_reset();
	sec_memslots();
	sec_top(59);
	sec_top(50);
	sec_top(41);
	sec_readonly();
	sec_move();
	sec_host_mm();
	sec_dirty(0);
	sec_dirty(1);
	sec_dirty(3);
	sec_dirty_ring();
	sec_huge(0);
	sec_huge(3);
	sec_irq();
	sec_ioctls();
	sec_stats();

	sec = "end";
	line("failures=%d", failures);
	fflush(out);
	fprintf(stderr, "vm_dump: %lu lines, %d failures\n", nlines, failures);
	return failures ? 1 : 0;
}
