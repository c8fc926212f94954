// SPDX-License-Identifier: GPL-2.0

//! Safe calls into the component's C half (`exports.c`, and in test
//! kernels `test_handler.c` and `config_writes.c`): the PCI core and IOMMU
//! internals that Rust cannot reach through `kernel::`.
//!
//! C header: [`drivers/pci/liveupdate/hooks.h`](srctree/drivers/pci/liveupdate/hooks.h)

use crate::{
    abi,
    dev::PciDev, //
};
use kernel::bindings;

/// Whether this kernel was booted by a kexec that handed over KHO data.
pub(crate) fn kho_boot() -> bool {
    // SAFETY: A plain C call without preconditions.
    unsafe { bindings::is_kho_boot() }
}

/// Whether the previous kernel handed its IOMMU over, as the hardware
/// shows: a preserved device arriving mastering is translated or blocked.
pub(crate) fn dma_incoming() -> bool {
    // SAFETY: A plain C call without preconditions.
    unsafe { bindings::pci_liveupdate_dma_incoming() }
}

/// At the kexec: whether the IOMMU hands its translation over, so that
/// preserved devices may keep Bus Master. Call without `STATE` held: the
/// IOMMU driver allocates and takes its own locks.
pub(crate) fn dma_handover() -> bool {
    // SAFETY: A plain C call; shutdown runs in process context.
    unsafe { bindings::pci_liveupdate_dma_handover() }
}

/// At the kexec: whether the handed-over IOMMU translates `pdev`'s DMA.
pub(crate) fn dma_keep(pdev: &PciDev) -> bool {
    // SAFETY: `pdev` is valid (type invariant).
    unsafe { bindings::pci_liveupdate_dma_keep(pdev.as_raw()) }
}

/// Ends the translation the IOMMU carried over for `pdev`, if any, and
/// lets go of the memory it held for it. The IOMMU takes only its own
/// locks, so `STATE` may be held.
pub(crate) fn dma_release(pdev: &PciDev) {
    // SAFETY: `pdev` is valid (type invariant); the IOMMU takes its own lock.
    unsafe { bindings::pci_liveupdate_dma_release(pdev.as_raw()) };
}

/// Whether the initial enumeration found the incoming device at `bdf`.
/// Call without `STATE` held: it takes it.
pub(crate) fn found_incoming(segment: u32, bdf: u16) -> bool {
    // SAFETY: A plain C call.
    unsafe { bindings::pci_liveupdate_found_incoming(segment, bdf) }
}

/// Queues a probe of the bridges whose port drivers were deferred and the
/// runtime PM release of devices that finished.
pub(crate) fn probe_ports() {
    // SAFETY: A plain C call that only queues work.
    unsafe { bindings::pci_liveupdate_probe_ports() };
}

/// Disables the VFs a PF kept enabled across the kexec, before its VF BARs
/// can be assigned anew.
///
/// # Safety
///
/// Called during enumeration or a rescan, serialised with the initcall that
/// adds kept VFs (initcall order at boot, the rescan lock later).
pub(crate) unsafe fn drop_vfs(pdev: &PciDev) {
    // SAFETY: `pdev` is valid (type invariant); the caller serialises.
    unsafe { bindings::pci_liveupdate_drop_vfs(pdev.as_raw()) };
}

// The C glue maps the bit fields with the ABI header's values.
const _: () = {
    assert!(bindings::PCI_DEV_SER_P_INTX_BROKEN == abi::P_INTX_BROKEN as u32);
    assert!(bindings::PCI_DEV_SER_P_IO_WINDOW == abi::P_IO_WINDOW as u32);
    assert!(bindings::PCI_DEV_SER_P_PREF_WINDOW == abi::P_PREF_WINDOW as u32);
    assert!(bindings::PCI_DEV_SER_P_PREF_64 == abi::P_PREF_64 as u32);
};

/// The bits of `struct pci_dev` that probing derives and a probe record
/// carries (`abi::P_INTX_BROKEN`, `abi::P_IO_WINDOW`, `abi::P_PREF_WINDOW`,
/// `abi::P_PREF_64`); they do not change after enumeration.
pub(crate) fn probe_bits(pdev: &PciDev) -> u8 {
    // SAFETY: `pdev` is valid (type invariant).
    unsafe { bindings::pci_liveupdate_probe_bits(pdev.as_raw()) }
}

/// Sets the bits [`probe_bits`] reads from `bits`, instead of probing.
///
/// # Safety
///
/// `pdev` is being set up and not added yet: nothing else accesses the
/// bit fields' storage.
pub(crate) unsafe fn set_probe_bits(pdev: &PciDev, bits: u8) {
    // SAFETY: `pdev` is valid (type invariant) and not shared yet (caller
    // contract).
    unsafe { bindings::pci_liveupdate_set_probe_bits(pdev.as_raw(), bits) };
}

/// Test kernels log every config write to an incoming function from the
/// start of enumeration until its driver takes it over (`config_writes.c`).
pub(crate) fn watch_config_writes(segment: u32, bdf: u16) {
    #[cfg(CONFIG_PCI_LIVEUPDATE_TEST)]
    // SAFETY: A plain C call; it takes only its own spinlock.
    unsafe {
        bindings::pci_liveupdate_test_watch(segment, bdf)
    };
    let _ = (segment, bdf);
}

/// Stops [`watch_config_writes`] for one function, or all with `None`.
pub(crate) fn unwatch_config_writes(function: Option<(u32, u16)>) {
    #[cfg(CONFIG_PCI_LIVEUPDATE_TEST)]
    {
        let (segment, bdf) = function.unwrap_or((0, 0));
        // SAFETY: A plain C call; it takes only its own spinlock.
        unsafe { bindings::pci_liveupdate_test_unwatch(segment, bdf, function.is_none()) };
    }
    let _ = function;
}

/// Test kernels time each function's addition for `make bench`, from here
/// (the setup hook in `pci_setup_device()`) to its `device_add()`.
pub(crate) fn time_enumeration(dev: &PciDev) {
    #[cfg(CONFIG_PCI_LIVEUPDATE_TEST)]
    // SAFETY: `dev` is a valid `pci_dev`; the call only records the pointer
    // and the time under its own spinlock.
    unsafe {
        bindings::pci_liveupdate_test_enum_begin(dev.as_raw())
    };
    let _ = dev;
}

/// Test kernels: `local_clock()` in nanoseconds. Until clocksources are
/// chosen (`fs_initcall`), `ktime_get()` ticks in jiffies, too coarse for the
/// enumeration hooks.
#[cfg(CONFIG_PCI_LIVEUPDATE_TEST)]
pub(crate) fn test_clock() -> i64 {
    // SAFETY: A plain C call.
    let ns = unsafe { bindings::pci_liveupdate_test_clock() };
    i64::try_from(ns).unwrap_or(i64::MAX)
}

/// Test knob: the next retrieve of the incoming table fails for want of
/// memory.
pub(crate) fn test_fail_retrieve() -> bool {
    #[cfg(CONFIG_PCI_LIVEUPDATE_TEST)]
    // SAFETY: A plain C call.
    return unsafe { bindings::pci_liveupdate_test_fail_retrieve() };
    #[cfg(not(CONFIG_PCI_LIVEUPDATE_TEST))]
    false
}

/// Test knob: read tables as a kernel without VF support would.
pub(crate) fn test_no_vfs() -> bool {
    #[cfg(CONFIG_PCI_LIVEUPDATE_TEST)]
    // SAFETY: A plain C call.
    return unsafe { bindings::pci_liveupdate_test_no_vfs() };
    #[cfg(not(CONFIG_PCI_LIVEUPDATE_TEST))]
    false
}
