// SPDX-License-Identifier: GPL-2.0
/*
 * ONE_REG conformance dump. Writes to stdout (or to -o FILE) one line per
 * ONE_REG operation (register id, what, operation, errno, value),
 * deterministic for a given kvm.ko, host and kernel, so that the dumps of our module and of upstream C
 * (tools/testing/host/mode-onereg, in one boot) can be compared byte for byte.
 *
 * Two phases, each on a fresh VM with one vCPU:
 *   pre   the vCPU has never run;
 *   post  the vCPU ran once (the guest does GUEST_DONE).
 * In each phase:
 *   - KVM_GET_REG_LIST (too small, then full; ids sorted) and a GET of each
 *     listed id (values only of CONFIG, ISA_EXT, SBI_EXT and timer frequency:
 *     the others hold guest pointers or time); then user counts past 32 bits
 *     (upstream keeps only the low 32 bits of n);
 *   - the CONFIG registers, a few CORE ids;
 *   - every ISA extension id 0..KVM_RISCV_ISA_EXT_MAX+4 and every SBI
 *     extension id 0..KVM_RISCV_SBI_EXT_MAX+4 (inclusive): GET, SET 1, SET 0, SET 2, GET,
 *     then SET back to the first GET's value and GET (all recorded);
 *   - the ISA/SBI MULTI_EN/MULTI_DIS registers, indices 0..LAST+2: GET, and
 *     a disable-all (MULTI_DIS of ~0) / re-enable (MULTI_EN of the first
 *     value) round on indices 0..LAST+1;
 *   - malformed ids: wrong size, wrong type, wrong subtype, out-of-range
 *     index, a bogus type, another architecture's bits;
 *   - FP and vector registers at the edges of their index spaces;
 *   - the timer registers (sizes, indices, and their semantics) and the SBI
 *     state registers (STA, FWFT, and subtypes without an extension).
 * Ziccrse gets its own lines ("ziccrse PHASE start|end ..."), at the start and
 * the end of each phase's walk; the program exits 1 unless Ziccrse reads as 1
 * and SET 0 fails, every time.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "kvm_util.h"
#include "processor.h"
#include "ucall_common.h"

#define ULONG_SZ	KVM_REG_SIZE_ULONG
#define ID(type, sub, idx)	(KVM_REG_RISCV | ULONG_SZ | (u64)(type) | (u64)(sub) | (u64)(idx))
#define ISA_ID(sub, idx)	ID(KVM_REG_RISCV_ISA_EXT, sub, idx)
#define SBI_ID(sub, idx)	ID(KVM_REG_RISCV_SBI_EXT, sub, idx)
#define NR_CONFIG_REGS		(sizeof(struct kvm_riscv_config) / sizeof(unsigned long))
#define NR_CORE_REGS		(sizeof(struct kvm_riscv_core) / sizeof(unsigned long))

static const char *phase;
static FILE *out;
static int failures;
static unsigned long nlines;

static void guest_code(void)
{
	GUEST_DONE();
}

static const char *errname(int e)
{
	switch (e) {
	case 0: return "OK";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EIO: return "EIO";
	case ENXIO: return "ENXIO";
	case E2BIG: return "E2BIG";
	case ENOMEM: return "ENOMEM";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EINVAL: return "EINVAL";
	case ENOSPC: return "ENOSPC";
	case ERANGE: return "ERANGE";
	case ENOSYS: return "ENOSYS";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case 524: return "ENOTSUPP";
	default: return "E?";
	}
}

static void line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void line(const char *fmt, ...)
{
	va_list ap;

	fprintf(out, "%s ", phase);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	nlines++;
}

/* Room for the largest register a listed id may name. */
static u8 buf[4096] __attribute__((aligned(64)));

static size_t reg_size(u64 id)
{
	size_t sz = KVM_REG_SIZE(id);

	return sz > sizeof(buf) ? sizeof(buf) : sz;
}

/* The value in buf, as text: a number up to 8 bytes, else the bytes in hex. */
static const char *val_str(u64 id)
{
	static char s[2 * sizeof(buf) + 8];
	size_t sz = reg_size(id), i;
	u64 v = 0;

	if (sz <= 8) {
		memcpy(&v, buf, sz);
		snprintf(s, sizeof(s), "0x%llx", (unsigned long long)v);
		return s;
	}
	strcpy(s, "bytes:");
	for (i = 0; i < sz; i++)
		sprintf(s + 6 + 2 * i, "%02x", buf[i]);
	return s;
}

/* GET into buf (zeroed first): 0 or the errno. */
static int raw_get(struct kvm_vcpu *vcpu, u64 id)
{
	struct kvm_one_reg reg = { .id = id, .addr = (u64)(unsigned long)buf };

	memset(buf, 0, sizeof(buf));
	return ioctl(vcpu->fd, KVM_GET_ONE_REG, &reg) ? errno : 0;
}

/* SET of val (in the first 8 bytes, the rest zero): 0 or the errno. */
static int raw_set(struct kvm_vcpu *vcpu, u64 id, u64 val)
{
	struct kvm_one_reg reg = { .id = id, .addr = (u64)(unsigned long)buf };

	memset(buf, 0, sizeof(buf));
	memcpy(buf, &val, sizeof(val));
	return ioctl(vcpu->fd, KVM_SET_ONE_REG, &reg) ? errno : 0;
}

/* GET and record; *out gets the value (up to 8 bytes) on success. */
static int get(struct kvm_vcpu *vcpu, const char *what, u64 id, bool show_val, u64 *out)
{
	int e = raw_get(vcpu, id);

	if (e)
		line("0x%016llx %s get %s(%d)", (unsigned long long)id, what, errname(e), e);
	else if (show_val)
		line("0x%016llx %s get OK val=%s", (unsigned long long)id, what, val_str(id));
	else
		line("0x%016llx %s get OK", (unsigned long long)id, what);
	if (!e && out) {
		*out = 0;
		memcpy(out, buf, reg_size(id) < 8 ? reg_size(id) : 8);
	}
	return e;
}

static int set(struct kvm_vcpu *vcpu, const char *what, u64 id, u64 val, const char *op)
{
	int e = raw_set(vcpu, id, val);

	line("0x%016llx %s %s=0x%llx %s(%d)", (unsigned long long)id, what, op,
	     (unsigned long long)val, errname(e), e);
	return e;
}

/* GET, SET 1, SET 0, SET 2, GET, SET back to the first value, GET. */
static void walk_one(struct kvm_vcpu *vcpu, const char *what, u64 id)
{
	u64 orig = 0;
	int e;

	e = get(vcpu, what, id, true, &orig);
	set(vcpu, what, id, 1, "set");
	set(vcpu, what, id, 0, "set");
	set(vcpu, what, id, 2, "set");
	get(vcpu, what, id, true, NULL);
	if (!e) {
		set(vcpu, what, id, orig, "restore");
		get(vcpu, what, id, true, NULL);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/* Registers whose value is the same on every run with the same host. */
static bool stable_value(u64 id)
{
	switch (id & KVM_REG_RISCV_TYPE_MASK) {
	case KVM_REG_RISCV_CONFIG:
	case KVM_REG_RISCV_ISA_EXT:
	case KVM_REG_RISCV_SBI_EXT:
		return true;
	case KVM_REG_RISCV_TIMER:
		return id == RISCV_TIMER_REG(frequency);
	default:
		return false;
	}
}

static void dump_reg_list(struct kvm_vcpu *vcpu)
{
	struct kvm_reg_list probe = { .n = 0 }, *list;
	u64 i, n;
	int e;

	e = ioctl(vcpu->fd, KVM_GET_REG_LIST, &probe) ? errno : 0;
	line("reg_list n=0 %s(%d) n=%llu", errname(e), e, (unsigned long long)probe.n);
	n = probe.n;
	list = calloc(1, sizeof(*list) + (n + 1) * sizeof(u64));
	TEST_ASSERT(list, "calloc");
	list->n = n + 1;
	e = ioctl(vcpu->fd, KVM_GET_REG_LIST, list) ? errno : 0;
	line("reg_list n=%llu %s(%d) n=%llu", (unsigned long long)(n + 1), errname(e), e,
	     (unsigned long long)list->n);
	if (e) {
		free(list);
		return;
	}
	qsort(list->reg, list->n, sizeof(u64), cmp_u64);
	for (i = 0; i < list->n; i++)
		get(vcpu, "listed", list->reg[i], stable_value(list->reg[i]), NULL);

	/*
	 * Upstream keeps the user's n in an unsigned int: only its low 32 bits
	 * count. 2^32 + 1 holds too few ids (E2BIG); ~0 and 2^32 + n hold them
	 * all. The buffer has room for every id, so a module that compared the
	 * whole u64 would copy them and succeed where upstream fails.
	 */
	{
		const u64 ns[] = { (1ULL << 32) + 1, ~0ULL, (1ULL << 32) + n };

		for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
			list->n = ns[i];
			e = ioctl(vcpu->fd, KVM_GET_REG_LIST, list) ? errno : 0;
			line("reg_list n=%#llx %s(%d) n=%llu", (unsigned long long)ns[i], errname(e), e,
			     (unsigned long long)list->n);
		}
	}
	free(list);
}

static void walk_config_core(struct kvm_vcpu *vcpu)
{
	u64 i, isa = 0;

	for (i = 0; i < NR_CONFIG_REGS + 2; i++)
		get(vcpu, "config", ID(KVM_REG_RISCV_CONFIG, 0, i), true, NULL);
	if (!get(vcpu, "config.isa", RISCV_CONFIG_REG(isa), true, &isa))
		set(vcpu, "config.isa", RISCV_CONFIG_REG(isa), isa, "set");
	set(vcpu, "config.isa", RISCV_CONFIG_REG(isa), isa | (1UL << 26), "set");
	get(vcpu, "config.isa", RISCV_CONFIG_REG(isa), true, NULL);

	get(vcpu, "core.pc", RISCV_CORE_REG(regs.pc), false, NULL);
	get(vcpu, "core.mode", RISCV_CORE_REG(mode), true, NULL);
	get(vcpu, "core.end", ID(KVM_REG_RISCV_CORE, 0, NR_CORE_REGS), false, NULL);
	get(vcpu, "core.big", ID(KVM_REG_RISCV_CORE, 0, 0xffff), false, NULL);
	set(vcpu, "core.end", ID(KVM_REG_RISCV_CORE, 0, NR_CORE_REGS), 0, "set");
}

/* Ziccrse: readable as 1, SET 0 refused. */
static void check_ziccrse(struct kvm_vcpu *vcpu, const char *when)
{
	u64 id = ISA_ID(KVM_REG_RISCV_ISA_SINGLE, KVM_RISCV_ISA_EXT_ZICCRSE);
	u64 v = 0;
	int ge, se;

	ge = raw_get(vcpu, id);
	if (!ge)
		memcpy(&v, buf, sizeof(v));
	se = raw_set(vcpu, id, 0);
	fprintf(out, "ziccrse %s %s get %s(%d) val=0x%llx set0 %s(%d)\n", phase, when,
		errname(ge), ge, (unsigned long long)v, errname(se), se);
	nlines++;
	if (ge || v != 1) {
		fprintf(stderr, "FAIL: %s %s: Ziccrse does not read as 1\n", phase, when);
		failures++;
	}
	if (!se) {
		fprintf(stderr, "FAIL: %s %s: SET 0 of Ziccrse succeeded\n", phase, when);
		failures++;
		raw_set(vcpu, id, 1);
	}
}

static void walk_multi(struct kvm_vcpu *vcpu, const char *what, u64 type, u64 en, u64 dis,
		       u64 last)
{
	u64 i, orig;
	int e;

	for (i = 0; i <= last + 2; i++) {
		get(vcpu, what, ID(type, en, i), true, NULL);
		get(vcpu, what, ID(type, dis, i), true, NULL);
	}
	for (i = 0; i <= last + 1; i++) {
		orig = 0;
		e = get(vcpu, what, ID(type, en, i), true, &orig);
		set(vcpu, what, ID(type, en, i), 0, "set");
		set(vcpu, what, ID(type, en, i), orig, "set");
		set(vcpu, what, ID(type, dis, i), ~0ULL, "set");
		get(vcpu, what, ID(type, en, i), true, NULL);
		get(vcpu, what, ID(type, dis, i), true, NULL);
		if (!e) {
			set(vcpu, what, ID(type, en, i), orig, "restore");
			get(vcpu, what, ID(type, en, i), true, NULL);
		}
	}
}

static void walk_malformed(struct kvm_vcpu *vcpu)
{
	static const u64 sizes[] = { KVM_REG_SIZE_U8, KVM_REG_SIZE_U16, KVM_REG_SIZE_U32,
				     KVM_REG_SIZE_U128, KVM_REG_SIZE_U256 };
	static const u64 types[] = { 0, 0x0b, 0x0c, 0x7f, 0xff };
	const u64 base[] = {
		ISA_ID(KVM_REG_RISCV_ISA_SINGLE, KVM_RISCV_ISA_EXT_ZICCRSE),
		ISA_ID(KVM_REG_RISCV_ISA_SINGLE, KVM_RISCV_ISA_EXT_A),
		ISA_ID(KVM_REG_RISCV_ISA_MULTI_EN, 0),
		SBI_ID(KVM_REG_RISCV_SBI_SINGLE, KVM_RISCV_SBI_EXT_TIME),
		SBI_ID(KVM_REG_RISCV_SBI_MULTI_DIS, 0),
		RISCV_CONFIG_REG(isa),
		RISCV_CORE_REG(regs.pc),
	};
	const u64 typemask = KVM_REG_RISCV_TYPE_MASK, submask = KVM_REG_RISCV_SUBTYPE_MASK;
	u64 id, b;
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(base); i++) {
		b = base[i];
		/* wrong size */
		for (j = 0; j < ARRAY_SIZE(sizes); j++) {
			id = (b & ~KVM_REG_SIZE_MASK) | sizes[j];
			get(vcpu, "bad-size", id, true, NULL);
			set(vcpu, "bad-size", id, 0, "set");
			set(vcpu, "bad-size", id, 1, "set");
		}
		/* bogus types */
		for (j = 0; j < ARRAY_SIZE(types); j++) {
			id = (b & ~typemask) | (types[j] << KVM_REG_RISCV_TYPE_SHIFT);
			get(vcpu, "bad-type", id, true, NULL);
			set(vcpu, "bad-type", id, 0, "set");
		}
		/* wrong subtype */
		for (j = 3; j <= 4; j++) {
			id = (b & ~submask) | ((u64)j << KVM_REG_RISCV_SUBTYPE_SHIFT);
			get(vcpu, "bad-subtype", id, true, NULL);
			set(vcpu, "bad-subtype", id, 0, "set");
		}
		id = (b & ~submask) | (0xffULL << KVM_REG_RISCV_SUBTYPE_SHIFT);
		get(vcpu, "bad-subtype", id, true, NULL);
		set(vcpu, "bad-subtype", id, 0, "set");
		/* out-of-range index */
		id = (b & ~0xffffULL) | 0xffff;
		get(vcpu, "bad-index", id, true, NULL);
		set(vcpu, "bad-index", id, 0, "set");
		id = (b & ~0xffffULL) | 0x8000;
		get(vcpu, "bad-index", id, true, NULL);
		set(vcpu, "bad-index", id, 0, "set");
		/* bits above the type */
		id = b | (1ULL << 32);
		get(vcpu, "high-bits", id, true, NULL);
		set(vcpu, "high-bits", id, 0, "set");
		/* another architecture's id with the same low bits */
		id = (b & ~KVM_REG_ARCH_MASK) | KVM_REG_ARM64;
		get(vcpu, "other-arch", id, true, NULL);
	}
	/* wrong class: ISA and SBI ids under each other's type and under others */
	for (i = 1; i <= 0x0a; i++) {
		id = ISA_ID(0, 0) & ~typemask;
		id |= ((u64)i << KVM_REG_RISCV_TYPE_SHIFT) | KVM_RISCV_ISA_EXT_ZICCRSE;
		get(vcpu, "class", id, (i == 1 || i == 7 || i == 8), NULL);
		id = (SBI_ID(0, 0) & ~typemask) | ((u64)i << KVM_REG_RISCV_TYPE_SHIFT) |
		     KVM_RISCV_SBI_EXT_MAX;
		get(vcpu, "class", id, (i == 1 || i == 7 || i == 8), NULL);
	}
	/* ISA and SBI singles far out of range */
	for (j = 0; j < 4; j++) {
		static const u64 far[] = { 0x100, 0x1000, 0xfffe, 0xffff };

		walk_one(vcpu, "isa-far", ISA_ID(KVM_REG_RISCV_ISA_SINGLE, far[j]));
		walk_one(vcpu, "sbi-far", SBI_ID(KVM_REG_RISCV_SBI_SINGLE, far[j]));
	}
}


/*
 * FP (F and D) and vector registers: every size at the edges of each
 * class's index space. GET, SET of a marker, GET (shown: the marker or
 * the errno), and the first value put back.
 */
static void walk_fp_vector(struct kvm_vcpu *vcpu)
{
	static const u64 sizes[] = { KVM_REG_SIZE_U8, KVM_REG_SIZE_U32, KVM_REG_SIZE_U64,
				     KVM_REG_SIZE_U128, KVM_REG_SIZE_U256 };
	static const u64 fidx[] = { 0, 1, 31, 32, 33, 0x100, 0xffff };
	static const u64 vidx[] = { 0, 3, 4, 5, 6, 7, 37, 38, 0x1000, 0xffff };
	static const u64 types[] = { KVM_REG_RISCV_FP_F, KVM_REG_RISCV_FP_D, KVM_REG_RISCV_VECTOR };
	unsigned int t, i, j, n;
	const u64 *idx;
	u64 id, orig;
	int e;

	for (t = 0; t < ARRAY_SIZE(types); t++) {
		idx = types[t] == KVM_REG_RISCV_VECTOR ? vidx : fidx;
		n = types[t] == KVM_REG_RISCV_VECTOR ? ARRAY_SIZE(vidx) : ARRAY_SIZE(fidx);
		for (i = 0; i < n; i++) {
			for (j = 0; j < ARRAY_SIZE(sizes); j++) {
				id = KVM_REG_RISCV | sizes[j] | types[t] | idx[i];
				orig = 0;
				e = get(vcpu, "fpv", id, false, &orig);
				set(vcpu, "fpv", id, 0x5a, "set");
				get(vcpu, "fpv", id, true, NULL);
				if (!e)
					set(vcpu, "fpv", id, orig, "restore");
			}
		}
	}
}

/*
 * Timer registers: every size at the edges of the index space, then the
 * semantics: the frequency only takes its own value, the compare value
 * sticks, the state register arms and disarms (with upstream's errno when
 * there is nothing to disarm), and time reads back what was set (within
 * 10^9 cycles: the clock runs).
 */
static void walk_timer(struct kvm_vcpu *vcpu)
{
	static const u64 sizes[] = { KVM_REG_SIZE_U8, KVM_REG_SIZE_U32, KVM_REG_SIZE_U64,
				     KVM_REG_SIZE_U128 };
	static const u64 idx[] = { 0, 1, 2, 3, 4, 5, 0x10000, 0xffff };
	const u64 freq = RISCV_TIMER_REG(frequency), time = RISCV_TIMER_REG(time);
	const u64 cmp = RISCV_TIMER_REG(compare), state = RISCV_TIMER_REG(state);
	u64 id, f = 0, c = 0, t = 0;
	unsigned int i, j;

	for (i = 0; i < ARRAY_SIZE(idx); i++) {
		for (j = 0; j < ARRAY_SIZE(sizes); j++) {
			id = KVM_REG_RISCV | sizes[j] | KVM_REG_RISCV_TIMER | idx[i];
			/* time runs; the others are stable */
			get(vcpu, "timer", id, idx[i] != 1, NULL);
			if (sizes[j] != KVM_REG_SIZE_U64 || idx[i] > 3)
				set(vcpu, "timer", id, 0, "set");
		}
	}
	get(vcpu, "timer.freq", freq, true, &f);
	set(vcpu, "timer.freq", freq, f, "set");
	set(vcpu, "timer.freq", freq, f + 1, "set");
	set(vcpu, "timer.freq", freq, 0, "set");
	get(vcpu, "timer.compare", cmp, true, &c);
	get(vcpu, "timer.state", state, true, NULL);
	set(vcpu, "timer.state", state, KVM_RISCV_TIMER_STATE_OFF, "set");
	set(vcpu, "timer.state", state, 2, "set");
	set(vcpu, "timer.compare", cmp, 0x123456789ULL, "set");
	get(vcpu, "timer.compare", cmp, true, NULL);
	set(vcpu, "timer.state", state, KVM_RISCV_TIMER_STATE_ON, "set");
	get(vcpu, "timer.state", state, true, NULL);
	set(vcpu, "timer.state", state, KVM_RISCV_TIMER_STATE_OFF, "set");
	get(vcpu, "timer.state", state, true, NULL);
	set(vcpu, "timer.state", state, KVM_RISCV_TIMER_STATE_OFF, "set");
	set(vcpu, "timer.compare", cmp, c, "restore");
	get(vcpu, "timer.compare", cmp, true, NULL);
	set(vcpu, "timer.time", time, 0x1000000000ULL, "set");
	if (!get(vcpu, "timer.time", time, false, &t))
		line("timer.time readback %s", t >= 0x1000000000ULL &&
		     t - 0x1000000000ULL < 1000000000ULL ? "close" : "FAR");
}

/*
 * SBI state registers (STA, FWFT, and subtypes no extension has): every
 * size over each subtype's index space. GET (values shown: they are the
 * reset state), SET of the value read (or of 0 after an error), GET.
 * Before the first run, also with STA disabled: its registers go away.
 */
static void walk_sbi_state(struct kvm_vcpu *vcpu)
{
	static const u64 sizes[] = { KVM_REG_SIZE_U8, KVM_REG_SIZE_U16, KVM_REG_SIZE_U32,
				     KVM_REG_SIZE_U64, KVM_REG_SIZE_U128 };
	static const u64 subs[] = { KVM_REG_RISCV_SBI_STA, KVM_REG_RISCV_SBI_FWFT,
				    2ULL << KVM_REG_RISCV_SUBTYPE_SHIFT,
				    0xffULL << KVM_REG_RISCV_SUBTYPE_SHIFT };
	static const u64 idx[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x100, 0xffff };
	const u64 sta = SBI_ID(KVM_REG_RISCV_SBI_SINGLE, KVM_RISCV_SBI_EXT_STA);
	u64 id, v;
	unsigned int s, i, j;
	int e;

	for (s = 0; s < ARRAY_SIZE(subs); s++) {
		for (i = 0; i < ARRAY_SIZE(idx); i++) {
			for (j = 0; j < ARRAY_SIZE(sizes); j++) {
				id = KVM_REG_RISCV | sizes[j] | KVM_REG_RISCV_SBI_STATE | subs[s] | idx[i];
				v = 0;
				e = get(vcpu, "sbi-state", id, true, &v);
				set(vcpu, "sbi-state", id, e ? 0 : v, "set");
				if (!e)
					get(vcpu, "sbi-state", id, true, NULL);
			}
		}
	}
	if (strcmp(phase, "pre"))
		return;
	v = 0;
	if (get(vcpu, "sbi-state.sta-ext", sta, true, &v) || !v)
		return;
	set(vcpu, "sbi-state.sta-ext", sta, 0, "set");
	get(vcpu, "sbi-state.sta-off", KVM_REG_RISCV | ULONG_SZ | KVM_REG_RISCV_SBI_STATE |
	    KVM_REG_RISCV_SBI_STA, true, NULL);
	set(vcpu, "sbi-state.sta-off", KVM_REG_RISCV | ULONG_SZ | KVM_REG_RISCV_SBI_STATE |
	    KVM_REG_RISCV_SBI_STA, 0, "set");
	set(vcpu, "sbi-state.sta-ext", sta, 1, "restore");
}

static void walk(struct kvm_vcpu *vcpu)
{
	char what[32];
	u64 i;

	dump_reg_list(vcpu);
	walk_config_core(vcpu);
	check_ziccrse(vcpu, "start");
	for (i = 0; i <= KVM_RISCV_ISA_EXT_MAX + 4; i++) {
		snprintf(what, sizeof(what), "isa[%llu]", (unsigned long long)i);
		walk_one(vcpu, what, ISA_ID(KVM_REG_RISCV_ISA_SINGLE, i));
	}
	walk_multi(vcpu, "isa-multi", KVM_REG_RISCV_ISA_EXT, KVM_REG_RISCV_ISA_MULTI_EN,
		   KVM_REG_RISCV_ISA_MULTI_DIS, KVM_REG_RISCV_ISA_MULTI_REG_LAST);
	for (i = 0; i <= KVM_RISCV_SBI_EXT_MAX + 4; i++) {
		snprintf(what, sizeof(what), "sbi[%llu]", (unsigned long long)i);
		walk_one(vcpu, what, SBI_ID(KVM_REG_RISCV_SBI_SINGLE, i));
	}
	walk_multi(vcpu, "sbi-multi", KVM_REG_RISCV_SBI_EXT, KVM_REG_RISCV_SBI_MULTI_EN,
		   KVM_REG_RISCV_SBI_MULTI_DIS, KVM_REG_RISCV_SBI_MULTI_REG_LAST);
	walk_malformed(vcpu);
	walk_fp_vector(vcpu);
	walk_timer(vcpu);
	walk_sbi_state(vcpu);
	/* Did the walk leave the vCPU as it found it? */
	dump_reg_list(vcpu);
	check_ziccrse(vcpu, "end");
}

int main(int argc, char *argv[])
{
	struct kvm_vcpu *vcpu;
	struct kvm_vm *vm;
	struct ucall uc;
	u64 cmd;

	/* The dump goes to -o FILE (else stdout): the library prints to stdout too. */
	out = stdout;
	if (argc == 3 && !strcmp(argv[1], "-o")) {
		out = fopen(argv[2], "w");
		TEST_ASSERT(out, "cannot open %s", argv[2]);
	} else if (argc != 1) {
		fprintf(stderr, "usage: %s [-o FILE]\n", argv[0]);
		return 2;
	}
	setvbuf(out, NULL, _IOFBF, 1 << 16);
	fprintf(out, "onereg_dump v1 isa_ext_max=%d sbi_ext_max=%d\n", KVM_RISCV_ISA_EXT_MAX,
		KVM_RISCV_SBI_EXT_MAX);

	/* pre: a vCPU that has never run. */
	phase = "pre";
	vm = vm_create_with_one_vcpu(&vcpu, guest_code);
	walk(vcpu);
	kvm_vm_free(vm);
	fflush(out);

	/* post: a fresh vCPU, after its first KVM_RUN. */
	phase = "post";
	vm = vm_create_with_one_vcpu(&vcpu, guest_code);
	vcpu_run(vcpu);
	cmd = get_ucall(vcpu, &uc);
	line("run exit_reason=%u ucall=%s", vcpu->run->exit_reason,
	     cmd == UCALL_DONE ? "DONE" : "OTHER");
	TEST_ASSERT(cmd == UCALL_DONE, "guest did not reach GUEST_DONE (ucall %llu)",
		    (unsigned long long)cmd);
	walk(vcpu);
	kvm_vm_free(vm);

	fprintf(out, "end lines=%lu failures=%d\n", nlines, failures);
	fclose(out);
	return failures ? 1 : 0;
}
