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
//! One mutex, [`STATE`], serialises every entry point. It is always taken
//! before LUO's per-FLB mutexes (inside `liveupdate_flb_get_*()` and
//! `liveupdate_flb_put_*()`), never after: the FLB callbacks in [`flb`] run
//! under LUO's mutex and do not take it. The outgoing table is only reached
//! through `liveupdate_flb_get_outgoing()`, whose reference keeps it alive;
//! the incoming table through the reference taken at boot, held until the
//! last preserved device finished.
//!
//! # Invalid handover data
//!
//! If the previous kernel's table fails validation (bad header, count or
//! capacity, order, duplicates, refcounts, checksum), the kernel logs why
//! and treats no device as preserved: every lookup answers "not incoming".
//! It does not panic. The table names devices; it does not contain or
//! control their DMA. Whether a device that keeps mastering the bus can
//! corrupt memory is decided by the IOMMU state, which is handed over (and
//! checked, fatally) separately. A corrupt PCI table therefore makes the
//! update fail for those devices, as a cold boot would, instead of taking
//! down the host and every guest on it.

use core::ptr::NonNull;
use kernel::{
    bindings,
    prelude::*,
    sync::atomic::{
        Acquire,
        AtomicFlag,
        Release, //
    },
};

pub mod abi;
mod dev;
mod flb;
mod kho;
pub mod table;
#[cfg(CONFIG_PCI_LIVEUPDATE_KUNIT_TEST)]
mod tests;

use dev::PciDev;
use flb::{
    flb_ptr,
    Incoming,
    Outgoing, //
};
use table::{
    Error as TableError,
    Node, //
};

const __LOG_PREFIX: &[u8] = b"pci_liveupdate\0";

// The shared table code formats with `core::fmt`; log lines use the
// kernel's trait.
impl kernel::fmt::Display for table::Error {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
}

impl kernel::fmt::Display for table::Invalid {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
}

/// State shared by all entry points.
struct State {
    /// The incoming table while this kernel holds its boot-time reference.
    incoming: Option<NonNull<Incoming>>,
}

// SAFETY: The pointer is only used under the `STATE` lock.
unsafe impl Send for State {}

kernel::sync::global_lock! {
    // SAFETY: Initialised by `pci_liveupdate_init()` before `READY` is set,
    // and no entry point touches it before `READY`.
    unsafe(uninit) static STATE: Mutex<State> = State { incoming: None };
}

/// Set once [`STATE`] is usable.
static READY: AtomicFlag = AtomicFlag::new(false);

fn ready() -> bool {
    READY.load(Acquire)
}

/// Boot-time setup, run at `postcore_initcall` from `exports.c`.
///
/// Takes the reference on the incoming table that lasts until every
/// preserved device finished, so the table is looked up in place.
#[export]
pub extern "C" fn pci_liveupdate_init() -> c_int {
    // SAFETY: Called once, from the initcall, before `READY` is set.
    unsafe { STATE.init() };
    let mut state = STATE.lock();
    let mut obj = core::ptr::null_mut();
    // SAFETY: `flb_ptr()` is the static PCI FLB; `obj` is a valid out pointer.
    let err = unsafe { bindings::liveupdate_flb_get_incoming(flb_ptr(), &mut obj) };
    let incoming = match err {
        0 => NonNull::new(obj.cast::<Incoming>()),
        // No Live Update, or nothing handed over for PCI.
        e if e == -(bindings::ENODATA as c_int)
            || e == -(bindings::ENOENT as c_int)
            || e == -(bindings::EOPNOTSUPP as c_int) =>
        {
            None
        }
        e => {
            pr_err!("cannot retrieve the incoming device table ({e}); no device is treated as preserved\n");
            None
        }
    };
    let n = incoming.map_or(0, |mut p| {
        // SAFETY: The reference just taken keeps the table alive; `STATE`
        // is held.
        let t = unsafe { p.as_mut() }.table();
        t.map_or(0, |t| {
            t.entries().iter().filter(|e| table::is_direct(e)).count()
        })
    });
    if err == 0 && n == 0 {
        // Nothing to hold the table for.
        // SAFETY: Drops the reference taken above.
        unsafe { bindings::liveupdate_flb_put_incoming(flb_ptr()) };
    } else {
        state.incoming = incoming;
    }
    drop(state);
    READY.store(true, Release);
    pr_info!(
        "FLB {} ready, {n} incoming preserved devices\n",
        abi::FLB_COMPATIBLE
    );
    0
}

/// Attaches the PCI FLB to a driver's Live Update file handler.
///
/// # Safety
///
/// `fh` must be a registered `struct liveupdate_file_handler`.
#[export]
pub unsafe extern "C" fn pci_liveupdate_register_flb(
    fh: *mut bindings::liveupdate_file_handler,
) -> c_int {
    if fh.is_null() {
        return EINVAL.to_errno();
    }
    // SAFETY: `fh` is registered (function contract); the FLB is static.
    let err = unsafe { bindings::liveupdate_register_flb(fh, flb_ptr()) };
    if err == 0 {
        // SAFETY: `compatible` of a registered handler is a C string.
        let name = unsafe { CStr::from_char_ptr((*fh).compatible.as_ptr()) };
        pr_info!(
            "FLB {} registered with file handler {name}\n",
            abi::FLB_COMPATIBLE
        );
    }
    err
}

/// Detaches the PCI FLB from a driver's file handler.
///
/// # Safety
///
/// `fh` must be a handler passed to [`pci_liveupdate_register_flb`].
#[export]
pub unsafe extern "C" fn pci_liveupdate_unregister_flb(fh: *mut bindings::liveupdate_file_handler) {
    if !fh.is_null() {
        // SAFETY: `fh` is registered (function contract); the FLB is static.
        unsafe { bindings::liveupdate_unregister_flb(fh, flb_ptr()) };
    }
}

/// The device of a C entry point; `None` if NULL or before boot-time setup.
///
/// # Safety
///
/// `dev` must be NULL or a valid `struct pci_dev` the caller holds a
/// reference to while the result is used.
unsafe fn entry_dev(dev: *mut bindings::pci_dev) -> Option<PciDev> {
    // SAFETY: Guaranteed by the caller.
    let pdev = unsafe { PciDev::from_raw(dev) }?;
    ready().then_some(pdev)
}

/// Runs `f` on the outgoing table, holding an FLB reference around it.
fn with_outgoing<R>(f: impl FnOnce(&mut Outgoing) -> Result<R>) -> Result<R> {
    let mut obj = core::ptr::null_mut();
    // SAFETY: The FLB is static; `obj` is a valid out pointer.
    kernel::error::to_result(unsafe {
        bindings::liveupdate_flb_get_outgoing(flb_ptr(), &mut obj)
    })?;
    // SAFETY: LUO returns the object `flb_preserve` created; the reference
    // just taken keeps it alive, and `STATE` (held by every caller)
    // serialises its users.
    let out = unsafe { &mut *obj.cast::<Outgoing>() };
    let r = f(out);
    // SAFETY: Drops the reference taken above.
    unsafe { bindings::liveupdate_flb_put_outgoing(flb_ptr()) };
    r
}

/// Preserves `dev`, and every bridge above it, across the next Live Update.
///
/// Must be called from a Live Update file handler's `preserve()` callback
/// (after LUO created the outgoing table). Returns 0, `-EINVAL` for a VF or
/// a device whose path is inconsistent, `-EBUSY` if `dev` is already
/// preserved, `-ENOENT` without an outgoing table, or `-ENOMEM`; on error
/// nothing is preserved.
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev` the caller holds a reference to.
#[export]
pub unsafe extern "C" fn pci_liveupdate_preserve(dev: *mut bindings::pci_dev) -> c_int {
    // SAFETY: Valid and referenced (function contract).
    let Some(pdev) = (unsafe { PciDev::from_raw(dev) }) else {
        return EINVAL.to_errno();
    };
    if !ready() {
        return ENODEV.to_errno();
    }
    if pdev.is_virtfn() {
        dev_warn!(
            pdev.as_dev(),
            "Live Update cannot preserve SR-IOV virtual functions\n"
        );
        return EINVAL.to_errno();
    }
    let _state = STATE.lock();
    let r = with_outgoing(|out| loop {
        match out.table()?.preserve(&pdev) {
            Err(TableError::NoSpace(need)) => out.grow(need)?,
            Err(e) => break Err(table_err(&pdev, "preserve", e)),
            Ok(()) => break Ok(()),
        }
    });
    match r {
        Ok(()) => {
            dev_info!(
                pdev.as_dev(),
                "will be preserved across the next Live Update\n"
            );
            0
        }
        Err(e) if e == ENOENT => {
            dev_warn!(
                pdev.as_dev(),
                "cannot preserve: no outgoing PCI Live Update FLB\n"
            );
            e.to_errno()
        }
        Err(e) => {
            dev_warn!(pdev.as_dev(), "cannot preserve: error {}\n", e.to_errno());
            e.to_errno()
        }
    }
}

/// Maps a table error to an errno, warning where the caller made a mistake.
fn table_err(pdev: &PciDev, what: &str, e: TableError) -> Error {
    match e {
        TableError::Busy => {
            dev_warn!(pdev.as_dev(), "{what}: device is already preserved\n");
            EBUSY
        }
        TableError::NoSpace(_) => ENOMEM,
        TableError::Overflow => EOVERFLOW,
        TableError::NotPreserved => {
            dev_warn!(
                pdev.as_dev(),
                "{what}: device is not preserved; nothing changed\n"
            );
            EINVAL
        }
        e => {
            dev_warn!(pdev.as_dev(), "{what}: {e}; nothing changed\n");
            EINVAL
        }
    }
}

/// Cancels [`pci_liveupdate_preserve`] for `dev`.
///
/// A device that is not preserved gets a warning and nothing changes.
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev` the caller holds a reference to.
#[export]
pub unsafe extern "C" fn pci_liveupdate_unpreserve(dev: *mut bindings::pci_dev) {
    // SAFETY: Valid and referenced (function contract).
    let Some(pdev) = (unsafe { entry_dev(dev) }) else {
        return;
    };
    let _state = STATE.lock();
    let r = with_outgoing(|out| {
        out.table()?
            .unpreserve(&pdev)
            .map_err(|e| table_err(&pdev, "unpreserve", e))
    });
    match r {
        Ok(()) => dev_info!(pdev.as_dev(), "will no longer be preserved\n"),
        Err(e) if e == ENOENT => {
            dev_warn!(
                pdev.as_dev(),
                "unpreserve: no outgoing PCI Live Update FLB\n"
            )
        }
        Err(_) => {}
    }
}

/// Looks `pdev` up in the incoming table.
///
/// Returns true only if the previous kernel preserved this device directly
/// and the device at this address still has the recorded identity.
fn lookup_incoming(state: &mut State, pdev: &PciDev) -> bool {
    let Some(mut inc) = state.incoming else {
        return false;
    };
    // SAFETY: The boot-time reference keeps the table alive while it is in
    // `state`, and the `STATE` lock is held.
    let Ok(t) = unsafe { inc.as_mut() }.table() else {
        return false;
    };
    let info = pdev.info();
    let Some(e) = t.find(info.segment, info.bdf) else {
        return false;
    };
    if !table::is_direct(e) {
        return false;
    }
    if !info.same_identity(e) {
        // Lookups repeat (sysfs, drivers); say it once.
        kernel::do_once_lite! { dev_warn!(
            pdev.as_dev(),
            "was preserved as {:04x}:{:04x} class {:06x}, now {:04x}:{:04x} class {:06x}: not treated as preserved\n",
            e.vendor.get(),
            e.device.get(),
            e.class.get(),
            info.vendor,
            info.device,
            info.class
        ) };
        return false;
    }
    true
}

/// Whether the previous kernel preserved `dev` and it has not finished.
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev` the caller holds a reference to.
#[export]
pub unsafe extern "C" fn pci_liveupdate_is_incoming(dev: *mut bindings::pci_dev) -> bool {
    // SAFETY: Valid and referenced (function contract).
    let Some(pdev) = (unsafe { entry_dev(dev) }) else {
        return false;
    };
    lookup_incoming(&mut STATE.lock(), &pdev)
}

/// Ends the preservation of an incoming device (and its share of the
/// bridges above it). After the last device, the table is freed.
///
/// A device that is not incoming gets a warning and nothing changes.
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev` the caller holds a reference to.
#[export]
pub unsafe extern "C" fn pci_liveupdate_finish(dev: *mut bindings::pci_dev) {
    // SAFETY: Valid and referenced (function contract).
    let Some(pdev) = (unsafe { entry_dev(dev) }) else {
        return;
    };
    let mut state = STATE.lock();
    if !lookup_incoming(&mut state, &pdev) {
        dev_warn!(
            pdev.as_dev(),
            "finish: device is not an incoming preserved device; nothing changed\n"
        );
        return;
    }
    let Some(mut inc) = state.incoming else {
        return;
    };
    // SAFETY: As in `lookup_incoming`.
    let Ok(mut t) = unsafe { inc.as_mut() }.table() else {
        return;
    };
    // Follow the links the previous kernel recorded: the handed-over
    // refcounts must drain even if this kernel sees the bridges differently.
    let info = pdev.info();
    if let Err(e) = t.finish(info.segment, info.bdf) {
        table_err(&pdev, "finish", e);
        return;
    }
    dev_info!(pdev.as_dev(), "Live Update preservation finished\n");
    if t.is_empty() {
        state.incoming = None;
        // SAFETY: Drops the boot-time reference; LUO frees the table once
        // the files that depend on it finished too.
        unsafe { bindings::liveupdate_flb_put_incoming(flb_ptr()) };
        pr_info!("every incoming preserved device finished\n");
    }
}

#[cfg(CONFIG_PCI_LIVEUPDATE_TEST)]
pub mod test_api;
