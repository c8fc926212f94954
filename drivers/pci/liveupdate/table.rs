// SPDX-License-Identifier: GPL-2.0

//! Logic of the preserved device table.
//!
//! The table is a sorted array of [`PciDevSer`] entries plus its
//! [`PciLuSer`] header. This file holds everything that does not touch the
//! kernel: ordered insert and remove, binary search, the refcount walk over
//! a device's upstream bridges, the checksum and the validation of data
//! handed over by the previous kernel. It uses only `core` and `zerocopy`
//! and is compiled, unchanged, into the kernel component and into the host
//! crate that tests it.

use crate::abi::{
    self,
    PciDevSer,
    PciLuSer, //
};
use core::fmt;
use zerocopy::{
    byteorder::little_endian::{
        U16,
        U32,
        U64, //
    },
    IntoBytes, //
};

/// Deepest device path recorded: the device and up to 31 bridges above it.
/// A path is snapshotted on the stack, so this bounds its size; real PCIe
/// hierarchies (Thunderbolt chains included) stay far below.
pub const MAX_DEPTH: usize = 32;

/// A driver name as recorded in an entry: NUL-padded, at most
/// `DRIVER_LEN - 1` bytes.
pub type Driver = [u8; abi::DRIVER_LEN];

/// The name recorded when no driver is bound.
pub const NO_DRIVER: Driver = [0; abi::DRIVER_LEN];

/// `name` as a recorded driver name; `None` if it does not fit.
pub fn driver_name(name: &[u8]) -> Option<Driver> {
    let mut d = NO_DRIVER;
    if name.len() >= d.len() || name.contains(&0) {
        return None;
    }
    d[..name.len()].copy_from_slice(name);
    Some(d)
}

/// The recorded driver name of `e`, without padding.
pub fn driver_of(e: &PciDevSer) -> &[u8] {
    let n = e
        .driver
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(e.driver.len());
    &e.driver[..n]
}

/// Sort key of a device: segment, then bus/devfn.
pub fn key(segment: u32, bdf: u16) -> u64 {
    (u64::from(segment) << 16) | u64::from(bdf)
}

fn entry_key(e: &PciDevSer) -> u64 {
    key(e.segment.get(), e.bdf.get())
}

/// What the table records about one device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DevInfo {
    /// PCI segment (domain).
    pub segment: u32,
    /// Bus number << 8 | devfn.
    pub bdf: u16,
    /// Vendor ID.
    pub vendor: u16,
    /// Device ID.
    pub device: u16,
    /// 24-bit class code.
    pub class: u32,
    /// Secondary and subordinate bus numbers if the device is a bridge.
    pub bridge: Option<(u8, u8)>,
    /// BDF of the upstream bridge, `None` on a root bus; for a VF, its PF.
    pub upstream: Option<u16>,
    /// Whether the device is an SR-IOV virtual function.
    pub virtfn: bool,
    /// What probing the device found.
    pub probe: Probe,
}

/// What probing a device found, recorded at preserve so that the next
/// kernel learns it without writing to the running device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Probe {
    /// log2 of the size of BAR 0-5 and (index 6) the ROM, 0 if none.
    pub bar_order: [u8; abi::BARS],
    /// `abi::P_*` bits; without [`abi::P_SIZED`] there is no record.
    pub flags: u8,
    /// With [`abi::P_SRIOV`]: log2 of the size of each VF BAR, 0 if none.
    pub vf_bar_order: [u8; abi::VF_BARS],
    /// With [`abi::P_SRIOV`]: bus numbers above the function's own that
    /// its VFs may use.
    pub vf_buses: u8,
    /// With [`abi::P_VFS`]: the SR-IOV state the VFs run with.
    pub vfs: VfState,
}

/// The SR-IOV state of a PF whose VFs are enabled, as the table records it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VfState {
    /// SR-IOV Control.
    pub ctrl: u16,
    /// NumVFs.
    pub num_vfs: u16,
    /// First VF Offset.
    pub offset: u16,
    /// VF Stride.
    pub stride: u16,
    /// VF Device ID.
    pub vf_device: u16,
    /// The bit set in System Page Size.
    pub page: u8,
}

/// SR-IOV Control bits that must be as recorded for VFs to be kept:
/// VF Enable, VF MSE, ARI Capable Hierarchy.
pub const SRIOV_CTRL_KEPT: u16 = SRIOV_CTRL_VFE | (1 << 3) | (1 << 4);

impl VfState {
    /// Routing ID of VF `i` of the PF at `pf`, if it fits in 16 bits.
    pub fn vf_rid(&self, pf: u16, i: u16) -> Option<u16> {
        let rid = u32::from(pf) + u32::from(self.offset) + u32::from(self.stride) * u32::from(i);
        u16::try_from(rid).ok()
    }

    /// Routing ID of the last VF of the PF at `pf`, if there are VFs and
    /// it fits in 16 bits.
    pub fn last_rid(&self, pf: u16) -> Option<u16> {
        self.num_vfs.checked_sub(1).and_then(|n| self.vf_rid(pf, n))
    }

    /// Which VF of the PF at `pf` has routing ID `rid`, if any.
    pub fn vf_index(&self, pf: u16, rid: u16) -> Option<u16> {
        let first = u32::from(pf) + u32::from(self.offset);
        let d = u32::from(rid).checked_sub(first)?;
        let i = match self.stride {
            0 => (d == 0).then_some(0)?,
            s if d % u32::from(s) == 0 => d / u32::from(s),
            _ => return None,
        };
        u16::try_from(i).ok().filter(|&i| i < self.num_vfs)
    }
}

impl Probe {
    /// The record of an entry.
    pub fn of(e: &PciDevSer) -> Self {
        Probe {
            bar_order: e.bar_order,
            flags: e.probe,
            vf_bar_order: e.vf_bar_order,
            vf_buses: e.vf_buses,
            vfs: VfState {
                ctrl: e.sriov_ctrl.get(),
                num_vfs: e.num_vfs.get(),
                offset: e.vf_offset.get(),
                stride: e.vf_stride.get(),
                vf_device: e.vf_device.get(),
                page: e.sriov_page,
            },
        }
    }

    /// The SR-IOV state of enabled VFs, if the record has it.
    pub fn kept_vfs(&self) -> Option<&VfState> {
        (self.has_sriov() && self.flags & abi::P_VFS != 0).then_some(&self.vfs)
    }

    /// Whether there is an SR-IOV record.
    pub fn has_sriov(&self) -> bool {
        self.is_valid() && self.flags & abi::P_SRIOV != 0
    }

    /// The VF BARs as a record of their own, which [`check_bars`] and
    /// [`bar_masks`] take like a header's BARs without a ROM.
    pub fn vf_bars(&self) -> Probe {
        let mut bar_order = [0; abi::BARS];
        bar_order[..abi::VF_BARS].copy_from_slice(&self.vf_bar_order);
        Probe {
            bar_order,
            flags: abi::P_SIZED,
            ..Probe::default()
        }
    }

    /// Whether there is a record.
    pub fn is_valid(&self) -> bool {
        self.flags & abi::P_SIZED != 0
    }

    /// log2 of `size` if it is a BAR size (a power of two from 2 to 2^63).
    pub fn order(size: u64) -> Option<u8> {
        // CAST: `trailing_zeros` of a `u64` is at most 64.
        (size.is_power_of_two() && size > 1).then(|| size.trailing_zeros() as u8)
    }
}

/// `PCI_ROM_ADDRESS_MASK`.
const ROM_ADDRESS_MASK: u32 = !0x7ff;

/// How a BAR register decodes, from its low bits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum BarKind {
    Io,
    Mem32,
    Mem64,
}

fn bar_kind(v: u32) -> BarKind {
    if v & 1 != 0 {
        BarKind::Io
    } else if v & 0x6 == 0x4 {
        BarKind::Mem64
    } else {
        BarKind::Mem32
    }
}

/// Low bits of a BAR that hold its type, not its address.
fn bar_flag_bits(kind: BarKind) -> u32 {
    if kind == BarKind::Io {
        0x3
    } else {
        0xf
    }
}

/// The mask of an address `order` bits aligned.
fn size_mask(order: u8) -> u64 {
    !((1u64 << order) - 1)
}

/// Fills `masks` with what writing all-ones to each of the BARs whose
/// current values are `bars` would read back, and returns the same for
/// the ROM: the sizing result the PCI core needs, derived from the record
/// instead of from writes to a running device. [`check_bars`] must have
/// accepted the record for these values.
pub fn bar_masks(p: &Probe, bars: &[u32], masks: &mut [u32]) -> u32 {
    let mut i = 0;
    while i < bars.len().min(masks.len()) {
        let order = p.bar_order[i];
        if order == 0 {
            masks[i] = 0;
            i += 1;
            continue;
        }
        let kind = bar_kind(bars[i]);
        let mask = size_mask(order);
        // CAST: The low half of the mask; the high half goes below.
        masks[i] = (mask as u32) | (bars[i] & bar_flag_bits(kind));
        if kind == BarKind::Mem64 && i + 1 < masks.len() {
            masks[i + 1] = (mask >> 32) as u32;
            i += 1;
        }
        i += 1;
    }
    match p.bar_order[abi::BARS - 1] {
        0 => 0,
        // CAST: A ROM mask has 32 bits (its order is checked below 32).
        o => size_mask(o) as u32 & ROM_ADDRESS_MASK,
    }
}

/// Checks a bridge's record against its window registers as found (I/O
/// base and limit, prefetchable base and limit): a programmed window the
/// record says the bridge lacks, or a prefetchable window of the other
/// width, means the record is not this bridge's.
pub fn check_windows(p: &Probe, io: u16, pref: u32) -> bool {
    let has = |bit: u8| p.flags & bit != 0;
    let io_ok = io == 0 || has(abi::P_IO_WINDOW);
    // `PCI_PREF_RANGE_TYPE_64` is 1 in the low bits of the base.
    let pref_ok =
        pref == 0 || (has(abi::P_PREF_WINDOW) && (pref & 0xf == 1) == has(abi::P_PREF_64));
    io_ok && pref_ok
}

/// Checks a record against the BAR registers as found: each address is
/// aligned to the recorded size, a 64-bit BAR's upper half has no size of
/// its own, and no size is recorded for a BAR the header does not have.
/// `bars` holds the header's BARs, `rom` its ROM register if it has one.
/// Returns the index of the first BAR that disagrees (6: the ROM).
pub fn check_bars(p: &Probe, bars: &[u32], rom: Option<u32>) -> Result<(), usize> {
    let orders = &p.bar_order;
    if let Some(i) = (bars.len()..abi::BARS - 1).find(|&i| orders[i] != 0) {
        return Err(i);
    }
    let mut i = 0;
    while i < bars.len() {
        let order = orders[i];
        if order == 0 {
            i += 1;
            continue;
        }
        let v = bars[i];
        let kind = bar_kind(v);
        let (addr, min, max) = match kind {
            BarKind::Io => (u64::from(v & !0x3), 2, 31),
            BarKind::Mem32 => (u64::from(v & !0xf), 4, 31),
            BarKind::Mem64 => {
                if i + 1 >= bars.len() || orders[i + 1] != 0 {
                    return Err(i);
                }
                (u64::from(v & !0xf) | u64::from(bars[i + 1]) << 32, 4, 63)
            }
        };
        if !(min..=max).contains(&order) || addr & !size_mask(order) != 0 {
            return Err(i);
        }
        i += if kind == BarKind::Mem64 { 2 } else { 1 };
    }
    let order = orders[abi::BARS - 1];
    let rom_ok = match rom {
        _ if order == 0 => true,
        None => false,
        Some(v) => {
            (11..=31).contains(&order) && u64::from(v & ROM_ADDRESS_MASK) & !size_mask(order) == 0
        }
    };
    if !rom_ok {
        return Err(abi::BARS - 1);
    }
    Ok(())
}

/// The SR-IOV capability registers a record is checked against (read,
/// never written).
#[derive(Clone, Copy, Debug, Default)]
pub struct SriovRegs {
    /// SR-IOV Control.
    pub ctrl: u16,
    /// Supported Page Sizes.
    pub supported_pages: u32,
    /// System Page Size.
    pub page: u32,
    /// NumVFs.
    pub num_vfs: u16,
    /// First VF Offset.
    pub offset: u16,
    /// VF Stride.
    pub stride: u16,
    /// VF Device ID.
    pub vf_device: u16,
    /// VF BAR 0-5.
    pub vf_bars: [u32; abi::VF_BARS],
}

impl SriovRegs {
    /// The state to record for enabled VFs; `None` with VF Enable clear or
    /// a System Page Size that is not one page size.
    pub fn vf_state(&self) -> Option<VfState> {
        if self.ctrl & SRIOV_CTRL_VFE == 0 || self.num_vfs == 0 || !self.page.is_power_of_two() {
            return None;
        }
        Some(VfState {
            ctrl: self.ctrl,
            num_vfs: self.num_vfs,
            offset: self.offset,
            stride: self.stride,
            vf_device: self.vf_device,
            // CAST: A bit index of a `u32`.
            page: self.page.trailing_zeros() as u8,
        })
    }
}

/// `PCI_SRIOV_CTRL_VFE`.
pub const SRIOV_CTRL_VFE: u16 = 1 << 0;

/// Why an SR-IOV record does not fit the capability as found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SriovMisfit {
    /// VF Enable is set but the record has no VFs to keep.
    VfEnabled,
    /// The VFs were recorded enabled, but VF Enable, VF MSE, ARI, NumVFs,
    /// the offset, stride, VF Device ID or page size differ.
    VfState,
    /// NumVFs is not 0, which SR-IOV set up from the record would keep.
    NumVfs,
    /// The System Page Size is not one supported page of at least this
    /// kernel's page size.
    PageSize,
    /// A VF BAR's address does not fit its recorded size, or that size
    /// is not a whole number of system pages.
    VfBar(usize),
    /// The VF bus numbers would pass bus 255.
    Buses,
}

impl fmt::Display for SriovMisfit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SriovMisfit::VfEnabled => f.write_str("VF Enable is set but no VFs were recorded"),
            SriovMisfit::VfState => f.write_str("the SR-IOV state differs from the one recorded"),
            SriovMisfit::NumVfs => f.write_str("NumVFs is not 0"),
            SriovMisfit::PageSize => f.write_str("the System Page Size is not usable"),
            SriovMisfit::VfBar(i) => write!(f, "VF BAR {i} does not fit its recorded size"),
            SriovMisfit::Buses => f.write_str("the VF bus numbers pass bus 255"),
        }
    }
}

/// Checks an SR-IOV record against the capability of the function at
/// `rid` in a kernel with pages of 2^`page_shift` bytes, so that SR-IOV
/// can be set up from the record instead of by writing the capability:
/// VF Enable clear and NumVFs 0, or the VFs' state exactly as recorded; a
/// usable System Page Size, each VF BAR aligned to its recorded size of
/// whole pages, the VF buses below 256.
pub fn check_sriov(p: &Probe, r: &SriovRegs, page_shift: u32, rid: u16) -> Result<(), SriovMisfit> {
    let bus = (rid >> 8) as u8;
    match p.kept_vfs() {
        Some(v) => {
            let same = r.ctrl & SRIOV_CTRL_KEPT == v.ctrl & SRIOV_CTRL_KEPT
                && r.ctrl & SRIOV_CTRL_VFE != 0
                && r.num_vfs == v.num_vfs
                && r.offset == v.offset
                && r.stride == v.stride
                && r.vf_device == v.vf_device
                && u32::from(v.page) < 32
                && r.page == 1 << v.page;
            if !same {
                return Err(SriovMisfit::VfState);
            }
            // Every VF routes within the span the record gives them.
            let last = v.last_rid(rid);
            let span = u16::from(bus) + u16::from(p.vf_buses);
            if last.is_none_or(|l| l >> 8 > span) {
                return Err(SriovMisfit::Buses);
            }
        }
        None if r.ctrl & SRIOV_CTRL_VFE != 0 => return Err(SriovMisfit::VfEnabled),
        None if r.num_vfs != 0 => return Err(SriovMisfit::NumVfs),
        None => {}
    }
    // Bit n of the page size registers stands for 2^(n + 12) bytes.
    let smallest = page_shift.saturating_sub(12);
    let page_ok = r.page.is_power_of_two()
        && r.page & r.supported_pages != 0
        && r.page.trailing_zeros() >= smallest;
    if !page_ok {
        return Err(SriovMisfit::PageSize);
    }
    check_bars(&p.vf_bars(), &r.vf_bars, None).map_err(SriovMisfit::VfBar)?;
    // Each VF's share of a VF BAR is a whole number of system pages.
    let page_order = 12 + r.page.trailing_zeros();
    if let Some(i) = p
        .vf_bar_order
        .iter()
        .position(|&o| o != 0 && u32::from(o) < page_order)
    {
        return Err(SriovMisfit::VfBar(i));
    }
    if bus.checked_add(p.vf_buses).is_none() {
        return Err(SriovMisfit::Buses);
    }
    Ok(())
}

impl DevInfo {
    /// Sort key of this device.
    pub fn key(&self) -> u64 {
        key(self.segment, self.bdf)
    }

    /// Whether `e` records this device with the same identity and place.
    pub fn matches(&self, e: &PciDevSer) -> bool {
        let (sec, sub) = self.bridge.unwrap_or((0, 0));
        entry_key(e) == self.key()
            && self.same_identity(e)
            && e.secondary == sec
            && e.subordinate == sub
            && (e.flags.get() & abi::F_BRIDGE != 0) == self.bridge.is_some()
            && is_virtfn(e) == self.virtfn
            && upstream_of(e) == self.upstream
    }

    /// Whether `e` records a device with this vendor, device and class.
    pub fn same_identity(&self, e: &PciDevSer) -> bool {
        e.vendor.get() == self.vendor
            && e.device.get() == self.device
            && e.class.get() == self.class
    }

    fn to_entry(self, driver: Option<&Driver>) -> PciDevSer {
        let direct = driver.is_some();
        let (sec, sub) = self.bridge.unwrap_or((0, 0));
        let mut flags = 0;
        if direct {
            flags |= abi::F_DIRECT;
        }
        if self.bridge.is_some() {
            flags |= abi::F_BRIDGE;
        }
        if self.upstream.is_some() {
            flags |= abi::F_UPSTREAM;
        }
        if self.virtfn {
            flags |= abi::F_VIRTFN;
        }
        PciDevSer {
            segment: U32::new(self.segment),
            bdf: U16::new(self.bdf),
            refcount: U16::new(1),
            vendor: U16::new(self.vendor),
            device: U16::new(self.device),
            class: U32::new(self.class),
            flags: U32::new(flags),
            upstream: U16::new(self.upstream.unwrap_or(0)),
            secondary: sec,
            subordinate: sub,
            driver: driver.copied().unwrap_or(NO_DRIVER),
            ..probe_fields(&self.probe, self.bridge.is_some())
        }
    }
}

/// An entry holding only a probe record: none if it is not valid, without
/// window bits if the device is not a bridge.
fn probe_fields(p: &Probe, bridge: bool) -> PciDevSer {
    let mut e = PciDevSer::default();
    if p.is_valid() {
        e.bar_order = p.bar_order;
        e.probe = p.flags & abi::P_ALL;
        if !bridge {
            e.probe &= !abi::P_WINDOWS;
        }
        if e.probe & abi::P_SRIOV != 0 {
            e.vf_bar_order = p.vf_bar_order;
            e.vf_buses = p.vf_buses;
        } else {
            e.probe &= !abi::P_VFS;
        }
        if e.probe & abi::P_VFS != 0 {
            set_vf_state(&mut e, &p.vfs);
        }
    }
    e
}

fn set_vf_state(e: &mut PciDevSer, v: &VfState) {
    e.sriov_ctrl = U16::new(v.ctrl);
    e.num_vfs = U16::new(v.num_vfs);
    e.vf_offset = U16::new(v.offset);
    e.vf_stride = U16::new(v.stride);
    e.vf_device = U16::new(v.vf_device);
    e.sriov_page = v.page;
}

/// Whether `e` is an SR-IOV virtual function.
pub fn is_virtfn(e: &PciDevSer) -> bool {
    e.flags.get() & abi::F_VIRTFN != 0
}

/// Upstream bridge BDF recorded in `e`, if any.
pub fn upstream_of(e: &PciDevSer) -> Option<u16> {
    (e.flags.get() & abi::F_UPSTREAM != 0).then(|| e.upstream.get())
}

/// Whether a device found with `upstream` above it (`None` on a root bus)
/// and, if it is a bridge, `buses` (secondary, subordinate) in its config
/// space sits where `e` recorded it: the same device at the same address
/// elsewhere in the hierarchy is not the one that was preserved.
pub fn same_place(e: &PciDevSer, upstream: Option<u16>, buses: Option<(u8, u8)>) -> bool {
    let bridge = e.flags.get() & abi::F_BRIDGE != 0;
    let buses_match = match buses {
        Some(b) => bridge && b == (e.secondary, e.subordinate),
        None => !bridge,
    };
    upstream_of(e) == upstream && buses_match
}

/// Whether `e` was preserved by a driver call (not only as a bridge).
pub fn is_direct(e: &PciDevSer) -> bool {
    e.flags.get() & abi::F_DIRECT != 0
}

/// A device and the way to its upstream bridge.
///
/// The kernel implements this over `struct pci_dev`, tests over a model
/// topology. [`Node::parent`] must return the bridge whose secondary bus
/// the device sits on.
pub trait Node: Copy {
    /// What the table should record about this device.
    fn info(&self) -> DevInfo;
    /// The upstream bridge, `None` on a root bus.
    fn parent(&self) -> Option<Self>;
}

/// A snapshot of a device's path: the device, then each bridge above it.
///
/// Taken once per operation, so a topology change while the table is being
/// updated can never leave a half-recorded path.
pub struct Path {
    nodes: [DevInfo; MAX_DEPTH],
    len: usize,
}

impl Path {
    /// Reads the path of `dev` once.
    ///
    /// Fails with [`Error::BadPath`] if a device above `dev` is not a bridge
    /// or the path is deeper than [`MAX_DEPTH`].
    pub fn of<N: Node>(dev: &N) -> Result<Path, Error> {
        let mut p = Path {
            nodes: [DevInfo::default(); MAX_DEPTH],
            len: 0,
        };
        let mut cur = Some(*dev);
        while let Some(node) = cur {
            // Above a device are bridges, and above a VF first its PF.
            let pf_of_vf = p.len == 1 && p.nodes[0].virtfn;
            let slot = p.nodes.get_mut(p.len).ok_or(Error::BadPath)?;
            *slot = node.info();
            if p.len > 0 && slot.bridge.is_none() && !pf_of_vf {
                return Err(Error::BadPath);
            }
            if p.len > 0 && slot.virtfn {
                return Err(Error::BadPath);
            }
            p.len += 1;
            cur = node.parent();
        }
        Ok(p)
    }

    /// The device first, then (for a VF) its PF, then its bridges,
    /// nearest first.
    pub fn nodes(&self) -> &[DevInfo] {
        &self.nodes[..self.len]
    }

    /// Whether the path starts at a VF, whose PF is the second node.
    pub fn is_vf(&self) -> bool {
        self.nodes().first().is_some_and(|n| n.virtfn)
    }
}

/// Errors of table operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The device is already preserved (`-EBUSY`).
    Busy,
    /// The device is not preserved (a warning, nothing changes).
    NotPreserved,
    /// The array must hold this many entries first (grow and retry).
    NoSpace(usize),
    /// A refcount would exceed `u16::MAX`.
    Overflow,
    /// The table disagrees with the device path: a bridge is missing, has
    /// no references left, or holds another device.
    Inconsistent,
    /// The path is not a chain of bridges, or is deeper than [`MAX_DEPTH`].
    BadPath,
    /// A VF's PF is not preserved directly with its VFs enabled.
    NoPf,
    /// A PF's VFs are preserved: it stays preserved while they are.
    HasVfs,
    /// The change would make the table invalid for the next kernel; it was
    /// rolled back.
    Rejected(Invalid),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Busy => f.write_str("already preserved"),
            Error::NotPreserved => f.write_str("not preserved"),
            Error::NoSpace(n) => write!(f, "table needs room for {n} entries"),
            Error::Overflow => f.write_str("too many devices below a bridge"),
            Error::Inconsistent => f.write_str("table disagrees with the device's upstream path"),
            Error::BadPath => write!(
                f,
                "upstream path is not a chain of at most {MAX_DEPTH} bridges"
            ),
            Error::NoPf => f.write_str("its PF is not preserved with VF Enable set"),
            Error::HasVfs => f.write_str("VFs of this PF are preserved"),
            Error::Rejected(why) => write!(f, "the next kernel would reject the table ({why})"),
        }
    }
}

/// Binary search for a device: `Ok(index)` or `Err(insertion point)`.
pub fn search(entries: &[PciDevSer], segment: u32, bdf: u16) -> Result<usize, usize> {
    entries.binary_search_by_key(&key(segment, bdf), entry_key)
}

/// CRC32C (Castagnoli, reflected, initial value and final XOR all ones: the
/// iSCSI and ext4 variant) of a byte string. The crate that builds this file
/// supplies it: the kernel's `crc32c()` library in the kernel, a CRC crate on
/// the host. Both must agree on the check value `0xe306_9283` of `"123456789"`.
pub use crate::crc32c;

/// One entry's share of the table checksum (`INCOMPAT_ENTRY_SUM`).
pub fn entry_sum(e: &PciDevSer) -> u32 {
    crc32c(e.as_bytes())
}

/// Checksum stored in the header for these entries: the wrapping sum of
/// each entry's CRC32C, position-independent so that an insertion or a
/// removal updates it in constant time (the order is checked on its own).
pub fn checksum(entries: &[PciDevSer]) -> u32 {
    entries
        .iter()
        .fold(0u32, |sum, e| sum.wrapping_add(entry_sum(e)))
}

/// Checksum of `count` entries of `stride` bytes in `bytes`, as the header
/// with `incompat` describes it.
fn array_checksum(bytes: &[u8], stride: usize, incompat: u32) -> u32 {
    if incompat & abi::INCOMPAT_ENTRY_SUM == 0 {
        return crc32c(bytes);
    }
    bytes
        .chunks_exact(stride)
        .fold(0u32, |sum, e| sum.wrapping_add(crc32c(e)))
}

/// Checksum of a header, its `header_checksum` field read as zero.
pub fn header_checksum(hdr: &PciLuSer) -> u32 {
    let mut h = *hdr;
    h.header_checksum = U32::new(0);
    crc32c(h.as_bytes())
}

/// Writes both checksums of a header describing `entries`.
pub fn seal(hdr: &mut PciLuSer, entries: &[PciDevSer]) {
    hdr.incompat = U32::new(hdr.incompat.get() | abi::INCOMPAT_ENTRY_SUM);
    set_vf_bit(hdr, entries);
    hdr.checksum = U32::new(checksum(entries));
    hdr.header_checksum = U32::new(header_checksum(hdr));
}

/// Sets [`abi::INCOMPAT_VF`] exactly when `entries` hold a VF.
fn set_vf_bit(hdr: &mut PciLuSer, entries: &[PciDevSer]) {
    let mut bits = hdr.incompat.get() & !abi::INCOMPAT_VF;
    if entries.iter().any(is_virtfn) {
        bits |= abi::INCOMPAT_VF;
    }
    hdr.incompat = U32::new(bits);
}

/// Writes an empty header.
pub fn init_header(hdr: &mut PciLuSer) {
    *hdr = PciLuSer {
        magic: U32::new(abi::SER_MAGIC),
        version: U16::new(abi::SER_VERSION),
        // CAST: The entry size is 80, asserted in `abi`.
        entry_size: U16::new(abi::DEV_SER_SIZE as u16),
        compat: U32::new(abi::COMPAT_PROBE),
        ..PciLuSer::default()
    };
    seal(hdr, &[]);
}

/// A mutable view of a table: the header and its whole entry array.
///
/// Every change keeps `hdr.checksum` equal to [`checksum`] of the entries by
/// adding and subtracting the shares of the entries it touches; the header
/// checksum is rewritten at the end of each public operation.
///
/// # Invariants
///
/// `hdr.capacity == buf.len()` and `hdr.count <= hdr.capacity`.
pub struct Table<'a> {
    hdr: &'a mut PciLuSer,
    buf: &'a mut [PciDevSer],
}

impl<'a> Table<'a> {
    /// Wraps a header and its array; `None` if they disagree in size.
    pub fn new(hdr: &'a mut PciLuSer, buf: &'a mut [PciDevSer]) -> Option<Self> {
        let cap = usize::try_from(hdr.capacity.get()).ok()?;
        let count = usize::try_from(hdr.count.get()).ok()?;
        // INVARIANT: Checked here.
        (cap == buf.len() && count <= cap).then_some(Table { hdr, buf })
    }

    /// Number of valid entries.
    pub fn len(&self) -> usize {
        // CAST: `count <= capacity == buf.len()`, by the type invariant.
        self.hdr.count.get() as usize
    }

    /// Whether the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The valid entries, sorted.
    pub fn entries(&self) -> &[PciDevSer] {
        &self.buf[..self.len()]
    }

    /// The entry of a device, if present.
    pub fn find(&self, segment: u32, bdf: u16) -> Option<&PciDevSer> {
        let entries = self.entries();
        search(entries, segment, bdf).ok().map(|i| &entries[i])
    }

    fn set_len(&mut self, len: usize) {
        // CAST: `len <= buf.len() == capacity`, which is a `u32`.
        self.hdr.count = U32::new(len as u32);
    }

    /// Adds `add` and removes `sub` from the running entry checksum.
    fn adjust_sum(&mut self, add: u32, sub: u32) {
        let sum = self.hdr.checksum.get().wrapping_add(add).wrapping_sub(sub);
        self.hdr.checksum = U32::new(sum);
    }

    /// Changes entry `i` in place, keeping the checksum current.
    fn edit(&mut self, i: usize, f: impl FnOnce(&mut PciDevSer)) {
        let old = entry_sum(&self.buf[i]);
        f(&mut self.buf[i]);
        let new = entry_sum(&self.buf[i]);
        self.adjust_sum(new, old);
    }

    fn insert(&mut self, at: usize, e: PciDevSer) -> Result<(), Error> {
        let len = self.len();
        if len >= self.buf.len() || at > len {
            return Err(Error::NoSpace(len + 1));
        }
        self.buf.copy_within(at..len, at + 1);
        self.buf[at] = e;
        self.set_len(len + 1);
        self.adjust_sum(entry_sum(&e), 0);
        if is_virtfn(&e) {
            self.hdr.incompat = U32::new(self.hdr.incompat.get() | abi::INCOMPAT_VF);
        }
        Ok(())
    }

    fn remove(&mut self, at: usize) {
        let len = self.len();
        if at >= len {
            return;
        }
        let gone = entry_sum(&self.buf[at]);
        let vf = is_virtfn(&self.buf[at]);
        self.adjust_sum(0, gone);
        self.buf.copy_within(at + 1..len, at);
        self.buf[len - 1] = PciDevSer::default();
        self.set_len(len - 1);
        if vf {
            set_vf_bit(self.hdr, &self.buf[..len - 1]);
        }
    }

    /// Drops one reference of entry `i` (and its direct mark if `direct`);
    /// removes the entry when none is left.
    fn release(&mut self, i: usize, direct: bool) {
        let refs = self.buf[i].refcount.get().saturating_sub(1);
        self.edit(i, |e| {
            e.refcount = U16::new(refs);
            if direct {
                e.flags = U32::new(e.flags.get() & !abi::F_DIRECT);
                e.driver = NO_DRIVER;
            }
        });
        if refs == 0 {
            self.remove(i);
        }
    }

    /// Rewrites the header checksum; the entry checksum is kept current by
    /// every change (see [`Table`]).
    fn update_checksum(&mut self) {
        self.hdr.header_checksum = U32::new(header_checksum(self.hdr));
    }

    /// Checks that preserving the device at the start of `path` can
    /// succeed without changing anything.
    ///
    /// Returns the number of entries the walk will add.
    pub fn plan_preserve(&self, path: &Path) -> Result<usize, Error> {
        let mut new = 0;
        let vf = path.is_vf();
        for (depth, info) in path.nodes().iter().enumerate() {
            let pf = vf && depth == 1;
            match self.find(info.segment, info.bdf) {
                Some(e) if depth == 0 && is_direct(e) => return Err(Error::Busy),
                // A VF runs only while its PF does: the PF's owner must
                // keep it (and VF Enable) first.
                Some(e) if pf && (!is_direct(e) || info.probe.kept_vfs().is_none()) => {
                    return Err(Error::NoPf)
                }
                None if pf => return Err(Error::NoPf),
                Some(e) if !info.matches(e) || e.refcount.get() == 0 => {
                    return Err(Error::Inconsistent)
                }
                Some(e) if e.refcount.get() == u16::MAX => return Err(Error::Overflow),
                Some(_) => {}
                // Never record what the next kernel would reject.
                None if check_entry(0, &info.to_entry((depth == 0).then_some(&NO_DRIVER)))
                    .is_err() =>
                {
                    return Err(Error::BadPath)
                }
                None => new += 1,
            }
        }
        Ok(new)
    }

    /// Preserves `dev` directly and every bridge above it; see
    /// [`Table::preserve_path`].
    pub fn preserve<N: Node>(&mut self, dev: &N, driver: &Driver) -> Result<(), Error> {
        self.preserve_path(&Path::of(dev)?, driver)
    }

    /// Preserves the device at the start of `path` directly, recording
    /// `driver` as its driver, and every bridge above it.
    ///
    /// Either the whole path is recorded or nothing changes. Fails with
    /// [`Error::NoSpace`] when the array must grow first, and with
    /// [`Error::Rejected`] (after rolling back) if the result would fail the
    /// next kernel's validation.
    pub fn preserve_path(&mut self, path: &Path, driver: &Driver) -> Result<(), Error> {
        let new = self.plan_preserve(path)?;
        if self.len() + new > self.buf.len() {
            return Err(Error::NoSpace(self.len() + new));
        }
        // Apply from the snapshot; the plan guarantees room and refcounts.
        let mut applied = 0;
        let mut result = Ok(());
        let vf = path.is_vf();
        for (depth, info) in path.nodes().iter().enumerate() {
            let direct = depth == 0;
            // A VF's PF records the SR-IOV state the VF runs with now.
            let pf = vf && depth == 1;
            let step = match search(self.entries(), info.segment, info.bdf) {
                Ok(i) => match self.buf[i].refcount.get().checked_add(1) {
                    Some(r) => {
                        self.edit(i, |e| {
                            e.refcount = U16::new(r);
                            if direct {
                                e.flags = U32::new(e.flags.get() | abi::F_DIRECT);
                                e.driver = *driver;
                            }
                            if pf {
                                let p = probe_fields(&info.probe, false);
                                e.bar_order = p.bar_order;
                                e.probe = p.probe;
                                e.vf_bar_order = p.vf_bar_order;
                                e.vf_buses = p.vf_buses;
                                set_vf_state(e, &Probe::of(&p).vfs);
                            }
                        });
                        Ok(())
                    }
                    None => Err(Error::Overflow),
                },
                Err(i) => self.insert(i, info.to_entry(direct.then_some(driver))),
            };
            if let Err(e) = step {
                result = Err(e);
                break;
            }
            applied += 1;
        }
        if result.is_ok() {
            result = self.check_path(path).map_err(Error::Rejected);
        }
        if result.is_err() {
            self.undo(&path.nodes()[..applied]);
        }
        self.update_checksum();
        result
    }

    /// Runs the next kernel's link checks on the entries of `path`.
    fn check_path(&self, path: &Path) -> Result<(), Invalid> {
        let entries = self.entries();
        for info in path.nodes() {
            if let Ok(i) = search(entries, info.segment, info.bdf) {
                check_entry(i, &entries[i])?;
                check_links(entries, i, &entries[i])?;
            }
        }
        Ok(())
    }

    /// Reverts the first steps of a preserve: one reference on each node.
    fn undo(&mut self, nodes: &[DevInfo]) {
        for (depth, info) in nodes.iter().enumerate() {
            if let Ok(i) = search(self.entries(), info.segment, info.bdf) {
                self.release(i, depth == 0);
            }
        }
    }

    /// Drops the direct preservation of `dev` and one reference on every
    /// bridge the table records above it; entries left without references
    /// are removed.
    ///
    /// Follows the recorded links, so a bridge that changed or went away
    /// since the preserve cannot make the device impossible to unpreserve.
    /// The device itself must match its entry's identity. Either the whole
    /// path is updated or nothing changes.
    pub fn unpreserve(&mut self, dev: &DevInfo) -> Result<(), Error> {
        match self.find(dev.segment, dev.bdf) {
            Some(e) if is_direct(e) && dev.same_identity(e) => {
                // Only VFs add references to a device that is not a bridge.
                if e.flags.get() & abi::F_BRIDGE == 0 && e.refcount.get() > 1 {
                    return Err(Error::HasVfs);
                }
            }
            _ => return Err(Error::NotPreserved),
        }
        self.release_path(dev.segment, dev.bdf)
    }

    /// Ends the preservation of the directly preserved device at
    /// (`segment`, `bdf`), following the upstream links the table records.
    ///
    /// Used on a validated incoming table: it does not depend on the new
    /// kernel's view of the topology. Either the whole path is updated or
    /// nothing changes.
    pub fn finish(&mut self, segment: u32, bdf: u16) -> Result<(), Error> {
        match self.find(segment, bdf) {
            Some(e) if is_direct(e) => {}
            _ => return Err(Error::NotPreserved),
        }
        self.release_path(segment, bdf)
    }

    /// Drops the direct mark of (`segment`, `bdf`) and one reference along
    /// its recorded upstream links.
    fn release_path(&mut self, segment: u32, bdf: u16) -> Result<(), Error> {
        // Plan: the device and every recorded bridge must be present.
        let mut cur = Some(bdf);
        let mut depth = 0;
        while let Some(b) = cur {
            let e = self.find(segment, b).ok_or(Error::Inconsistent)?;
            if e.refcount.get() == 0 {
                return Err(Error::Inconsistent);
            }
            depth += 1;
            if depth > MAX_DEPTH {
                return Err(Error::BadPath);
            }
            cur = upstream_of(e);
        }
        // Apply: read each link before the entry may be removed.
        let mut cur = Some(bdf);
        let mut direct = true;
        while let Some(b) = cur {
            let Ok(i) = search(self.entries(), segment, b) else {
                break;
            };
            cur = upstream_of(&self.buf[i]);
            self.release(i, direct);
            direct = false;
        }
        self.update_checksum();
        Ok(())
    }

    /// Number of entries the array has room for.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// The header and the whole array, as they would be handed over.
    pub fn raw(&self) -> (&PciLuSer, &[PciDevSer]) {
        (self.hdr, self.buf)
    }

    /// Copies the entries into `to`, at least as large, which lives at
    /// physical address `phys`, and makes it the table's array. Returns the
    /// old array, or `None` (and changes nothing) if `to` is too small.
    pub fn move_to(&mut self, to: &'a mut [PciDevSer], phys: u64) -> Option<&'a mut [PciDevSer]> {
        let len = self.len();
        let cap = u32::try_from(to.len()).ok()?;
        if to.len() < len {
            return None;
        }
        // Element-wise: `copy_from_slice` would add a length-mismatch panic.
        for (i, slot) in to.iter_mut().enumerate() {
            *slot = self
                .buf
                .get(i)
                .filter(|_| i < len)
                .copied()
                .unwrap_or_default();
        }
        self.hdr.capacity = U32::new(cap);
        self.hdr.entries = U64::new(phys);
        let old = core::mem::replace(&mut self.buf, to);
        self.update_checksum();
        Some(old)
    }
}

/// Why handover data was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// The header is too short.
    ShortHeader(usize),
    /// Wrong magic number.
    Magic(u32),
    /// Unknown version.
    Version(u16),
    /// Entry size is below the smallest one ever written.
    EntrySize(u16),
    /// Feature bits this kernel does not know and must not ignore.
    Incompat(u32),
    /// The header checksum does not match (stored, computed).
    HeaderChecksum(u32, u32),
    /// More entries than room for them.
    CountOverCapacity(u32, u32),
    /// A capacity without an array, or an array without a capacity.
    ArrayAddress,
    /// The capacity does not fit in the preserved allocation.
    CapacityOverAllocation(u32, usize),
    /// Entry at this index is not above its predecessor.
    Unsorted(usize),
    /// Entry at this index repeats its predecessor.
    Duplicate(usize),
    /// Entry at this index has no references.
    ZeroRefcount(usize),
    /// Entry at this index has unknown flags or bus numbers on a non-bridge.
    Flags(usize),
    /// Entry at this index has a driver name that is not NUL-terminated,
    /// or one without being directly preserved.
    Driver(usize),
    /// Bridge at this index has impossible bus numbers.
    BusRange(usize),
    /// Entry at this index has an impossible probe record.
    Probe(usize),
    /// The caller's buffer cannot hold this many entries.
    NoRoom(usize),
    /// Entry at this index names an upstream bridge that is not in the table
    /// or whose secondary bus is not the entry's bus.
    Upstream(usize),
    /// Entry at this index: refcount differs from what its children imply.
    Refcount(usize, u16, u32),
    /// Entry at this index is deeper than [`MAX_DEPTH`]: finish could not
    /// release it.
    TooDeep(usize),
    /// Stored and computed checksums differ.
    Checksum(u32, u32),
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Invalid::ShortHeader(n) => write!(f, "header is {n} bytes"),
            Invalid::Magic(m) => write!(f, "bad magic {m:#x}"),
            Invalid::Version(v) => write!(f, "unknown version {v}"),
            Invalid::EntrySize(s) => {
                write!(
                    f,
                    "entry size {s}, expected at least {}",
                    abi::DEV_SER_MIN_SIZE
                )
            }
            Invalid::Incompat(bits) => write!(f, "unknown incompatible features {bits:#x}"),
            Invalid::HeaderChecksum(have, want) => {
                write!(
                    f,
                    "header checksum {have:#010x} does not match the header ({want:#010x})"
                )
            }
            Invalid::CountOverCapacity(n, c) => write!(f, "count {n} exceeds capacity {c}"),
            Invalid::ArrayAddress => f.write_str("array address and capacity disagree"),
            Invalid::CapacityOverAllocation(c, b) => {
                write!(f, "capacity {c} does not fit in {b} preserved bytes")
            }
            Invalid::Unsorted(i) => write!(f, "entry {i} is out of order"),
            Invalid::Duplicate(i) => write!(f, "entry {i} is a duplicate"),
            Invalid::ZeroRefcount(i) => write!(f, "entry {i} has a zero refcount"),
            Invalid::Flags(i) => write!(f, "entry {i} has invalid flags"),
            Invalid::Driver(i) => write!(f, "entry {i} has an invalid driver name"),
            Invalid::BusRange(i) => write!(f, "bridge entry {i} has an invalid bus range"),
            Invalid::Probe(i) => write!(f, "entry {i} has an invalid probe record"),
            Invalid::NoRoom(n) => write!(f, "no room to read {n} entries"),
            Invalid::Upstream(i) => write!(f, "entry {i} names a missing upstream bridge"),
            Invalid::Refcount(i, have, want) => {
                write!(
                    f,
                    "entry {i} has refcount {have}, its children imply {want}"
                )
            }
            Invalid::TooDeep(i) => {
                write!(f, "entry {i} is more than {MAX_DEPTH} devices deep")
            }
            Invalid::Checksum(have, want) => {
                write!(
                    f,
                    "checksum {have:#010x} does not match entries ({want:#010x})"
                )
            }
        }
    }
}

/// What a valid header describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// Number of valid entries.
    pub count: usize,
    /// Number of entries the array has room for.
    pub capacity: usize,
    /// Bytes per entry in the array, at least [`abi::DEV_SER_MIN_SIZE`].
    pub stride: usize,
}

/// Checks a header on its own.
///
/// Unknown `compat` bits are ignored and unknown `incompat` bits refuse the
/// data (see the ABI header for the rules).
pub fn validate_header(hdr: &PciLuSer) -> Result<Shape, Invalid> {
    if hdr.magic.get() != abi::SER_MAGIC {
        return Err(Invalid::Magic(hdr.magic.get()));
    }
    if hdr.version.get() != abi::SER_VERSION {
        return Err(Invalid::Version(hdr.version.get()));
    }
    let stride = usize::from(hdr.entry_size.get());
    if stride < abi::DEV_SER_MIN_SIZE {
        return Err(Invalid::EntrySize(hdr.entry_size.get()));
    }
    let sum = header_checksum(hdr);
    if sum != hdr.header_checksum.get() {
        return Err(Invalid::HeaderChecksum(hdr.header_checksum.get(), sum));
    }
    let unknown = hdr.incompat.get() & !abi::INCOMPAT_KNOWN;
    if unknown != 0 {
        return Err(Invalid::Incompat(unknown));
    }
    let (count, cap) = (hdr.count.get(), hdr.capacity.get());
    if count > cap {
        return Err(Invalid::CountOverCapacity(count, cap));
    }
    if (cap == 0) != (hdr.entries.get() == 0) {
        return Err(Invalid::ArrayAddress);
    }
    Ok(Shape {
        // CAST: `u32` fits in `usize` on every target of this code (64-bit).
        count: count as usize,
        capacity: cap as usize,
        stride,
    })
}

/// Validates handed-over data before anything uses it.
///
/// `hdr` is the header and `array` the whole preserved allocation of the
/// entry array (empty if there is none). The entries are copied into `out`
/// with this kernel's size: the fields a shorter entry lacks read as zero,
/// the tail of a longer one is dropped, and so is a probe record the header
/// does not announce. On success returns the copied entries, valid, sorted
/// and consistent, and rewrites `hdr` to describe exactly them (entry size,
/// capacity equal to count, checksums); `hdr` is unchanged on failure.
pub fn validate<'b>(
    hdr: &mut PciLuSer,
    array: &[u8],
    out: &'b mut [PciDevSer],
) -> Result<&'b mut [PciDevSer], Invalid> {
    let shape = validate_header(hdr)?;
    let fits = shape
        .capacity
        .checked_mul(shape.stride)
        .is_some_and(|bytes| bytes <= array.len());
    if !fits {
        return Err(Invalid::CapacityOverAllocation(
            hdr.capacity.get(),
            array.len(),
        ));
    }
    let used = shape.count * shape.stride;
    let sum = array_checksum(&array[..used], shape.stride, hdr.incompat.get());
    if sum != hdr.checksum.get() {
        return Err(Invalid::Checksum(hdr.checksum.get(), sum));
    }
    let entries = out
        .get_mut(..shape.count)
        .ok_or(Invalid::NoRoom(shape.count))?;
    let keep = shape.stride.min(abi::DEV_SER_SIZE);
    let probed = hdr.compat.get() & abi::COMPAT_PROBE != 0;
    for (i, e) in entries.iter_mut().enumerate() {
        let src = array.get(i * shape.stride..).unwrap_or_default();
        let mut raw = [0u8; abi::DEV_SER_SIZE];
        for (j, b) in raw.iter_mut().enumerate().take(keep) {
            *b = src.get(j).copied().unwrap_or(0);
        }
        *e = zerocopy::transmute!(raw);
        e.reserved = 0;
        e.reserved2 = [0; 5];
        if !probed || e.probe & abi::P_SIZED == 0 {
            e.bar_order = [0; abi::BARS];
            e.probe = 0;
        }
        // Bits a later kernel defined: ignored, as the ABI says.
        e.probe &= abi::P_ALL;
        // Reserved bytes to a writer that did not know the SR-IOV record.
        if e.probe & abi::P_SRIOV == 0 {
            e.vf_bar_order = [0; abi::VF_BARS];
            e.vf_buses = 0;
            e.probe &= !abi::P_VFS;
        }
        // ... and to one that did not know the VF state.
        if e.probe & abi::P_VFS == 0 {
            set_vf_state(e, &VfState::default());
        }
    }
    check_entries(entries)?;
    // CAST: The entry size is 80, asserted in `abi`.
    hdr.entry_size = U16::new(abi::DEV_SER_SIZE as u16);
    // CAST: At most the validated capacity, a `u32`.
    hdr.capacity = U32::new(shape.count as u32);
    if shape.count == 0 {
        hdr.entries = U64::new(0);
    }
    hdr.compat = U32::new((hdr.compat.get() & abi::COMPAT_KNOWN) | abi::COMPAT_PROBE);
    seal(hdr, entries);
    Ok(entries)
}

/// The structural checks of [`validate`], on entries of this kernel's size.
pub fn check_entries(entries: &[PciDevSer]) -> Result<(), Invalid> {
    // Local checks first, so the log names the entry that is wrong rather
    // than a bridge whose sum it spoils.
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            let (prev, cur) = (entry_key(&entries[i - 1]), entry_key(e));
            if prev == cur {
                return Err(Invalid::Duplicate(i));
            }
            if prev > cur {
                return Err(Invalid::Unsorted(i));
            }
        }
        check_entry(i, e)?;
    }
    for (i, e) in entries.iter().enumerate() {
        check_links(entries, i, e)?;
    }
    Ok(())
}

fn check_entry(i: usize, e: &PciDevSer) -> Result<(), Invalid> {
    let flags = e.flags.get();
    if e.refcount.get() == 0 {
        return Err(Invalid::ZeroRefcount(i));
    }
    if flags & !abi::F_ALL != 0
        || e.class.get() > 0xff_ffff
        || (flags & abi::F_UPSTREAM == 0 && e.upstream.get() != 0)
    {
        return Err(Invalid::Flags(i));
    }
    if flags & abi::F_BRIDGE != 0 {
        let bus = (e.bdf.get() >> 8) as u8;
        if e.secondary <= bus || e.subordinate < e.secondary {
            return Err(Invalid::BusRange(i));
        }
    } else if e.secondary != 0 || e.subordinate != 0 {
        return Err(Invalid::Flags(i));
    }
    let named = e.driver.iter().any(|&b| b != 0);
    if e.driver[abi::DRIVER_LEN - 1] != 0 || (named && !is_direct(e)) {
        return Err(Invalid::Driver(i));
    }
    let sized = e.probe & abi::P_SIZED != 0;
    let sriov = e.probe & abi::P_SRIOV != 0;
    let bad_order = e
        .bar_order
        .iter()
        .any(|&o| o > abi::BAR_ORDER_MAX || (o != 0 && !sized))
        || e.vf_bar_order
            .iter()
            .any(|&o| o > abi::BAR_ORDER_MAX || (o != 0 && !sriov))
        || (e.vf_buses != 0 && !sriov);
    let bad_window = e.probe & abi::P_WINDOWS != 0 && flags & abi::F_BRIDGE == 0;
    // VFs are enabled on a function that is not a bridge, at least one,
    // each with a routing ID, with one page size.
    let bad_vfs = e.probe & abi::P_VFS != 0
        && (!sriov
            || flags & abi::F_BRIDGE != 0
            || e.sriov_ctrl.get() & SRIOV_CTRL_VFE == 0
            || Probe::of(e).vfs.last_rid(e.bdf.get()).is_none()
            || e.sriov_page > 31);
    if bad_order || bad_window || bad_vfs || (!sized && e.probe != 0) {
        return Err(Invalid::Probe(i));
    }
    // A VF is preserved directly below its PF, never as a bridge.
    let vf_flags = abi::F_DIRECT | abi::F_UPSTREAM;
    if is_virtfn(e) && (flags & vf_flags != vf_flags || flags & abi::F_BRIDGE != 0) {
        return Err(Invalid::Flags(i));
    }
    Ok(())
}

/// Checks an entry against its upstream bridge and its children.
fn check_links(entries: &[PciDevSer], i: usize, e: &PciDevSer) -> Result<(), Invalid> {
    let seg = e.segment.get();
    let bus = (e.bdf.get() >> 8) as u8;
    let mut want = u32::from(is_direct(e));
    if e.flags.get() & abi::F_BRIDGE != 0 {
        // The entries below a bridge are the ones on its secondary bus.
        let first = u16::from(e.secondary) << 8;
        let lo = search(entries, seg, first).unwrap_or_else(|x| x);
        let hi = search(entries, seg, first | 0xff).map_or_else(|x| x, |x| x + 1);
        // VFs on that bus hang below their PF instead.
        for c in entries[lo..hi].iter().filter(|c| !is_virtfn(c)) {
            if upstream_of(c) != Some(e.bdf.get()) {
                return Err(Invalid::Upstream(i));
            }
            if c.subordinate > e.subordinate {
                return Err(Invalid::BusRange(i));
            }
            want += u32::from(c.refcount.get());
        }
    }
    let pf = e.bdf.get();
    if let Some(v) = Probe::of(e).kept_vfs() {
        // The entries below a PF are its VFs, at most up to its last one.
        // `check_entry` made sure the last one has a routing ID.
        let lo = search(entries, seg, pf).map_or_else(|x| x, |x| x + 1);
        let hi = v.last_rid(pf).map_or(lo, |l| {
            search(entries, seg, l).map_or_else(|x| x, |x| x + 1)
        });
        for c in entries[lo..hi.max(lo)].iter() {
            if is_virtfn(c) && upstream_of(c) == Some(pf) {
                want += u32::from(c.refcount.get());
            }
        }
    }
    let refs = e.refcount.get();
    if u32::from(refs) != want {
        return Err(Invalid::Refcount(i, refs, want));
    }
    if let Some(up) = upstream_of(e) {
        let parent = search(entries, seg, up).ok().map(|p| &entries[p]);
        let linked = match parent {
            // A VF's PF has it among the VFs its state gives.
            Some(p) if is_virtfn(e) => Probe::of(p)
                .kept_vfs()
                .filter(|_| p.flags.get() & abi::F_BRIDGE == 0 && !is_virtfn(p))
                .is_some_and(|v| v.vf_index(up, pf).is_some()),
            Some(p) => p.flags.get() & abi::F_BRIDGE != 0 && p.secondary == bus,
            None => false,
        };
        if !linked {
            return Err(Invalid::Upstream(i));
        }
    }
    // What `finish` walks: accept no path it would refuse. The links were
    // checked for every entry above once this runs on the last one, but
    // bound the walk on its own anyway.
    let mut cur = Some(i);
    let mut depth = 0;
    while let Some(c) = cur {
        depth += 1;
        if depth > MAX_DEPTH {
            return Err(Invalid::TooDeep(i));
        }
        cur = upstream_of(&entries[c]).and_then(|up| search(entries, seg, up).ok());
    }
    Ok(())
}
