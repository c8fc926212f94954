// SPDX-License-Identifier: GPL-2.0

//! Handover ABI of the PCI Live Update device table.
//!
//! Mirrors `include/linux/kho/abi/pci.h` (in this repository
//! `include/kho_abi/pci.h`); read that header for the contract. Both sides
//! assert the layout, and the host crate checks the two against each other
//! with bindgen. This file is shared, unchanged, by the kernel component and
//! the host crate, so it only uses `core` and `zerocopy`.

use zerocopy::byteorder::little_endian::{
    U16,
    U32,
    U64, //
};
use zerocopy_derive::{
    FromBytes,
    Immutable,
    IntoBytes,
    KnownLayout,
    Unaligned, //
};

/// FLB compatible string; must equal `PCI_LU_FLB_COMPATIBLE`.
pub const FLB_COMPATIBLE: &str = "pci-lu-sorted-table-v2";
/// `PCI_LU_SER_MAGIC`: "PCLU" read as a little-endian `u32`.
pub const SER_MAGIC: u32 = 0x554c_4350;
/// `PCI_LU_SER_VERSION`.
pub const SER_VERSION: u16 = 2;

/// `PCI_LU_COMPAT_*` bits this kernel knows; unknown ones are ignored.
pub const COMPAT_KNOWN: u32 = COMPAT_PROBE;
/// `PCI_LU_COMPAT_PROBE`: entries carry the probe record (`bar_order`,
/// `probe`), so the next kernel need not write to the device to learn it.
pub const COMPAT_PROBE: u32 = 1 << 0;
/// `PCI_LU_INCOMPAT_*` bits this kernel knows; unknown ones refuse the data.
pub const INCOMPAT_KNOWN: u32 = INCOMPAT_ENTRY_SUM | INCOMPAT_VF;
/// `checksum` is the wrapping sum of each entry's CRC32C, so that changes
/// update it from the entries they touch.
pub const INCOMPAT_ENTRY_SUM: u32 = 1 << 0;
/// `PCI_LU_INCOMPAT_VF`: the table holds SR-IOV VFs ([`F_VIRTFN`]); a
/// reader that cannot keep them running with their PF refuses the table.
pub const INCOMPAT_VF: u32 = 1 << 1;

/// `PCI_DEV_SER_DRIVER_LEN`: room for a driver name and its NUL.
pub const DRIVER_LEN: usize = 24;

/// `PCI_DEV_SER_F_DIRECT`: preserved by a driver call.
pub const F_DIRECT: u32 = 1 << 0;
/// `PCI_DEV_SER_F_BRIDGE`: the device has a subordinate bus.
pub const F_BRIDGE: u32 = 1 << 1;
/// `PCI_DEV_SER_F_UPSTREAM`: the `upstream` field is valid.
pub const F_UPSTREAM: u32 = 1 << 2;
/// `PCI_DEV_SER_F_VIRTFN`: an SR-IOV VF; `upstream` is its PF.
pub const F_VIRTFN: u32 = 1 << 3;
/// All defined flags.
pub const F_ALL: u32 = F_DIRECT | F_BRIDGE | F_UPSTREAM | F_VIRTFN;

/// `PCI_DEV_SER_BARS`: BAR 0-5 and the expansion ROM in `bar_order`.
pub const BARS: usize = 7;
/// `PCI_DEV_SER_P_SIZED`: the probe record below is valid.
pub const P_SIZED: u8 = 1 << 0;
/// `PCI_DEV_SER_P_INTX_BROKEN`: INTx Disable is not writable.
pub const P_INTX_BROKEN: u8 = 1 << 1;
/// `PCI_DEV_SER_P_IO_WINDOW`: the bridge has an I/O window.
pub const P_IO_WINDOW: u8 = 1 << 2;
/// `PCI_DEV_SER_P_PREF_WINDOW`: the bridge has a prefetchable window.
pub const P_PREF_WINDOW: u8 = 1 << 3;
/// `PCI_DEV_SER_P_PREF_64`: that window takes 64-bit addresses.
pub const P_PREF_64: u8 = 1 << 4;
/// `PCI_DEV_SER_P_SRIOV`: `vf_bar_order` and `vf_buses` are valid.
pub const P_SRIOV: u8 = 1 << 5;
/// `PCI_DEV_SER_P_VFS`: with [`P_SRIOV`], VF Enable was set; the `sriov_*`
/// and `vf_*` state fields are valid.
pub const P_VFS: u8 = 1 << 6;
/// `PCI_DEV_SER_VF_BARS`: VF BAR 0-5 of the SR-IOV capability.
pub const VF_BARS: usize = 6;
/// Probe bits that only a bridge may have.
pub const P_WINDOWS: u8 = P_IO_WINDOW | P_PREF_WINDOW | P_PREF_64;
/// All defined probe bits; unknown ones are ignored.
pub const P_ALL: u8 = P_SIZED | P_INTX_BROKEN | P_WINDOWS | P_SRIOV | P_VFS;
/// Largest `bar_order`: a 64-bit BAR of 2^63 bytes.
pub const BAR_ORDER_MAX: u8 = 63;

/// `struct pci_lu_ser`: header of the preserved device table.
#[repr(C, packed)]
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    FromBytes,
    IntoBytes,
    Immutable,
    KnownLayout,
    Unaligned,
)]
pub struct PciLuSer {
    /// [`SER_MAGIC`].
    pub magic: U32,
    /// [`SER_VERSION`].
    pub version: U16,
    /// Size of one [`PciDevSer`].
    pub entry_size: U16,
    /// Number of valid entries.
    pub count: U32,
    /// Number of entries the array has room for.
    pub capacity: U32,
    /// Physical address of the entry array.
    pub entries: U64,
    /// CRC32C of the valid entries.
    pub checksum: U32,
    /// CRC32C of this header, this field read as zero.
    pub header_checksum: U32,
    /// Features an older kernel may ignore (`COMPAT_*`).
    pub compat: U32,
    /// Features an older kernel must refuse the data for (`INCOMPAT_*`).
    pub incompat: U32,
    /// Zero when written, ignored when read (room for later fields).
    pub reserved: [u8; 24],
}

/// `struct pci_dev_ser`: one preserved device.
#[repr(C, packed)]
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    FromBytes,
    IntoBytes,
    Immutable,
    KnownLayout,
    Unaligned,
)]
pub struct PciDevSer {
    /// PCI segment (domain).
    pub segment: U32,
    /// Bus number << 8 | devfn.
    pub bdf: U16,
    /// Preservations at or below this device.
    pub refcount: U16,
    /// Vendor ID.
    pub vendor: U16,
    /// Device ID.
    pub device: U16,
    /// 24-bit class code.
    pub class: U32,
    /// `F_*` flags.
    pub flags: U32,
    /// BDF of the upstream bridge, valid with [`F_UPSTREAM`].
    pub upstream: U16,
    /// Secondary bus number of a bridge, 0 otherwise.
    pub secondary: u8,
    /// Subordinate bus number of a bridge, 0 otherwise.
    pub subordinate: u8,
    /// NUL-padded name of the driver bound at preserve, with [`F_DIRECT`];
    /// empty if none was bound.
    pub driver: [u8; DRIVER_LEN],
    /// With [`P_SIZED`]: log2 of the size of each BAR (index 6: the ROM),
    /// 0 if the BAR is not implemented or is the upper half of a 64-bit one.
    pub bar_order: [u8; BARS],
    /// `P_*` bits: what probing the device found, valid with [`P_SIZED`].
    pub probe: u8,
    /// With [`P_SRIOV`]: log2 of the size one VF decodes through each VF
    /// BAR, 0 as in `bar_order`.
    pub vf_bar_order: [u8; VF_BARS],
    /// With [`P_SRIOV`]: bus numbers above the function's own that the
    /// VFs may use.
    pub vf_buses: u8,
    /// Zero when written, ignored when read.
    pub reserved: u8,
    /// With [`P_VFS`]: SR-IOV Control as found at preserve.
    pub sriov_ctrl: U16,
    /// With [`P_VFS`]: NumVFs.
    pub num_vfs: U16,
    /// With [`P_VFS`]: First VF Offset.
    pub vf_offset: U16,
    /// With [`P_VFS`]: VF Stride.
    pub vf_stride: U16,
    /// With [`P_VFS`]: VF Device ID.
    pub vf_device: U16,
    /// With [`P_VFS`]: the bit set in System Page Size (page of 2^(n + 12)
    /// bytes).
    pub sriov_page: u8,
    /// Zero when written, ignored when read.
    pub reserved2: [u8; 5],
}

/// Size of [`PciLuSer`] in bytes.
pub const SER_SIZE: usize = core::mem::size_of::<PciLuSer>();
/// Size of [`PciDevSer`] in bytes.
pub const DEV_SER_SIZE: usize = core::mem::size_of::<PciDevSer>();
/// `PCI_DEV_SER_MIN_SIZE`: the smallest entry a reader accepts, the size
/// before the probe record; the tail of a shorter entry reads as zero.
pub const DEV_SER_MIN_SIZE: usize = 48;

// The same numbers as the C `static_assert`s.
const _: () = {
    assert!(SER_SIZE == 64);
    assert!(core::mem::offset_of!(PciLuSer, entries) == 16);
    assert!(core::mem::offset_of!(PciLuSer, checksum) == 24);
    assert!(core::mem::offset_of!(PciLuSer, header_checksum) == 28);
    assert!(core::mem::offset_of!(PciLuSer, compat) == 32);
    assert!(core::mem::offset_of!(PciLuSer, incompat) == 36);
    assert!(DEV_SER_SIZE == 80);
    assert!(core::mem::offset_of!(PciDevSer, refcount) == 6);
    assert!(core::mem::offset_of!(PciDevSer, class) == 12);
    assert!(core::mem::offset_of!(PciDevSer, flags) == 16);
    assert!(core::mem::offset_of!(PciDevSer, upstream) == 20);
    assert!(core::mem::offset_of!(PciDevSer, secondary) == 22);
    assert!(core::mem::offset_of!(PciDevSer, driver) == 24);
    assert!(core::mem::offset_of!(PciDevSer, bar_order) == DEV_SER_MIN_SIZE);
    assert!(core::mem::offset_of!(PciDevSer, probe) == 55);
    assert!(core::mem::offset_of!(PciDevSer, vf_bar_order) == 56);
    assert!(core::mem::offset_of!(PciDevSer, vf_buses) == 62);
    assert!(core::mem::offset_of!(PciDevSer, sriov_ctrl) == 64);
    assert!(core::mem::offset_of!(PciDevSer, vf_device) == 72);
    assert!(core::mem::offset_of!(PciDevSer, sriov_page) == 74);
};
