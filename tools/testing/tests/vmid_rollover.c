// SPDX-License-Identifier: GPL-2.0
/*
 * The G-stage VMID allocator across rollovers (arch/riscv/kvm/vmid.c,
 * rust/kvm_riscv/vmid.rs).
 *
 * A VM takes a VMID when one of its vCPUs enters the guest; VMIDs are
 * handed out from 1 in a version, and when the version runs out it moves
 * on: every CPU flushes its G-stage TLB (an IPI, which also forces running
 * vCPUs out) and every VM takes a new VMID before its next guest entry. On
 * the emulated host VMIDs have 14 bits, 16383 to a version.
 *
 * A long-lived VM A runs guest code on its own thread throughout: the
 * guest walks a pattern through 16 data pages (each word it overwrites
 * must hold what it wrote there last time round) and reports its iteration
 * count every A_SYNC_EVERY iterations; at each report the host checks the
 * count and every word of the 16 pages. Meanwhile the main thread creates,
 * runs once and destroys many short VMs (-n, default 2 x 16384 + 100, so
 * a 14-bit allocator wraps at least twice): a VM with one page of memory
 * and one vCPU, no guest page tables, whose guest loads the value the host
 * put in its page, stores its complement in the page and leaves with an
 * SBI call (the selftests' ucall extension) carrying the value. The host
 * checks the exit, its value and the page. A must report in every window
 * of 4096 short VMs (or within 10 s after it) and three times more after
 * the last one; a watchdog fails the test when neither a short VM nor A
 * has moved for 30 s (a vCPU that never re-enters the guest).
 *
 * What it can see: a wrong guest value, a wrong exit, a hang. On QEMU a
 * stale G-stage TLB entry cannot be seen: QEMU flushes its whole TLB on
 * every switch into and out of the guest, whatever the VMID.
 *
 * The VMID width is not visible to userspace (the kernel log says "VMID N
 * bits available"); -n sets the count for other widths.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "processor.h"
#include "sbi.h"
#include "ucall_common.h"

/* Long-lived VM A. */
#define A_PAGES		16
#define A_WORDS		(A_PAGES * 512)		/* 64-bit words in the data pages */
#define A_SYNC_EVERY	(1UL << 14)		/* guest iterations between reports */

/* Short VMs: one page, guest code at its start, the host's value at SEED_OFF. */
#define SHORT_RING	64
#define SEED_OFF	0x400
#define RESULT_OFF	0x408
#define WINDOW		4096			/* A must progress in each such window */
#define DEFAULT_SHORT	(2 * 16384 + 100)
#define WATCHDOG_S	30			/* no short VM and no report of A: fail */

/* The value iteration i of A's guest writes; never 0. */
#define A_PATTERN(i)	((u64)(i) * 0x9e3779b97f4a7c15ULL + 1)

/*
 * The short VMs' guest, copied to the start of their page; position
 * independent. With the vCPU's reset state (VS mode, vsatp 0) addresses
 * are guest physical.
 */
extern const char short_guest_start[], short_guest_end[];
asm(".pushsection .text\n"
    ".balign 4\n"
    ".global short_guest_start\n"
    "short_guest_start:\n"
    "	auipc	t0, 0\n"
    "	ld	a0, " __stringify(SEED_OFF) "(t0)\n"
    "	not	t1, a0\n"
    "	sd	t1, " __stringify(RESULT_OFF) "(t0)\n"
    "	li	a1, 0\n"
    "	li	a6, " __stringify(KVM_RISCV_SELFTESTS_SBI_UCALL) "\n"
    "	li	a7, " __stringify(KVM_RISCV_SELFTESTS_SBI_EXT) "\n"
    "	ecall\n"
    "1:	j	1b\n"
    ".global short_guest_end\n"
    "short_guest_end:\n"
    ".popsection\n");

static void guest_a(u64 data)
{
	volatile u64 *w = (volatile u64 *)data;
	u64 i, k, expect;

	for (i = 0;; i++) {
		/* Word k is written at iterations k, k + A_WORDS, k + 2 A_WORDS... */
		k = (i % A_PAGES) * 512 + (i / A_PAGES) % 512;
		expect = i >= A_WORDS ? A_PATTERN(i - A_WORDS) : 0;
		GUEST_ASSERT_EQ(w[k], expect);
		w[k] = A_PATTERN(i);
		if ((i + 1) % A_SYNC_EVERY == 0)
			GUEST_SYNC(i + 1);
	}
}

static struct kvm_vm *vm_a;
static struct kvm_vcpu *vcpu_a;
static gva_t data_a;
static u64 done_a;			/* iterations A reported last */
static volatile u64 syncs_a;		/* reports checked */
static volatile int stop_a;

/* Every word of A's data pages after 'iters' iterations. */
static void check_a_memory(u64 iters)
{
	u64 k, last, expect;
	int p;

	for (p = 0; p < A_PAGES; p++) {
		u64 *page = addr_gva2hva(vm_a, data_a + p * 4096UL);

		for (k = p * 512; k < (p + 1) * 512; k++) {
			/* The iteration that writes word k: i % A_WORDS == (k % 512) * A_PAGES + k / 512 */
			u64 r = (k % 512) * A_PAGES + k / 512;

			if (iters <= r) {
				expect = 0;
			} else {
				last = r + (iters - 1 - r) / A_WORDS * A_WORDS;
				expect = A_PATTERN(last);
			}
			TEST_ASSERT(page[k % 512] == expect,
				    "VM A after %lu iterations: word %lu is 0x%lx, expected 0x%lx",
				    iters, k, page[k % 512], expect);
		}
	}
}

static void *a_thread(void *arg)
{
	struct ucall uc;

	for (;;) {
		vcpu_run(vcpu_a);
		switch (get_ucall(vcpu_a, &uc)) {
		case UCALL_SYNC:
			TEST_ASSERT(uc.args[1] == done_a + A_SYNC_EVERY,
				    "VM A reported %lu iterations after %lu", uc.args[1], done_a);
			done_a = uc.args[1];
			check_a_memory(done_a);
			__atomic_add_fetch(&syncs_a, 1, __ATOMIC_SEQ_CST);
			if (stop_a)
				return NULL;
			break;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
			break;
		default:
			TEST_FAIL("VM A: unexpected exit %u (%s)", vcpu_a->run->exit_reason,
				  exit_reason_str(vcpu_a->run->exit_reason));
		}
	}
}

static volatile u64 short_done;	/* short VMs checked */

/*
 * A hang (a vCPU that never enters the guest again, a KVM_RUN that never
 * returns) fails the test with what stopped, rather than the row's timeout.
 */
static void *watchdog(void *arg)
{
	u64 s = short_done, a = syncs_a;
	int still = 0;

	for (;;) {
		sleep(1);
		if (stop_a)
			return NULL;
		if (short_done != s || syncs_a != a) {
			s = short_done;
			a = syncs_a;
			still = 0;
			continue;
		}
		TEST_ASSERT(++still < WATCHDOG_S,
			    "nothing moved in %d s: %lu short VMs done (the next one has not left "
			    "KVM_RUN), VM A at %lu reports", WATCHDOG_S, s, a);
	}
}

static u64 wait_syncs(u64 over, int seconds)
{
	time_t end = time(NULL) + seconds;

	while (syncs_a <= over && time(NULL) < end)
		usleep(1000);
	return syncs_a;
}

/*
 * Short VMs are made with the KVM ioctls directly: the selftests library's
 * VM (its own /dev/kvm, statistics fds, memory mapped for each VM) costs
 * more than the VM itself under emulation. Their page comes from a ring of
 * SHORT_RING host pages, so that two VMs 16383 apart (a VMID reused by an
 * allocator that does not flush) have different host pages; it sits at the
 * guest physical address of A's first data page, so that a stale G-stage
 * translation of A or of an earlier short VM shows as a wrong value on a
 * host whose TLB keeps them (QEMU's does not: it flushes on every switch
 * into and out of the guest).
 */
static int kvm_fd, run_size;
static char *short_ring;
static gpa_t short_gpa;

/* Short VM number n: create, enter once, check, destroy. */
static void run_short_vm(u64 n)
{
	u64 seed = (n + 1) * 0xd1342543de82ef95ULL, pc = short_gpa;
	char *page = short_ring + (n % SHORT_RING) * 4096;
	struct kvm_userspace_memory_region mem = {
		.slot = 0, .guest_phys_addr = short_gpa, .memory_size = 4096,
		.userspace_addr = (u64)page,
	};
	struct kvm_one_reg reg = { .id = RISCV_CORE_REG(regs.pc), .addr = (u64)&pc };
	struct kvm_run *run;
	int vm, vcpu, rc;

	memcpy(page, short_guest_start, short_guest_end - short_guest_start);
	memcpy(page + SEED_OFF, &seed, 8);
	memset(page + RESULT_OFF, 0, 8);

	vm = __kvm_ioctl(kvm_fd, KVM_CREATE_VM, NULL);
	TEST_ASSERT(vm >= 0, "short VM %lu: KVM_CREATE_VM failed (%d), errno %d", n, vm, errno);
	rc = ioctl(vm, KVM_SET_USER_MEMORY_REGION, &mem);
	TEST_ASSERT(!rc, "short VM %lu: KVM_SET_USER_MEMORY_REGION failed (%d), errno %d", n, rc, errno);
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	TEST_ASSERT(vcpu >= 0, "short VM %lu: KVM_CREATE_VCPU failed (%d), errno %d", n, vcpu, errno);
	run = kvm_mmap(run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu);
	rc = ioctl(vcpu, KVM_SET_ONE_REG, &reg);
	TEST_ASSERT(!rc, "short VM %lu: KVM_SET_ONE_REG failed (%d), errno %d", n, rc, errno);

	do {
		rc = ioctl(vcpu, KVM_RUN, NULL);
	} while (rc == -1 && errno == EINTR);
	TEST_ASSERT(!rc, "short VM %lu: KVM_RUN failed (%d), errno %d", n, rc, errno);
	TEST_ASSERT(run->exit_reason == KVM_EXIT_RISCV_SBI &&
		    run->riscv_sbi.extension_id == KVM_RISCV_SELFTESTS_SBI_EXT &&
		    run->riscv_sbi.function_id == KVM_RISCV_SELFTESTS_SBI_UCALL,
		    "short VM %lu: exit %u (%s), not its SBI call", n, run->exit_reason,
		    exit_reason_str(run->exit_reason));
	TEST_ASSERT(run->riscv_sbi.args[0] == seed,
		    "short VM %lu: the guest read 0x%lx, the host wrote 0x%lx",
		    n, (u64)run->riscv_sbi.args[0], seed);
	TEST_ASSERT(*(u64 *)(page + RESULT_OFF) == ~seed,
		    "short VM %lu: its page holds 0x%lx, expected 0x%lx",
		    n, *(u64 *)(page + RESULT_OFF), ~seed);

	kvm_munmap(run, run_size);
	close(vcpu);
	close(vm);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(const char *name)
{
	printf("usage: %s [-n SHORT_VMS]\n"
	       "  -n: short VMs to create, run once and destroy (default %d:\n"
	       "      twice the VMIDs of a 14-bit allocator, and 100)\n", name, DEFAULT_SHORT);
}

int main(int argc, char *argv[])
{
	u64 n, nr_short = DEFAULT_SHORT, mark, at_end, stalls = 0;
	pthread_t thread, wd;
	double t0, t1;
	int opt;

	while ((opt = getopt(argc, argv, "hn:")) != -1) {
		switch (opt) {
		case 'n':
			nr_short = strtoull(optarg, NULL, 0);
			break;
		default:
			usage(argv[0]);
			exit(opt == 'h' ? 0 : 1);
		}
	}

	vm_a = vm_create_with_one_vcpu(&vcpu_a, guest_a);
	data_a = vm_alloc_pages(vm_a, A_PAGES);
	for (n = 0; n < A_PAGES; n++)
		memset(addr_gva2hva(vm_a, data_a + n * 4096), 0, 4096);
	vcpu_args_set(vcpu_a, 1, data_a);
	short_gpa = addr_gva2gpa(vm_a, data_a);
	kvm_fd = open_kvm_dev_path_or_exit();
	run_size = __kvm_ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, NULL);
	TEST_ASSERT(run_size > 0, "KVM_GET_VCPU_MMAP_SIZE failed");
	short_ring = kvm_mmap(SHORT_RING * 4096, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1);
	pthread_create(&thread, NULL, a_thread, NULL);
	TEST_ASSERT(wait_syncs(0, 60) > 0, "VM A made no report in 60 s");
	pthread_create(&wd, NULL, watchdog, NULL);

	printf("VM A running (a report every %lu guest iterations); cycling %lu short VMs\n",
	       A_SYNC_EVERY, nr_short);
	t0 = now();
	mark = syncs_a;
	for (n = 0; n < nr_short; n++) {
		run_short_vm(n);
		short_done = n + 1;
		if ((n + 1) % WINDOW == 0 || n + 1 == nr_short) {
			/* A must have reported within the window; give it a moment if not. */
			if (syncs_a == mark) {
				stalls++;
				TEST_ASSERT(wait_syncs(mark, 10) > mark,
					    "VM A made no progress during short VMs %lu..%lu nor 10 s after",
					    n - n % WINDOW, n);
			}
			printf("  %6lu short VMs, %.1f s, VM A: %lu reports, %lu iterations\n",
			       n + 1, now() - t0, (u64)syncs_a, done_a);
			mark = syncs_a;
		}
	}
	t1 = now();

	/* A goes on running correctly after the last rollover. */
	at_end = syncs_a;
	TEST_ASSERT(wait_syncs(at_end + 2, 30) > at_end + 2,
		    "VM A stopped after the short VMs (%lu reports)", at_end);
	stop_a = 1;
	pthread_join(thread, NULL);
	pthread_join(wd, NULL);
	check_a_memory(done_a);
	kvm_vm_free(vm_a);
	kvm_munmap(short_ring, SHORT_RING * 4096);
	close(kvm_fd);

	printf("cycled %lu short VMs in %.1f s (%.2f ms each); windows where A had to be waited for: %lu\n",
	       nr_short, t1 - t0, (t1 - t0) * 1000 / (nr_short ? nr_short : 1), stalls);
	printf("PASS: %lu short VMs each ran its guest once and correctly; VM A ran %lu iterations "
	       "(%lu reports) throughout and after, its memory intact\n",
	       nr_short, done_a, (u64)syncs_a);
	return 0;
}
