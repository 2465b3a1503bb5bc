// SPDX-License-Identifier: GPL-2.0
//! Links the firmware at 0x80000000 (`link.ld`) when built for the bare
//! RISC-V target.
fn main() {
    let target = std::env::var("TARGET").unwrap_or_default();
    println!("cargo:rerun-if-changed=link.ld");
    if target.ends_with("-none-elf") {
        let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
        println!("cargo:rustc-link-arg-bins=-T{dir}/link.ld");
    }
}
