// SPDX-License-Identifier: GPL-2.0

//! The PCI core hooks (`drivers/pci/liveupdate/hooks.h`): boot, enumeration,
//! driver binding, removal and shutdown.

use crate::{
    abi::{
        self,
        PciDevSer, //
    },
    c_api::end_incoming,
    dev::{
        DevRef,
        Flag,
        PciDev, //
    },
    flb::PCI_FLB,
    fmt::Bdf,
    glue::{
        self,
        watch_config_writes, //
    },
    state::{
        entry_dev,
        put_incoming,
        ready,
        READY,
        STATE, //
    },
    table,
    timing, //
};
use kernel::{
    bindings,
    prelude::*,
    sync::atomic::Release, //
};

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
    // `STATE` is not held, as the lock order requires.
    let got = PCI_FLB.get_incoming();
    // No Live Update, or nothing handed over for PCI.
    let nothing = matches!(&got, Err(e) if [ENODATA, ENOENT, EOPNOTSUPP].contains(e));
    if let Err(e) = &got {
        if !nothing {
            pr_err!("cannot retrieve the incoming device table ({e:?}); no device is treated as preserved\n");
        }
    }
    let mut incoming = got.ok();
    // Handover data that exists but cannot be read (including a retrieve
    // that had no memory and left no object) is treated as refused.
    let (n, refused) = match incoming.as_mut().map(|r| r.get_mut()) {
        None => (0, !nothing),
        Some(None) => (0, true),
        Some(Some(inc)) => match inc.table() {
            Ok(t) => (
                t.entries().iter().filter(|e| table::is_direct(e)).count(),
                false,
            ),
            Err(_) => (0, true),
        },
    };
    if n == 0 {
        // Nothing to hold the table for; put without `STATE` held.
        drop(incoming.take());
    }
    let (kho_boot, dma_safe) = (glue::kho_boot(), glue::dma_incoming());
    // SAFETY: Called once (function contract), before `READY` is set.
    unsafe { STATE.init() };
    {
        let mut state = STATE.lock();
        state.incoming = incoming;
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
    // Only a Live Update boot is worth a line.
    if n != 0 || refused {
        pr_info!(
            "FLB {} ready, {n} incoming preserved devices\n",
            abi::FLB_COMPATIBLE
        );
    }
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
        let k = &state.kept;
        let summary = (k.acs, k.ari, k.deferred);
        if let Some(t) = state.incoming() {
            let (acs, ari, deferred) = summary;
            pr_info!(
                "initial enumeration done: {} incoming entries; ACS Control adopted on {acs} functions, ARI Forwarding kept on {ari} bridges, {deferred} port driver probes deferred\n",
                t.len()
            );
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
        if glue::found_incoming(segment, bdf) {
            continue;
        }
        pr_warn!(
            "{segment:04x}:{} was preserved by the previous kernel but not found at enumeration; its preservation is dropped\n",
            Bdf(Some(bdf))
        );
        let drained = STATE.lock().release_incoming(segment, bdf);
        put_incoming(drained.unwrap_or(None));
    }
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
    let mut state = STATE.lock();
    if !pdev.flag(&state, Flag::Incoming) || state.incoming_entry(&pdev).is_some() {
        return false;
    }
    pdev.set_flag(&mut state, Flag::Incoming, false);
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
    glue::time_enumeration(&pdev);
    // What the hardware reports, whatever fixups made of the fields.
    pdev.read_ids();
    let cmd = pdev.command().unwrap_or(0);
    let bm = PciDev::bus_master_in(cmd);
    let up_dev = pdev.upstream();
    let upstream = up_dev.map(|b| b.bdf());
    let buses = pdev.config_buses();
    let mut state = STATE.lock();
    // A device below a bridge that is not treated as preserved is not
    // either: that bridge's resources may be moved.
    let up_kept = up_dev.is_none_or(|b| b.flag(&state, Flag::Incoming));
    pdev.set_flag(&mut state, Flag::BmAtEnum, bm);
    pdev.set_flag(&mut state, Flag::Incoming, false);
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
        pdev.clear_bus_master(cmd);
        dev_warn!(
            pdev.as_dev(),
            "cleared Bus Master left set by the previous kernel ({why})\n"
        );
    }
    if stop.is_some() || (entry.is_some() && !same) {
        glue::dma_release(&pdev);
    }
    let Some(e) = entry else {
        return;
    };
    if same {
        pdev.set_flag(&mut state, Flag::Incoming, true);
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
        put_incoming(drained.unwrap_or(None));
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
        let Some(d) = DevRef::lookup(seg, bdf) else {
            // Not enumerated (yet): release it now rather than at the late
            // sweep, so that nothing keeps this path incoming.
            let drained = STATE.lock().release_incoming(seg, bdf).unwrap_or(None);
            put_incoming(drained);
            continue;
        };
        // A refusal (its driver took it over) is logged by `end_incoming`.
        let _ = end_incoming(&d, true);
        // SAFETY: As below: a PF below loses its kept VFs before its VF
        // BARs can be assigned anew.
        unsafe { glue::drop_vfs(&d) };
    }
    // Whatever is left below, this device no longer keeps its resources.
    pdev.set_flag(&mut STATE.lock(), Flag::Incoming, false);
    // Its VF BARs may be assigned anew: not under enabled VFs.
    // SAFETY: Claims run during enumeration or a rescan, serialised with
    // the VF adding initcall (initcall order at boot, the rescan lock later).
    unsafe { glue::drop_vfs(&pdev) };
    // The device may runtime suspend again, and bind its port driver if it
    // is a bridge.
    glue::probe_ports();
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
    let mut drained = None;
    if state.is_incoming_direct(&pdev) {
        dev_warn!(
            pdev.as_dev(),
            "removed before its Live Update preservation finished; dropping it\n"
        );
        drained = state
            .release_incoming(info.segment, info.bdf)
            .unwrap_or(None);
        glue::dma_release(&pdev);
    }
    pdev.set_flag(&mut state, Flag::Incoming, false);
    pdev.set_flag(&mut state, Flag::Removed, true);
    let mine = pdev.flag(&state, Flag::Outgoing);
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
            pdev.set_flag(&mut state, Flag::Outgoing, false);
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
    // SAFETY: Guaranteed by the caller.
    if unsafe { entry_dev(dev) }.is_some() {
        freeze();
    }
}

/// [`pci_liveupdate_freeze`], once a device was passed in and [`ready`]
/// said `STATE` may be used.
pub(crate) fn freeze() {
    let _timed = timing::SHUTDOWN.start();
    let decide = {
        let mut state = STATE.lock();
        let first = !state.frozen;
        state.frozen = true;
        first && state.has_outgoing()
    };
    if decide {
        // Outside `STATE`: the IOMMU driver allocates and takes its locks.
        let ok = glue::dma_handover();
        let mut state = STATE.lock();
        state.dma_handover = ok;
        let n = state
            .outgoing()
            .and_then(|o| Ok(o.table()?.len()))
            .unwrap_or(0);
        if ok {
            pr_info!("kexec: the {n} preserved entries (devices and their bridges) keep Bus Master; the IOMMU hands its translation over\n");
        } else {
            pr_warn!("kexec: the IOMMU does not hand its translation over; the {n} preserved entries lose Bus Master\n");
        }
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
    if !glue::dma_keep(&pdev) {
        dev_warn!(
            pdev.as_dev(),
            "Live Update: no handed-over IOMMU translates it; Bus Master cleared at kexec\n"
        );
        return false;
    }
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
    let mut state = STATE.lock();
    if pass != 0 {
        return pdev.flag(&state, Flag::InheritBuses);
    }
    // SAFETY: `bus` is valid (function contract).
    let parent = unsafe { PciDev::bridge_of(bus) };
    let inherit = parent.is_some_and(|p| p.flag(&state, Flag::InheritBuses)) || state.keep_buses();
    pdev.set_flag(&mut state, Flag::InheritBuses, inherit);
    drop(state);
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
        pdev.set_flag(&mut STATE.lock(), Flag::InheritBuses, false);
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
    let mut state = STATE.lock();
    if !pdev.flag(&state, Flag::Incoming) {
        return;
    }
    let Some(ctrl) = pdev.acs_control() else {
        return;
    };
    pdev.set_adopted_acs(&mut state, ctrl);
    state.kept.acs += 1;
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
    let ctrl = pdev.adopted_acs(&STATE.lock());
    let Some(ctrl) = ctrl else {
        return false;
    };
    if pdev.acs_control() != Some(ctrl) {
        pdev.set_acs_control(ctrl);
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
    if !pdev.flag(&STATE.lock(), Flag::Incoming) || !pdev.is_pcie() {
        return ENOENT.to_errno();
    }
    let Some(on) = pdev.ari_forwarding() else {
        return ENOENT.to_errno();
    };
    STATE.lock().kept.ari += 1;
    c_int::from(on)
}

/// PCI core hook from `pci_device_probe()`: until an incoming device
/// finishes, only the driver that was bound when it was preserved (none if
/// none was) may bind it, unless an administrator set `driver_override`. A
/// bridge on an incoming path gets no driver until the devices below
/// finish; [`State::release_incoming`] then has it probed again. Returns 0
/// or `-EBUSY`.
///
/// [`State::release_incoming`]: crate::state::State::release_incoming
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
    let mut state = STATE.lock();
    let Some(e) = state.incoming_entry(&pdev) else {
        return 0;
    };
    if !table::is_direct(&e) {
        // A bridge on the path: port services (pciehp, AER, DPC, bandwidth
        // notification) would reconfigure its link, slot and error
        // reporting. They bind once every device below finished.
        state.kept.deferred += 1;
        return EBUSY.to_errno();
    }
    drop(state);
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
