// SPDX-License-Identifier: GPL-2.0

//! Test-only inspection and fault injection (`CONFIG_PCI_LIVEUPDATE_TEST`).
//!
//! Used by `test_handler.c`, which the kselftests drive through debugfs.

use crate::{
    abi,
    flb::flb_ptr,
    flb::FAIL_NEXT_GROW,
    table,
    with_outgoing,
    STATE, //
};
use kernel::{
    bindings,
    prelude::*,
    sync::atomic::Relaxed, //
};
use zerocopy::IntoBytes;

// The bindgen view of the C ABI has the layout of the Rust one.
const _: () = {
    use core::mem::{
        offset_of,
        size_of, //
    };
    assert!(size_of::<bindings::pci_dev_ser>() == abi::DEV_SER_SIZE);
    assert!(size_of::<bindings::pci_lu_ser>() == abi::SER_SIZE);
    assert!(offset_of!(bindings::pci_dev_ser, refcount) == offset_of!(abi::PciDevSer, refcount));
    assert!(offset_of!(bindings::pci_dev_ser, class) == offset_of!(abi::PciDevSer, class));
    assert!(offset_of!(bindings::pci_dev_ser, flags) == offset_of!(abi::PciDevSer, flags));
    assert!(offset_of!(bindings::pci_dev_ser, upstream) == offset_of!(abi::PciDevSer, upstream));
    assert!(offset_of!(bindings::pci_lu_ser, entries) == offset_of!(abi::PciLuSer, entries));
    assert!(offset_of!(bindings::pci_lu_ser, checksum) == offset_of!(abi::PciLuSer, checksum));
    assert!(bindings::PCI_LU_SER_MAGIC == abi::SER_MAGIC);
    assert!(bindings::PCI_LU_SER_VERSION as u16 == abi::SER_VERSION);
    assert!(bindings::PCI_DEV_SER_F_DIRECT == abi::F_DIRECT);
    assert!(bindings::PCI_DEV_SER_F_BRIDGE == abi::F_BRIDGE);
    assert!(bindings::PCI_DEV_SER_F_UPSTREAM == abi::F_UPSTREAM);
};

fn copy_out(entries: &[abi::PciDevSer], buf: *mut bindings::pci_dev_ser, max: u32) -> c_int {
    let n = entries.len().min(max as usize);
    let bytes = entries[..n].as_bytes();
    if n > 0 {
        // SAFETY: The caller provides room for `max >= n` entries at `buf`,
        // and C and Rust entries have the same size (asserted above).
        unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), bytes.len()) };
    }
    // A count beyond `i32::MAX` saturates rather than wraps.
    i32::try_from(entries.len()).unwrap_or(i32::MAX)
}

/// Copies up to `max` entries of the incoming, or outgoing, table to `buf`.
///
/// # Safety
///
/// `buf` must have room for `max` entries.
#[export]
pub unsafe extern "C" fn pci_liveupdate_test_snapshot(
    outgoing: bool,
    buf: *mut bindings::pci_dev_ser,
    max: u32,
) -> c_int {
    if !crate::ready() {
        return ENODEV.to_errno();
    }
    let _state = STATE.lock();
    if outgoing {
        return with_outgoing(|out| Ok(copy_out(out.table()?.entries(), buf, max)))
            .unwrap_or_else(|e| e.to_errno());
    }
    let mut obj = core::ptr::null_mut();
    // SAFETY: The FLB is static; `obj` is a valid out pointer.
    let err = unsafe { bindings::liveupdate_flb_get_incoming(flb_ptr(), &mut obj) };
    if err != 0 {
        return err;
    }
    // SAFETY: The reference just taken keeps the table alive and `STATE`
    // serialises its users.
    let inc = unsafe { &mut *obj.cast::<crate::flb::Incoming>() };
    let r = inc
        .table()
        .map_or_else(|e| e.to_errno(), |t| copy_out(t.entries(), buf, max));
    // SAFETY: Drops the reference taken above.
    unsafe { bindings::liveupdate_flb_put_incoming(flb_ptr()) };
    r
}

/// Makes both checksums match again, so the next kernel reaches the
/// structural check a fault targets.
fn fix_checksum(hdr: &mut abi::PciLuSer, entries: &[abi::PciDevSer]) {
    let n = (hdr.count.get() as usize).min(entries.len());
    table::seal(hdr, &entries[..n]);
}

/// Injects a test fault (`PCI_LU_TEST_*`).
#[export]
pub extern "C" fn pci_liveupdate_test_inject(fault: u32) -> c_int {
    if fault == bindings::PCI_LU_TEST_FAIL_NEXT_ALLOC {
        FAIL_NEXT_GROW.store(true, Relaxed);
        return 0;
    }
    if !crate::ready() {
        return ENODEV.to_errno();
    }
    let _state = STATE.lock();
    with_outgoing(|out| {
        let (hdr, e) = out.raw_mut()?;
        // Earlier faults may have made the header lie about the array.
        let n = (hdr.count.get() as usize).min(e.len());
        match fault {
            bindings::PCI_LU_TEST_CORRUPT_CHECKSUM if n >= 1 => {
                e[0].vendor.set(e[0].vendor.get() ^ 1)
            }
            bindings::PCI_LU_TEST_CORRUPT_COUNT => {
                hdr.count.set(hdr.capacity.get().saturating_add(1));
                fix_checksum(hdr, e);
            }
            bindings::PCI_LU_TEST_CORRUPT_ORDER if n >= 2 => {
                e.swap(0, 1);
                fix_checksum(hdr, e);
            }
            bindings::PCI_LU_TEST_CORRUPT_MAGIC => hdr.magic.set(0),
            bindings::PCI_LU_TEST_CORRUPT_REFCOUNT => {
                let b = e[..n]
                    .iter_mut()
                    .find(|x| x.flags.get() & abi::F_BRIDGE != 0)
                    .ok_or(EINVAL)?;
                b.refcount.set(b.refcount.get().saturating_add(1));
                fix_checksum(hdr, e);
            }
            bindings::PCI_LU_TEST_CORRUPT_DUPLICATE if n >= 2 => {
                e[1] = e[0];
                fix_checksum(hdr, e);
            }
            bindings::PCI_LU_TEST_CORRUPT_ZERO_REFCOUNT if n >= 1 => {
                e[n - 1].refcount.set(0);
                fix_checksum(hdr, e);
            }
            bindings::PCI_LU_TEST_CORRUPT_CAPACITY => {
                hdr.capacity.set(hdr.capacity.get().saturating_mul(1024));
                fix_checksum(hdr, e);
            }
            bindings::PCI_LU_TEST_CORRUPT_HEADER => {
                hdr.entries.set(hdr.entries.get() ^ 0x1000);
            }
            _ => return Err(EINVAL),
        }
        pr_warn!("test: corrupted the outgoing table (fault {fault})\n");
        Ok(0)
    })
    .unwrap_or_else(|e| e.to_errno())
}
