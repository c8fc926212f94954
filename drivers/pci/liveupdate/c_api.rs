// SPDX-License-Identifier: GPL-2.0

//! The C API for drivers that preserve devices (`include/linux/pci_liveupdate.h`).

use crate::{
    abi,
    dev::{
        Flag,
        PciDev, //
    },
    flb::PCI_FLB,
    fmt::Bdf,
    glue::{
        self,
        unwatch_config_writes, //
    },
    policy::refuse_acs_quirk,
    state::{
        entry_dev,
        put_incoming,
        ready,
        STATE, //
    },
    table::{
        self,
        Error as TableError, //
    },
};
use kernel::{
    bindings,
    prelude::*, //
};

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
    // SAFETY: `fh` is registered (function contract), and its driver
    // unregisters the FLB before the handler.
    if let Err(e) = unsafe { PCI_FLB.register(fh) } {
        return e.to_errno();
    }
    // SAFETY: `compatible` of a registered handler is a C string.
    let name = unsafe { CStr::from_char_ptr((*fh).compatible.as_ptr()) };
    pr_debug!(
        "FLB {} registered with file handler {name}\n",
        abi::FLB_COMPATIBLE
    );
    0
}

/// Detaches the PCI FLB from a driver's file handler.
///
/// # Safety
///
/// `fh` must be a handler passed to [`pci_liveupdate_register_flb`].
#[export]
pub unsafe extern "C" fn pci_liveupdate_unregister_flb(fh: *mut bindings::liveupdate_file_handler) {
    if !fh.is_null() {
        // SAFETY: `fh` was registered with the FLB and is still registered
        // (function contract).
        unsafe { PCI_FLB.unregister(fh) };
    }
}

/// Preserves `dev`, and every bridge above it, across the next Live Update.
///
/// Must be called from a Live Update file handler's `preserve()` callback
/// (after LUO created the outgoing table). The driver bound to `dev` is
/// recorded: until the device finishes in the next kernel, only it may bind
/// there. On error nothing is preserved; see `pci_liveupdate.h` for the
/// codes.
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
    let driver = match pdev.driver() {
        Ok(d) => d,
        Err(name) => {
            dev_warn!(
                pdev.as_dev(),
                "cannot preserve: driver name {name} is longer than {} bytes\n",
                abi::DRIVER_LEN - 1
            );
            return ENAMETOOLONG.to_errno();
        }
    };
    // No rescan lock: a removal may hold it while waiting for a file that
    // the caller's own session holds. See "Locking" for why `STATE` is
    // enough to read the path.
    let mut state = STATE.lock();
    if state.frozen {
        dev_warn!(pdev.as_dev(), "preserve refused: shutdown has begun\n");
        return ESHUTDOWN.to_errno();
    }
    if !pdev.in_system(&state) {
        dev_warn!(
            pdev.as_dev(),
            "preserve refused: the device is not added to the system or is being removed\n"
        );
        return ENODEV.to_errno();
    }
    if refuse_acs_quirk(&mut state, &pdev) {
        return EINVAL.to_errno();
    }
    let path = match table::Path::of(&pdev) {
        Ok(p) => p,
        Err(e) => return table_err(&pdev, "preserve", e).to_errno(),
    };
    let r = state.outgoing().and_then(|out| loop {
        match out.table()?.preserve_path(&path, &driver) {
            Err(TableError::NoSpace(need)) => out.grow(need)?,
            Err(e) => break Err(table_err(&pdev, "preserve", e)),
            Ok(()) => break Ok(()),
        }
    });
    match r {
        Ok(()) => {
            pdev.set_flag(&mut state, Flag::Outgoing, true);
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
pub(crate) fn table_err(pdev: &PciDev, what: &str, e: TableError) -> Error {
    match e {
        TableError::Busy => {
            dev_warn!(pdev.as_dev(), "{what}: device is already preserved\n");
            EBUSY
        }
        TableError::NoSpace(_) => ENOMEM,
        TableError::NoPf => {
            let info = pdev.identity();
            dev_warn!(
                pdev.as_dev(),
                "{what} refused: its PF {:04x}:{} is not preserved with VF Enable set\n",
                info.segment,
                Bdf(info.upstream)
            );
            EINVAL
        }
        TableError::HasVfs => {
            dev_warn!(
                pdev.as_dev(),
                "{what} refused: VFs of this PF are preserved; it stays preserved until they are not\n"
            );
            EBUSY
        }
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

/// Cancels [`pci_liveupdate_preserve`] for `dev`, following the links the
/// table recorded (the topology may have changed since).
///
/// Acts only on the preservation made for this `pci_dev`: once it was
/// dropped (at removal), a new device found at the same address and
/// preserved again belongs to another caller. A device that is not
/// preserved gets a warning and nothing changes. A PF whose VFs are
/// preserved stays preserved (`-EBUSY`).
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev` the caller holds a reference to.
#[export]
pub unsafe extern "C" fn pci_liveupdate_unpreserve(dev: *mut bindings::pci_dev) -> c_int {
    // SAFETY: Valid and referenced (function contract).
    let Some(pdev) = (unsafe { entry_dev(dev) }) else {
        return EINVAL.to_errno();
    };
    match unpreserve(&pdev) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// [`pci_liveupdate_unpreserve`] of a device the caller holds, once
/// [`ready`] said `STATE` may be used.
pub(crate) fn unpreserve(pdev: &PciDev) -> Result {
    let mut state = STATE.lock();
    if state.frozen {
        dev_warn!(pdev.as_dev(), "unpreserve refused: shutdown has begun\n");
        return Err(ESHUTDOWN);
    }
    let mine = pdev.flag(&state, Flag::Outgoing);
    let removed = pdev.flag(&state, Flag::Removed);
    if !mine && removed {
        dev_warn!(
            pdev.as_dev(),
            "unpreserve: this device's preservation was already dropped; nothing changed\n"
        );
        return Err(EINVAL);
    }
    let r = if mine {
        let r = state
            .outgoing()
            .and_then(|out| Ok(out.table()?.unpreserve(&pdev.identity())));
        // Kept only while the entry could still be released.
        if matches!(r, Ok(Ok(()) | Err(TableError::NotPreserved))) {
            pdev.set_flag(&mut state, Flag::Outgoing, false);
        }
        r.and_then(|r| r.map_err(|e| table_err(pdev, "unpreserve", e)))
    } else {
        Err(table_err(pdev, "unpreserve", TableError::NotPreserved))
    };
    match r {
        Ok(()) => dev_info!(pdev.as_dev(), "will no longer be preserved\n"),
        Err(e) if e == ENOENT => dev_warn!(
            pdev.as_dev(),
            "unpreserve: no outgoing PCI Live Update FLB\n"
        ),
        Err(_) => {}
    }
    r
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
    STATE.lock().is_incoming_direct(&pdev)
}

/// Marks an incoming device as taken over by its driver (vfio-pci's first
/// open of the handed-over file): from then on only finish ends its
/// preservation, and [`pci_liveupdate_abandon`] is refused.
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev` the caller holds a reference to.
#[export]
pub unsafe extern "C" fn pci_liveupdate_claim(dev: *mut bindings::pci_dev) {
    // SAFETY: Valid and referenced (function contract).
    let Some(pdev) = (unsafe { entry_dev(dev) }) else {
        return;
    };
    let mut state = STATE.lock();
    if state.is_incoming_direct(&pdev) {
        pdev.set_flag(&mut state, Flag::Claimed, true);
        let info = pdev.identity();
        unwatch_config_writes(Some((info.segment, info.bdf)));
    }
}

/// Whether `dev` is preserved for the next kernel or is incoming: a bus or
/// slot reset for a sibling must spare it.
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev` the caller holds a reference to.
#[export]
pub unsafe extern "C" fn pci_liveupdate_is_preserved(dev: *mut bindings::pci_dev) -> bool {
    // SAFETY: Valid and referenced (function contract).
    let Some(pdev) = (unsafe { entry_dev(dev) }) else {
        return false;
    };
    let mut state = STATE.lock();
    if pdev.flag(&state, Flag::Outgoing) {
        return true;
    }
    state.is_incoming_direct(&pdev)
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
    if let Some(pdev) = unsafe { entry_dev(dev) } {
        let _ = end_incoming(&pdev, false);
    }
}

/// Abandons an incoming device that nobody will take over: stops it as a
/// stock kexec would have (Bus Master cleared, before its carried IOMMU
/// translation ends), then ends its preservation as
/// [`pci_liveupdate_finish`] does. For an administrator (sysfs
/// `liveupdate_abandon`) and for a driver whose user finished without
/// taking the device over.
///
/// Returns 0, `-EINVAL` (with a warning) if `dev` is not incoming, or
/// `-EBUSY` if its driver took it over ([`pci_liveupdate_claim`]).
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev` the caller holds a reference to.
#[export]
pub unsafe extern "C" fn pci_liveupdate_abandon(dev: *mut bindings::pci_dev) -> c_int {
    // SAFETY: Valid and referenced (function contract).
    let Some(pdev) = (unsafe { entry_dev(dev) }) else {
        return EINVAL.to_errno();
    };
    match end_incoming(&pdev, true) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// [`pci_liveupdate_finish`], or with `stop` [`pci_liveupdate_abandon`],
/// once [`ready`] said `STATE` may be used.
pub(crate) fn end_incoming(pdev: &PciDev, stop: bool) -> Result {
    let what = if stop { "abandon" } else { "finish" };
    let mut state = STATE.lock();
    if !state.is_incoming_direct(pdev) {
        dev_warn!(
            pdev.as_dev(),
            "{what}: device is not an incoming preserved device; nothing changed\n"
        );
        return Err(EINVAL);
    }
    if stop && pdev.flag(&state, Flag::Claimed) {
        dev_warn!(
            pdev.as_dev(),
            "abandon refused: its driver took the device over; finish its Live Update session instead\n"
        );
        return Err(EBUSY);
    }
    let info = pdev.identity();
    // Follow the links the previous kernel recorded: the handed-over
    // refcounts must drain even if this kernel sees the bridges differently.
    let drained = state
        .release_incoming(info.segment, info.bdf)
        .map_err(|e| table_err(pdev, what, e))?;
    if stop {
        // Before the translation ends: its DMA would fault from then on. A
        // device that does not answer has nothing to clear.
        if let Some(cmd) = pdev.command() {
            pdev.clear_bus_master(cmd);
        }
        dev_warn!(
            pdev.as_dev(),
            "Live Update preservation abandoned; Bus Master cleared\n"
        );
    } else {
        dev_info!(pdev.as_dev(), "Live Update preservation finished\n");
    }
    drop(state);
    glue::dma_release(pdev);
    put_incoming(drained);
    Ok(())
}
