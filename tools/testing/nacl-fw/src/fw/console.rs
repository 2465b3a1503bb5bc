// SPDX-License-Identifier: GPL-2.0

//! The console: the virt machine's 16550 UART, one line at a time under a
//! lock shared by the harts.

use super::hw::virt::UART;
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicBool, Ordering};

static LOCK: AtomicBool = AtomicBool::new(false);

/// Sends one byte (LSR.THRE polled; QEMU's UART needs no setup).
pub fn putb(b: u8) {
    // SAFETY: the UART's line-status and transmit registers.
    unsafe {
        while core::ptr::read_volatile((UART + 5) as *const u8) & 0x20 == 0 {}
        core::ptr::write_volatile(UART as *mut u8, b);
    }
}

struct Uart;

impl Write for Uart {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                putb(b'\r');
            }
            putb(b);
        }
        Ok(())
    }
}

/// Holds the console lock.
pub struct Locked(());

impl Locked {
    pub fn take() -> Locked {
        while LOCK
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        Locked(())
    }

    pub fn putb(&self, b: u8) {
        putb(b)
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        LOCK.store(false, Ordering::Release);
    }
}

/// Prints a line, whole.
pub fn print_line(args: fmt::Arguments<'_>) {
    let _l = Locked::take();
    let _ = Uart.write_fmt(args);
    let _ = Uart.write_str("\n");
}

/// `println!` for the firmware: one line, prefixed `nacl-fw: `.
macro_rules! say {
    ($($t:tt)*) => {
        $crate::fw::console::print_line(format_args!("nacl-fw: {}", format_args!($($t)*)))
    };
}
pub(crate) use say;
