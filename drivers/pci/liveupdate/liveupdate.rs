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
mod timing;

use abi::PciDevSer;
use dev::PciDev;
use flb::{
    flb_ptr,
    Incoming,
    Outgoing, //
};
use table::{
    DevInfo,
    Error as TableError,
    Table, //
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

impl kernel::fmt::Display for table::SriovMisfit {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
}

/// A bus/device/function for log lines; `None` is the root bus.
struct Bdf(Option<u16>);

impl kernel::fmt::Display for Bdf {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        match self.0 {
            Some(b) => write!(f, "{:02x}:{:02x}.{}", b >> 8, (b >> 3) & 0x1f, b & 7),
            None => f.write_str("the root bus"),
        }
    }
}

/// State shared by all entry points.
pub(crate) struct State {
    /// The outgoing table while an FLB holds one (see [`flb`]).
    pub(crate) outgoing: Option<NonNull<Outgoing>>,
    /// The incoming table while this kernel holds its boot-time reference.
    incoming: Option<NonNull<Incoming>>,
    /// The previous kernel's data was refused: keep bus numbers through
    /// the initial enumeration, stop devices found mastering.
    refused: bool,
    /// The initial enumeration is over (see [`pci_liveupdate_late_init`]).
    enumerated: bool,
    /// Shutdown has begun: the tables may not change any more.
    frozen: bool,
    /// Kexec: preserved devices keep Bus Master (the IOMMU hands over).
    dma_handover: bool,
    /// Booted by a kexec with KHO: nothing should arrive mastering that no
    /// handover accounts for.
    kho_boot: bool,
    /// The previous kernel handed its IOMMU over, as the hardware shows: a
    /// preserved device arriving mastering is translated or blocked.
    dma_safe: bool,
    /// The next preserve sees a device-specific ACS quirk (tests only).
    #[cfg(CONFIG_PCI_LIVEUPDATE_TEST)]
    pub(crate) force_acs_quirk: bool,
}

// SAFETY: The pointers are only used under the `STATE` lock.
unsafe impl Send for State {}

kernel::sync::global_lock! {
    // SAFETY: Initialised by `pci_liveupdate_init()` before `READY` is set,
    // and no entry point touches it before `READY`.
    unsafe(uninit) static STATE: Mutex<State> = State {
        outgoing: None,
        incoming: None,
        refused: false,
        enumerated: false,
        frozen: false,
        dma_handover: false,
        kho_boot: false,
        dma_safe: false,
        #[cfg(CONFIG_PCI_LIVEUPDATE_TEST)]
        force_acs_quirk: false,
    };
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
///
/// # Safety
///
/// Must be called once, before any other entry point of the component.
#[export]
pub unsafe extern "C" fn pci_liveupdate_init() -> c_int {
    let mut obj = core::ptr::null_mut();
    // SAFETY: `flb_ptr()` is the static PCI FLB; `obj` is a valid out
    // pointer. `STATE` is not held, as the lock order requires.
    let err = unsafe { bindings::liveupdate_flb_get_incoming(flb_ptr(), &mut obj) };
    // No Live Update, or nothing handed over for PCI.
    let nothing = [bindings::ENODATA, bindings::ENOENT, bindings::EOPNOTSUPP]
        .iter()
        .any(|&e| err == -(e as c_int));
    let incoming = NonNull::new(obj.cast::<Incoming>()).filter(|_| err == 0);
    if err != 0 && !nothing {
        pr_err!("cannot retrieve the incoming device table ({err}); no device is treated as preserved\n");
    }
    // Handover data that exists but cannot be read (including a retrieve
    // that had no memory and left no object) is treated as refused.
    let unreadable = incoming.is_none() && !nothing;
    let (n, refused) = incoming.map_or((0, unreadable), |mut p| {
        // SAFETY: The reference just taken keeps the table alive; nothing
        // else uses it before `READY`.
        match unsafe { p.as_mut() }.table() {
            Ok(t) => (
                t.entries().iter().filter(|e| table::is_direct(e)).count(),
                false,
            ),
            Err(_) => (0, true),
        }
    });
    let keep = err == 0 && n != 0;
    if err == 0 && !keep {
        // Nothing to hold the table for.
        // SAFETY: Drops the reference taken above, without `STATE` held.
        unsafe { bindings::liveupdate_flb_put_incoming(flb_ptr()) };
    }
    // SAFETY: Plain C calls without preconditions; `STATE` is not held.
    let (kho_boot, dma_safe) = unsafe {
        (
            bindings::is_kho_boot(),
            bindings::pci_liveupdate_dma_incoming(),
        )
    };
    // SAFETY: Called once (function contract), before `READY` is set.
    unsafe { STATE.init() };
    {
        let mut state = STATE.lock();
        state.incoming = if keep { incoming } else { None };
        if let Some(t) = state.incoming() {
            for e in t.entries() {
                watch_config_writes(e.segment.get(), e.bdf.get());
            }
        }
        state.refused = refused;
        state.kho_boot = kho_boot;
        state.dma_safe = dma_safe;
    }
    READY.store(true, Release);
    pr_info!(
        "FLB {} ready, {n} incoming preserved devices\n",
        abi::FLB_COMPATIBLE
    );
    0
}

/// Late boot setup, run at `late_initcall_sync` from `exports.c`, after
/// the initial enumeration: ends what would otherwise pin until reboot.
///
/// A preserved device that was not found (e.g. its bridge lost its bus
/// numbers) can never finish: its preservation is dropped with a warning,
/// so the table can drain and bus numbers stop being kept. If the handover
/// data was refused, bus numbers are no longer kept from now on.
///
/// # Safety
///
/// Must be called once, after [`pci_liveupdate_init`].
#[export]
pub unsafe extern "C" fn pci_liveupdate_late_init() {
    if !ready() {
        return;
    }
    let mut direct = KVec::new();
    {
        let mut state = STATE.lock();
        state.enumerated = true;
        if state.refused {
            pr_info!("initial enumeration done: bus numbers are no longer kept for the refused handover data\n");
        }
        if let Some(t) = state.incoming() {
            for e in t.entries().iter().filter(|e| table::is_direct(e)) {
                if direct
                    .push((e.segment.get(), e.bdf.get()), GFP_KERNEL)
                    .is_err()
                {
                    pr_err!("no memory to look for absent preserved devices\n");
                    return;
                }
            }
        }
    }
    for (segment, bdf) in direct {
        // SAFETY: A plain C call; `STATE` is not held, as it takes it.
        if unsafe { bindings::pci_liveupdate_found_incoming(segment, bdf) } {
            continue;
        }
        pr_warn!(
            "{segment:04x}:{} was preserved by the previous kernel but not found at enumeration; its preservation is dropped\n",
            Bdf(Some(bdf))
        );
        let drained = STATE.lock().release_incoming(segment, bdf);
        put_incoming(drained.unwrap_or(false));
    }
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

impl State {
    /// The outgoing table, `ENOENT` if no FLB holds one.
    pub(crate) fn outgoing(&mut self) -> Result<&mut Outgoing> {
        let mut p = self.outgoing.ok_or(ENOENT)?;
        // SAFETY: `flb_preserve` published the table and `flb_unpreserve`
        // withdraws it under `STATE` before freeing it; `&mut self` proves
        // the lock is held.
        Ok(unsafe { p.as_mut() })
    }

    /// The incoming table while the boot-time reference is held.
    fn incoming(&mut self) -> Option<Table<'_>> {
        let mut p = self.incoming?;
        // SAFETY: The boot-time reference keeps the table alive while it is
        // in `self`, and `&mut self` proves the lock is held.
        unsafe { p.as_mut() }.table().ok()
    }

    /// The incoming entry of `pdev` if its identity was confirmed at
    /// enumeration.
    fn incoming_entry(&mut self, pdev: &PciDev) -> Option<PciDevSer> {
        // SAFETY: `lu()` points into a valid device; read under `STATE`.
        if !unsafe { (*pdev.lu()).incoming } {
            return None;
        }
        let info = pdev.identity();
        self.incoming()?.find(info.segment, info.bdf).copied()
    }

    /// Whether the previous kernel preserved `pdev` itself (not just a
    /// device below it) and it has not finished.
    fn is_incoming_direct(&mut self, pdev: &PciDev) -> bool {
        self.incoming_entry(pdev)
            .is_some_and(|e| table::is_direct(&e))
    }

    /// Whether a device that matches `info` has an outgoing entry.
    fn outgoing_entry(&mut self, info: &DevInfo) -> Option<PciDevSer> {
        let t = self.outgoing().ok()?.table().ok()?;
        t.find(info.segment, info.bdf)
            .filter(|e| info.same_identity(e))
            .copied()
    }

    /// Whether bridges must keep their bus numbers: devices are incoming
    /// (or the handover data was refused and the initial enumeration is
    /// not over), or preserved for the next kernel.
    fn keep_buses(&mut self) -> bool {
        self.incoming.is_some() || (self.refused && !self.enumerated) || self.has_outgoing()
    }

    /// Whether any device is preserved for the next kernel.
    fn has_outgoing(&mut self) -> bool {
        self.outgoing()
            .ok()
            .and_then(|o| o.table().ok())
            .is_some_and(|t| !t.is_empty())
    }

    /// Releases the incoming entry of a directly preserved device (and its
    /// bridges' references), then drains as [`State::drain_incoming`] does;
    /// pass the result to [`put_incoming`] once `STATE` is released.
    fn release_incoming(&mut self, segment: u32, bdf: u16) -> Result<bool, TableError> {
        self.incoming()
            .ok_or(TableError::NotPreserved)?
            .finish(segment, bdf)?;
        unwatch_config_writes(Some((segment, bdf)));
        // SAFETY: A plain C call that only queues work: bridges of the
        // path that no incoming device needs any more get their port
        // driver (deferred by `pci_liveupdate_may_probe`).
        unsafe { bindings::pci_liveupdate_probe_ports() };
        Ok(self.drain_incoming())
    }

    /// Drops the boot-time reference if no incoming device is left; the
    /// caller must call [`put_incoming`] with the result once `STATE` is
    /// released.
    fn drain_incoming(&mut self) -> bool {
        if self.incoming().is_some_and(|t| !t.is_empty()) {
            return false;
        }
        if self.incoming.take().is_some() {
            unwatch_config_writes(None);
            pr_info!("every incoming preserved device finished\n");
            return true;
        }
        false
    }
}

/// Test kernels log every config write to an incoming function from the
/// start of enumeration until its driver takes it over (`config_writes.c`).
fn watch_config_writes(segment: u32, bdf: u16) {
    #[cfg(CONFIG_PCI_LIVEUPDATE_TEST)]
    // SAFETY: A plain C call; it takes only its own spinlock.
    unsafe {
        bindings::pci_liveupdate_test_watch(segment, bdf)
    };
    let _ = (segment, bdf);
}

/// Stops [`watch_config_writes`] for one function, or all with `None`.
fn unwatch_config_writes(function: Option<(u32, u16)>) {
    #[cfg(CONFIG_PCI_LIVEUPDATE_TEST)]
    {
        let (segment, bdf) = function.unwrap_or((0, 0));
        // SAFETY: A plain C call; it takes only its own spinlock.
        unsafe { bindings::pci_liveupdate_test_unwatch(segment, bdf, function.is_none()) };
    }
    let _ = function;
}

/// Drops the boot-time incoming reference taken out of [`State`]; call
/// without `STATE` held, as the lock order requires.
fn put_incoming(drained: bool) {
    if drained {
        // SAFETY: Drops the boot-time reference, which `drain_incoming`
        // removed from the state; LUO frees the table once the files that
        // depend on it finished too.
        unsafe { bindings::liveupdate_flb_put_incoming(flb_ptr()) };
    }
}

/// Whether `pdev` or a bridge above it needs a device-specific ACS quirk,
/// which the next kernel could not adopt; warns naming that device.
fn refuse_acs_quirk(state: &mut State, pdev: &PciDev) -> bool {
    #[cfg(CONFIG_PCI_LIVEUPDATE_TEST)]
    if core::mem::take(&mut state.force_acs_quirk) {
        dev_warn!(
            pdev.as_dev(),
            "cannot preserve: needs a device-specific ACS quirk (test)\n"
        );
        return true;
    }
    let _ = state;
    let mut cur = Some(*pdev);
    while let Some(d) = cur {
        if d.needs_acs_quirk() {
            dev_warn!(
                d.as_dev(),
                "cannot preserve {}: needs a device-specific ACS quirk\n",
                pdev.as_dev().name()
            );
            return true;
        }
        cur = d.upstream();
    }
    false
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
    // SAFETY: `lu` points into a valid device; `removed` is written under `STATE`.
    if unsafe { (*pdev.lu()).removed } || !pdev.is_added() {
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
            // SAFETY: `lu` points into a valid device; written under `STATE`.
            unsafe { (*pdev.lu()).outgoing = true };
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
    let mut state = STATE.lock();
    if state.frozen {
        dev_warn!(pdev.as_dev(), "unpreserve refused: shutdown has begun\n");
        return ESHUTDOWN.to_errno();
    }
    let lu = pdev.lu();
    // SAFETY: `lu` points into a valid device; read under `STATE`.
    let (mine, removed) = unsafe { ((*lu).outgoing, (*lu).removed) };
    if !mine && removed {
        dev_warn!(
            pdev.as_dev(),
            "unpreserve: this device's preservation was already dropped; nothing changed\n"
        );
        return EINVAL.to_errno();
    }
    let r = if mine {
        state.outgoing().and_then(|out| {
            let r = out.table()?.unpreserve(&pdev.identity());
            // Kept only while the entry could still be released.
            if matches!(r, Ok(()) | Err(TableError::NotPreserved)) {
                // SAFETY: As above; written under `STATE`.
                unsafe { (*lu).outgoing = false };
            }
            r.map_err(|e| table_err(&pdev, "unpreserve", e))
        })
    } else {
        Err(table_err(&pdev, "unpreserve", TableError::NotPreserved))
    };
    match r {
        Ok(()) => {
            dev_info!(pdev.as_dev(), "will no longer be preserved\n");
            0
        }
        Err(e) => {
            if e == ENOENT {
                dev_warn!(
                    pdev.as_dev(),
                    "unpreserve: no outgoing PCI Live Update FLB\n"
                );
            }
            e.to_errno()
        }
    }
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

/// Whether `dev` is a bridge whose driver [`pci_liveupdate_may_probe`]
/// deferred while a device below was incoming, and none is any more; true
/// once, for `pci_liveupdate_probe_ports()` (`exports.c`).
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev` the caller holds a reference to.
#[export]
pub unsafe extern "C" fn pci_liveupdate_port_deferred(dev: *mut bindings::pci_dev) -> bool {
    // SAFETY: Valid and referenced (function contract).
    let Some(pdev) = (unsafe { entry_dev(dev) }) else {
        return false;
    };
    if !pdev.is_bridge() {
        return false;
    }
    let lu = pdev.lu();
    let mut state = STATE.lock();
    // SAFETY: `lu` points into a valid device; accessed under `STATE`.
    if !unsafe { (*lu).incoming } || state.incoming_entry(&pdev).is_some() {
        return false;
    }
    // SAFETY: As above.
    unsafe { (*lu).incoming = false };
    true
}

/// PCI core hook: whether enumeration must adopt `dev`'s configuration as
/// found instead of writing it, because `dev` is incoming or a bridge on
/// an incoming device's path (until that device finishes).
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev`.
#[export]
pub unsafe extern "C" fn pci_liveupdate_adopt_config(dev: *mut bindings::pci_dev) -> bool {
    // SAFETY: Valid (function contract).
    let Some(pdev) = (unsafe { entry_dev(dev) }) else {
        return false;
    };
    STATE.lock().incoming_entry(&pdev).is_some()
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
        // SAFETY: `lu` points into a valid device; written under `STATE`.
        unsafe { (*pdev.lu()).claimed = true };
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
    // SAFETY: `lu` points into a valid device; read under `STATE`.
    if unsafe { (*pdev.lu()).outgoing } {
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
    let _ = unsafe { end_incoming(dev, false) };
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
    match unsafe { end_incoming(dev, true) } {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// [`pci_liveupdate_finish`], or with `stop` [`pci_liveupdate_abandon`].
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev` the caller holds a reference to.
unsafe fn end_incoming(dev: *mut bindings::pci_dev, stop: bool) -> Result {
    let what = if stop { "abandon" } else { "finish" };
    // SAFETY: Valid and referenced (function contract).
    let Some(pdev) = (unsafe { entry_dev(dev) }) else {
        return Err(EINVAL);
    };
    let mut state = STATE.lock();
    if !state.is_incoming_direct(&pdev) {
        dev_warn!(
            pdev.as_dev(),
            "{what}: device is not an incoming preserved device; nothing changed\n"
        );
        return Err(EINVAL);
    }
    // SAFETY: `lu` points into a valid device; read under `STATE`.
    if stop && unsafe { (*pdev.lu()).claimed } {
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
        .map_err(|e| table_err(&pdev, what, e))?;
    if stop {
        // Before the translation ends: its DMA would fault from then on. A
        // device that does not answer has nothing to clear.
        if let Some(cmd) = pdev
            .config_word(bindings::PCI_COMMAND)
            .filter(|&c| c != u16::MAX)
        {
            pdev.set_config_word(
                bindings::PCI_COMMAND,
                cmd & !(bindings::PCI_COMMAND_MASTER as u16),
            );
        }
        dev_warn!(
            pdev.as_dev(),
            "Live Update preservation abandoned; Bus Master cleared\n"
        );
    } else {
        dev_info!(pdev.as_dev(), "Live Update preservation finished\n");
    }
    drop(state);
    // SAFETY: Valid and referenced (function contract); no lock held.
    unsafe { bindings::pci_liveupdate_dma_release(dev) };
    put_incoming(drained);
    Ok(())
}

/// PCI core hook from `pci_setup_device()`: marks an incoming device.
///
/// A device whose address now holds another vendor, device or class is not
/// incoming; this is logged for each such device and its preservation is
/// dropped, so the table can still drain. Bus Master found set is cleared,
/// with the reason logged, unless the device is preserved and its IOMMU was
/// handed over: when the handover data was refused, on a device that is not
/// the one preserved, without a valid IOMMU handover, and on any device no
/// handover accounts for in a kernel started by a KHO kexec (e.g. with
/// `liveupdate=off`).
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev` being set up.
#[export]
pub unsafe extern "C" fn pci_liveupdate_setup_device(dev: *mut bindings::pci_dev) {
    let _timed = timing::ENUMERATION.start();
    // SAFETY: Valid (function contract).
    let Some(pdev) = (unsafe { entry_dev(dev) }) else {
        return;
    };
    // What the hardware reports, whatever fixups made of the fields.
    pdev.read_ids();
    let cmd = pdev.config_word(bindings::PCI_COMMAND).unwrap_or(0);
    let bm = cmd & bindings::PCI_COMMAND_MASTER as u16 != 0;
    let up_dev = pdev.upstream();
    let upstream = up_dev.map(|b| b.bdf());
    let buses = pdev.config_buses();
    let lu = pdev.lu();
    let mut state = STATE.lock();
    // A device below a bridge that is not treated as preserved is not
    // either: that bridge's resources may be moved.
    // SAFETY: `lu` of the bridge points into a valid device (it holds its
    // bus); read under `STATE`.
    let up_kept = up_dev.is_none_or(|b| unsafe { (*b.lu()).incoming });
    // SAFETY: `lu` points into the device being set up; written under `STATE`.
    unsafe {
        (*lu).bm_at_enum = bm;
        (*lu).incoming = false;
    }
    let info = pdev.identity();
    let entry = state
        .incoming()
        .and_then(|t| t.find(info.segment, info.bdf).copied());
    let same_id = entry.as_ref().is_some_and(|e| info.same_identity(e));
    let same_place = same_id
        && entry
            .as_ref()
            .is_some_and(|e| table::same_place(e, upstream, buses));
    // A probe record must fit the BARs as found, or this is not the device
    // as it was preserved: its sizes would claim the wrong ranges.
    let probe = entry
        .as_ref()
        .map(table::Probe::of)
        .filter(|p| p.is_valid());
    // Read only when there is a record to check: most devices have none.
    let checked = probe.filter(|_| same_place);
    let bars = checked.map(|_| pdev.bar_registers()).unwrap_or_default();
    let misfit = checked.and_then(|p| table::check_bars(&p, &bars.0[..bars.1], bars.2).err());
    let window_misfit = checked.filter(|_| misfit.is_none()).is_some_and(|p| {
        pdev.window_registers()
            .is_some_and(|(io, pref)| !table::check_windows(&p, io, pref))
    });
    // SR-IOV set up from the record must find the capability as it was.
    let sriov = checked.filter(|p| p.has_sriov()).map(|p| {
        pdev.sriov_registers().map(|r| {
            // CAST: `PAGE_SHIFT` is 12 to 16.
            table::check_sriov(&p, &r, kernel::page::PAGE_SHIFT as u32, info.bdf)
        })
    });
    // Without the capability this is not the function that was preserved;
    // a capability that does not fit is only set up anew (see below).
    let sriov_missing = matches!(sriov, Some(None));
    let same = same_place && misfit.is_none() && !window_misfit && !sriov_missing && up_kept;
    // Bus Master found set is kept only on a preserved device whose IOMMU
    // was handed over: anything else could DMA where it must not.
    let stop = if !bm {
        None
    } else if state.refused {
        Some("handover data refused")
    } else if entry.is_some() && !same {
        Some("not the device that was preserved")
    } else if same && !state.dma_safe {
        Some("no IOMMU handover keeps its DMA translated")
    } else if !same && state.kho_boot {
        Some("no Live Update handover accounts for it")
    } else {
        None
    };
    if let Some(why) = stop {
        pdev.set_config_word(
            bindings::PCI_COMMAND,
            cmd & !(bindings::PCI_COMMAND_MASTER as u16),
        );
        dev_warn!(
            pdev.as_dev(),
            "cleared Bus Master left set by the previous kernel ({why})\n"
        );
    }
    if stop.is_some() || (entry.is_some() && !same) {
        // SAFETY: Valid (function contract); the IOMMU takes its own lock.
        unsafe { bindings::pci_liveupdate_dma_release(dev) };
    }
    let Some(e) = entry else {
        return;
    };
    if same {
        // SAFETY: As above.
        unsafe { (*lu).incoming = true };
        if let Some(mut p) = probe {
            // With VF Enable clear the PF does not depend on its SR-IOV
            // registers: setting them up by writing does not disturb it.
            if let Some(Some(Err(m))) = sriov {
                dev_info!(
                    pdev.as_dev(),
                    "{m}; SR-IOV is set up anew as on any boot, not from its Live Update record\n"
                );
                p.flags &= !abi::P_SRIOV;
            }
            pdev.adopt_probe(&p);
        }
        if table::is_direct(&e) {
            dev_info!(
                pdev.as_dev(),
                "was preserved by the previous kernel across a Live Update\n"
            );
        }
        return;
    }
    if !same_id {
        dev_warn!(
            pdev.as_dev(),
            "was preserved as {:04x}:{:04x} class {:06x} but is now {:04x}:{:04x} class {:06x}; not treated as preserved\n",
            e.vendor.get(),
            e.device.get(),
            e.class.get(),
            info.vendor,
            info.device,
            info.class
        );
    } else if let Some(i) = misfit {
        let reg = if i == abi::BARS - 1 {
            bars.2.unwrap_or(0)
        } else {
            bars.0[i]
        };
        dev_warn!(
            pdev.as_dev(),
            "BAR {} (register {:#010x}) does not fit the size 2^{} recorded when it was preserved; not treated as preserved\n",
            i,
            reg,
            e.bar_order[i]
        );
    } else if sriov_missing {
        dev_warn!(
            pdev.as_dev(),
            "has no SR-IOV capability but was preserved with one; not treated as preserved\n"
        );
    } else if window_misfit {
        dev_warn!(
            pdev.as_dev(),
            "its bridge windows do not match the record made when it was preserved; not treated as preserved\n"
        );
    } else if same_place && !up_kept {
        dev_warn!(
            pdev.as_dev(),
            "its upstream bridge {} is not treated as preserved; neither is it\n",
            Bdf(upstream)
        );
    } else {
        let (sec, sub) = buses.unwrap_or((0, 0));
        dev_warn!(
            pdev.as_dev(),
            "was preserved below {} with buses {:02x}-{:02x} but is now below {} with buses {:02x}-{:02x}; not treated as preserved\n",
            Bdf(table::upstream_of(&e)),
            e.secondary,
            e.subordinate,
            Bdf(upstream),
            sec,
            sub
        );
    }
    // It can never finish: release its share now so the table drains.
    if table::is_direct(&e) {
        let drained = state.release_incoming(info.segment, info.bdf);
        drop(state);
        put_incoming(drained.unwrap_or(false));
    }
}

/// PCI core hook from `pci_read_bases()`: the sizing masks of the BARs of
/// an incoming device with a probe record, which `pci_setup_device()`
/// checked against its BARs, as if all-ones had been written and read
/// back. Returns `false`, and the caller sizes the BARs by writing, for any
/// other device.
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev` being set up; `sizes` must have
/// room for `howmany` values, and `rom` must be NULL or valid for writes.
#[export]
pub unsafe extern "C" fn pci_liveupdate_bar_masks(
    dev: *mut bindings::pci_dev,
    howmany: c_uint,
    sizes: *mut u32,
    rom: *mut u32,
) -> bool {
    // SAFETY: Valid (function contract).
    let Some(pdev) = (unsafe { entry_dev(dev) }) else {
        return false;
    };
    if !pdev.probed() || sizes.is_null() {
        return false;
    }
    let p = pdev.probe();
    let (bars, n, _) = pdev.bar_registers();
    // CAST: `howmany` is at most `PCI_STD_NUM_BARS`, asserted by the caller.
    let n = n.min(howmany as usize);
    let mut masks = [0u32; 6];
    let rom_mask = table::bar_masks(&p, &bars[..n], &mut masks[..n]);
    // SAFETY: `sizes` has room for `howmany >= n` values (function
    // contract); written, never read: the caller's array may be
    // uninitialised.
    unsafe { core::ptr::copy_nonoverlapping(masks.as_ptr(), sizes, n) };
    if !rom.is_null() {
        // SAFETY: Valid for writes when not NULL (function contract).
        unsafe { *rom = rom_mask };
    }
    true
}

/// PCI core hook from `sriov_init()`: the sizing masks of the VF BARs of
/// an incoming PF whose SR-IOV record `pci_setup_device()` checked against
/// its capability, and the bus numbers its VFs span, so that SR-IOV is set
/// up without writing to the running device. Returns `false`, and the
/// caller probes by writing, for any other device.
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev` being added; `sizes` must have
/// room for `PCI_SRIOV_NUM_BARS` values and `vf_buses` be valid for writes.
#[export]
pub unsafe extern "C" fn pci_liveupdate_vf_bar_masks(
    dev: *mut bindings::pci_dev,
    sizes: *mut u32,
    vf_buses: *mut u8,
) -> bool {
    // SAFETY: Valid (function contract).
    let Some(pdev) = (unsafe { entry_dev(dev) }) else {
        return false;
    };
    let Some(p) = pdev.vfs_probed() else {
        return false;
    };
    let Some(regs) = pdev.sriov_registers() else {
        return false;
    };
    let mut masks = [0u32; abi::VF_BARS];
    table::bar_masks(&p.vf_bars(), &regs.vf_bars, &mut masks);
    // SAFETY: Room for `PCI_SRIOV_NUM_BARS` values (function contract);
    // written, never read: the caller's array may be uninitialised.
    unsafe { core::ptr::copy_nonoverlapping(masks.as_ptr(), sizes, abi::VF_BARS) };
    // SAFETY: Valid for writes (function contract).
    unsafe { *vf_buses = p.vf_buses };
    true
}

/// The driver recorded for an incoming device, NUL-terminated into `buf`
/// of `len` bytes; `false` if it is not incoming directly or none was
/// recorded. For the VFs of a PF that kept VF Enable that were not
/// preserved: the PF's driver takes them, as vfio-pci takes the VFs it
/// enables.
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev` the caller holds a reference to;
/// `buf` must be valid for writes of `len` bytes.
#[export]
pub unsafe extern "C" fn pci_liveupdate_incoming_driver(
    dev: *mut bindings::pci_dev,
    buf: *mut c_char,
    len: usize,
) -> bool {
    // SAFETY: Valid and referenced (function contract).
    let Some(pdev) = (unsafe { entry_dev(dev) }) else {
        return false;
    };
    let Some(e) = STATE.lock().incoming_entry(&pdev) else {
        return false;
    };
    let name = table::driver_of(&e);
    if !table::is_direct(&e) || name.is_empty() || name.len() >= len {
        return false;
    }
    // SAFETY: `buf` has room for `len > name.len()` bytes (function
    // contract); `name` is a local copy, so the ranges do not overlap.
    unsafe {
        core::ptr::copy_nonoverlapping(name.as_ptr(), buf.cast::<u8>(), name.len());
        *buf.add(name.len()) = 0;
    }
    true
}

/// PCI core hook at the end of `pci_read_bases()`: records the BAR sizes
/// found, which a preserve of the device hands to the next kernel.
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev` being set up.
#[export]
pub unsafe extern "C" fn pci_liveupdate_bars_read(dev: *mut bindings::pci_dev) {
    // SAFETY: Valid (function contract).
    if let Some(pdev) = unsafe { entry_dev(dev) } {
        pdev.record_bar_sizes();
    }
}

/// PCI core hook from `pci_setup_device()`: whether INTx masking and the
/// bridge windows of `dev` came from its probe record, so the PCI core
/// must not probe them by writing.
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev` being set up.
#[export]
pub unsafe extern "C" fn pci_liveupdate_probed(dev: *mut bindings::pci_dev) -> bool {
    // SAFETY: Valid (function contract).
    unsafe { entry_dev(dev) }.is_some_and(|pdev| pdev.probed())
}

/// PCI core hook from `pci_claim_resource()`: a BAR or bridge window of
/// `dev` could not be claimed where it is.
///
/// For an incoming device or a bridge on an incoming path this is the
/// invalid-data policy for the devices that depend on it: each directly
/// preserved device at or below `dev` is abandoned (Bus Master cleared,
/// preservation released) and named, so that the PCI core may then assign
/// the resources anew as for any other device instead of moving a running
/// one silently.
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev` the caller holds a reference to.
#[export]
pub unsafe extern "C" fn pci_liveupdate_claim_failed(dev: *mut bindings::pci_dev, resno: c_int) {
    // SAFETY: Valid (function contract).
    let Some(pdev) = (unsafe { entry_dev(dev) }) else {
        return;
    };
    let Some(top) = STATE.lock().incoming_entry(&pdev) else {
        return;
    };
    // A BAR, ROM or window the device does not decode is not in use: the
    // PCI core may place it as usual, as a stock kernel would.
    let Some(idx) = usize::try_from(resno).ok().filter(|&i| pdev.decodes(i)) else {
        return;
    };
    dev_err!(
        pdev.as_dev(),
        "Live Update: resource {} cannot be claimed where the previous kernel left it; abandoning the preserved devices that depend on it\n",
        idx
    );
    let seg = top.segment.get();
    let depends = |e: &PciDevSer| {
        let bus = (e.bdf.get() >> 8) as u8;
        let below = top.flags.get() & abi::F_BRIDGE != 0
            && (top.secondary..=top.subordinate).contains(&bus);
        // A PF's VFs (not enumerated yet) depend on its VF BARs.
        let vf = table::is_virtfn(e) && table::upstream_of(e) == Some(top.bdf.get());
        e.segment.get() == seg && table::is_direct(e) && (e.bdf == top.bdf || below || vf)
    };
    // One at a time in table order: abandoning takes `STATE` itself.
    let mut after = None;
    loop {
        let next = {
            let mut state = STATE.lock();
            let Some(t) = state.incoming() else {
                break;
            };
            t.entries()
                .iter()
                .filter(|e| after.is_none_or(|a| e.bdf.get() > a))
                .find(|e| depends(e))
                .map(|e| e.bdf.get())
        };
        let Some(bdf) = next else {
            break;
        };
        after = Some(bdf);
        // CAST: Segments are non-negative and fit in a C `int`.
        // SAFETY: A plain C lookup; it returns a referenced device or NULL.
        let d = unsafe {
            bindings::pci_get_domain_bus_and_slot(
                seg as c_int,
                u32::from(bdf >> 8),
                u32::from(bdf & 0xff),
            )
        };
        if d.is_null() {
            // Not enumerated (yet): release it now rather than at the late
            // sweep, so that nothing keeps this path incoming.
            let drained = STATE.lock().release_incoming(seg, bdf).unwrap_or(false);
            put_incoming(drained);
            continue;
        }
        // SAFETY: `d` is valid and referenced until the put below. A
        // refusal (its driver took it over) is logged by `end_incoming`.
        let _ = unsafe { end_incoming(d, true) };
        // SAFETY: As below: a PF below loses its kept VFs before its VF
        // BARs can be assigned anew.
        unsafe { bindings::pci_liveupdate_drop_vfs(d) };
        // SAFETY: Drops the reference taken by the lookup.
        unsafe { bindings::pci_dev_put(d) };
    }
    // Whatever is left below, this device no longer keeps its resources.
    {
        let _state = STATE.lock();
        // SAFETY: `lu` points into a valid device; written under `STATE`.
        unsafe { (*pdev.lu()).incoming = false };
    }
    // Its VF BARs may be assigned anew: not under enabled VFs.
    // SAFETY: Valid (function contract). Claims run during enumeration
    // or a rescan, serialised with the VF adding initcall (initcall order
    // at boot, the rescan lock later).
    unsafe { bindings::pci_liveupdate_drop_vfs(dev) };
    // SAFETY: A plain C call that only queues work: the device may runtime
    // suspend again, and bind its port driver if it is a bridge.
    unsafe { bindings::pci_liveupdate_probe_ports() };
}

/// PCI core hook from `pci_rebar_set_size()`: a Resizable BAR changed size,
/// so a later preserve must record the new one.
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev` the caller holds a reference to.
#[export]
pub unsafe extern "C" fn pci_liveupdate_bar_resized(
    dev: *mut bindings::pci_dev,
    bar: c_int,
    size: u64,
) {
    // SAFETY: Valid (function contract).
    let Some(pdev) = (unsafe { entry_dev(dev) }) else {
        return;
    };
    if let Ok(bar) = usize::try_from(bar) {
        let _guard = STATE.lock();
        pdev.set_bar_size(bar, size);
    }
}

/// PCI core hook from `pci_destroy_dev()`: a device leaves the bus.
///
/// A preserved device (outgoing or incoming) that is removed gets a warning
/// and its preservation, with its bridges' references, is released by the
/// recorded links, so the table stays consistent and can drain. Called at
/// removal rather than release: the preserving driver's file may hold a
/// reference to the device for as long as it is preserved.
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev` being removed.
#[export]
pub unsafe extern "C" fn pci_liveupdate_remove_device(dev: *mut bindings::pci_dev) {
    let _timed = timing::ENUMERATION.start();
    // SAFETY: Valid (function contract).
    let Some(pdev) = (unsafe { entry_dev(dev) }) else {
        return;
    };
    let info = pdev.identity();
    let mut state = STATE.lock();
    let mut drained = false;
    if state.is_incoming_direct(&pdev) {
        dev_warn!(
            pdev.as_dev(),
            "removed before its Live Update preservation finished; dropping it\n"
        );
        drained = state
            .release_incoming(info.segment, info.bdf)
            .unwrap_or(false);
        // SAFETY: Valid (function contract); the IOMMU takes its own lock.
        unsafe { bindings::pci_liveupdate_dma_release(dev) };
    }
    let lu = pdev.lu();
    // SAFETY: `lu` points into a valid device; accessed under `STATE`.
    let mine = unsafe {
        (*lu).incoming = false;
        (*lu).removed = true;
        (*lu).outgoing
    };
    if mine {
        if state.frozen {
            dev_warn!(
                pdev.as_dev(),
                "removed during shutdown while preserved for the next Live Update\n"
            );
        } else {
            dev_warn!(
                pdev.as_dev(),
                "removed while preserved for the next Live Update; its preservation is dropped\n"
            );
            if let Ok(mut t) = state.outgoing().and_then(|o| o.table()) {
                let _ = t.unpreserve(&info);
            }
            // SAFETY: As above.
            unsafe { (*lu).outgoing = false };
        }
    }
    drop(state);
    put_incoming(drained);
}

/// PCI core hook, first in `pci_device_shutdown()`: from now on no
/// preservation may change.
///
/// The first call of a kexec with devices preserved decides whether they
/// keep Bus Master: only if the image carries the handover and the IOMMU
/// hands translation over (see `pci_liveupdate_dma_handover()`).
///
/// # Safety
///
/// `dev` must be NULL or a valid `struct pci_dev`.
#[export]
pub unsafe extern "C" fn pci_liveupdate_freeze(dev: *mut bindings::pci_dev) {
    let _timed = timing::SHUTDOWN.start();
    // SAFETY: Guaranteed by the caller.
    if unsafe { entry_dev(dev) }.is_none() {
        return;
    }
    let decide = {
        let mut state = STATE.lock();
        let first = !state.frozen;
        state.frozen = true;
        first && state.has_outgoing()
    };
    if decide {
        // Outside `STATE`: the IOMMU driver allocates and takes its locks.
        // SAFETY: A plain C call; shutdown runs in process context.
        let ok = unsafe { bindings::pci_liveupdate_dma_handover() };
        STATE.lock().dma_handover = ok;
    }
}

/// PCI core hook for the kexec Bus Master decision: whether `dev` is
/// preserved for the next kernel or is a bridge above such a device.
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev` the caller holds a reference to.
#[export]
pub unsafe extern "C" fn pci_liveupdate_is_outgoing(dev: *mut bindings::pci_dev) -> bool {
    let _timed = timing::SHUTDOWN.start();
    // SAFETY: Valid and referenced (function contract).
    let Some(pdev) = (unsafe { entry_dev(dev) }) else {
        return false;
    };
    let mut state = STATE.lock();
    let found = state.dma_handover && state.outgoing_entry(&pdev.identity()).is_some();
    drop(state);
    if !found {
        return false;
    }
    // SAFETY: Valid and referenced (function contract); no lock held.
    if !unsafe { bindings::pci_liveupdate_dma_keep(dev) } {
        dev_warn!(
            pdev.as_dev(),
            "Live Update: no handed-over IOMMU translates it; Bus Master cleared at kexec\n"
        );
        return false;
    }
    dev_info!(pdev.as_dev(), "Live Update: Bus Master kept across kexec\n");
    true
}

/// PCI core hook from `pci_scan_bridge_extend()`: whether the bridge keeps
/// the bus numbers it has in this scan.
///
/// Decided in pass 0 and kept for pass 1. While any device is incoming (or
/// the handover data was refused) or preserved for the next kernel, every
/// bridge keeps its numbers; so does a bridge whose parent does.
/// `assign_all` is `pcibios_assign_all_busses()`, which is then ignored.
///
/// # Safety
///
/// `bus` and `dev` must be valid; the caller scans the bus.
#[export]
pub unsafe extern "C" fn pci_liveupdate_scan_bridge_begin(
    bus: *mut bindings::pci_bus,
    dev: *mut bindings::pci_dev,
    pass: c_int,
    assign_all: bool,
) -> bool {
    let _timed = timing::ENUMERATION.start();
    // SAFETY: Valid (function contract).
    let Some(pdev) = (unsafe { entry_dev(dev) }) else {
        return false;
    };
    let lu = pdev.lu();
    if pass != 0 {
        // SAFETY: `lu` points into a valid device; the scan is serialised.
        return unsafe { (*lu).inherit_buses };
    }
    // SAFETY: `bus` is valid (function contract).
    let parent = unsafe { PciDev::bridge_of(bus) };
    // SAFETY: The parent bridge is valid while its bus is.
    let inherit =
        parent.is_some_and(|p| unsafe { (*p.lu()).inherit_buses }) || STATE.lock().keep_buses();
    // SAFETY: As above.
    unsafe { (*lu).inherit_buses = inherit };
    if inherit && assign_all {
        kernel::do_once_lite! {
            pr_info!("pci=assign-busses ignored during a Live Update\n")
        };
    }
    inherit
}

/// PCI core hook: a bridge that would need new bus numbers while they must
/// be kept is not configured, and nothing below it is scanned.
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev`.
#[export]
pub unsafe extern "C" fn pci_liveupdate_refuse_bridge(dev: *mut bindings::pci_dev, pass: c_int) {
    let _timed = timing::ENUMERATION.start();
    // SAFETY: Valid (function contract).
    if let (Some(pdev), 0) = (unsafe { entry_dev(dev) }, pass) {
        dev_err!(
            pdev.as_dev(),
            "cannot assign bus numbers during a Live Update; not scanning below this bridge\n"
        );
    }
}

/// PCI core hook at the end of each `pci_scan_bridge_extend()` pass: after
/// pass 1 the decision is forgotten, so the next scan takes it again.
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev`.
#[export]
pub unsafe extern "C" fn pci_liveupdate_scan_bridge_end(dev: *mut bindings::pci_dev, pass: c_int) {
    let _timed = timing::ENUMERATION.start();
    // SAFETY: Valid (function contract).
    if let (Some(pdev), 1) = (unsafe { entry_dev(dev) }, pass) {
        // SAFETY: `lu` points into a valid device; the scan is serialised.
        unsafe { (*pdev.lu()).inherit_buses = false };
    }
}

/// PCI core hook from `pci_acs_init()`: an incoming device (or bridge on an
/// incoming path) keeps the ACS Control the previous kernel left.
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev`.
#[export]
pub unsafe extern "C" fn pci_liveupdate_init_acs(dev: *mut bindings::pci_dev) {
    let _timed = timing::ENUMERATION.start();
    // SAFETY: Valid (function contract).
    let Some(pdev) = (unsafe { entry_dev(dev) }) else {
        return;
    };
    let lu = pdev.lu();
    let _state = STATE.lock();
    // SAFETY: `lu` points into a valid device; read under `STATE`.
    if !unsafe { (*lu).incoming } || pdev.acs_cap() == 0 {
        return;
    }
    let pos = u32::from(pdev.acs_cap()) + bindings::PCI_ACS_CTRL;
    let Some(ctrl) = pdev.config_word(pos) else {
        return;
    };
    // SAFETY: As above; written under `STATE`.
    unsafe {
        (*lu).acs_ctrl = ctrl;
        (*lu).acs_adopted = true;
    }
    dev_info!(
        pdev.as_dev(),
        "Live Update: adopted ACS Control {ctrl:#06x} from the previous kernel\n"
    );
}

/// PCI core hook, first in `pci_enable_acs()`: writes back the adopted ACS
/// Control where it differs (after `pci_restore_state()`; at enumeration
/// it does not, so nothing is written) and returns true, or returns false
/// for the normal setup.
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev`.
#[export]
pub unsafe extern "C" fn pci_liveupdate_adopt_acs(dev: *mut bindings::pci_dev) -> bool {
    let _timed = timing::ENUMERATION.start();
    // SAFETY: Valid (function contract).
    let Some(pdev) = (unsafe { entry_dev(dev) }) else {
        return false;
    };
    let lu = pdev.lu();
    let ctrl = {
        let _state = STATE.lock();
        // SAFETY: `lu` points into a valid device; read under `STATE`.
        unsafe { (*lu).acs_adopted.then_some((*lu).acs_ctrl) }
    };
    let Some(ctrl) = ctrl else {
        return false;
    };
    let pos = u32::from(pdev.acs_cap()) + bindings::PCI_ACS_CTRL;
    if pdev.config_word(pos) != Some(ctrl) {
        pdev.set_config_word(pos, ctrl);
    }
    true
}

/// PCI core hook from `pci_configure_ari()`: an incoming bridge keeps its
/// ARI Forwarding Enable, even with `pci=noari`. Returns the bit (0 or 1)
/// to use, or `-ENOENT` for the normal setup.
///
/// # Safety
///
/// `bridge` must be a valid `struct pci_dev`.
#[export]
pub unsafe extern "C" fn pci_liveupdate_bridge_ari(bridge: *mut bindings::pci_dev) -> c_int {
    let _timed = timing::ENUMERATION.start();
    // SAFETY: Valid (function contract).
    let Some(pdev) = (unsafe { entry_dev(bridge) }) else {
        return ENOENT.to_errno();
    };
    {
        let _state = STATE.lock();
        // SAFETY: `lu` points into a valid device; read under `STATE`.
        if !unsafe { (*pdev.lu()).incoming } || !pdev.is_pcie() {
            return ENOENT.to_errno();
        }
    }
    let mut ctl = 0u16;
    // SAFETY: `pdev` is a valid PCIe device; `ctl` is a valid out pointer.
    let err = unsafe {
        bindings::pcie_capability_read_word(
            pdev.as_raw(),
            bindings::PCI_EXP_DEVCTL2 as c_int,
            &mut ctl,
        )
    };
    if err != 0 {
        return ENOENT.to_errno();
    }
    let on = ctl & bindings::PCI_EXP_DEVCTL2_ARI as u16 != 0;
    dev_info!(
        pdev.as_dev(),
        "Live Update: kept ARI Forwarding {}\n",
        if on { "enabled" } else { "disabled" }
    );
    c_int::from(on)
}

/// PCI core hook from `pci_device_probe()`: until an incoming device
/// finishes, only the driver that was bound when it was preserved (none if
/// none was) may bind it, unless an administrator set `driver_override`. A
/// bridge on an incoming path gets no driver until the devices below
/// finish; [`State::release_incoming`] then has it probed again. Returns 0
/// or `-EBUSY`.
///
/// # Safety
///
/// `dev` and `drv` must be valid.
#[export]
pub unsafe extern "C" fn pci_liveupdate_may_probe(
    dev: *mut bindings::pci_dev,
    drv: *mut bindings::pci_driver,
) -> c_int {
    let _timed = timing::ENUMERATION.start();
    // SAFETY: Valid (function contract).
    let Some(pdev) = (unsafe { entry_dev(dev) }) else {
        return 0;
    };
    let Some(e) = STATE.lock().incoming_entry(&pdev) else {
        return 0;
    };
    if !table::is_direct(&e) {
        // A bridge on the path: port services (pciehp, AER, DPC, bandwidth
        // notification) would reconfigure its link, slot and error
        // reporting. They bind once every device below finished.
        // SAFETY: `drv` is a registered driver whose name is a C string.
        let name = unsafe { CStr::from_char_ptr((*drv).name) };
        dev_info!(
            pdev.as_dev(),
            "Live Update: {name} deferred until the preserved devices below finish\n"
        );
        return EBUSY.to_errno();
    }
    if pdev.has_driver_override() {
        return 0;
    }
    // SAFETY: `drv` is a registered driver whose name is a C string.
    let name = unsafe { CStr::from_char_ptr((*drv).name) };
    let recorded = table::driver_of(&e);
    if name.to_bytes() == recorded {
        return 0;
    }
    match core::str::from_utf8(recorded) {
        Ok("") => dev_warn!(
            pdev.as_dev(),
            "Live Update: driver {name} may not bind before the preservation finishes (preserved with no driver)\n"
        ),
        Ok(r) => dev_warn!(
            pdev.as_dev(),
            "Live Update: driver {name} may not bind before the preservation finishes (preserved with driver {r})\n"
        ),
        Err(_) => dev_warn!(
            pdev.as_dev(),
            "Live Update: driver {name} may not bind before the preservation finishes\n"
        ),
    }
    EBUSY.to_errno()
}

#[cfg(CONFIG_PCI_LIVEUPDATE_TEST)]
pub mod test_api;
