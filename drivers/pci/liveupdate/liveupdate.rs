// SPDX-License-Identifier: GPL-2.0

//! PCI Live Update: keep PCI devices running across a kexec-based Live
//! Update.
//!
//! C header: [`include/linux/pci_liveupdate.h`](srctree/include/linux/pci_liveupdate.h)
//!
//! A driver that preserves a file in a Live Update session (vfio-pci, or
//! the test handler) attaches the PCI File-Lifecycle-Bound object (FLB) to
//! its file handler with `pci_liveupdate_register_flb()`. Preserving the
//! first such file makes LUO create the outgoing device table in memory
//! preserved by KHO; the driver then calls `pci_liveupdate_preserve()` for
//! its device, which records the device and every bridge above it. The
//! next kernel validates the table before any use, answers
//! `pci_liveupdate_is_incoming()` by binary search in the handed-over
//! memory, and frees it once every device has called
//! `pci_liveupdate_finish()`.
//!
//! # Locking
//!
//! One mutex, [`STATE`], serialises every entry point and hook and guards
//! both tables. It nests inside the PCI core's locks:
//!
//! PCI rescan/remove lock -> device lock -> [`STATE`]
//!
//! The PCI core calls the hooks with or without the rescan lock; the test
//! handler holds the device lock around [`pci_liveupdate_preserve`] to keep
//! the binding it records still (vfio-pci needs not: its removal waits for
//! the file it preserves). Code inside a LUO session must never block on
//! the rescan or a device lock: a removal may hold both while it waits for
//! a file that session holds. [`put_incoming`] takes LUO's FLB mutex after
//! [`STATE`] is released, also from the removal hook.
//!
//! Preserve does not take the rescan lock: removing a device whose VFIO
//! file a session holds waits, with that lock held, until the session lets
//! the file go, and preserve runs with the session locked. [`STATE`] is
//! enough to read the path: every link on it (device, bus, bridge) is
//! reference-counted by the caller's device reference; removal marks a
//! device under [`STATE`] before its bridges go, so a device not marked has
//! its path on the bus; and a bridge's bus numbers are set by the scan that
//! finds it, before any device below it is added (preserve refuses a device
//! not added yet) and never while any device is preserved. Unpreserve,
//! finish and the hooks follow the links the table records, so closing a
//! session never waits for a bus scan or a removal.
//!
//! LUO's FLB callbacks in [`flb`] run under LUO's FLB mutex and take
//! [`STATE`] to publish or withdraw the outgoing table. The component never
//! calls `liveupdate_flb_get_outgoing()`, so it holds no FLB reference that
//! serialization at reboot could count. `liveupdate_flb_get_incoming()` and
//! `liveupdate_flb_put_incoming()` are only called without [`STATE`] held,
//! and no `pci_dev` reference is ever dropped under it (dropping the last
//! one would run the release path).
//!
//! # Shutdown
//!
//! The first `pci_device_shutdown()` freezes the state: preserve and
//! unpreserve are refused from then on, so the Bus Master decisions taken
//! during the kexec agree with the table the next kernel reads.
//!
//! # Invalid handover data
//!
//! If the previous kernel's table fails validation (bad header, unknown
//! incompatible feature, count or capacity, order, duplicates, refcounts,
//! checksum), the kernel logs why and degrades to what a stock kexec
//! guarantees, instead of panicking: no device is treated as preserved (no
//! binding restriction, no adopted ACS or ARI), every bridge keeps the bus
//! numbers it was handed, so a device that still masters keeps its
//! requester ID for the IOMMU, and Bus Master is cleared on every device
//! found with it set at enumeration, before any driver binds. Whether a
//! device that kept mastering until then corrupted memory is decided by the
//! IOMMU's own handover, which is checked separately. A corrupt PCI table
//! thus fails the update for those devices, as a cold boot would, instead
//! of taking down the host and every guest on it.
//!
//! # Modules
//!
//! - [`c_api`]: the C API for drivers that preserve devices.
//! - [`hooks`]: the PCI core hooks, from boot to shutdown.
//! - [`state`]: the shared state and [`state::STATE`], its lock.
//! - [`policy`]: what may be preserved.
//! - [`flb`]: the LUO FLB callbacks and the outgoing and incoming tables.
//! - [`table`] and [`abi`]: the `no_std` table logic and the handover
//!   format, shared with the host crate.
//! - [`dev`]: the PCI device view the component works with.
//! - [`glue`]: safe calls into the component's C half.
//! - `test_api` and `test_debugfs`: test-only inspection and fault
//!   injection, and the debugfs files that drive them.
//!
//! [`STATE`]: state::STATE
//! [`put_incoming`]: state::put_incoming
//! [`pci_liveupdate_preserve`]: c_api::pci_liveupdate_preserve

pub mod abi;
pub mod c_api;
mod dev;
mod flb;
mod fmt;
mod glue;
pub mod hooks;
mod policy;
mod state;
pub mod table;
#[cfg(CONFIG_PCI_LIVEUPDATE_KUNIT_TEST)]
mod tests;
mod timing;

/// The table's checksum: the kernel library's CRC32C (see [`table::crc32c`]).
pub use kernel::crc::crc32c;

const __LOG_PREFIX: &[u8] = b"pci_liveupdate\0";

#[cfg(CONFIG_PCI_LIVEUPDATE_TEST)]
pub mod test_api;
#[cfg(CONFIG_PCI_LIVEUPDATE_TEST)]
pub mod test_debugfs;
