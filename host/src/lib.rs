// SPDX-License-Identifier: GPL-2.0

//! Host build of the PCI Live Update device table.
//!
//! The modules below are the kernel component's own source files, compiled
//! here unchanged so that the table logic and the handover ABI can be unit
//! tested, property tested, fuzzed and benchmarked on the host.

#![no_std]

#[path = "../../drivers/pci/liveupdate/abi.rs"]
pub mod abi;
#[path = "../../drivers/pci/liveupdate/table.rs"]
pub mod table;

pub mod model;

/// The CRC32C that `table.rs` uses, from the `crc` crate (slicing-by-16
/// tables); the kernel build supplies the kernel library's `crc32c()`.
pub fn crc32c(bytes: &[u8]) -> u32 {
    const CASTAGNOLI: crc::Crc<u32, crc::Table<16>> =
        crc::Crc::<u32, crc::Table<16>>::new(&crc::CRC_32_ISCSI);
    CASTAGNOLI.checksum(bytes)
}
