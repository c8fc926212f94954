// SPDX-License-Identifier: GPL-2.0

//! The C ABI header, run through bindgen by `build.rs`, and the Rust
//! mirror in `abi.rs` describe the same bytes.

#[allow(non_camel_case_types, dead_code, clippy::all)]
mod c {
    include!(concat!(env!("OUT_DIR"), "/c_abi.rs"));
}

use core::mem::{align_of, offset_of, size_of};
use pci_lu_host::abi::{self, PciDevSer, PciLuSer};

macro_rules! same_fields {
    ($c:ty, $r:ty, $($f:ident),+) => {
        assert_eq!(size_of::<$c>(), size_of::<$r>(), "size of {}", stringify!($r));
        $(
            assert_eq!(offset_of!($c, $f), offset_of!($r, $f), "{}.{}", stringify!($r), stringify!($f));
        )+
    };
}

#[test]
fn header_layout_matches() {
    same_fields!(
        c::pci_lu_ser,
        PciLuSer,
        magic,
        version,
        entry_size,
        count,
        capacity,
        entries,
        checksum,
        header_checksum
    );
    assert_eq!(align_of::<c::pci_lu_ser>(), 1);
}

#[test]
fn entry_layout_matches() {
    same_fields!(
        c::pci_dev_ser,
        PciDevSer,
        segment,
        bdf,
        refcount,
        vendor,
        device,
        class,
        flags,
        upstream,
        secondary,
        subordinate,
        driver,
        bar_order,
        probe,
        vf_bar_order,
        vf_buses,
        reserved
    );
    assert_eq!(align_of::<c::pci_dev_ser>(), 1);
}

#[test]
fn constants_match() {
    assert_eq!(
        c::PCI_LU_FLB_COMPATIBLE,
        format!("{}\0", abi::FLB_COMPATIBLE).as_bytes()
    );
    assert_eq!(c::PCI_LU_SER_MAGIC, abi::SER_MAGIC);
    assert_eq!(c::PCI_LU_SER_VERSION, u32::from(abi::SER_VERSION));
    assert_eq!(c::PCI_DEV_SER_F_DIRECT, abi::F_DIRECT);
    assert_eq!(c::PCI_DEV_SER_F_BRIDGE, abi::F_BRIDGE);
    assert_eq!(c::PCI_DEV_SER_F_UPSTREAM, abi::F_UPSTREAM);
    assert_eq!(c::PCI_DEV_SER_F_ALL, abi::F_ALL);
    assert_eq!(c::PCI_LU_COMPAT_PROBE, abi::COMPAT_PROBE);
    assert_eq!(c::PCI_LU_COMPAT_KNOWN, abi::COMPAT_KNOWN);
    assert_eq!(c::PCI_DEV_SER_BARS as usize, abi::BARS);
    assert_eq!(c::PCI_DEV_SER_MIN_SIZE as usize, abi::DEV_SER_MIN_SIZE);
    assert_eq!(c::PCI_DEV_SER_P_SIZED, u32::from(abi::P_SIZED));
    assert_eq!(c::PCI_DEV_SER_P_INTX_BROKEN, u32::from(abi::P_INTX_BROKEN));
    assert_eq!(c::PCI_DEV_SER_P_IO_WINDOW, u32::from(abi::P_IO_WINDOW));
    assert_eq!(c::PCI_DEV_SER_P_PREF_WINDOW, u32::from(abi::P_PREF_WINDOW));
    assert_eq!(c::PCI_DEV_SER_P_PREF_64, u32::from(abi::P_PREF_64));
    assert_eq!(c::PCI_DEV_SER_P_SRIOV, u32::from(abi::P_SRIOV));
    assert_eq!(c::PCI_DEV_SER_VF_BARS as usize, abi::VF_BARS);
    // "PCLU" in memory order.
    assert_eq!(&abi::SER_MAGIC.to_le_bytes(), b"PCLU");
}
