// SPDX-License-Identifier: GPL-2.0

//! Kexec HandOver (KHO): memory preserved across a kexec.
//!
//! Memory allocated with [`PreservedMem::alloc`] stays intact through the
//! next kexec. The previous kernel hands its physical address over (for
//! example in Live Update data), and the next kernel takes the memory back
//! with [`RestoredFolio::restore`].
//!
//! C header: [`include/linux/kexec_handover.h`](srctree/include/linux/kexec_handover.h)

use crate::{
    bindings,
    error::{
        code::ENOMEM,
        from_err_ptr,
        Result, //
    },
    page::PAGE_SIZE,
};
use core::ptr::NonNull;

/// Physical address of KHO-preserved memory, as handed to the next kernel.
pub type PhysAddr = u64;

/// Zeroed memory, allocated and preserved for the next kernel.
///
/// Dropping it unpreserves and frees it.
///
/// # Invariants
///
/// `ptr` was returned by `kho_alloc_preserve(len)` and has not been freed;
/// it is page aligned, in the linear map, and this value owns its `len`
/// bytes.
pub struct PreservedMem {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: The memory is plain bytes owned by this value; it can be used and
// freed from any thread.
unsafe impl Send for PreservedMem {}

// SAFETY: Shared references only read the bytes.
unsafe impl Sync for PreservedMem {}

impl PreservedMem {
    /// The size that [`Self::alloc`] really allocates for `size` bytes:
    /// whole pages, rounded up to a power of two pages (a folio).
    pub fn alloc_size(size: usize) -> usize {
        size.div_ceil(PAGE_SIZE).max(1).next_power_of_two() * PAGE_SIZE
    }

    /// Allocates at least `size` bytes of zeroed memory and preserves it.
    pub fn alloc(size: usize) -> Result<Self> {
        let len = Self::alloc_size(size);
        // SAFETY: Any size may be passed; failures come back as `ERR_PTR`.
        let ptr = from_err_ptr(unsafe { bindings::kho_alloc_preserve(len) })?;
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or(ENOMEM)?;
        // INVARIANT: `ptr` was just allocated and preserved with `len` bytes.
        Ok(Self { ptr, len })
    }

    /// The physical address to hand over to the next kernel.
    pub fn phys(&self) -> PhysAddr {
        // SAFETY: `ptr` is a live linear-map address, by the type invariant.
        unsafe { bindings::virt_to_phys(self.ptr.as_ptr().cast()) }
    }

    /// The memory as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        // SAFETY: By the type invariant `ptr` points to `len` initialised
        // bytes owned by `self`; `&self` forbids writes through `self`.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// The memory as mutable bytes.
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: By the type invariant `ptr` points to `len` initialised
        // bytes owned by `self`, and `&mut self` makes this the only
        // reference.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for PreservedMem {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `kho_alloc_preserve`, by the type
        // invariant, and is freed only here.
        unsafe { bindings::kho_unpreserve_free(self.ptr.as_ptr().cast()) };
    }
}

/// A folio the previous kernel preserved, taken back by this one.
///
/// Dropping it releases the folio to the page allocator.
///
/// # Invariants
///
/// `folio` was returned by `kho_restore_folio()` and this value holds its
/// reference; `ptr` is its linear-map address and `len` its size.
pub struct RestoredFolio {
    folio: NonNull<bindings::folio>,
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: The folio reference and the folio's memory can be used and
// dropped from any thread.
unsafe impl Send for RestoredFolio {}

// SAFETY: Shared references only read the bytes.
unsafe impl Sync for RestoredFolio {}

impl RestoredFolio {
    /// Takes back the folio preserved at `phys`.
    ///
    /// Returns `None` if `phys` is not page aligned or KHO has no preserved
    /// folio starting there (or it was restored already).
    ///
    /// May sleep.
    ///
    /// May sleep.
    ///
    /// # Safety
    ///
    /// `phys` must be an address the previous kernel handed over to the
    /// caller (read from the caller's own KHO or Live Update data), so that
    /// the folio is the caller's to take: KHO cannot tell its users' folios
    /// apart, and restoring another user's folio would take its memory away
    /// from that user.
    pub unsafe fn restore(phys: PhysAddr) -> Option<Self> {
        if phys == 0 || phys % (PAGE_SIZE as u64) != 0 {
            return None;
        }
        // SAFETY: KHO checks that `phys` starts a preserved, not yet
        // restored folio and returns NULL otherwise; the caller guarantees
        // the folio is its own.
        let folio = NonNull::new(unsafe { bindings::kho_restore_folio(phys) })?;
        // SAFETY: `folio` is a valid folio that we hold a reference to.
        let (ptr, len) = unsafe {
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
        Some(Self { folio, ptr, len })
    }

    /// The folio's memory as bytes.
    pub fn as_bytes(&self) -> &[u8] {
        // SAFETY: By the type invariant `ptr` points to `len` bytes of a
        // folio this value keeps alive; nothing else writes them.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for RestoredFolio {
    fn drop(&mut self) {
        // SAFETY: Drops the reference `kho_restore_folio` gave us, by the
        // type invariant.
        unsafe { bindings::folio_put(self.folio.as_ptr()) };
    }
}
