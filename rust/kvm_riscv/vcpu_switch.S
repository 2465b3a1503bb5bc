/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The world switch between the host (HS mode) and a guest (VS mode), and
 * the small assembly routines the vCPU code needs (unprivileged-access trap
 * handler, FP state save/restore).
 *
 * struct kvm_cpu_context keeps x0..x31 in register order, so the GPR macros
 * name registers by number: register xN of a context lives at
 * <context>_ZERO + N * SZREG. Every offset comes from the kernel's generated
 * asm-offsets; none is written here.
 *
 * SCOUNTEREN and HSTATUS are swapped by the Rust caller around the switch
 * (vcpu.rs), not here. a0 is the struct kvm_vcpu_arch pointer throughout.
 */

#include <linux/linkage.h>
#include <asm/asm.h>
#include <asm/asm-offsets.h>
#include <asm/csr.h>

/* Host registers the switch preserves: the C ABI callee-saved ones plus
 * ra/sp/gp/tp and a1-a7 (x1-x4, x8-x9, x11-x27). a0 is the argument; t0-t6
 * (x5-x7, x28-x31) are scratch. */
#define HOST_KEPT_GPRS		1, 2, 3, 4, 8, 9, 11, 12, 13, 14, 15, 16, 17, \
				18, 19, 20, 21, 22, 23, 24, 25, 26, 27
/* Guest registers moved through the context, all but x0 and a0 (x10),
 * which goes through SSCRATCH. */
#define GUEST_GPRS_BUT_A0	1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, \
				16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, \
				28, 29, 30, 31
#define GPR_A0			10

/* op xN, (base + N * SZREG)(a0), for each N of the list */
.macro GPRS_AT op, base, regs:vararg
	.irp n, \regs
	\op	x\n, (\base + \n * SZREG)(a0)
	.endr
.endm

/* 1. Save the host GPRs the switch must give back. */
.macro SAVE_HOST_GPRS
	GPRS_AT	REG_S, KVM_ARCH_HOST_ZERO, HOST_KEPT_GPRS
.endm

/*
 * 2. Install the guest's SSTATUS and SEPC and our trap vector (\resume),
 *    point SSCRATCH at the vCPU, and keep the host's values.
 */
.macro SAVE_HOST_AND_RESTORE_GUEST_CSRS resume
	REG_L	t0, KVM_ARCH_GUEST_SSTATUS(a0)
	REG_L	t2, KVM_ARCH_GUEST_SEPC(a0)
	la	t1, \resume
	csrrw	t0, CSR_SSTATUS, t0
	csrrw	t1, CSR_STVEC, t1
	csrrw	t3, CSR_SSCRATCH, a0
	csrw	CSR_SEPC, t2
	REG_S	t0, KVM_ARCH_HOST_SSTATUS(a0)
	REG_S	t1, KVM_ARCH_HOST_STVEC(a0)
	REG_S	t3, KVM_ARCH_HOST_SSCRATCH(a0)
.endm

/* 3. Load the guest GPRs; a0 last, as it holds the vCPU pointer. */
.macro RESTORE_GUEST_GPRS
	GPRS_AT	REG_L, KVM_ARCH_GUEST_ZERO, GUEST_GPRS_BUT_A0
	REG_L	a0, (KVM_ARCH_GUEST_ZERO + GPR_A0 * SZREG)(a0)
.endm

/* 4. On a trap from the guest: get the vCPU pointer back from SSCRATCH
 *    (leaving the guest's a0 there) and save the guest GPRs. */
.macro SAVE_GUEST_GPRS
	csrrw	a0, CSR_SSCRATCH, a0
	GPRS_AT	REG_S, KVM_ARCH_GUEST_ZERO, GUEST_GPRS_BUT_A0
.endm

/*
 * 5. Give the host its SSTATUS, STVEC and SSCRATCH back; keep the guest's
 *    SSTATUS, SEPC and a0 (from SSCRATCH).
 */
.macro SAVE_GUEST_AND_RESTORE_HOST_CSRS
	REG_L	t0, KVM_ARCH_HOST_SSTATUS(a0)
	REG_L	t1, KVM_ARCH_HOST_STVEC(a0)
	REG_L	t2, KVM_ARCH_HOST_SSCRATCH(a0)
	csrrw	t0, CSR_SSTATUS, t0
	csrw	CSR_STVEC, t1
	csrrw	t2, CSR_SSCRATCH, t2
	csrr	t3, CSR_SEPC
	REG_S	t0, KVM_ARCH_GUEST_SSTATUS(a0)
	REG_S	t2, (KVM_ARCH_GUEST_ZERO + GPR_A0 * SZREG)(a0)
	REG_S	t3, KVM_ARCH_GUEST_SEPC(a0)
.endm

/* 6. Reload the host GPRs saved by SAVE_HOST_GPRS. */
.macro RESTORE_HOST_GPRS
	GPRS_AT	REG_L, KVM_ARCH_HOST_ZERO, HOST_KEPT_GPRS
.endm

	.text
	.option norelax

/*
 * void __kvm_riscv_switch_to(struct kvm_vcpu_arch *arch)
 * Runs the guest until it traps to HS mode.
 */
SYM_FUNC_START(__kvm_riscv_switch_to)
	SAVE_HOST_GPRS
	SAVE_HOST_AND_RESTORE_GUEST_CSRS .Lswitch_back
	RESTORE_GUEST_GPRS
	sret

	.align 2
.Lswitch_back:
	SAVE_GUEST_GPRS
	SAVE_GUEST_AND_RESTORE_HOST_CSRS
	RESTORE_HOST_GPRS
	ret
SYM_FUNC_END(__kvm_riscv_switch_to)

/*
 * void __kvm_riscv_nacl_switch_to(struct kvm_vcpu_arch *arch,
 *				   unsigned long ext, unsigned long fid)
 * Runs the guest through SBI nested acceleration: the caller has put the
 * guest GPRs in the NACL shared memory, and SBI call (ext, fid), i.e.
 * SYNC_SRET, enters the guest. Its traps come back here as above.
 */
SYM_FUNC_START(__kvm_riscv_nacl_switch_to)
	SAVE_HOST_GPRS
	SAVE_HOST_AND_RESTORE_GUEST_CSRS .Lnacl_switch_back
	mv	a7, a1
	mv	a6, a2
	ecall

	.align 2
.Lnacl_switch_back:
	SAVE_GUEST_GPRS
	SAVE_GUEST_AND_RESTORE_HOST_CSRS
	RESTORE_HOST_GPRS
	ret
SYM_FUNC_END(__kvm_riscv_nacl_switch_to)

/*
 * Trap vector while the host reads guest memory with HLV/HLVX: record the
 * trap in the struct kvm_cpu_trap at a0 and skip the 4-byte access.
 * a1 is scratch.
 */
SYM_CODE_START(__kvm_riscv_unpriv_trap)
	csrr	a1, CSR_SEPC
	REG_S	a1, KVM_ARCH_TRAP_SEPC(a0)
	addi	a1, a1, 4
	csrw	CSR_SEPC, a1
	csrr	a1, CSR_SCAUSE
	REG_S	a1, KVM_ARCH_TRAP_SCAUSE(a0)
	csrr	a1, CSR_STVAL
	REG_S	a1, KVM_ARCH_TRAP_STVAL(a0)
	csrr	a1, CSR_HTVAL
	REG_S	a1, KVM_ARCH_TRAP_HTVAL(a0)
	csrr	a1, CSR_HTINST
	REG_S	a1, KVM_ARCH_TRAP_HTINST(a0)
	sret
SYM_CODE_END(__kvm_riscv_unpriv_trap)

#ifdef CONFIG_FPU
#define FPRS	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, \
		16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31

/* op fN, (f0 + N * size)(a0), for each FP register */
.macro FPRS_AT op, f0, size
	.irp n, FPRS
	\op	f\n, (\f0 + \n * \size)(a0)
	.endr
.endm

/*
 * FP save/restore of a struct kvm_cpu_context at a0: turn SSTATUS.FS on
 * around the accesses, then put SSTATUS back. t0-t2 are scratch.
 */
.macro FP_SAVE op, f0, size, fcsr
	csrr	t2, CSR_SSTATUS
	li	t1, SR_FS
	csrs	CSR_SSTATUS, t1
	frcsr	t0
	FPRS_AT	\op, \f0, \size
	sw	t0, \fcsr(a0)
	csrw	CSR_SSTATUS, t2
	ret
.endm

.macro FP_RESTORE op, f0, size, fcsr
	csrr	t2, CSR_SSTATUS
	li	t1, SR_FS
	lw	t0, \fcsr(a0)
	csrs	CSR_SSTATUS, t1
	FPRS_AT	\op, \f0, \size
	fscsr	t0
	csrw	CSR_SSTATUS, t2
	ret
.endm

SYM_FUNC_START(__kvm_riscv_fp_f_save)
	FP_SAVE		fsw, KVM_ARCH_FP_F_F0, 4, KVM_ARCH_FP_F_FCSR
SYM_FUNC_END(__kvm_riscv_fp_f_save)

SYM_FUNC_START(__kvm_riscv_fp_d_save)
	FP_SAVE		fsd, KVM_ARCH_FP_D_F0, 8, KVM_ARCH_FP_D_FCSR
SYM_FUNC_END(__kvm_riscv_fp_d_save)

SYM_FUNC_START(__kvm_riscv_fp_f_restore)
	FP_RESTORE	flw, KVM_ARCH_FP_F_F0, 4, KVM_ARCH_FP_F_FCSR
SYM_FUNC_END(__kvm_riscv_fp_f_restore)

SYM_FUNC_START(__kvm_riscv_fp_d_restore)
	FP_RESTORE	fld, KVM_ARCH_FP_D_F0, 8, KVM_ARCH_FP_D_FCSR
SYM_FUNC_END(__kvm_riscv_fp_d_restore)
#endif
