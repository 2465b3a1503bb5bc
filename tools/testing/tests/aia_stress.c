// SPDX-License-Identifier: GPL-2.0
/*
 * The in-kernel AIA irqchip under interrupt load while the vCPU threads
 * move between host CPUs (issue #16): the IMSIC guest files of hwaccel
 * and auto mode (aia_imsic.c's VS-file update and release, aia.c's HGEI
 * lines, the vCPU load/put and run-loop paths), their software-file
 * fallback in auto mode, and the error hwaccel mode gives a vCPU for which
 * its host CPU has no guest file left.
 *
 * Scenarios (-s):
 *
 * migrate: -n vCPUs (default 4) whose guests take interrupts while a host
 *   thread keeps moving the vCPU threads between host CPUs 0 and 1
 *   (sched_setaffinity; one thread at a time, and every eighth move all of
 *   them) for -t seconds. The interrupts: KVM_SIGNAL_MSI from a host thread
 *   (identities 1..HOST_IDS of every vCPU) and guest IPIs, each vCPU
 *   storing to the IMSIC page of the others in turn (identity IPI_BASE +
 *   sender). An identity is sent again only once the guest has taken the
 *   last one (the guest claims it through stopei, then counts it in shared
 *   memory), so nothing is ever coalesced: every MSI must arrive exactly
 *   once. The guest's interrupt handler checks each claim (an S-level
 *   external interrupt, a topei whose priority is its identity, an identity
 *   somebody sent) and counts the traps whose stopei reads 0 (spurious):
 *   upstream C gives some with guest files while they move (bursts of up
 *   to a few hundred on a vCPU, then none for seconds), so they are only
 *   counted there; with software files (emul) there must be none. Its
 *   main loop checks, between interrupts, that its vsiselect holds what it
 *   wrote while it spins (preemption, migration), that eidelivery,
 *   eithreshold and eie0 still hold what it set through siselect/sireg,
 *   and every other round waits in WFI (the blocking path: a sleeping vCPU
 *   woken by its guest file's SGEI). The host fails the test when an MSI
 *   stays unclaimed for LOST_S seconds (lost), when a vCPU takes fewer
 *   than MIN_RATE interrupts in 5 s (late: tens of thousands is usual),
 *   when a count exceeds what was sent (an interrupt taken twice), and at
 *   the end, after the guests stopped with interrupts off, unless every
 *   identity of every vCPU still unclaimed is exactly the one pending in
 *   its IMSIC (read back through KVM_GET_DEVICE_ATTR) and nothing else is
 *   pending. Each vCPU thread must have been seen on both host CPUs. In
 *   hwaccel mode no vCPU may have trapped an IMSIC CSR access (the stat
 *   csr_exit_kernel: the guest file takes them), in emul mode every vCPU
 *   must have (the software file emulates them).
 *
 * auto: riscv-aia=auto with more vCPUs (-n, default 8) than a host CPU has
 *   guest files (-g, the emulated host's 5). The same load, in phases:
 *   (1) every vCPU thread pinned to CPU 0: exactly n - g vCPUs fall back
 *   to the software file (their IMSIC CSR accesses trap: csr_exit_kernel
 *   grows for them alone) and every vCPU takes its interrupts; (2) those
 *   n - g moved to CPU 1 (where they get guest files), then the g others:
 *   now n - g of the latter are on software files, none of the former;
 *   (3) -t seconds of the random migration above: vCPUs go from guest
 *   file to software file and back. Then the end checks above.
 *
 * over: hwaccel with more vCPUs (-n, default 8) than a host CPU has guest
 *   files: run one after the other on CPU 0, the first g enter the guest
 *   and the others come back from KVM_RUN (0) with KVM_EXIT_FAIL_ENTRY,
 *   hardware_entry_failure_reason KVM_EXIT_FAIL_ENTRY_NO_VSFILE and
 *   fail_entry.cpu 0, again when retried; an MSI to such a vCPU is kept
 *   and claimed once it runs on CPU 1; a vCPU moved from CPU 0 to CPU 1
 *   frees its CPU 0 file for one that failed; a VM destroyed frees all of
 *   its files (a new VM gets g on CPU 0 again, and not one more).
 *
 * The emulated host (tools/testing/run-host.sh) has two CPUs with 5 guest
 * files each (QEMU aia-guests=5). -g 0 takes the count from the over
 * scenario's probe instead.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kvm_util.h"
#include "processor.h"
#include "ucall_common.h"

#define PG		4096UL
#define IMSIC_GPA	0x28000000UL	/* vCPU i's IMSIC page at IMSIC_GPA + i * PG */
#define APLIC_GPA	0xc000000UL
#define MAX_VCPUS	8
#define NR_IDS		64		/* identities 1..63: the device's IDS 63 */
#define HOST_IDS	4		/* host MSIs: identities 1..HOST_IDS of each vCPU */
#define IPI_BASE	16		/* guest IPIs from vCPU s: identity IPI_BASE + s */
#define LOST_S		10		/* an MSI unclaimed this long is lost */
#define SPIN		400		/* vsiselect checks per round */

/* IMSIC registers, by iselect. */
#define I_EIDELIVERY	0x70
#define I_EITHRESHOLD	0x72
#define I_EIP0		0x80
#define I_EIE0		0xc0

/* Memory the guests and the host share (one allocation, guest-mapped). */
struct vshared {
	u64 recv[NR_IDS];		/* claims of each identity (the vCPU's handler) */
	u64 gsent[MAX_VCPUS];		/* IPIs this vCPU stored to each vCPU's page */
	u64 loops;			/* main-loop rounds */
	u64 irqs;			/* interrupts taken */
	u64 spurious;			/* S external interrupts with stopei 0 */
	u64 spurious_run;		/* of them, in a row now */
	u64 spurious_max;		/* the most in a row */
	u64 pad[4];
};

struct shared {
	u64 stop;
	u64 nr_vcpus;
	u64 eie;			/* the identities enabled */
	u64 pad[5];
	struct vshared v[MAX_VCPUS];
};

/* ---------------------------------------------------------------------- */
/* The guest.                                                              */

static struct shared *gsh;	/* the guest's address of the shared memory */

static inline u64 ireg_read(u64 isel)
{
	csr_write(CSR_SISELECT, isel);
	return csr_read(CSR_SIREG);
}

static inline void ireg_write(u64 isel, u64 val)
{
	csr_write(CSR_SISELECT, isel);
	csr_write(CSR_SIREG, val);
}

static void guest_irq(struct pt_regs *regs)
{
	u32 me = guest_get_vcpuid();
	struct vshared *v = &gsh->v[me];
	u64 claim, id;

	__GUEST_ASSERT(regs->cause == (CAUSE_IRQ_FLAG | IRQ_S_EXT),
		       "vCPU %u: interrupt with scause 0x%lx, not the S-level external one",
		       me, regs->cause);
	claim = csr_swap(CSR_STOPEI, 0);
	id = (claim >> 16) & 0x7ff;
	if (!claim) {
		WRITE_ONCE(v->spurious, v->spurious + 1);
		WRITE_ONCE(v->spurious_run, v->spurious_run + 1);
		if (v->spurious_run > v->spurious_max)
			WRITE_ONCE(v->spurious_max, v->spurious_run);
		return;
	}
	v->spurious_run = 0;
	__GUEST_ASSERT((claim & 0x7ff) == id && !(claim & ~0x7ff07ffUL),
		       "vCPU %u: garbled stopei 0x%lx", me, claim);
	__GUEST_ASSERT(id < NR_IDS && ((gsh->eie >> id) & 1),
		       "vCPU %u: interrupt identity %lu, which nobody sends", me, id);
	WRITE_ONCE(v->recv[id], v->recv[id] + 1);
	WRITE_ONCE(v->irqs, v->irqs + 1);
}

static void guest_main(void)
{
	u32 me = guest_get_vcpuid();
	struct vshared *v = &gsh->v[me];
	u64 n = gsh->nr_vcpus, eie = gsh->eie, it, k, val;

	ireg_write(I_EITHRESHOLD, 0);
	ireg_write(I_EIE0, eie);
	ireg_write(I_EIDELIVERY, 1);
	csr_set(CSR_SIE, 1UL << IRQ_S_EXT);
	local_irq_enable();

	for (it = 0; !READ_ONCE(gsh->stop); it++) {
		/* vsiselect keeps its value across preemption and migration */
		csr_write(CSR_SISELECT, I_EIE0);
		for (k = 0; k < SPIN; k++) {
			val = csr_read(CSR_SISELECT);
			__GUEST_ASSERT(val == I_EIE0, "vCPU %u: siselect 0x%lx, the guest wrote 0x%x",
				       me, val, I_EIE0);
		}
		val = csr_read(CSR_SIREG);
		__GUEST_ASSERT(val == eie, "vCPU %u: eie0 0x%lx, the guest set 0x%lx", me, val, eie);
		val = ireg_read(I_EIDELIVERY);
		__GUEST_ASSERT(val == 1, "vCPU %u: eidelivery 0x%lx, the guest set 1", me, val);
		val = ireg_read(I_EITHRESHOLD);
		__GUEST_ASSERT(val == 0, "vCPU %u: eithreshold 0x%lx, the guest set 0", me, val);

		/* an IPI to the next vCPU in turn, once it took the last one */
		if (n > 1) {
			u64 t = (me + 1 + it % (n - 1)) % n;
			u64 r = READ_ONCE(gsh->v[t].recv[IPI_BASE + me]);
			u64 s = v->gsent[t];

			__GUEST_ASSERT(r <= s, "vCPU %lu took %lu IPIs from vCPU %u, which sent %lu",
				       t, r, me, s);
			if (r == s) {
				WRITE_ONCE(v->gsent[t], s + 1);
				asm volatile("fence iorw, iorw" ::: "memory");
				*(volatile u32 *)(IMSIC_GPA + t * PG) = IPI_BASE + me;
			}
		}
		WRITE_ONCE(v->loops, it + 1);

		/* every other round, wait for an interrupt (the vCPU blocks) */
		if (it & 1) {
			local_irq_disable();
			if (!READ_ONCE(gsh->stop))
				asm volatile("wfi" ::: "memory");
			local_irq_enable();
		}
	}
	local_irq_disable();
	GUEST_DONE();
}

/* The over scenario's guest: each KVM_RUN, one claim from stopei. */
static void guest_claims(void)
{
	ireg_write(I_EITHRESHOLD, 0);
	ireg_write(I_EIE0, ~1UL);
	ireg_write(I_EIDELIVERY, 1);
	for (;;)
		GUEST_SYNC(csr_swap(CSR_STOPEI, 0));
}

/* ---------------------------------------------------------------------- */
/* The host.                                                               */

static const char * const mode_name[] = { "emul", "hwaccel", "auto" };

struct vthread {
	int idx;
	struct kvm_vcpu *vcpu;
	pthread_t thread;
	volatile pid_t tid;
	volatile int done;
	volatile int cpu;		/* the CPU its affinity allows */
	int seen_cpu;			/* the CPU /proc last showed it on */
	u64 seen[2];			/* samples on CPU 0, CPU 1 */
	u64 hsent[NR_IDS];		/* host MSIs sent to each identity */
	u64 pending_since[NR_IDS];	/* when the host saw identity i unclaimed, 0: never */
	u64 pending_at[NR_IDS];		/* the claim count it saw then */
};

static struct kvm_vm *vm;
static struct shared *hsh;		/* the host's address of the shared memory */
static int aia_fd, nr_vcpus, nr_cpus, mode;
static struct vthread vt[MAX_VCPUS];
static volatile int inject_stop, migrate_stop;
static volatile u64 nr_msis, nr_moves;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void pin_thread(pthread_t t, int cpu)
{
	cpu_set_t set;
	int r;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	r = pthread_setaffinity_np(t, sizeof(set), &set);
	TEST_ASSERT(!r, "pinning a thread to CPU %d: %s", cpu, strerror(r));
}

/* The calling thread on every CPU again. */
static void unpin_self(void)
{
	cpu_set_t set;
	int i;

	CPU_ZERO(&set);
	for (i = 0; i < nr_cpus; i++)
		CPU_SET(i, &set);
	sched_setaffinity(0, sizeof(set), &set);
}

static void move_vcpu(int i, int cpu)
{
	if (cpu >= nr_cpus)
		cpu = 0;
	vt[i].cpu = cpu;
	pin_thread(vt[i].thread, cpu);
	nr_moves++;
}

/* The CPU a thread last ran on (/proc/self/task/TID/stat, field 39), or -1. */
static int thread_cpu(pid_t tid)
{
	char path[64], buf[1024], *p;
	FILE *f;
	int i, cpu = -1;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f)) {
		p = strrchr(buf, ')');
		/* after ") ": field 3 (state) onwards; field 39 is the CPU */
		for (i = 3; p && i <= 39; i++) {
			p = strchr(p + 1, ' ');
			if (p && i == 39)
				cpu = atoi(p + 1);
		}
	}
	fclose(f);
	return cpu;
}

static void sample_cpus(void)
{
	int i, c;

	for (i = 0; i < nr_vcpus; i++) {
		if (!vt[i].tid || vt[i].done)
			continue;
		c = thread_cpu(vt[i].tid);
		if (c == 0 || c == 1) {
			vt[i].seen[c]++;
			vt[i].seen_cpu = c;
		}
	}
}

static long msi(int i, u32 id)
{
	struct kvm_msi m = { .address_lo = (u32)(IMSIC_GPA + i * PG),
			     .address_hi = (IMSIC_GPA + i * PG) >> 32, .data = id };

	return __vm_ioctl(vm, KVM_SIGNAL_MSI, &m);
}

static u64 imsic_get(int i, u64 isel)
{
	u64 val = 0;
	int r = __kvm_device_attr_get(aia_fd, KVM_DEV_RISCV_AIA_GRP_IMSIC,
				      KVM_DEV_RISCV_AIA_IMSIC_MKATTR(i, isel), &val);

	TEST_ASSERT(!r, "KVM_GET_DEVICE_ATTR of vCPU %d's IMSIC register 0x%lx: errno %d",
		    i, isel, errno);
	return val;
}

static u64 csr_exits(int i)
{
	return vcpu_get_stat(vt[i].vcpu, csr_exit_kernel);
}

/* What the host knows of vCPU i's interrupt identity id: sent, claimed. */
static void id_counts(int i, int id, u64 *sent, u64 *recv)
{
	*recv = READ_ONCE(hsh->v[i].recv[id]);
	if (id >= IPI_BASE)
		*sent = READ_ONCE(hsh->v[id - IPI_BASE].gsent[i]);
	else
		*sent = READ_ONCE(vt[i].hsent[id]);
}

static bool id_used(int id)
{
	return (id >= 1 && id <= HOST_IDS) || (id >= IPI_BASE && id < IPI_BASE + nr_vcpus);
}

static void *vcpu_thread(void *arg)
{
	struct vthread *t = arg;
	struct kvm_run *run = t->vcpu->run;
	struct ucall uc;

	t->tid = syscall(SYS_gettid);
	for (;;) {
		vcpu_run(t->vcpu);
		switch (get_ucall(t->vcpu, &uc)) {
		case UCALL_DONE:
			t->done = 1;
			return NULL;
		case UCALL_ABORT:
			REPORT_GUEST_ASSERT(uc);
			break;
		default:
			if (run->exit_reason == KVM_EXIT_FAIL_ENTRY)
				TEST_FAIL("vCPU %d: KVM_EXIT_FAIL_ENTRY, reason 0x%llx, cpu %u",
					  t->idx, run->fail_entry.hardware_entry_failure_reason,
					  run->fail_entry.cpu);
			TEST_FAIL("vCPU %d: unexpected exit %u (%s)", t->idx, run->exit_reason,
				  exit_reason_str(run->exit_reason));
		}
	}
}

/* Host MSIs: every identity 1..HOST_IDS of every vCPU, again once claimed. */
static void *injector(void *arg)
{
	int i, id, sent;
	u64 r;
	long rc;

	while (!inject_stop) {
		sent = 0;
		for (i = 0; i < nr_vcpus; i++) {
			for (id = 1; id <= HOST_IDS; id++) {
				r = READ_ONCE(hsh->v[i].recv[id]);
				TEST_ASSERT(r <= vt[i].hsent[id],
					    "vCPU %d took identity %d %lu times, the host sent it %lu times",
					    i, id, r, vt[i].hsent[id]);
				if (r != vt[i].hsent[id])
					continue;
				WRITE_ONCE(vt[i].hsent[id], r + 1);
				rc = msi(i, id);
				TEST_ASSERT(rc >= 0, "KVM_SIGNAL_MSI identity %d to vCPU %d: errno %d",
					    id, i, errno);
				sent++;
			}
		}
		nr_msis += sent;
		usleep(sent ? 200 : 500);
	}
	return NULL;
}

/* Moves one vCPU thread at a time to the other CPU, every eighth move all. */
static void *migrator(void *arg)
{
	unsigned int seed = 1;
	u64 step;
	int i;

	for (step = 0; !migrate_stop; step++) {
		usleep(2000 + rand_r(&seed) % 18000);
		if (step % 8 == 7) {
			int to = !vt[0].cpu;

			for (i = 0; i < nr_vcpus; i++)
				move_vcpu(i, to);
		} else {
			i = rand_r(&seed) % nr_vcpus;
			move_vcpu(i, !vt[i].cpu);
		}
	}
	return NULL;
}

/*
 * The lost-MSI watchdog: an identity sent and not claimed (the claim count
 * unchanged) for LOST_S seconds fails the test, with what KVM shows of the
 * vCPU's IMSIC.
 */
static void watch(void)
{
	u64 t = (u64)now(), sent, recv;
	int i, id;

	for (i = 0; i < nr_vcpus; i++) {
		if (vt[i].done)
			continue;
		for (id = 1; id < NR_IDS; id++) {
			if (!id_used(id))
				continue;
			id_counts(i, id, &sent, &recv);
			TEST_ASSERT(recv <= sent, "vCPU %d took identity %d %lu times, it was sent %lu times",
				    i, id, recv, sent);
			if (recv == sent) {
				vt[i].pending_since[id] = 0;
				continue;
			}
			if (!vt[i].pending_since[id] || vt[i].pending_at[id] != recv) {
				vt[i].pending_since[id] = t;
				vt[i].pending_at[id] = recv;
				continue;
			}
			if (t - vt[i].pending_since[id] < LOST_S)
				continue;
			TEST_FAIL("lost interrupt: vCPU %d identity %d (%s) sent %lu times, taken %lu "
				  "times, none for %d s; the guest is at round %lu, %lu interrupts; "
				  "%lu spurious; its IMSIC: eidelivery 0x%lx eithreshold 0x%lx eip0 0x%lx eie0 0x%lx; "
				  "thread on CPU %d (allowed %d)",
				  i, id, id >= IPI_BASE ? "guest IPI" : "host MSI", sent, recv, LOST_S,
				  READ_ONCE(hsh->v[i].loops), READ_ONCE(hsh->v[i].irqs),
				  READ_ONCE(hsh->v[i].spurious), imsic_get(i, I_EIDELIVERY), imsic_get(i, I_EITHRESHOLD),
				  imsic_get(i, I_EIP0), imsic_get(i, I_EIE0),
				  thread_cpu(vt[i].tid), vt[i].cpu);
		}
	}
}

static void progress(const char *what, double t0)
{
	int i;

	printf("  %5.1f s %s: %lu MSIs, %lu moves; interrupts", now() - t0, what,
	       (u64)nr_msis, (u64)nr_moves);
	for (i = 0; i < nr_vcpus; i++)
		printf(" %lu", READ_ONCE(hsh->v[i].irqs));
	printf("; spurious");
	for (i = 0; i < nr_vcpus; i++)
		printf(" %lu", READ_ONCE(hsh->v[i].spurious));
	printf("\n");
	fflush(stdout);
}

/*
 * Runs the load for s seconds, watching and sampling. Every vCPU must take
 * at least MIN_RATE interrupts in each 5 s (tens of thousands here): far
 * fewer means its interrupts come late, e.g. a vCPU waiting in WFI that
 * its MSIs do not wake (it then only runs when something else kicks it).
 */
#define MIN_RATE	50

static void load_for(double s, const char *what)
{
	double t0 = now(), end = t0 + s, next = t0 + 5;
	u64 last[MAX_VCPUS], k;
	int i;

	for (i = 0; i < nr_vcpus; i++)
		last[i] = READ_ONCE(hsh->v[i].irqs);
	while (now() < end) {
		usleep(100 * 1000);
		watch();
		sample_cpus();
		if (now() < next)
			continue;
		progress(what, t0);
		next += 5;
		for (i = 0; i < nr_vcpus; i++) {
			k = READ_ONCE(hsh->v[i].irqs);
			TEST_ASSERT(k - last[i] >= MIN_RATE,
				    "%s: vCPU %d took %lu interrupts in 5 s (fewer than %d): they "
				    "come late (a vCPU in WFI not woken by its MSIs?)", what, i,
				    k - last[i], MIN_RATE);
			last[i] = k;
		}
	}
}

/* Waits (watching) until every vCPU in mask took k more interrupts. */
static void wait_irqs(u32 mask, u64 k, const char *what)
{
	u64 base[MAX_VCPUS];
	double end = now() + 3 * LOST_S;
	int i, left;

	for (i = 0; i < nr_vcpus; i++)
		base[i] = READ_ONCE(hsh->v[i].irqs);
	for (;;) {
		left = 0;
		for (i = 0; i < nr_vcpus; i++)
			if ((mask >> i) & 1 && READ_ONCE(hsh->v[i].irqs) < base[i] + k)
				left++;
		if (!left)
			return;
		TEST_ASSERT(now() < end, "%s: %d vCPUs took fewer than %lu interrupts in %d s",
			    what, left, k, 3 * LOST_S);
		usleep(20 * 1000);
		watch();
	}
}

/* The AIA device: mode m, IMSIC pages one after the other, then INIT. */
static void aia_setup(struct kvm_vm *v, int n, u32 m)
{
	u32 ids = NR_IDS - 1, srcs = 0, hart_bits = 1;
	u64 a;
	int i;

	while ((1 << hart_bits) < n)
		hart_bits++;
	aia_fd = __kvm_create_device(v, KVM_DEV_TYPE_RISCV_AIA);
	if (aia_fd < 0)
		ksft_exit_skip("no in-kernel AIA irqchip (KVM_CREATE_DEVICE: errno %d)\n", errno);
	kvm_device_attr_set(aia_fd, KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_MODE, &m);
	kvm_device_attr_set(aia_fd, KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_IDS, &ids);
	kvm_device_attr_set(aia_fd, KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_SRCS, &srcs);
	kvm_device_attr_set(aia_fd, KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_HART_BITS,
			    &hart_bits);
	a = APLIC_GPA;
	kvm_device_attr_set(aia_fd, KVM_DEV_RISCV_AIA_GRP_ADDR, KVM_DEV_RISCV_AIA_ADDR_APLIC, &a);
	for (i = 0; i < n; i++) {
		a = IMSIC_GPA + i * PG;
		kvm_device_attr_set(aia_fd, KVM_DEV_RISCV_AIA_GRP_ADDR, KVM_DEV_RISCV_AIA_ADDR_IMSIC(i), &a);
	}
	kvm_device_attr_set(aia_fd, KVM_DEV_RISCV_AIA_GRP_CTRL, KVM_DEV_RISCV_AIA_CTRL_INIT, NULL);
	kvm_device_attr_get(aia_fd, KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_MODE, &m);
	TEST_ASSERT(m == mode, "the device's mode reads %u after INIT, set %d", m, mode);
}

/* The load VM: n vCPUs running guest_main, shared memory, the device. */
static void load_vm_create(int n, u32 m)
{
	struct kvm_vcpu *vcpus[MAX_VCPUS];
	gva_t sh;
	int i, id;

	nr_vcpus = n;
	vm = vm_create_with_vcpus(n, guest_main, vcpus);
	vm_init_vector_tables(vm);
	vm_install_interrupt_handler(vm, guest_irq);
	sh = vm_alloc_pages(vm, (sizeof(struct shared) + PG - 1) / PG);
	hsh = addr_gva2hva(vm, sh);
	memset(hsh, 0, sizeof(*hsh));
	hsh->nr_vcpus = n;
	for (id = 1; id < NR_IDS; id++)
		if (id_used(id))
			hsh->eie |= 1UL << id;
	gsh = (struct shared *)sh;
	sync_global_to_guest(vm, gsh);
	virt_map(vm, IMSIC_GPA, IMSIC_GPA, n);
	for (i = 0; i < n; i++) {
		vcpu_init_vector_tables(vcpus[i]);
		vt[i].idx = i;
		vt[i].vcpu = vcpus[i];
		vt[i].seen_cpu = -1;
	}
	aia_setup(vm, n, m);
}

/* Starts the vCPU threads, each pinned to cpu_of(i) before its first KVM_RUN. */
static void start_vcpus(int (*cpu_of)(int))
{
	pthread_attr_t attr;
	cpu_set_t set;
	int i;

	for (i = 0; i < nr_vcpus; i++) {
		vt[i].cpu = cpu_of(i) < nr_cpus ? cpu_of(i) : 0;
		CPU_ZERO(&set);
		CPU_SET(vt[i].cpu, &set);
		pthread_attr_init(&attr);
		pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
		pthread_create(&vt[i].thread, &attr, vcpu_thread, &vt[i]);
		pthread_attr_destroy(&attr);
	}
}

static int cpu_zero(int i)
{
	return 0;
}

static int cpu_alternate(int i)
{
	return i & 1;
}

/*
 * Stops the guests (interrupts off, GUEST_DONE; the host goes on sending
 * until they are all done, which wakes those waiting in WFI), then checks
 * that every identity sent and not claimed is pending in the vCPU's IMSIC,
 * and nothing else is.
 */
static void stop_and_account(pthread_t inj)
{
	double end = now() + 3 * LOST_S;
	u64 sent, recv, eip, want, total = 0, pend = 0;
	int i, id, left;

	WRITE_ONCE(hsh->stop, 1);
	for (;;) {
		left = 0;
		for (i = 0; i < nr_vcpus; i++)
			left += !vt[i].done;
		if (!left)
			break;
		TEST_ASSERT(now() < end, "%d vCPUs did not stop within %d s", left, 3 * LOST_S);
		usleep(20 * 1000);
		watch();
	}
	inject_stop = 1;
	pthread_join(inj, NULL);
	for (i = 0; i < nr_vcpus; i++)
		pthread_join(vt[i].thread, NULL);

	for (i = 0; i < nr_vcpus; i++) {
		eip = imsic_get(i, I_EIP0);
		want = 0;
		for (id = 1; id < NR_IDS; id++) {
			if (!id_used(id))
				continue;
			id_counts(i, id, &sent, &recv);
			TEST_ASSERT(sent - recv <= 1,
				    "vCPU %d identity %d: sent %lu times, taken %lu times", i, id, sent, recv);
			if (sent != recv)
				want |= 1UL << id;
			total += recv;
		}
		TEST_ASSERT(eip == want,
			    "vCPU %d at the end: eip0 0x%lx, but the identities sent and not taken are 0x%lx "
			    "(lost: 0x%lx, pending and never sent or taken already: 0x%lx)",
			    i, eip, want, want & ~eip, eip & ~want);
		pend += __builtin_popcountl(want);
		TEST_ASSERT(imsic_get(i, I_EIDELIVERY) == 1 && imsic_get(i, I_EIE0) == hsh->eie &&
			    imsic_get(i, I_EITHRESHOLD) == 0,
			    "vCPU %d at the end: eidelivery 0x%lx eie0 0x%lx eithreshold 0x%lx, the guest "
			    "set 1, 0x%lx, 0", i, imsic_get(i, I_EIDELIVERY), imsic_get(i, I_EIE0),
			    imsic_get(i, I_EITHRESHOLD), hsh->eie);
	}
	printf("end: %lu interrupts taken, %lu sent and still pending in the IMSICs (as expected), "
	       "none lost or doubled\n", total, pend);
}

static void print_vcpus(void)
{
	u64 host;
	int i, id;

	for (i = 0; i < nr_vcpus; i++) {
		for (host = 0, id = 1; id <= HOST_IDS; id++)
			host += hsh->v[i].recv[id];
		printf("  vCPU %d: %lu interrupts (%lu host MSIs, %lu IPIs), %lu spurious (at most "
		       "%lu in a row), %lu rounds, csr_exit_kernel %lu, seen on CPU 0/1 %lu/%lu times\n",
		       i, hsh->v[i].irqs, host, hsh->v[i].irqs - host, hsh->v[i].spurious,
		       hsh->v[i].spurious_max, hsh->v[i].loops, csr_exits(i), vt[i].seen[0],
		       vt[i].seen[1]);
	}
}

/* Each vCPU took at least min interrupts, and was seen on both CPUs. */
static void check_load(u64 min, bool moved)
{
	int i;

	for (i = 0; i < nr_vcpus; i++) {
		TEST_ASSERT(hsh->v[i].irqs >= min, "vCPU %d took %lu interrupts, fewer than %lu",
			    i, hsh->v[i].irqs, min);
		TEST_ASSERT(!moved || nr_cpus < 2 || (vt[i].seen[0] && vt[i].seen[1]),
			    "vCPU %d's thread was seen on CPU 0 %lu times, on CPU 1 %lu times",
			    i, vt[i].seen[0], vt[i].seen[1]);
	}
}

static pthread_t start_thread(void *(*fn)(void *))
{
	pthread_t t;

	pthread_create(&t, NULL, fn, NULL);
	return t;
}

/* The migrate scenario. */
static void scenario_migrate(int n, double secs)
{
	pthread_t inj, mig;
	u64 ce;
	int i;

	load_vm_create(n, mode);
	start_vcpus(cpu_alternate);
	inj = start_thread(injector);
	wait_irqs((1U << n) - 1, 1, "start");
	printf("%d vCPUs (%s) taking interrupts; moving their threads for %.0f s\n", n,
	       mode_name[mode], secs);
	mig = start_thread(migrator);
	load_for(secs, "migrate");
	migrate_stop = 1;
	pthread_join(mig, NULL);
	stop_and_account(inj);
	print_vcpus();
	check_load(20, true);
	for (i = 0; i < n; i++) {
		ce = csr_exits(i);
		if (mode == KVM_DEV_RISCV_AIA_MODE_HWACCEL)
			TEST_ASSERT(ce == 0, "hwaccel: vCPU %d trapped %lu CSR accesses to KVM; "
				    "its guest file should have taken them", i, ce);
		else if (mode == KVM_DEV_RISCV_AIA_MODE_EMUL)
			TEST_ASSERT(ce > 0 && !hsh->v[i].spurious,
				    "emul: vCPU %d trapped %lu CSR accesses to KVM (expected some) and "
				    "took %lu spurious external interrupts (expected none)", i, ce,
				    hsh->v[i].spurious);
	}
}

/* vCPUs whose csr_exit_kernel grew over secs of load: the software files. */
static u32 swfile_vcpus(double secs, const char *what)
{
	u64 before[MAX_VCPUS], irqs[MAX_VCPUS];
	u32 sw = 0;
	int i;

	for (i = 0; i < nr_vcpus; i++) {
		before[i] = csr_exits(i);
		irqs[i] = READ_ONCE(hsh->v[i].irqs);
	}
	load_for(secs, what);
	printf("%s: over %.0f s, interrupts and CSR traps of each vCPU:", what, secs);
	for (i = 0; i < nr_vcpus; i++) {
		u64 d = csr_exits(i) - before[i];

		printf(" %lu/%lu", READ_ONCE(hsh->v[i].irqs) - irqs[i], d);
		TEST_ASSERT(READ_ONCE(hsh->v[i].irqs) > irqs[i] + 1,
			    "%s: vCPU %d took %lu interrupts in %.0f s", what, i,
			    READ_ONCE(hsh->v[i].irqs) - irqs[i], secs);
		if (d)
			sw |= 1U << i;
	}
	printf("\n");
	return sw;
}

/* The auto scenario. */
static void scenario_auto(int n, int g, double secs)
{
	u32 all = (1U << n) - 1, sw1, sw2, hold1;
	pthread_t inj, mig;
	int i;

	TEST_ASSERT(nr_cpus >= 2, "the auto scenario needs two host CPUs");
	TEST_ASSERT(g > 0 && g < n && n - g <= g,
		    "the auto scenario needs g < n <= 2 g (n %d, g %d guest files)", n, g);
	load_vm_create(n, mode);
	start_vcpus(cpu_zero);
	inj = start_thread(injector);
	wait_irqs(all, 1, "start");

	/* 1: all on CPU 0: n - g on software files */
	sw1 = swfile_vcpus(4, "all on CPU 0");
	hold1 = all & ~sw1;
	TEST_ASSERT(__builtin_popcount(sw1) == n - g,
		    "all %d vCPUs on CPU 0 with %d guest files: %d vCPUs (mask 0x%x) trapped CSR "
		    "accesses (software file), expected %d", n, g, __builtin_popcount(sw1), sw1, n - g);

	/* 2: those to CPU 1 (guest files there), then the others */
	for (i = 0; i < n; i++)
		if ((sw1 >> i) & 1)
			move_vcpu(i, 1);
	wait_irqs(sw1, 2, "software-file vCPUs moved to CPU 1");
	for (i = 0; i < n; i++)
		if ((hold1 >> i) & 1)
			move_vcpu(i, 1);
	wait_irqs(hold1, 2, "the other vCPUs moved to CPU 1");
	sw2 = swfile_vcpus(3, "all on CPU 1");
	TEST_ASSERT(__builtin_popcount(sw2) == n - g && !(sw2 & sw1),
		    "all on CPU 1, the first %d moved there first: software files 0x%x, expected %d "
		    "of 0x%x", n - g, sw2, n - g, hold1);
	printf("software files: 0x%x on CPU 0, then 0x%x on CPU 1\n", sw1, sw2);

	/* 3: random migration */
	mig = start_thread(migrator);
	load_for(secs, "migrate");
	migrate_stop = 1;
	pthread_join(mig, NULL);
	stop_and_account(inj);
	print_vcpus();
	check_load(20, true);
}

/* One KVM_RUN of v: 1 and the guest's claim, or 0 for FAIL_ENTRY (checked). */
static int run_once(struct kvm_vcpu *v, int cpu, u64 *claim, const char *what)
{
	struct kvm_run *run = v->run;
	struct ucall uc;
	int r;

	r = _vcpu_run(v);
	TEST_ASSERT(!r, "%s: KVM_RUN of vCPU %u on CPU %d returned %d, errno %d", what, v->id,
		    cpu, r, errno);
	if (run->exit_reason == KVM_EXIT_FAIL_ENTRY) {
		TEST_ASSERT(run->fail_entry.hardware_entry_failure_reason ==
			    KVM_EXIT_FAIL_ENTRY_NO_VSFILE && run->fail_entry.cpu == cpu,
			    "%s: vCPU %u on CPU %d: FAIL_ENTRY with reason 0x%llx, cpu %u; expected "
			    "reason 0x%llx (no VS-file), cpu %d", what, v->id, cpu,
			    run->fail_entry.hardware_entry_failure_reason, run->fail_entry.cpu,
			    KVM_EXIT_FAIL_ENTRY_NO_VSFILE, cpu);
		return 0;
	}
	switch (get_ucall(v, &uc)) {
	case UCALL_SYNC:
		*claim = uc.args[1];
		return 1;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
		break;
	}
	TEST_FAIL("%s: vCPU %u on CPU %d: exit %u (%s)", what, v->id, cpu, run->exit_reason,
		  exit_reason_str(run->exit_reason));
	return 0;
}

/* Runs v once on cpu; want: 1 enters (and claims 'cl'), 0 fails entry. */
static void expect_run(struct kvm_vcpu *v, int cpu, int want, u64 cl, const char *what)
{
	u64 claim = 0;
	int r;

	pin_thread(pthread_self(), cpu);
	r = run_once(v, cpu, &claim, what);
	TEST_ASSERT(r == want, "%s: vCPU %u on CPU %d %s", what, v->id, cpu,
		    r ? "entered the guest, expected FAIL_ENTRY (no guest file)" :
		    "failed entry (no guest file), expected to enter");
	TEST_ASSERT(!r || claim == cl, "%s: vCPU %u on CPU %d claimed 0x%lx, expected 0x%lx",
		    what, v->id, cpu, claim, cl);
}

#define CLAIM(id)	(((u64)(id) << 16) | (id))

/* A hwaccel VM of n vCPUs running guest_claims, the device initialized. */
static struct kvm_vm *over_vm(int n, struct kvm_vcpu **vcpus)
{
	struct kvm_vm *v = vm_create_with_vcpus(n, guest_claims, vcpus);

	virt_map(v, IMSIC_GPA, IMSIC_GPA, n);
	aia_setup(v, n, KVM_DEV_RISCV_AIA_MODE_HWACCEL);
	return v;
}

/* The over scenario: returns the guest files a CPU has (g). */
static int scenario_over(int n, int g)
{
	struct kvm_vcpu *vcpus[MAX_VCPUS];
	u64 claim;
	int i, entered = 0, failed = 0, k;

	TEST_ASSERT(nr_cpus >= 2, "the over scenario needs two host CPUs");
	vm = over_vm(n, vcpus);

	/* on CPU 0, one after the other: the first g enter, the others fail */
	pin_thread(pthread_self(), 0);
	for (i = 0; i < n; i++) {
		k = run_once(vcpus[i], 0, &claim, "first runs on CPU 0");
		TEST_ASSERT(!k || claim == 0, "vCPU %d claimed 0x%lx, nothing was sent", i, claim);
		TEST_ASSERT(!(k && failed), "vCPU %d entered on CPU 0 after vCPU %d failed", i,
			    entered);
		entered += k;
		failed |= !k;
	}
	printf("hwaccel, %d vCPUs on CPU 0: %d entered the guest, %d came back with "
	       "FAIL_ENTRY (no VS-file, cpu 0)\n", n, entered, n - entered);
	TEST_ASSERT(entered > 0 && entered < n, "%d of %d vCPUs entered on CPU 0", entered, n);
	TEST_ASSERT(!g || entered == g, "%d vCPUs got a guest file on CPU 0, expected %d", entered, g);
	g = entered;
	TEST_ASSERT(n - g <= g, "too many vCPUs (%d) for the over scenario with %d guest files", n, g);

	/* again: the files stay with the vCPUs that hold them */
	for (i = g; i < n; i++)
		expect_run(vcpus[i], 0, 0, 0, "retry on CPU 0");
	for (i = 0; i < g; i++)
		expect_run(vcpus[i], 0, 1, 0, "holders again on CPU 0");

	/* an MSI to a vCPU that failed entry is kept; claimed on CPU 1 */
	TEST_ASSERT(msi(g, 7) >= 0, "KVM_SIGNAL_MSI to vCPU %d: errno %d", g, errno);
	TEST_ASSERT(msi(1, 9) >= 0, "KVM_SIGNAL_MSI to vCPU 1: errno %d", errno);
	expect_run(vcpus[g], 0, 0, 0, "after the MSI, on CPU 0");
	for (i = g; i < n; i++)
		expect_run(vcpus[i], 1, 1, i == g ? CLAIM(7) : 0, "first runs on CPU 1");
	expect_run(vcpus[g], 1, 1, 0, "again on CPU 1");
	expect_run(vcpus[1], 0, 1, CLAIM(9), "holder on CPU 0 after an MSI");

	/* vCPU 0 to CPU 1 frees a file on CPU 0 for vCPU g, not for g + 1 */
	expect_run(vcpus[0], 1, 1, 0, "vCPU 0 moved to CPU 1");
	expect_run(vcpus[g], 0, 1, 0, "vCPU g moved to CPU 0 after vCPU 0 left");
	if (g + 1 < n)
		expect_run(vcpus[g + 1], 0, 0, 0, "vCPU g + 1 moved to CPU 0: full again");
	expect_run(vcpus[0], 0, 0, 0, "vCPU 0 back to CPU 0: full");
	expect_run(vcpus[0], 1, 1, 0, "vCPU 0 still runs on CPU 1");
	close(aia_fd);
	kvm_vm_free(vm);

	/* a VM destroyed gives its files back: g on CPU 0 again, not g + 1 */
	vm = over_vm(g + 1, vcpus);
	for (i = 0; i <= g; i++)
		expect_run(vcpus[i], 0, i < g, 0, "a new VM on CPU 0");
	expect_run(vcpus[g], 1, 1, 0, "the new VM's last vCPU on CPU 1");
	close(aia_fd);
	kvm_vm_free(vm);
	unpin_self();
	printf("the files held stay held, a move frees one, a destroyed VM frees all: "
	       "%d guest files a CPU\n", g);
	return g;
}

static void usage(const char *name)
{
	printf("usage: %s [-s migrate|auto|over] [-m emul|hwaccel|auto] [-n VCPUS] [-t SECONDS] [-g FILES]\n"
	       "  -s: the scenario (default migrate; see the top of aia_stress.c)\n"
	       "  -m: the AIA device's mode for migrate (default hwaccel; auto uses auto, over hwaccel)\n"
	       "  -n: vCPUs, at most %d (default 4 for migrate, 8 otherwise)\n"
	       "  -t: seconds of migration under load (default 20)\n"
	       "  -g: guest files of a host CPU (default 0: what the over probe finds)\n",
	       name, MAX_VCPUS);
}

int main(int argc, char *argv[])
{
	const char *scen = "migrate";
	double secs = 20, t0 = now();
	int opt, n = 0, g = 0, m = KVM_DEV_RISCV_AIA_MODE_HWACCEL;

	while ((opt = getopt(argc, argv, "hs:m:n:t:g:")) != -1) {
		switch (opt) {
		case 's':
			scen = optarg;
			break;
		case 'm':
			for (m = 0; m < 3 && strcmp(optarg, mode_name[m]); m++)
				;
			if (m == 3) {
				usage(argv[0]);
				exit(1);
			}
			break;
		case 'n':
			n = atoi(optarg);
			break;
		case 't':
			secs = atof(optarg);
			break;
		case 'g':
			g = atoi(optarg);
			break;
		default:
			usage(argv[0]);
			exit(opt == 'h' ? 0 : 1);
		}
	}
	nr_cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (nr_cpus > 2)
		nr_cpus = 2;
	setbuf(stdout, NULL);

	if (!strcmp(scen, "migrate")) {
		mode = m;
		n = n ? n : 4;
		TEST_ASSERT(n >= 1 && n <= MAX_VCPUS, "-n %d", n);
		scenario_migrate(n, secs);
	} else if (!strcmp(scen, "auto")) {
		mode = KVM_DEV_RISCV_AIA_MODE_AUTO;
		n = n ? n : 8;
		TEST_ASSERT(n >= 2 && n <= MAX_VCPUS, "-n %d", n);
		if (!g) {
			mode = KVM_DEV_RISCV_AIA_MODE_HWACCEL;
			g = scenario_over(n, 0);
			mode = KVM_DEV_RISCV_AIA_MODE_AUTO;
		}
		scenario_auto(n, g, secs);
	} else if (!strcmp(scen, "over")) {
		mode = KVM_DEV_RISCV_AIA_MODE_HWACCEL;
		n = n ? n : 8;
		TEST_ASSERT(n >= 2 && n <= MAX_VCPUS, "-n %d", n);
		scenario_over(n, g);
	} else {
		usage(argv[0]);
		exit(1);
	}
	printf("PASS: %s, %.1f s\n", scen, now() - t0);
	return 0;
}
