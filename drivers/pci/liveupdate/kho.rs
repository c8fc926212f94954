// SPDX-License-Identifier: GPL-2.0

//! KHO memory: the FFI edge for the table's handed-over pages.
//!
//! C header: [`include/linux/kexec_handover.h`](srctree/include/linux/kexec_handover.h)

use crate::abi::PciDevSer;
use core::ptr::NonNull;
use kernel::page::PAGE_SIZE;
use kernel::{
    bindings,
    prelude::*, //
};
use zerocopy::FromBytes;

/// Bytes of a whole number of pages, rounded up to a power of two pages:
/// the size `kho_alloc_preserve()` really allocates for `bytes`.
pub(crate) fn alloc_size(bytes: usize) -> usize {
    bytes.div_ceil(PAGE_SIZE).max(1).next_power_of_two() * PAGE_SIZE
}

/// Zeroed memory allocated and preserved for the next kernel.
///
/// # Invariants
///
/// `ptr` is the address returned by `kho_alloc_preserve(size)`, which has
/// not been freed; the memory is `size` bytes, page aligned and owned by
/// this value.
pub(crate) struct Preserved {
    ptr: NonNull<u8>,
    size: usize,
}

// SAFETY: The memory is plain bytes owned by this value; it can be used and
// freed from any thread.
unsafe impl Send for Preserved {}

impl Preserved {
    /// Allocates and preserves at least `bytes` bytes (whole pages).
    pub(crate) fn alloc(bytes: usize) -> Result<Self> {
        let size = alloc_size(bytes);
        // SAFETY: Any size may be passed; failures come back as `ERR_PTR`.
        let ptr = kernel::error::from_err_ptr(unsafe { bindings::kho_alloc_preserve(size) })?;
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or(ENOMEM)?;
        // INVARIANT: `ptr` was just allocated with `size` bytes.
        Ok(Preserved { ptr, size })
    }

    /// Physical address, the handle the next kernel gets.
    pub(crate) fn phys(&self) -> u64 {
        // SAFETY: `ptr` is a live linear-map address, by the type invariant.
        unsafe { bindings::virt_to_phys(self.ptr.as_ptr().cast()) }
    }

    /// The memory as bytes.
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: By the type invariant `ptr` points to `size` bytes owned by
        // `self`, and `&mut self` makes this the only reference.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.size) }
    }

    /// The memory as table entries (as many as fit).
    pub(crate) fn entries_mut(&mut self) -> &mut [PciDevSer] {
        let bytes = self.bytes_mut();
        let n = bytes.len() / crate::abi::DEV_SER_SIZE;
        match <[PciDevSer]>::mut_from_prefix_with_elems(bytes, n) {
            Ok((entries, _)) => entries,
            // `PciDevSer` has alignment 1 and `n` entries fit: cannot fail.
            Err(_) => &mut [],
        }
    }
}

impl Drop for Preserved {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `kho_alloc_preserve` and is freed only here.
        unsafe { bindings::kho_unpreserve_free(self.ptr.as_ptr().cast()) };
    }
}

/// A folio the previous kernel preserved, restored in this one.
///
/// # Invariants
///
/// `folio` was returned by `kho_restore_folio` and this value holds its
/// reference; `ptr` is its address and `size` its size.
pub(crate) struct Restored {
    folio: NonNull<bindings::folio>,
    ptr: NonNull<u8>,
    size: usize,
}

// SAFETY: The folio reference and its memory can be used and dropped from
// any thread.
unsafe impl Send for Restored {}

impl Restored {
    /// Restores the folio preserved at `phys`; `None` if there is none.
    pub(crate) fn restore(phys: u64) -> Option<Self> {
        if phys == 0 || phys % (PAGE_SIZE as u64) != 0 {
            return None;
        }
        // SAFETY: KHO checks that `phys` starts a preserved folio and
        // returns NULL otherwise.
        let folio = NonNull::new(unsafe { bindings::kho_restore_folio(phys) })?;
        // SAFETY: `folio` is a valid folio that we hold a reference to.
        let (ptr, size) = unsafe {
            (
                bindings::folio_address(folio.as_ptr()),
                bindings::folio_size(folio.as_ptr()),
            )
        };
        let Some(ptr) = NonNull::new(ptr.cast::<u8>()) else {
            // SAFETY: The reference was taken by `kho_restore_folio` above.
            unsafe { bindings::folio_put(folio.as_ptr()) };
            return None;
        };
        // INVARIANT: All three describe the folio just restored.
        Some(Restored { folio, ptr, size })
    }

    /// The memory as bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: By the type invariant `ptr` points to `size` bytes of a
        // folio this value keeps alive.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.size) }
    }
}

impl Drop for Restored {
    fn drop(&mut self) {
        // SAFETY: Drops the reference `kho_restore_folio` gave us.
        unsafe { bindings::folio_put(self.folio.as_ptr()) };
    }
}
