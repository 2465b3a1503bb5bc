// SPDX-License-Identifier: GPL-2.0
/*
 * One pass over every allocation path of kvm.ko, for the module leak loop
 * (tools/testing/host/mode-leak, make leak): the loop loads the module, runs
 * this, unloads it, 30 times, and then asks kmemleak and /proc/meminfo
 * whether anything the module allocated was left behind.
 *
 * In one VM:
 *  - two vCPUs (each with its vector register buffers when the host has V,
 *    its PMU state, timer, SBI and AIA contexts);
 *  - the in-kernel AIA irqchip: KVM_CREATE_DEVICE(KVM_DEV_TYPE_RISCV_AIA),
 *    its config (hart index bits, sources, hardware-accelerated mode when
 *    the host has guest interrupt files), the APLIC and one IMSIC address
 *    per vCPU, KVM_DEV_RISCV_AIA_CTRL_INIT (the APLIC state, each vCPU's
 *    IMSIC state and software file; its guest interrupt file on first run);
 *  - a memslot with KVM_MEM_LOG_DIRTY_PAGES (its dirty bitmap) that both
 *    vCPUs write page by page: demand faults that fill the G-stage page
 *    tables; then KVM_GET_DIRTY_LOG, and, with
 *    KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, KVM_CLEAR_DIRTY_LOG (write
 *    protection) and a second pass of writes (write-protection faults);
 *  - from each vCPU, SBI PMU calls: the snapshot shared memory set, a
 *    firmware counter and a hardware one (a host perf event) configured,
 *    started with INIT_SNAPSHOT, stopped with TAKE_SNAPSHOT, read, started
 *    again and left running, so that vCPU teardown releases a live counter
 *    and the snapshot buffer;
 *  - from each vCPU, the SBI steal-time (STA) shared memory set, updated on
 *    every vCPU load;
 *  - KVM_GET_STATS_FD on the VM and on each vCPU, header, descriptors and
 *    data read.
 * Then the VM is freed. Exits 0 when every step worked; 4 (KSFT_SKIP) only
 * when the host lacks a feature (AIA device, SBI PMU, STA).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kvm_util.h"
#include "processor.h"
#include "sbi.h"
#include "ucall_common.h"

#define NR_VCPUS	2

/* Guest physical addresses (identity-mapped in the guest). */
#define APLIC_GPA	0x0c000000UL
#define IMSIC_GPA	0x28000000UL	/* vCPU i's interrupt file at + i * 4 KiB */
#define SHMEM_GPA	0x40000000UL	/* PMU snapshots (a page per vCPU), then STA */
#define SHMEM_SLOT	1
#define SHMEM_PAGES	(NR_VCPUS + 1)
#define STA_GPA		(SHMEM_GPA + NR_VCPUS * 0x1000UL)
#define STA_SIZE	64
#define DIRTY_GPA	0x41000000UL
#define DIRTY_SLOT	2
#define DIRTY_PAGES	256		/* half per vCPU */

enum { SYNC_WRITTEN = 1, SYNC_REWRITTEN };

/* ---- guest ---- */

static unsigned long page_size;

static struct sbiret pmu(int fid, unsigned long a0, unsigned long a1, unsigned long a2,
			 unsigned long a3)
{
	return sbi_ecall(SBI_EXT_PMU, fid, a0, a1, a2, a3, 0, 0);
}

static void touch_pages(int cpu, u64 pass)
{
	unsigned long per = DIRTY_PAGES / NR_VCPUS, i;

	for (i = 0; i < per; i++) {
		u64 *p = (u64 *)(DIRTY_GPA + (cpu * per + i) * page_size);

		WRITE_ONCE(*p, pass << 32 | i);
	}
}

static void guest_code(int cpu)
{
	struct riscv_pmu_snapshot_data *snap = (void *)(SHMEM_GPA + cpu * 0x1000UL);
	unsigned long num, mask, fw, hw = -1UL;
	struct sbiret r;
	long probe = 0;

	/* Steal time: the shared memory of this vCPU. */
	GUEST_ASSERT(guest_sbi_probe_extension(SBI_EXT_STA, &probe) && probe == 1);
	r = sbi_ecall(SBI_EXT_STA, 0, STA_GPA + cpu * STA_SIZE, 0, 0, 0, 0, 0);
	__GUEST_ASSERT(!r.error, "STA set_shmem: error %ld", r.error);

	/* PMU: snapshot shared memory, a firmware and a hardware counter. */
	GUEST_ASSERT(guest_sbi_probe_extension(SBI_EXT_PMU, &probe) && probe == 1);
	r = pmu(SBI_EXT_PMU_NUM_COUNTERS, 0, 0, 0, 0);
	GUEST_ASSERT(!r.error && r.value > 0);
	num = r.value;
	mask = num >= BITS_PER_LONG ? ~0UL : BIT(num) - 1;
	r = pmu(SBI_EXT_PMU_SNAPSHOT_SET_SHMEM, (unsigned long)snap, 0, 0, 0);
	__GUEST_ASSERT(!r.error, "snapshot_set_shmem: error %ld", r.error);

	r = pmu(SBI_EXT_PMU_COUNTER_CFG_MATCH, 0, mask, 0,
		(unsigned long)SBI_PMU_EVENT_TYPE_FW << 16 | SBI_PMU_FW_ACCESS_LOAD);
	__GUEST_ASSERT(!r.error, "cfg_match(firmware): error %ld", r.error);
	fw = r.value;
	r = pmu(SBI_EXT_PMU_COUNTER_START, fw, 1, SBI_PMU_START_FLAG_SET_INIT_VALUE, 0);
	__GUEST_ASSERT(!r.error, "start(firmware): error %ld", r.error);
	r = sbi_ecall(SBI_EXT_PMU, SBI_EXT_PMU_COUNTER_FW_READ, fw, 0, 0, 0, 0, 0);
	__GUEST_ASSERT(!r.error, "fw_read: error %ld", r.error);

	r = pmu(SBI_EXT_PMU_COUNTER_CFG_MATCH, 0, mask & ~BIT(fw), 0, SBI_PMU_HW_CPU_CYCLES);
	if (!r.error) {
		hw = r.value;
		WRITE_ONCE(snap->ctr_values[0], 100);
		r = pmu(SBI_EXT_PMU_COUNTER_START, hw, 1, SBI_PMU_START_FLAG_INIT_SNAPSHOT, 0);
		__GUEST_ASSERT(!r.error, "start(cycles, init snapshot): error %ld", r.error);
	}

	touch_pages(cpu, SYNC_WRITTEN);

	if (hw != -1UL) {
		r = pmu(SBI_EXT_PMU_COUNTER_STOP, hw, 1, SBI_PMU_STOP_FLAG_TAKE_SNAPSHOT, 0);
		__GUEST_ASSERT(!r.error, "stop(cycles, take snapshot): error %ld", r.error);
		GUEST_ASSERT(READ_ONCE(snap->ctr_values[0]) >= 100);
	}
	GUEST_SYNC(SYNC_WRITTEN);

	touch_pages(cpu, SYNC_REWRITTEN);
	/* Left running: vCPU teardown releases them. */
	if (hw != -1UL) {
		r = pmu(SBI_EXT_PMU_COUNTER_START, hw, 1, 0, 0);
		__GUEST_ASSERT(!r.error, "start(cycles): error %ld", r.error);
	}
	GUEST_SYNC(SYNC_REWRITTEN);
	GUEST_DONE();
}

/* ---- host ---- */

static void run_until(struct kvm_vcpu *vcpu, u64 want)
{
	struct ucall uc;

	vcpu_run(vcpu);
	switch (get_ucall(vcpu, &uc)) {
	case UCALL_SYNC:
		TEST_ASSERT(uc.args[1] == want, "vCPU %u: sync %lu, expected %lu",
			    vcpu->id, uc.args[1], want);
		break;
	case UCALL_DONE:
		TEST_ASSERT(want == 0, "vCPU %u: done, expected sync %lu", vcpu->id, want);
		break;
	case UCALL_ABORT:
		REPORT_GUEST_ASSERT(uc);
	default:
		TEST_FAIL("vCPU %u: exit reason %u (%s), ucall %lu", vcpu->id,
			  vcpu->run->exit_reason, exit_reason_str(vcpu->run->exit_reason), uc.cmd);
	}
}

static void aia_attr(int fd, u32 group, u64 attr, u64 val, bool is_addr)
{
	u32 v32 = val;

	kvm_device_attr_set(fd, group, attr, is_addr ? (void *)&val : (void *)&v32);
}

/* Returns the mode the irqchip runs in. */
static const char *setup_aia(struct kvm_vm *vm)
{
	u32 mode = 0;
	int fd, i;

	fd = __kvm_create_device(vm, KVM_DEV_TYPE_RISCV_AIA);
	__TEST_REQUIRE(fd >= 0, "no in-kernel AIA irqchip (KVM_CREATE_DEVICE)");
	kvm_device_attr_get(fd, KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_MODE, &mode);
	if (mode != KVM_DEV_RISCV_AIA_MODE_EMUL)
		aia_attr(fd, KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_MODE,
			 mode = KVM_DEV_RISCV_AIA_MODE_HWACCEL, false);
	aia_attr(fd, KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_SRCS, 32, false);
	/* One bit of hart index: the two IMSICs share a base. */
	aia_attr(fd, KVM_DEV_RISCV_AIA_GRP_CONFIG, KVM_DEV_RISCV_AIA_CONFIG_HART_BITS, 1, false);
	aia_attr(fd, KVM_DEV_RISCV_AIA_GRP_ADDR, KVM_DEV_RISCV_AIA_ADDR_APLIC, APLIC_GPA, true);
	for (i = 0; i < NR_VCPUS; i++)
		aia_attr(fd, KVM_DEV_RISCV_AIA_GRP_ADDR, KVM_DEV_RISCV_AIA_ADDR_IMSIC(i),
			 IMSIC_GPA + i * 0x1000UL, true);
	kvm_device_attr_set(fd, KVM_DEV_RISCV_AIA_GRP_CTRL, KVM_DEV_RISCV_AIA_CTRL_INIT, NULL);
	/* The device fd stays open: the VM's teardown closes it. */
	return mode == KVM_DEV_RISCV_AIA_MODE_EMUL ? "emul" : "hwaccel";
}

/* Header, descriptors and every value of a binary stats fd; then closes it. */
static u64 read_stats(int fd)
{
	struct kvm_stats_header header;
	struct kvm_stats_desc *descs, *d;
	u64 data[256], n = 0;
	int i;

	read_stats_header(fd, &header);
	descs = read_stats_descriptors(fd, &header);
	for (i = 0; i < header.num_desc; i++) {
		d = get_stats_descriptor(descs, i, &header);
		TEST_ASSERT(d->size <= ARRAY_SIZE(data), "stat %s: %u values", d->name, d->size);
		read_stat_data(fd, &header, d, data, d->size);
		n++;
	}
	free(descs);
	close(fd);
	return n;
}

static unsigned int count_bits(unsigned long *bm, unsigned int n)
{
	unsigned int i, c = 0;

	for (i = 0; i < n; i++)
		c += !!(bm[i / BITS_PER_LONG] & BIT(i % BITS_PER_LONG));
	return c;
}

int main(void)
{
	unsigned long bitmap[DIRTY_PAGES / BITS_PER_LONG];
	struct kvm_vcpu *vcpus[NR_VCPUS];
	unsigned int dirty1, dirty2;
	bool manual;
	const char *aia;
	struct kvm_vm *vm;
	u64 nstats;
	int i;

	vm = vm_create_with_vcpus(NR_VCPUS, guest_code, vcpus);
	TEST_REQUIRE(__vcpu_has_sbi_ext(vcpus[0], KVM_RISCV_SBI_EXT_PMU));
	TEST_REQUIRE(__vcpu_has_sbi_ext(vcpus[0], KVM_RISCV_SBI_EXT_STA));
	page_size = vm->page_size;
	sync_global_to_guest(vm, page_size);

	manual = kvm_has_cap(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
	if (manual)
		vm_enable_cap(vm, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
			      KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, SHMEM_GPA, SHMEM_SLOT,
				    SHMEM_PAGES, 0);
	virt_map(vm, SHMEM_GPA, SHMEM_GPA, SHMEM_PAGES);
	vm_userspace_mem_region_add(vm, VM_MEM_SRC_ANONYMOUS, DIRTY_GPA, DIRTY_SLOT,
				    DIRTY_PAGES, KVM_MEM_LOG_DIRTY_PAGES);
	virt_map(vm, DIRTY_GPA, DIRTY_GPA, DIRTY_PAGES);

	aia = setup_aia(vm);
	for (i = 0; i < NR_VCPUS; i++)
		vcpu_args_set(vcpus[i], 1, i);

	for (i = 0; i < NR_VCPUS; i++)
		run_until(vcpus[i], SYNC_WRITTEN);
	kvm_vm_get_dirty_log(vm, DIRTY_SLOT, bitmap);
	dirty1 = count_bits(bitmap, DIRTY_PAGES);
	TEST_ASSERT(dirty1 == DIRTY_PAGES, "dirty log: %u pages of %u", dirty1, DIRTY_PAGES);
	if (manual)
		kvm_vm_clear_dirty_log(vm, DIRTY_SLOT, bitmap, 0, DIRTY_PAGES);

	for (i = 0; i < NR_VCPUS; i++)
		run_until(vcpus[i], SYNC_REWRITTEN);
	kvm_vm_get_dirty_log(vm, DIRTY_SLOT, bitmap);
	dirty2 = count_bits(bitmap, DIRTY_PAGES);
	TEST_ASSERT(dirty2 == DIRTY_PAGES, "dirty log after the second pass: %u pages of %u",
		    dirty2, DIRTY_PAGES);

	nstats = read_stats(vm_get_stats_fd(vm));
	for (i = 0; i < NR_VCPUS; i++)
		nstats += read_stats(vcpu_get_stats_fd(vcpus[i]));

	for (i = 0; i < NR_VCPUS; i++)
		run_until(vcpus[i], 0);

	kvm_vm_free(vm);
	printf("ok: %d vCPUs, AIA %s, %u+%u pages dirtied (%s), %lu stats read\n",
	       NR_VCPUS, aia, dirty1, dirty2, manual ? "cleared in between" : "no manual clear",
	       (unsigned long)nstats);
	return 0;
}
