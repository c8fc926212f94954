// SPDX-License-Identifier: GPL-2.0

//! The FFI edge for `struct pci_dev`: what the table records about a device
//! and the walk to its upstream bridges.
//!
//! C header: [`include/linux/pci.h`](srctree/include/linux/pci.h)

use crate::table::{
    DevInfo,
    Node, //
};
use core::ptr::NonNull;
use kernel::{
    bindings,
    device, //
};

/// A PCI device passed in by a C caller.
///
/// # Invariants
///
/// `self.0` points to a valid `struct pci_dev` that stays alive while this
/// value is used. The device keeps its bus, and so its upstream bridge,
/// alive too.
#[derive(Clone, Copy)]
pub(crate) struct PciDev(NonNull<bindings::pci_dev>);

impl PciDev {
    /// Wraps a pointer from C; `None` if it is NULL.
    ///
    /// # Safety
    ///
    /// A non-NULL `ptr` must point to a valid `struct pci_dev` that its
    /// caller keeps alive (holds a reference to) while the value is used.
    pub(crate) unsafe fn from_raw(ptr: *mut bindings::pci_dev) -> Option<Self> {
        // INVARIANT: Guaranteed by the caller.
        NonNull::new(ptr).map(PciDev)
    }

    // C changes other parts of `struct pci_dev` concurrently, so fields are
    // read through the raw pointer; no Rust reference to the struct exists.
    fn ptr(&self) -> *mut bindings::pci_dev {
        self.0.as_ptr()
    }

    /// The generic device, for `dev_*!` log lines that name the device.
    pub(crate) fn as_dev(&self) -> &device::Device {
        // SAFETY: `dev` is embedded in a valid `struct pci_dev`, which holds
        // a reference on it for as long as `self` is usable.
        unsafe { device::Device::from_raw(&raw mut (*self.0.as_ptr()).dev) }
    }

    /// Bus number << 8 | devfn.
    fn bdf(&self) -> u16 {
        // SAFETY: `ptr` is valid (type invariant); `bus` and `devfn` of a
        // registered device do not change and `bus` is valid.
        let (bus_nr, devfn) = unsafe { ((*(*self.ptr()).bus).number, (*self.ptr()).devfn) };
        // CAST: `devfn` is an 8-bit value held in an `unsigned int`.
        (u16::from(bus_nr) << 8) | u16::from(devfn as u8)
    }

    /// Whether this is an SR-IOV virtual function.
    pub(crate) fn is_virtfn(&self) -> bool {
        // SAFETY: `ptr` is valid (type invariant); the bit is set at creation.
        unsafe { bindings::pci_dev::is_virtfn_raw(self.ptr()) != 0 }
    }

    /// The bridge above this device, `None` on a root bus.
    fn upstream(&self) -> Option<PciDev> {
        // SAFETY: `ptr` is valid (type invariant).
        let bus = unsafe { (*self.ptr()).bus };
        if bus.is_null() {
            return None;
        }
        // SAFETY: A registered device's `bus` is valid while the device is.
        let bridge = unsafe { (*bus).self_ };
        // INVARIANT: The child keeps its bus and the bus's bridge alive.
        NonNull::new(bridge).map(PciDev)
    }
}

impl Node for PciDev {
    fn info(&self) -> DevInfo {
        let d = self.ptr();
        // SAFETY: `d` is valid (type invariant); these fields are set when
        // the device is created, and `bus` of a registered device is valid.
        let (segment, vendor, device, class, sub) = unsafe {
            (
                bindings::pci_domain_nr((*d).bus),
                (*d).vendor,
                (*d).device,
                (*d).class,
                (*d).subordinate,
            )
        };
        let bridge = if sub.is_null() {
            None
        } else {
            // SAFETY: A non-NULL `subordinate` is the device's secondary bus,
            // valid while the device is; the caller holds the PCI rescan lock
            // when the bus range must not change.
            let (sec, end) = unsafe { ((*sub).number, (*sub).busn_res.end) };
            // CAST: Bus numbers are 8 bits; `busn_res` only holds bus numbers.
            Some((sec, end as u8))
        };
        DevInfo {
            // CAST: Segment numbers are non-negative (VMD domains exceed 16 bits).
            segment: segment as u32,
            bdf: self.bdf(),
            vendor,
            device,
            class,
            bridge,
            upstream: self.upstream().map(|b| b.bdf()),
        }
    }

    fn parent(&self) -> Option<Self> {
        self.upstream()
    }
}
