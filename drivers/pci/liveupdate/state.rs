// SPDX-License-Identifier: GPL-2.0

//! The state shared by every entry point, and [`STATE`], the lock that
//! guards it.

use crate::{
    abi::PciDevSer,
    dev::{
        Flag,
        PciDev, //
    },
    flb::{
        Outgoing,
        PciFlb, //
    },
    glue::{
        self,
        unwatch_config_writes, //
    },
    table::{
        self,
        DevInfo,
        Error as TableError,
        Table, //
    },
};
use kernel::{
    bindings,
    liveupdate::IncomingRef,
    prelude::*,
    sync::atomic::{
        Acquire,
        AtomicFlag, //
    },
};

/// Counts of what enumeration kept on incoming paths, for the one summary
/// line at the end of the initial enumeration (instead of a line per
/// bridge).
pub(crate) struct Kept {
    /// Functions whose ACS Control was adopted.
    pub(crate) acs: u32,
    /// Bridges whose ARI Forwarding Enable was kept.
    pub(crate) ari: u32,
    /// Port driver probes deferred on bridges of incoming paths.
    pub(crate) deferred: u32,
}

/// State shared by all entry points.
pub(crate) struct State {
    /// The outgoing table while files preserve the FLB (see
    /// [`flb`](crate::flb)).
    pub(crate) outgoing: Option<KBox<Outgoing>>,
    /// The boot-time reference on the incoming table.
    pub(crate) incoming: Option<IncomingRef<PciFlb>>,
    /// The previous kernel's data was refused: keep bus numbers through
    /// the initial enumeration, stop devices found mastering.
    pub(crate) refused: bool,
    /// The initial enumeration is over (see
    /// [`pci_liveupdate_late_init`](crate::hooks::pci_liveupdate_late_init)).
    pub(crate) enumerated: bool,
    /// Shutdown has begun: the tables may not change any more.
    pub(crate) frozen: bool,
    /// Kexec: preserved devices keep Bus Master (the IOMMU hands over).
    pub(crate) dma_handover: bool,
    /// Booted by a kexec with KHO: nothing should arrive mastering that no
    /// handover accounts for.
    pub(crate) kho_boot: bool,
    /// The previous kernel handed its IOMMU over, as the hardware shows: a
    /// preserved device arriving mastering is translated or blocked.
    pub(crate) dma_safe: bool,
    /// The next preserve sees a device-specific ACS quirk (tests only).
    #[cfg(CONFIG_PCI_LIVEUPDATE_TEST)]
    pub(crate) force_acs_quirk: bool,
    /// What the initial enumeration kept, logged once at its end.
    pub(crate) kept: Kept,
    /// Private: the only `State` is the one in [`STATE`], so a `&State`
    /// proves the lock is held (see [`PciDev::flag`]).
    _sealed: (),
}

kernel::sync::global_lock! {
    // SAFETY: Initialised by `pci_liveupdate_init()` before `READY` is set,
    // and no entry point touches it before `READY`.
    pub(crate) unsafe(uninit) static STATE: Mutex<State> = State {
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
        kept: Kept {
            acs: 0,
            ari: 0,
            deferred: 0,
        },
        _sealed: (),
    };
}

/// Set once [`STATE`] is usable.
pub(crate) static READY: AtomicFlag = AtomicFlag::new(false);

pub(crate) fn ready() -> bool {
    READY.load(Acquire)
}

/// The device of a C entry point; `None` if NULL or before boot-time setup.
///
/// # Safety
///
/// `dev` must be NULL or a valid `struct pci_dev` the caller holds a
/// reference to while the result is used.
pub(crate) unsafe fn entry_dev(dev: *mut bindings::pci_dev) -> Option<PciDev> {
    // SAFETY: Guaranteed by the caller.
    let pdev = unsafe { PciDev::from_raw(dev) }?;
    ready().then_some(pdev)
}

impl State {
    /// The outgoing table, `ENOENT` if no FLB holds one.
    pub(crate) fn outgoing(&mut self) -> Result<&mut Outgoing> {
        self.outgoing.as_deref_mut().ok_or(ENOENT)
    }

    /// The incoming table while the boot-time reference is held.
    pub(crate) fn incoming(&mut self) -> Option<Table<'_>> {
        self.incoming.as_mut()?.get_mut()?.table().ok()
    }

    /// The incoming entry of `pdev` if its identity was confirmed at
    /// enumeration.
    pub(crate) fn incoming_entry(&mut self, pdev: &PciDev) -> Option<PciDevSer> {
        if !pdev.flag(self, Flag::Incoming) {
            return None;
        }
        let info = pdev.identity();
        self.incoming()?.find(info.segment, info.bdf).copied()
    }

    /// Whether the previous kernel preserved `pdev` itself (not just a
    /// device below it) and it has not finished.
    pub(crate) fn is_incoming_direct(&mut self, pdev: &PciDev) -> bool {
        self.incoming_entry(pdev)
            .is_some_and(|e| table::is_direct(&e))
    }

    /// Whether a device that matches `info` has an outgoing entry.
    pub(crate) fn outgoing_entry(&mut self, info: &DevInfo) -> Option<PciDevSer> {
        let t = self.outgoing().ok()?.table().ok()?;
        t.find(info.segment, info.bdf)
            .filter(|e| info.same_identity(e))
            .copied()
    }

    /// Whether bridges must keep their bus numbers: devices are incoming
    /// (or the handover data was refused and the initial enumeration is
    /// not over), or preserved for the next kernel.
    pub(crate) fn keep_buses(&mut self) -> bool {
        self.incoming.is_some() || (self.refused && !self.enumerated) || self.has_outgoing()
    }

    /// Whether any device is preserved for the next kernel.
    pub(crate) fn has_outgoing(&mut self) -> bool {
        self.outgoing()
            .ok()
            .and_then(|o| o.table().ok())
            .is_some_and(|t| !t.is_empty())
    }

    /// Releases the incoming entry of a directly preserved device (and its
    /// bridges' references), then drains as [`State::drain_incoming`] does;
    /// pass the result to [`put_incoming`] once `STATE` is released.
    pub(crate) fn release_incoming(
        &mut self,
        segment: u32,
        bdf: u16,
    ) -> Result<Drained, TableError> {
        self.incoming()
            .ok_or(TableError::NotPreserved)?
            .finish(segment, bdf)?;
        unwatch_config_writes(Some((segment, bdf)));
        // Bridges of the path that no incoming device needs any more get
        // their port driver (deferred by `pci_liveupdate_may_probe`).
        glue::probe_ports();
        Ok(self.drain_incoming())
    }

    /// Takes the boot-time reference out if no incoming device is left;
    /// the caller must pass it to [`put_incoming`] once `STATE` is
    /// released.
    pub(crate) fn drain_incoming(&mut self) -> Drained {
        if self.incoming().is_some_and(|t| !t.is_empty()) {
            return None;
        }
        let drained = self.incoming.take();
        if drained.is_some() {
            unwatch_config_writes(None);
            pr_info!("every incoming preserved device finished\n");
        }
        drained
    }
}

/// The boot-time reference on the incoming table, once taken out of
/// [`State`] by [`State::drain_incoming`].
pub(crate) type Drained = Option<IncomingRef<PciFlb>>;

/// Drops the boot-time incoming reference taken out of [`State`]; call
/// without `STATE` held, as the lock order requires (LUO frees the table
/// once the files that depend on it finished too, under its FLB mutex).
pub(crate) fn put_incoming(drained: Drained) {
    drop(drained);
}
