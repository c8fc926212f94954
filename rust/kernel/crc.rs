// SPDX-License-Identifier: GPL-2.0

//! CRC library functions.
//!
//! These call the kernel's CRC library, which uses CPU instructions for the
//! computation where the architecture has them.
//!
//! C header: [`include/linux/crc32.h`](srctree/include/linux/crc32.h)

use crate::bindings;

/// Continues a CRC-32C (Castagnoli) computation over `data`.
///
/// `crc` is the running value: `!0` to start a new computation (the
/// recommended initial value), or what the previous call returned. The
/// value is not inverted at the start or the end; [`crc32c`] does both.
pub fn crc32c_update(crc: u32, data: &[u8]) -> u32 {
    // SAFETY: `data` is valid for reads of `data.len()` bytes for the whole
    // call; `crc32c()` may be called in any context.
    unsafe { bindings::crc32c(crc, data.as_ptr().cast(), data.len()) }
}

/// The standard CRC-32C (Castagnoli) of `data`: initial value and final XOR
/// all ones, as iSCSI, ext4 and Btrfs use it.
///
/// # Examples
///
/// ```
/// use kernel::crc::{crc32c, crc32c_update};
///
/// assert_eq!(crc32c(b"123456789"), 0xe306_9283);
/// // Incremental computation gives the same value.
/// let part = crc32c_update(!0, b"1234");
/// assert_eq!(!crc32c_update(part, b"56789"), 0xe306_9283);
/// ```
pub fn crc32c(data: &[u8]) -> u32 {
    !crc32c_update(!0, data)
}
