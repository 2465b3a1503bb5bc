// SPDX-License-Identifier: GPL-2.0

//! Guest traps, decoded from SCAUSE into the exits the vCPU code handles
//! (privileged specification, "Machine Cause Register", with the hypervisor
//! extension's causes). Only `core` is used: host `cargo test` covers it.

use crate::regs_logic::xlen_to_u64;

/// The interrupt bit of SCAUSE (XLEN 64).
pub(crate) const CAUSE_IRQ_FLAG: usize = 1 << 63;

/// Exception codes of SCAUSE.
pub(crate) mod exc {
    pub(crate) const INST_ACCESS: usize = 1;
    pub(crate) const INST_ILLEGAL: usize = 2;
    pub(crate) const BREAKPOINT: usize = 3;
    pub(crate) const LOAD_MISALIGNED: usize = 4;
    pub(crate) const LOAD_ACCESS: usize = 5;
    pub(crate) const STORE_MISALIGNED: usize = 6;
    pub(crate) const STORE_ACCESS: usize = 7;
    pub(crate) const SUPERVISOR_SYSCALL: usize = 10;
    pub(crate) const SOFTWARE_CHECK: usize = 18;
    pub(crate) const INST_GUEST_PAGE_FAULT: usize = 20;
    pub(crate) const LOAD_GUEST_PAGE_FAULT: usize = 21;
    pub(crate) const VIRTUAL_INST_FAULT: usize = 22;
    pub(crate) const STORE_GUEST_PAGE_FAULT: usize = 23;
}

/// SBI PMU firmware events that guest traps count (SBI specification,
/// "Firmware Events").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum FwEvent {
    MisalignedLoad = 0,
    MisalignedStore = 1,
    AccessLoad = 2,
    AccessStore = 3,
    IllegalInsn = 4,
}

/// The kind of access of a guest page fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    Fetch,
    Load,
    Store,
}

/// What a trap out of the guest is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    /// An interrupt for the host: nothing to do for the guest.
    HostInterrupt,
    /// A guest exception that goes back to the guest, counted as `FwEvent`
    /// when one is given.
    Redirect(Option<FwEvent>),
    /// A virtual-instruction trap: emulate the instruction.
    VirtualInsn,
    /// A G-stage page fault: map the page, or emulate MMIO.
    GuestPageFault(Access),
    /// An ecall from VS mode: an SBI call.
    SbiCall,
    /// A breakpoint: exit to userspace with `KVM_EXIT_DEBUG`.
    Breakpoint,
    /// A software-check exception (landing pads, shadow stacks).
    SoftwareCheck,
    /// Anything else: an error.
    Unhandled(usize),
}

impl Exit {
    /// Decodes SCAUSE.
    pub(crate) const fn decode(scause: usize) -> Exit {
        if scause & CAUSE_IRQ_FLAG != 0 {
            return Exit::HostInterrupt;
        }
        match scause {
            exc::INST_ILLEGAL => Exit::Redirect(Some(FwEvent::IllegalInsn)),
            exc::LOAD_MISALIGNED => Exit::Redirect(Some(FwEvent::MisalignedLoad)),
            exc::STORE_MISALIGNED => Exit::Redirect(Some(FwEvent::MisalignedStore)),
            exc::LOAD_ACCESS => Exit::Redirect(Some(FwEvent::AccessLoad)),
            exc::STORE_ACCESS => Exit::Redirect(Some(FwEvent::AccessStore)),
            exc::INST_ACCESS => Exit::Redirect(None),
            exc::VIRTUAL_INST_FAULT => Exit::VirtualInsn,
            exc::INST_GUEST_PAGE_FAULT => Exit::GuestPageFault(Access::Fetch),
            exc::LOAD_GUEST_PAGE_FAULT => Exit::GuestPageFault(Access::Load),
            exc::STORE_GUEST_PAGE_FAULT => Exit::GuestPageFault(Access::Store),
            exc::SUPERVISOR_SYSCALL => Exit::SbiCall,
            exc::BREAKPOINT => Exit::Breakpoint,
            exc::SOFTWARE_CHECK => Exit::SoftwareCheck,
            c => Exit::Unhandled(c),
        }
    }
}

/// The guest physical address of a G-stage fault: HTVAL holds it shifted
/// right by 2, STVAL's low bits complete it.
pub(crate) const fn fault_gpa(htval: usize, stval: usize) -> u64 {
    (xlen_to_u64(htval) << 2) | (xlen_to_u64(stval) & 0x3)
}
