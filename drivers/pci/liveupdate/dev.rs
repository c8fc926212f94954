// SPDX-License-Identifier: GPL-2.0

//! The FFI edge for `struct pci_dev`: what the table records about a device
//! and the walk to its upstream bridges.
//!
//! C header: [`include/linux/pci.h`](srctree/include/linux/pci.h)

use crate::abi;
use crate::glue;
use crate::state::State;
use crate::table::{
    self,
    DevInfo,
    Node,
    Probe, //
};
use core::{
    ops::Deref,
    ptr::NonNull, //
};
use kernel::{
    bindings,
    device,
    io::resource::Flags,
    pci,
    prelude::*,
    str::CStr,
    sync::aref::ARef,
    uapi, //
};

/// A flag of the device's Live Update state (`struct pci_liveupdate`).
///
/// Flags are only read and written under [`STATE`](crate::state::STATE):
/// the [`State`] argument of [`PciDev::flag`] and [`PciDev::set_flag`]
/// proves the lock is held.
#[derive(Clone, Copy)]
pub(crate) enum Flag {
    /// Preserved by the previous kernel, or a bridge on such a path, found
    /// as it was recorded and not finished.
    Incoming,
    /// Preserved for the next kernel.
    Outgoing,
    /// Its removal hook ran.
    Removed,
    /// Its driver took the incoming device over.
    Claimed,
    /// A bridge that keeps its bus numbers in the current scan.
    InheritBuses,
    /// Bus Master was set when enumeration found the device.
    BmAtEnum,
}

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
    /// The bridge whose secondary bus is `bus`; `None` for a root bus.
    ///
    /// # Safety
    ///
    /// `bus` must point to a valid `struct pci_bus` that its caller keeps
    /// alive while the value is used.
    pub(crate) unsafe fn bridge_of(bus: *mut bindings::pci_bus) -> Option<Self> {
        // SAFETY: `bus` is valid (function contract); it holds a reference
        // on its bridge.
        NonNull::new(unsafe { (*bus).self_ }).map(PciDev)
    }

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

    /// The device as the kernel crate's PCI abstraction.
    fn pci(&self) -> &pci::Device {
        // SAFETY: `ptr` is valid while `self` is usable (type invariant).
        unsafe { pci::Device::from_raw(self.ptr()) }
    }

    /// Wraps a device reached from this one (its PF, its bus's bridge).
    fn of(d: &pci::Device) -> Self {
        // INVARIANT: `d` is valid and kept alive by the device it was
        // reached from, as the callers explain.
        PciDev(NonNull::from(d).cast())
    }

    // C changes other parts of `struct pci_dev` concurrently, so the fields
    // the PCI core owns are read through the raw pointer.
    fn ptr(&self) -> *mut bindings::pci_dev {
        self.0.as_ptr()
    }

    /// The generic device, for `dev_*!` log lines that name the device.
    pub(crate) fn as_dev(&self) -> &device::Device {
        self.pci().as_ref()
    }

    /// Bus number << 8 | devfn.
    pub(crate) fn bdf(&self) -> u16 {
        self.pci().dev_id()
    }

    /// Whether the PCI core added the device (the scan that found it is
    /// over) and has not begun to remove it.
    pub(crate) fn is_added(&self) -> bool {
        // SAFETY: `ptr` is valid (type invariant).
        unsafe { bindings::pci_liveupdate_dev_added(self.ptr()) }
    }

    /// Whether this is an SR-IOV virtual function.
    pub(crate) fn is_virtfn(&self) -> bool {
        self.pci().is_virtfn()
    }

    /// The `struct pci_dev` pointer, for C calls.
    pub(crate) fn as_raw(&self) -> *mut bindings::pci_dev {
        self.ptr()
    }

    /// Name of the driver bound now, if any, as the table records it.
    ///
    /// The caller keeps the binding still: it holds the device lock, or it
    /// is the bound driver acting for a file whose release that driver's
    /// removal waits for. `Err` carries the name that does not fit.
    pub(crate) fn driver(&self) -> Result<table::Driver, &CStr> {
        // SAFETY: `ptr` is valid (type invariant). The binding cannot change
        // (caller contract above), so a bound driver is a registered
        // `struct pci_driver` whose `name` is a C string.
        let name = unsafe {
            let drv = (*self.ptr()).driver;
            if drv.is_null() || (*drv).name.is_null() {
                return Ok(table::NO_DRIVER);
            }
            CStr::from_char_ptr((*drv).name)
        };
        table::driver_name(name.to_bytes()).ok_or(name)
    }

    /// What probing found, as this kernel holds it: the BAR sizes from
    /// enumeration (sized, or taken from a record) and the bits the PCI
    /// core derived by probing. No record before the BARs were sized.
    pub(crate) fn probe(&self) -> Probe {
        let lu = self.lu();
        // SAFETY: `lu` points into a valid device. The record is written
        // during enumeration, before the device is added, and afterwards
        // only under `STATE`, which callers hold (see `Node::info`).
        let (sized, bar_order) = unsafe { ((*lu).bars_sized, (*lu).bar_order) };
        // A VF's BARs are read-only zero: there is nothing to size.
        if !sized && !self.is_virtfn() {
            return Probe::default();
        }
        let mut p = Probe {
            bar_order,
            flags: abi::P_SIZED | glue::probe_bits(self),
            ..Probe::default()
        };
        self.sriov_record(&mut p);
        p
    }

    /// Adds the SR-IOV record of a PF to `p`: the per-VF BAR sizes and the
    /// VF bus span the PCI core holds, whether it probed them or took them
    /// from a record. A size no BAR can have leaves `p` without one.
    fn sriov_record(&self, p: &mut Probe) {
        let mut sizes = [0u64; abi::VF_BARS];
        let mut buses = 0;
        // SAFETY: `ptr` is valid (type invariant); the outputs are valid
        // for writes of `PCI_SRIOV_NUM_BARS` (`abi::VF_BARS`) and 1 values.
        let pf = unsafe {
            bindings::pci_liveupdate_sriov_record(self.ptr(), sizes.as_mut_ptr(), &mut buses)
        };
        if !pf {
            return;
        }
        let mut orders = [0u8; abi::VF_BARS];
        for (o, &size) in orders.iter_mut().zip(&sizes) {
            if size != 0 {
                match Probe::order(size) {
                    Some(n) => *o = n,
                    None => return,
                }
            }
        }
        p.vf_bar_order = orders;
        p.vf_buses = buses;
        p.flags |= abi::P_SRIOV;
        // Enabled VFs: the state they run with, read, never written.
        if let Some(v) = self.sriov_registers().and_then(|r| r.vf_state()) {
            p.vfs = v;
            p.flags |= abi::P_VFS;
        }
    }

    /// Takes what probing would find from a valid record, so that the PCI
    /// core does not probe this device by writing to it.
    ///
    /// Called from `pci_setup_device()` only, before the device is added.
    pub(crate) fn adopt_probe(&self, p: &Probe) {
        let lu = self.lu();
        // SAFETY: `lu` points into a valid device being set up: nothing
        // else reads or writes these fields.
        unsafe {
            (*lu).bar_order = p.bar_order;
            (*lu).bars_sized = true;
            (*lu).probed = true;
            (*lu).vfs_probed = p.has_sriov();
            (*lu).vfs_kept = p.kept_vfs().is_some();
            (*lu).vf_bar_order = p.vf_bar_order;
            (*lu).vf_buses = p.vf_buses;
        }
        // SAFETY: The device is being set up (see above).
        unsafe { glue::set_probe_bits(self, p.flags) };
    }

    /// Whether [`PciDev::adopt_probe`] took a record for this device.
    pub(crate) fn probed(&self) -> bool {
        // SAFETY: `ptr` is valid (type invariant); see `adopt_probe`.
        unsafe { (*self.ptr()).liveupdate.probed }
    }

    /// The SR-IOV record [`PciDev::adopt_probe`] took, if any.
    pub(crate) fn vfs_probed(&self) -> Option<Probe> {
        // SAFETY: `ptr` is valid (type invariant); see `adopt_probe`.
        unsafe {
            let lu = &raw const (*self.ptr()).liveupdate;
            (*lu).vfs_probed.then(|| Probe {
                flags: abi::P_SIZED | abi::P_SRIOV,
                vf_bar_order: (*lu).vf_bar_order,
                vf_buses: (*lu).vf_buses,
                ..Probe::default()
            })
        }
    }

    /// Offset of the SR-IOV capability, if the device has one.
    pub(crate) fn sriov_cap(&self) -> Option<u32> {
        // CAST: `PCI_EXT_CAP_ID_SRIOV` is 0x10.
        let id = uapi::PCI_EXT_CAP_ID_SRIOV as u16;
        self.pci().find_ext_capability(id).map(u32::from)
    }

    /// The SR-IOV registers a record is checked against (read, never
    /// written), if the device has the capability.
    pub(crate) fn sriov_registers(&self) -> Option<table::SriovRegs> {
        let pos = self.sriov_cap()?;
        let word = |off: u32| self.config_word(pos + off).unwrap_or(0);
        let dword = |off: u32| self.config_dword(pos + off).unwrap_or(0);
        let mut r = table::SriovRegs {
            ctrl: word(uapi::PCI_SRIOV_CTRL),
            supported_pages: dword(uapi::PCI_SRIOV_SUP_PGSIZE),
            page: dword(uapi::PCI_SRIOV_SYS_PGSIZE),
            num_vfs: word(uapi::PCI_SRIOV_NUM_VF),
            offset: word(uapi::PCI_SRIOV_VF_OFFSET),
            stride: word(uapi::PCI_SRIOV_VF_STRIDE),
            vf_device: word(uapi::PCI_SRIOV_VF_DID),
            ..Default::default()
        };
        for (i, b) in r.vf_bars.iter_mut().enumerate() {
            // CAST: At most 6 BARs of 4 bytes.
            *b = dword(uapi::PCI_SRIOV_BAR + 4 * i as u32);
        }
        Some(r)
    }

    /// Records the BAR sizes enumeration found in the device's resources,
    /// unless it has them already. A size that is not a power of two (no
    /// BAR has one) leaves the device without a record.
    ///
    /// Called from `pci_read_bases()` only, before the device is added.
    pub(crate) fn record_bar_sizes(&self) {
        let d = self.ptr();
        // SAFETY: `d` is valid (type invariant); nothing else uses the
        // field before the device is added.
        if unsafe { (*d).liveupdate.bars_sized } {
            return;
        }
        let pci = self.pci();
        let mut order = [0u8; abi::BARS];
        for (i, o) in order.iter_mut().enumerate() {
            // The last one is the ROM.
            let idx = if i == abi::BARS - 1 {
                pci::ROM_RESOURCE
            } else {
                i
            };
            // Set up by the caller just before. A BAR that is not
            // implemented has no type.
            let Some(r) = pci.resource(idx).filter(|r| {
                let f = r.flags();
                f.contains(Flags::IORESOURCE_IO) || f.contains(Flags::IORESOURCE_MEM)
            }) else {
                continue;
            };
            match Probe::order(r.size()) {
                Some(n) => *o = n,
                None => return,
            }
        }
        // SAFETY: As above.
        unsafe {
            let lu = &raw mut (*d).liveupdate;
            (*lu).bar_order = order;
            (*lu).bars_sized = true;
        }
    }

    /// Records that standard BAR `bar` now decodes `size` bytes; a size no
    /// BAR can have drops the record, so the next kernel sizes the BARs.
    ///
    /// Callers hold `STATE`, which serialises this with preserve.
    pub(crate) fn set_bar_size(&self, bar: usize, size: u64) {
        if bar >= abi::BARS - 1 {
            return;
        }
        // SAFETY: `ptr` is valid (type invariant); the fields are only
        // written during enumeration and under `STATE`.
        unsafe {
            let lu = &raw mut (*self.ptr()).liveupdate;
            match Probe::order(size) {
                Some(o) => (*lu).bar_order[bar] = o,
                None => (*lu).bars_sized = false,
            }
        }
    }

    /// Whether the device decodes resource `idx` now: a BAR with its
    /// decoding enabled in the Command register, an enabled ROM, an enabled
    /// bridge window, or a VF BAR of a PF whose VFs were kept enabled.
    pub(crate) fn decodes(&self, idx: usize) -> bool {
        let Some(flags) = self.pci().resource(idx).map(|r| r.flags()) else {
            return false;
        };
        let cmd = u32::from(self.config_word(uapi::PCI_COMMAND).unwrap_or(0));
        let has = |bit: Flags| flags.contains(bit);
        let space = if has(Flags::IORESOURCE_IO) {
            cmd & uapi::PCI_COMMAND_IO != 0
        } else {
            has(Flags::IORESOURCE_MEM) && cmd & uapi::PCI_COMMAND_MEMORY != 0
        };
        if idx < pci::ROM_RESOURCE {
            space
        } else if idx == pci::ROM_RESOURCE {
            space && has(Flags::IORESOURCE_ROM_ENABLE)
        } else if pci::BRIDGE_RESOURCES.contains(&idx) {
            space && !has(Flags::IORESOURCE_DISABLED)
        } else if pci::IOV_RESOURCES.contains(&idx) {
            // SAFETY: `lu` points into a valid device; `vfs_kept` is set
            // at enumeration and cleared under the rescan lock.
            has(Flags::IORESOURCE_MEM) && unsafe { (*self.lu()).vfs_kept }
        } else {
            false
        }
    }

    /// A bridge's I/O base and limit and its prefetchable base and limit
    /// registers (read, never written); `None` for other devices.
    pub(crate) fn window_registers(&self) -> Option<(u16, u32)> {
        if !self.is_bridge() {
            return None;
        }
        let io = self.config_word(uapi::PCI_IO_BASE).unwrap_or(0);
        let pref = self.config_dword(uapi::PCI_PREF_MEMORY_BASE).unwrap_or(0);
        Some((io, pref))
    }

    /// The BAR registers the header has (read, never written), and its ROM
    /// register if it has one.
    pub(crate) fn bar_registers(&self) -> ([u32; 6], usize, Option<u32>) {
        let hdr = u32::from(self.pci().header_type());
        let (n, rom) = match hdr {
            uapi::PCI_HEADER_TYPE_NORMAL => (6, Some(uapi::PCI_ROM_ADDRESS)),
            uapi::PCI_HEADER_TYPE_BRIDGE => (2, Some(uapi::PCI_ROM_ADDRESS1)),
            uapi::PCI_HEADER_TYPE_CARDBUS => (1, None),
            _ => (0, None),
        };
        let mut bars = [0u32; 6];
        for (i, b) in bars.iter_mut().enumerate().take(n) {
            // CAST: At most 6 BARs of 4 bytes.
            let off = uapi::PCI_BASE_ADDRESS_0 + 4 * i as u32;
            *b = self.config_dword(off).unwrap_or(0);
        }
        (bars, n, rom.map(|off| self.config_dword(off).unwrap_or(0)))
    }

    /// Whether an administrator set `driver_override` on the device.
    pub(crate) fn has_driver_override(&self) -> bool {
        // SAFETY: `dev` is embedded in a valid `struct pci_dev`.
        unsafe { bindings::device_has_driver_override(&raw mut (*self.ptr()).dev) }
    }

    /// Records the IDs the hardware reports in config space, for
    /// [`PciDev::identity`]: early fixups may already have rewritten the
    /// `struct pci_dev` fields.
    pub(crate) fn read_ids(&self) {
        // A VF's ID registers read as all ones: its IDs come from the PF.
        if self.is_virtfn() {
            return;
        }
        let (Some(id), Some(class)) = (
            self.config_dword(uapi::PCI_VENDOR_ID),
            self.config_dword(uapi::PCI_CLASS_REVISION),
        ) else {
            return;
        };
        if id == u32::MAX {
            return;
        }
        let lu = self.lu();
        // SAFETY: `lu` points into the valid device being set up, before
        // any other code can look at it.
        unsafe {
            // CAST: Low and high halves of the ID dword.
            (*lu).vendor = id as u16;
            (*lu).device = (id >> 16) as u16;
            (*lu).class = class >> 8;
            (*lu).ids_read = true;
        }
    }

    /// Whether the device has a PCI-to-PCI bridge (type 1) header.
    pub(crate) fn is_bridge(&self) -> bool {
        u32::from(self.pci().header_type()) == uapi::PCI_HEADER_TYPE_BRIDGE
    }

    /// Secondary and subordinate bus numbers in a bridge's config space
    /// (what the previous kernel left, before this kernel scans below it);
    /// `None` for a device without a type 1 header.
    pub(crate) fn config_buses(&self) -> Option<(u8, u8)> {
        if !self.is_bridge() {
            return None;
        }
        let v = self.config_dword(uapi::PCI_PRIMARY_BUS)?;
        // CAST: Bytes 1 and 2 of the bus number dword.
        Some(((v >> 8) as u8, (v >> 16) as u8))
    }

    // Config space is read through `pci::Device::config_read*`, not
    // `pci::ConfigSpace`: that needs a bound driver, and its view panics on
    // the odd sizes some quirks set. A failed read stays distinguishable
    // from all ones.

    /// Reads a config space dword; `None` if the read failed.
    pub(crate) fn config_dword(&self, off: u32) -> Option<u32> {
        self.pci().config_read32(off as usize).ok()
    }

    /// Reads a config space word; `None` if the read failed.
    pub(crate) fn config_word(&self, off: u32) -> Option<u16> {
        self.pci().config_read16(off as usize).ok()
    }

    /// Writes a config space word.
    fn set_config_word(&self, off: u32, v: u16) {
        // SAFETY: The component writes two registers, as the PCI core:
        // Bus Master off at enumeration (no driver yet) and when an incoming
        // device is abandoned (its driver has not taken it over, see
        // `pci_liveupdate_claim`), and the ACS Control it adopted, from
        // `pci_enable_acs()`.
        let _ = unsafe { self.pci().config_write16(off as usize, v) };
    }

    /// The Command register, `None` if the read failed.
    pub(crate) fn command(&self) -> Option<u16> {
        // Bits 11-15 are reserved: all ones is a failed read.
        self.config_word(uapi::PCI_COMMAND)
            .filter(|&c| c != u16::MAX)
    }

    /// Whether `cmd`, a Command register value, has Bus Master set.
    pub(crate) fn bus_master_in(cmd: u16) -> bool {
        cmd & uapi::PCI_COMMAND_MASTER as u16 != 0
    }

    /// Writes the Command register `cmd` with Bus Master cleared.
    pub(crate) fn clear_bus_master(&self, cmd: u16) {
        self.set_config_word(uapi::PCI_COMMAND, cmd & !(uapi::PCI_COMMAND_MASTER as u16));
    }

    /// The ACS Control register; `None` without the capability or if the
    /// read failed.
    pub(crate) fn acs_control(&self) -> Option<u16> {
        let cap = self.pci().acs_cap()?;
        self.config_word(u32::from(cap) + uapi::PCI_ACS_CTRL)
    }

    /// Writes the ACS Control register of a device with the capability.
    pub(crate) fn set_acs_control(&self, ctrl: u16) {
        if let Some(cap) = self.pci().acs_cap() {
            self.set_config_word(u32::from(cap) + uapi::PCI_ACS_CTRL, ctrl);
        }
    }

    /// ARI Forwarding Enable in Device Control 2 of a PCIe device; `None`
    /// if the read failed.
    pub(crate) fn ari_forwarding(&self) -> Option<bool> {
        // CAST: `PCI_EXP_DEVCTL2` is 0x28.
        let ctl = self
            .pci()
            .pcie_capability_read16(uapi::PCI_EXP_DEVCTL2 as usize)
            .ok()?;
        Some(ctl & uapi::PCI_EXP_DEVCTL2_ARI as u16 != 0)
    }

    /// Whether the device has a PCI Express capability.
    pub(crate) fn is_pcie(&self) -> bool {
        self.pci().is_pcie()
    }

    /// Whether enabling ACS on this device needs a device-specific quirk.
    pub(crate) fn needs_acs_quirk(&self) -> bool {
        // SAFETY: `ptr` is valid (type invariant).
        unsafe { bindings::pci_liveupdate_needs_acs_quirk(self.ptr()) }
    }

    /// The device's Live Update state (`struct pci_liveupdate`).
    fn lu(&self) -> *mut bindings::pci_liveupdate {
        // SAFETY: `ptr` is valid (type invariant); no reference is formed.
        unsafe { &raw mut (*self.ptr()).liveupdate }
    }

    fn flag_ptr(&self, flag: Flag) -> *mut bool {
        let lu = self.lu();
        // SAFETY: `lu` points into a valid device; no reference is formed.
        unsafe {
            match flag {
                Flag::Incoming => &raw mut (*lu).incoming,
                Flag::Outgoing => &raw mut (*lu).outgoing,
                Flag::Removed => &raw mut (*lu).removed,
                Flag::Claimed => &raw mut (*lu).claimed,
                Flag::InheritBuses => &raw mut (*lu).inherit_buses,
                Flag::BmAtEnum => &raw mut (*lu).bm_at_enum,
            }
        }
    }

    /// Whether the device is added and its removal hook has not run; while
    /// `state` is held, its path upstream (a VF's PF included) may then be
    /// followed.
    pub(crate) fn in_system(&self, state: &State) -> bool {
        !self.flag(state, Flag::Removed) && self.is_added()
    }

    /// Reads a flag; `_state` proves `STATE` is held.
    pub(crate) fn flag(&self, _state: &State, flag: Flag) -> bool {
        // SAFETY: The pointer is valid (`flag_ptr`), and flags are only
        // written under `STATE`, which the caller holds.
        unsafe { self.flag_ptr(flag).read() }
    }

    /// Writes a flag; `_state` proves `STATE` is held.
    pub(crate) fn set_flag(&self, _state: &mut State, flag: Flag, on: bool) {
        // SAFETY: The pointer is valid (`flag_ptr`), and flags are only
        // read and written under `STATE`, which the caller holds.
        unsafe { self.flag_ptr(flag).write(on) };
    }

    /// Whether the PCI core holds the device in D0 while it is incoming
    /// (`pci_liveupdate_pm_hold()`); for reports only.
    pub(crate) fn pm_held(&self) -> bool {
        let lu = self.lu();
        // SAFETY: `lu` points into a valid device. C writes the flag at
        // enumeration and under the rescan lock, not under `STATE`: read it
        // once, as READ_ONCE() would.
        unsafe { (&raw const (*lu).pm_held).read_volatile() }
    }

    /// The ACS Control adopted at enumeration, if any; `_state` proves
    /// `STATE` is held.
    pub(crate) fn adopted_acs(&self, _state: &State) -> Option<u16> {
        let lu = self.lu();
        // SAFETY: `lu` points into a valid device; both fields are only
        // written under `STATE`, which the caller holds.
        unsafe { (*lu).acs_adopted.then_some((*lu).acs_ctrl) }
    }

    /// Records the ACS Control to keep; `_state` proves `STATE` is held.
    pub(crate) fn set_adopted_acs(&self, _state: &mut State, ctrl: u16) {
        let lu = self.lu();
        // SAFETY: As for `adopted_acs`.
        unsafe {
            (*lu).acs_ctrl = ctrl;
            (*lu).acs_adopted = true;
        }
    }

    /// The bridge above this device, `None` on a root bus; for a VF, its
    /// PF, which it depends on as other devices on their bridges.
    pub(crate) fn upstream(&self) -> Option<PciDev> {
        // A VF holds a reference on its PF until `pci_iov_remove_virtfn()`,
        // which runs the removal hook first; callers check `removed` or
        // `is_added` under `STATE`, as for a bridge (see `Node::info`). A
        // device keeps its bus, and the bus its bridge, alive.
        let pci = self.pci();
        // SAFETY: See above: callers exclude a removed VF.
        let pf = unsafe { pci.physfn() };
        pf.or_else(|| pci.bus_bridge()).map(PciDev::of)
    }
}

impl PciDev {
    /// The device's address and identity, without its bus range and probe
    /// record: fields set at creation, safe to read with only a device
    /// reference.
    ///
    /// The IDs are those the hardware reported at enumeration, before any
    /// fixup (see [`PciDev::read_ids`]).
    pub(crate) fn identity(&self) -> DevInfo {
        let pci = self.pci();
        let lu = self.lu();
        // SAFETY: `lu` points into a valid device; the IDs are written when
        // the device is set up, before it is registered.
        let read = unsafe {
            (*lu)
                .ids_read
                .then(|| ((*lu).vendor, (*lu).device, (*lu).class))
        };
        let (vendor, device, class) = read.unwrap_or_else(|| {
            (
                pci.vendor_id().as_raw(),
                pci.device_id(),
                pci.pci_class().as_raw(),
            )
        });
        DevInfo {
            segment: pci.domain_nr(),
            bdf: self.bdf(),
            vendor,
            device,
            class,
            bridge: None,
            upstream: self.upstream().map(|b| b.bdf()),
            virtfn: self.is_virtfn(),
            probe: Probe::default(),
        }
    }
}

/// A device looked up by address or listed by the PCI core, holding a
/// reference on it.
///
/// # Invariants
///
/// `_dev` keeps the device `pdev` points to alive.
pub(crate) struct DevRef {
    pdev: PciDev,
    _dev: ARef<pci::Device>,
}

impl DevRef {
    /// The device at `segment` and `bdf`, if enumerated.
    pub(crate) fn lookup(segment: u32, bdf: u16) -> Option<Self> {
        // CAST: Bus number and devfn, the halves of `bdf`.
        pci::Device::get(segment, (bdf >> 8) as u8, bdf as u8).map(Self::from)
    }
}

impl From<ARef<pci::Device>> for DevRef {
    fn from(dev: ARef<pci::Device>) -> Self {
        // INVARIANT: `dev` is kept with the pointer.
        DevRef {
            pdev: PciDev(NonNull::from(&*dev).cast()),
            _dev: dev,
        }
    }
}

impl Deref for DevRef {
    type Target = PciDev;

    fn deref(&self) -> &PciDev {
        &self.pdev
    }
}

impl Node for PciDev {
    /// Also reads the bus range of a bridge and the probe record. Callers
    /// hold `STATE` (which a BAR resize takes to change the record) for a
    /// device not marked removed (preserve): a bridge above it keeps
    /// `subordinate` until that device's removal hook ran, which needs
    /// `STATE`; the device's own `subordinate` stays while its binding is
    /// held still (preserve's contract), since removal unbinds first.
    fn info(&self) -> DevInfo {
        // SAFETY: The secondary bus is not removed while the caller holds
        // what `info` requires (above).
        let bridge = unsafe { self.pci().subordinate_buses() };
        // The same IDs the next kernel compares (see `identity`).
        DevInfo {
            bridge,
            probe: self.probe(),
            ..self.identity()
        }
    }

    fn parent(&self) -> Option<Self> {
        self.upstream()
    }
}
