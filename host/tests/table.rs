// SPDX-License-Identifier: GPL-2.0

//! Unit tests of the table logic on the kselftests' QEMU topology.

use pci_lu_host::abi::{self, PciDevSer};
use pci_lu_host::model::{validate_bytes, OwnedTable, Topology};
use pci_lu_host::table::{self, Error, Invalid, Node};
use zerocopy::IntoBytes;

fn refs(t: &mut OwnedTable, topo: &Topology, idx: usize) -> Option<(u16, bool)> {
    let i = topo.node(idx).info();
    t.view()
        .find(i.segment, i.bdf)
        .map(|e| (e.refcount.get(), table::is_direct(e)))
}

#[test]
fn preserve_walks_bridges_and_counts() {
    let (topo, eps) = Topology::qemu();
    let mut t = OwnedTable::new();
    // Two endpoints behind one switch, one on a root port.
    for &ep in &eps[1..4] {
        t.preserve(&topo.node(ep)).unwrap();
    }
    // rp2, up, dn1, dn2, ep2, ep3, rp3, ep4.
    assert_eq!(t.view().len(), 8);
    assert_eq!(refs(&mut t, &topo, 1), Some((2, false))); // rp2
    assert_eq!(refs(&mut t, &topo, 4), Some((2, false))); // switch upstream port
    assert_eq!(refs(&mut t, &topo, 5), Some((1, false))); // dn1
    assert_eq!(refs(&mut t, &topo, 2), Some((1, false))); // rp3
    assert_eq!(refs(&mut t, &topo, eps[1]), Some((1, true)));
    assert_eq!(refs(&mut t, &topo, 0), None); // rp1: nothing below is preserved
    let entries = t.view().entries().to_vec();
    assert!(entries.windows(2).all(|w| {
        table::key(w[0].segment.get(), w[0].bdf.get())
            < table::key(w[1].segment.get(), w[1].bdf.get())
    }));
    t.validate().unwrap();
}

#[test]
fn double_preserve_is_busy_and_changes_nothing() {
    let (topo, eps) = Topology::qemu();
    let mut t = OwnedTable::new();
    t.preserve(&topo.node(eps[1])).unwrap();
    let before = (t.hdr, t.buf.clone());
    assert_eq!(t.preserve(&topo.node(eps[1])), Err(Error::Busy));
    assert_eq!((t.hdr, t.buf.clone()), before);
}

#[test]
fn bridge_preserved_directly_then_below() {
    let (topo, eps) = Topology::qemu();
    let mut t = OwnedTable::new();
    t.preserve(&topo.node(5)).unwrap(); // dn1 itself
    t.preserve(&topo.node(eps[1])).unwrap(); // endpoint below dn1
    assert_eq!(refs(&mut t, &topo, 5), Some((2, true)));
    assert_eq!(t.preserve(&topo.node(5)), Err(Error::Busy));
    t.unpreserve(&topo.node(5)).unwrap();
    assert_eq!(refs(&mut t, &topo, 5), Some((1, false)));
    t.validate().unwrap();
    t.unpreserve(&topo.node(eps[1])).unwrap();
    assert!(t.view().is_empty());
}

#[test]
fn unpreserve_of_unknown_or_auto_bridge_changes_nothing() {
    let (topo, eps) = Topology::qemu();
    let mut t = OwnedTable::new();
    assert_eq!(t.unpreserve(&topo.node(eps[0])), Err(Error::NotPreserved));
    t.preserve(&topo.node(eps[1])).unwrap();
    let before = (t.hdr, t.buf.clone());
    // dn1 is only preserved as an upstream bridge.
    assert_eq!(t.unpreserve(&topo.node(5)), Err(Error::NotPreserved));
    assert_eq!(t.unpreserve(&topo.node(eps[2])), Err(Error::NotPreserved));
    assert_eq!((t.hdr, t.buf.clone()), before);
}

#[test]
fn unpreserve_removes_unreferenced_bridges() {
    let (topo, eps) = Topology::qemu();
    let mut t = OwnedTable::new();
    t.preserve(&topo.node(eps[1])).unwrap();
    t.preserve(&topo.node(eps[2])).unwrap();
    t.unpreserve(&topo.node(eps[1])).unwrap();
    assert_eq!(refs(&mut t, &topo, 5), None); // dn1 gone
    assert_eq!(refs(&mut t, &topo, 4), Some((1, false)));
    t.unpreserve(&topo.node(eps[2])).unwrap();
    assert!(t.view().is_empty());
    assert_eq!(t.hdr.checksum.get(), table::checksum(&[]));
}

#[test]
fn no_space_leaves_table_untouched() {
    let (topo, eps) = Topology::qemu();
    let mut hdr = abi::PciLuSer::default();
    table::init_header(&mut hdr);
    let mut buf = vec![PciDevSer::default(); 2];
    hdr.capacity.set(2);
    hdr.entries.set(0x1000);
    let mut view = table::Table::new(&mut hdr, &mut buf).unwrap();
    // ep2 needs rp2, up, dn1 and itself.
    assert_eq!(
        view.preserve(&topo.node(eps[1]), &table::NO_DRIVER),
        Err(Error::NoSpace(4))
    );
    assert!(view.is_empty());
}

#[test]
fn identity_change_is_inconsistent() {
    let (mut topo, eps) = Topology::qemu();
    let mut t = OwnedTable::new();
    t.preserve(&topo.node(eps[1])).unwrap();
    // The switch upstream port now reports another device ID.
    topo.devs[4].info.device = 0xbeef;
    assert_eq!(t.preserve(&topo.node(eps[2])), Err(Error::Inconsistent));
    // Unpreserve follows the recorded links: a changed bridge cannot make
    // the device impossible to unpreserve.
    t.unpreserve(&topo.node(eps[1])).unwrap();
    assert!(t.view().is_empty());
}

#[test]
fn unpreserve_after_bridge_renumbered_or_gone() {
    let (mut topo, eps) = Topology::qemu();
    let mut t = OwnedTable::new();
    t.preserve(&topo.node(eps[1])).unwrap();
    t.preserve(&topo.node(eps[2])).unwrap();
    // dn1 got another bus range, and the upstream port vanished.
    if let Some((sec, _)) = topo.devs[5].info.bridge {
        topo.devs[5].info.bridge = Some((sec, sec.wrapping_add(3)));
    }
    topo.devs[4].parent = None;
    t.unpreserve(&topo.node(eps[1])).unwrap();
    t.validate().unwrap();
    t.unpreserve(&topo.node(eps[2])).unwrap();
    assert!(t.view().is_empty());
}

#[test]
fn unpreserve_of_another_identity_changes_nothing() {
    let (mut topo, eps) = Topology::qemu();
    let mut t = OwnedTable::new();
    t.preserve(&topo.node(eps[1])).unwrap();
    let before = t.buf.clone();
    topo.devs[eps[1]].info.device ^= 0xff;
    assert_eq!(t.unpreserve(&topo.node(eps[1])), Err(Error::NotPreserved));
    assert_eq!(t.buf, before);
}

#[test]
fn preserve_records_the_driver_and_release_clears_it() {
    let (topo, eps) = Topology::qemu();
    let mut t = OwnedTable::new();
    let drv = table::driver_name(b"vfio-pci").unwrap();
    t.preserve_as(&topo.node(eps[1]), &drv).unwrap();
    let i = topo.node(eps[1]).info();
    let e = *t.view().find(i.segment, i.bdf).unwrap();
    assert_eq!(table::driver_of(&e), b"vfio-pci");
    // Bridges carry no name.
    for p in table::Path::of(&topo.node(eps[1]))
        .unwrap()
        .nodes()
        .iter()
        .skip(1)
    {
        assert_eq!(
            table::driver_of(t.view().find(p.segment, p.bdf).unwrap()),
            b""
        );
    }
    t.validate().unwrap();
    assert!(table::driver_name(&[b'x'; 24]).is_none());
    assert!(table::driver_name(b"a\0b").is_none());
    t.unpreserve(&topo.node(eps[1])).unwrap();
    assert!(t.view().is_empty());
}

#[test]
fn larger_entries_are_accepted_and_their_tails_ignored() {
    let t = sample();
    let n = t.hdr.count.get() as usize;
    let stride = abi::DEV_SER_SIZE + 16;
    let mut bytes = vec![0xa5u8; t.buf.len() * stride];
    for (i, e) in t.buf.iter().enumerate().take(n) {
        bytes[i * stride..i * stride + abi::DEV_SER_SIZE].copy_from_slice(e.as_bytes());
    }
    let mut hdr = t.hdr;
    hdr.entry_size.set(stride as u16);
    let sum = bytes[..n * stride]
        .chunks(stride)
        .fold(0u32, |s, e| s.wrapping_add(table::crc32c(e)));
    hdr.checksum.set(sum);
    hdr.header_checksum.set(table::header_checksum(&hdr));
    let got = validate_bytes(&mut hdr, &bytes).unwrap().to_vec();
    assert_eq!(got, t.buf[..n]);
    // The header now describes the copied entries, and is sealed.
    assert_eq!(usize::from(hdr.entry_size.get()), abi::DEV_SER_SIZE);
    assert_eq!(hdr.capacity.get() as usize, n);
    assert_eq!(validate_bytes(&mut hdr, got.as_bytes()).unwrap(), got);
}

/// An entry as a writer without the probe record laid it out.
fn old_entries(entries: &[PciDevSer]) -> Vec<u8> {
    entries
        .iter()
        .flat_map(|e| e.as_bytes()[..abi::DEV_SER_MIN_SIZE].to_vec())
        .collect()
}

#[test]
fn entries_without_probe_record_are_read() {
    let t = sample();
    let n = t.hdr.count.get() as usize;
    assert!(t.buf[..n].iter().all(|e| e.probe & abi::P_SIZED != 0));
    let bytes = old_entries(&t.buf[..n]);
    let mut hdr = t.hdr;
    hdr.entry_size.set(abi::DEV_SER_MIN_SIZE as u16);
    hdr.capacity.set(n as u32);
    hdr.compat.set(0);
    let sum = bytes
        .chunks(abi::DEV_SER_MIN_SIZE)
        .fold(0u32, |s, e| s.wrapping_add(table::crc32c(e)));
    hdr.checksum.set(sum);
    hdr.header_checksum.set(table::header_checksum(&hdr));
    let got = validate_bytes(&mut hdr, &bytes).unwrap();
    assert_eq!(got.len(), n);
    for (g, e) in got.iter().zip(&t.buf[..n]) {
        assert_eq!(
            g.as_bytes()[..abi::DEV_SER_MIN_SIZE],
            e.as_bytes()[..abi::DEV_SER_MIN_SIZE]
        );
        assert_eq!(table::Probe::of(g), table::Probe::default());
    }
    assert_eq!(usize::from(hdr.entry_size.get()), abi::DEV_SER_SIZE);
    assert_eq!(validate_bytes(&mut hdr, got.as_bytes()).unwrap(), got);
}

#[test]
fn probe_record_needs_its_feature_bit() {
    let t = sample();
    let n = t.hdr.count.get() as usize;
    let mut hdr = t.hdr;
    assert_ne!(hdr.compat.get() & abi::COMPAT_PROBE, 0, "writers set it");
    hdr.compat.set(0);
    hdr.header_checksum.set(table::header_checksum(&hdr));
    let got = validate_bytes(&mut hdr, t.array_bytes()).unwrap();
    assert_eq!(got.len(), n);
    assert!(got
        .iter()
        .all(|e| table::Probe::of(e) == table::Probe::default()));
}

#[test]
fn probe_records_are_checked() {
    let t = sample();
    let bridge = t
        .buf
        .iter()
        .position(|e| e.flags.get() & abi::F_BRIDGE != 0)
        .unwrap();
    let leaf = t
        .buf
        .iter()
        .position(|e| e.flags.get() & abi::F_BRIDGE == 0)
        .unwrap();
    let damaged = damaged_sample;
    assert_eq!(
        damaged(leaf, &|e| e.bar_order[3] = 64),
        Err(Invalid::Probe(leaf))
    );
    assert_eq!(
        damaged(leaf, &|e| e.probe |= abi::P_IO_WINDOW),
        Err(Invalid::Probe(leaf))
    );
    // Without P_SIZED the whole record is dropped at read, not trusted.
    let got = damaged(bridge, &|e| e.probe = abi::P_PREF_WINDOW).unwrap();
    assert_eq!(table::Probe::of(&got[bridge]), table::Probe::default());
    let got = damaged(leaf, &|e| e.probe = abi::P_INTX_BROKEN).unwrap();
    assert_eq!(table::Probe::of(&got[leaf]), table::Probe::default());
    // Bits a later kernel defines are ignored, as are the reserved bytes.
    let got = damaged(leaf, &|e| {
        e.probe |= 0x80;
        e.reserved = 0x5a;
    })
    .unwrap();
    assert_eq!(got[leaf].probe & !abi::P_SRIOV, abi::P_SIZED);
    assert_eq!(got[leaf].reserved, 0);
}

#[test]
fn sriov_records_are_checked() {
    let t = sample();
    let pf = t
        .buf
        .iter()
        .position(|e| e.probe & abi::P_SRIOV != 0)
        .expect("the model has SR-IOV PFs");
    let damaged = |f: &dyn Fn(&mut PciDevSer)| damaged_sample(pf, f);
    // The record reads back as written.
    let got = damaged(&|_| {}).unwrap();
    assert_eq!(table::Probe::of(&got[pf]), table::Probe::of(&t.buf[pf]));
    assert!(table::Probe::of(&got[pf]).has_sriov());
    // An impossible VF BAR size is refused.
    assert_eq!(
        damaged(&|e| e.vf_bar_order[1] = 64),
        Err(Invalid::Probe(pf))
    );
    // Without P_SRIOV the bytes were reserved to the writer: ignored.
    let got = damaged(&|e| e.probe &= !abi::P_SRIOV).unwrap();
    assert_eq!(got[pf].vf_bar_order, [0; abi::VF_BARS]);
    assert_eq!(got[pf].vf_buses, 0);
    assert!(!table::Probe::of(&got[pf]).has_sriov());
}

#[test]
fn sriov_record_matches_the_capability() {
    use table::{check_sriov, Probe, SriovMisfit, SriovRegs};
    // VF BAR 0: 64-bit 16 KiB per VF at 0x8_0010_0000; VF BAR 2: 32-bit
    // 4 KiB per VF at 0xfe80_0000.
    let p = Probe {
        flags: abi::P_SIZED | abi::P_SRIOV,
        vf_bar_order: [14, 0, 12, 0, 0, 0],
        vf_buses: 1,
        ..Probe::default()
    };
    let regs = SriovRegs {
        ctrl: 0x10, // ARI Capable Hierarchy
        supported_pages: 0x553,
        page: 0x1,
        num_vfs: 0,
        offset: 1,
        stride: 1,
        vf_device: 0x11,
        vf_bars: [0x0010_000c, 0x8, 0xfe80_0000, 0, 0, 0],
    };
    assert_eq!(check_sriov(&p, &regs, 12, 0x0500), Ok(()));
    let mut masks = [0; 6];
    table::bar_masks(&p.vf_bars(), &regs.vf_bars, &mut masks);
    assert_eq!(masks, [0xffff_c00c, 0xffff_ffff, 0xffff_f000, 0, 0, 0]);
    let vfe = SriovRegs { ctrl: 0x19, ..regs };
    assert_eq!(
        check_sriov(&p, &vfe, 12, 0x0500),
        Err(SriovMisfit::VfEnabled)
    );
    // 4 KiB pages in a kernel with 64 KiB pages; a size not supported;
    // two sizes at once.
    assert_eq!(
        check_sriov(&p, &regs, 16, 0x0500),
        Err(SriovMisfit::PageSize)
    );
    let odd = SriovRegs { page: 0x4, ..regs };
    assert_eq!(
        check_sriov(&p, &odd, 12, 0x0500),
        Err(SriovMisfit::PageSize)
    );
    let two = SriovRegs { page: 0x3, ..regs };
    assert_eq!(
        check_sriov(&p, &two, 12, 0x0500),
        Err(SriovMisfit::PageSize)
    );
    // 64 KiB pages: VF BARs of 16 and 4 KiB per VF are not whole pages.
    let big = SriovRegs { page: 0x10, ..regs };
    assert_eq!(
        check_sriov(&p, &big, 16, 0x0500),
        Err(SriovMisfit::VfBar(0))
    );
    let big_bars = Probe {
        vf_bar_order: [16, 0, 17, 0, 0, 0],
        ..p
    };
    let big_regs = SriovRegs {
        vf_bars: [0x0010_000c, 0x8, 0xfe80_0000, 0, 0, 0],
        ..big
    };
    assert_eq!(check_sriov(&big_bars, &big_regs, 16, 0x0500), Ok(()));
    // NumVFs left set: the stock path would clear it.
    let numvfs = SriovRegs { num_vfs: 2, ..regs };
    assert_eq!(
        check_sriov(&p, &numvfs, 12, 0x0500),
        Err(SriovMisfit::NumVfs)
    );
    // A VF BAR not aligned to its recorded size.
    let moved = SriovRegs {
        vf_bars: [0x0010_200c, 0x8, 0xfe80_0000, 0, 0, 0],
        ..regs
    };
    assert_eq!(
        check_sriov(&p, &moved, 12, 0x0500),
        Err(SriovMisfit::VfBar(0))
    );
    assert_eq!(check_sriov(&p, &regs, 12, 0xff00), Err(SriovMisfit::Buses));
}

#[test]
fn bar_masks_match_what_sizing_reads() {
    use table::{bar_masks, check_bars, Probe};
    // BAR 0: 64-bit prefetchable 16 KiB at 0x8_0000_4000; BAR 2: I/O 32
    // bytes at 0xc040; BAR 3: 32-bit 1 MiB at 0xfe00_0000; ROM 256 KiB.
    let bars = [0x0000_400c, 0x8, 0xc041, 0xfe00_0000, 0, 0];
    let p = Probe {
        bar_order: [14, 0, 5, 20, 0, 0, 18],
        flags: abi::P_SIZED,
        ..Probe::default()
    };
    assert_eq!(check_bars(&p, &bars, Some(0xfd00_0000)), Ok(()));
    let mut masks = [0x5a5a_5a5a; 6];
    let rom = bar_masks(&p, &bars, &mut masks);
    assert_eq!(
        masks,
        [0xffff_c00c, 0xffff_ffff, 0xffff_ffe1, 0xfff0_0000, 0, 0]
    );
    assert_eq!(rom, 0xfffc_0000);
    // Misaligned, a size on an upper half, on a missing BAR, on the ROM of
    // a header without one, a 32-bit BAR of 4 GiB.
    let mut bad = p;
    bad.bar_order[3] = 26;
    assert_eq!(check_bars(&bad, &bars, Some(0)), Err(3));
    let mut bad = p;
    bad.bar_order[1] = 12;
    assert_eq!(check_bars(&bad, &bars, Some(0)), Err(0));
    assert_eq!(check_bars(&p, &bars[..2], Some(0)), Err(2));
    assert_eq!(check_bars(&p, &bars, None), Err(6));
    let mut bad = p;
    bad.bar_order[3] = 32;
    assert_eq!(check_bars(&bad, &bars, Some(0)), Err(3));
    // A 64-bit BAR larger than 4 GiB.
    let big = Probe {
        bar_order: [34, 0, 0, 0, 0, 0, 0],
        flags: abi::P_SIZED,
        ..Probe::default()
    };
    let bars = [0x0000_000c, 0x4, 0, 0, 0, 0];
    assert_eq!(check_bars(&big, &bars, None), Ok(()));
    let mut masks = [0; 6];
    assert_eq!(bar_masks(&big, &bars, &mut masks), 0);
    assert_eq!(masks[..2], [0x0000_000c, 0xffff_fffc]);
    assert_eq!(
        check_bars(&big, &[0x4000_000c, 0x4, 0, 0, 0, 0], None),
        Err(0)
    );
}

#[test]
fn whole_array_crc_without_entry_sum_is_still_read() {
    let t = sample();
    let n = t.hdr.count.get() as usize;
    let mut hdr = t.hdr;
    assert_ne!(
        hdr.incompat.get() & abi::INCOMPAT_ENTRY_SUM,
        0,
        "writers set it"
    );
    // What a writer without the feature would have produced.
    hdr.incompat.set(0);
    hdr.checksum.set(table::crc32c(t.buf[..n].as_bytes()));
    hdr.header_checksum.set(table::header_checksum(&hdr));
    let bytes = t.array_bytes().to_vec();
    let got = validate_bytes(&mut hdr, &bytes).unwrap().to_vec();
    assert_eq!(got, t.buf[..n]);
    // Resealed with the per-entry sum, which later changes keep current.
    assert_ne!(hdr.incompat.get() & abi::INCOMPAT_ENTRY_SUM, 0);
    assert_eq!(hdr.checksum.get(), table::checksum(&t.buf[..n]));
    validate_bytes(&mut hdr, &bytes).unwrap();
    // The other way round fails: the sum is not a whole-array CRC.
    let mut hdr = t.hdr;
    hdr.incompat.set(0);
    hdr.header_checksum.set(table::header_checksum(&hdr));
    assert!(matches!(
        validate_bytes(&mut hdr, t.array_bytes()),
        Err(Invalid::Checksum(..))
    ));
}

#[test]
fn feature_bits_follow_the_rules() {
    let t = sample();
    let reseal = |hdr: &mut abi::PciLuSer| hdr.header_checksum.set(table::header_checksum(hdr));
    // Unknown compat bits and reserved bytes are ignored.
    let mut hdr = t.hdr;
    hdr.compat.set(0x8000_0001);
    hdr.reserved = [0x5a; 24];
    reseal(&mut hdr);
    validate_bytes(&mut hdr, t.array_bytes()).unwrap();
    // Unknown incompat bits refuse the data.
    let mut hdr = t.hdr;
    hdr.incompat.set(0x4);
    reseal(&mut hdr);
    assert_eq!(
        validate_bytes(&mut hdr, t.array_bytes()),
        Err(Invalid::Incompat(0x4))
    );
    // Entries smaller than the first format's are refused.
    let mut hdr = t.hdr;
    hdr.entry_size.set(24);
    reseal(&mut hdr);
    assert!(matches!(
        validate_bytes(&mut hdr, t.array_bytes()),
        Err(Invalid::EntrySize(24))
    ));
}

#[test]
fn driver_name_on_a_bridge_or_unterminated_is_invalid() {
    let mut t = sample();
    t.buf[0].driver[0] = b'x'; // entry 0 is a root port, preserved as a bridge
    fix_checksum(&mut t);
    assert!(matches!(t.validate(), Err(Invalid::Driver(0))));
}

#[test]
fn preserve_rolls_back_what_the_next_kernel_would_reject() {
    let (mut topo, eps) = Topology::qemu();
    let mut t = OwnedTable::new();
    t.preserve(&topo.node(eps[1])).unwrap();
    let before = t.buf.clone();
    // A new endpoint claims to sit on dn1's secondary bus but names the
    // upstream port as its bridge: the link check must refuse it.
    topo.devs[eps[2]].parent = Some(4);
    let r = t.preserve(&topo.node(eps[2]));
    assert!(
        matches!(r, Err(Error::Rejected(_)) | Err(Error::Inconsistent)),
        "{r:?}"
    );
    assert_eq!(t.buf, before);
    t.validate().unwrap();
}

#[test]
fn finish_follows_recorded_links() {
    let (topo, eps) = Topology::qemu();
    let mut t = OwnedTable::new();
    for &ep in &eps[1..4] {
        t.preserve(&topo.node(ep)).unwrap();
    }
    let before = (t.hdr, t.buf.clone());
    let i = topo.node(5).info(); // dn1: only an upstream bridge
    assert_eq!(t.view().finish(i.segment, i.bdf), Err(Error::NotPreserved));
    assert_eq!((t.hdr, t.buf.clone()), before);
    for &ep in &eps[1..4] {
        let i = topo.node(ep).info();
        t.view().finish(i.segment, i.bdf).unwrap();
        t.validate().unwrap();
    }
    assert!(t.view().is_empty());
}

#[test]
fn preserve_refuses_what_the_next_kernel_would_reject() {
    let (mut topo, eps) = Topology::qemu();
    // A bridge whose secondary bus is not above its own bus.
    topo.devs[0].info.bridge = Some((0, 0));
    let mut t = OwnedTable::new();
    assert_eq!(t.preserve(&topo.node(eps[0])), Err(Error::BadPath));
    assert!(t.view().is_empty());
}

#[test]
fn table_mismatch_is_rejected() {
    let mut hdr = abi::PciLuSer::default();
    table::init_header(&mut hdr);
    hdr.capacity.set(4);
    let mut buf = vec![PciDevSer::default(); 3];
    assert!(table::Table::new(&mut hdr, &mut buf).is_none());
}

fn sample() -> OwnedTable {
    let (topo, eps) = Topology::qemu();
    let mut t = OwnedTable::new();
    for &ep in &eps[1..4] {
        t.preserve(&topo.node(ep)).unwrap();
    }
    t
}

/// [`sample`] with entry `idx` changed by `f` and the table sealed again,
/// as the next kernel would validate it.
fn damaged_sample(idx: usize, f: &dyn Fn(&mut PciDevSer)) -> Result<Vec<PciDevSer>, Invalid> {
    let mut t = sample();
    f(&mut t.buf[idx]);
    let n = t.hdr.count.get() as usize;
    let (mut hdr, entries) = (t.hdr, t.buf[..n].to_vec());
    table::seal(&mut hdr, &entries);
    validate_bytes(&mut hdr, t.array_bytes())
}

/// Makes both checksums match again, so a structural check is reached.
fn fix_checksum(t: &mut OwnedTable) {
    let n = (t.hdr.count.get() as usize).min(t.buf.len());
    table::seal(&mut t.hdr, &t.buf[..n]);
}

#[test]
fn validator_rejects_each_corruption() {
    type Corrupt = fn(&mut OwnedTable);
    type Want = fn(Invalid) -> bool;
    let cases: &[(&str, Corrupt, Want)] = &[
        (
            "magic",
            |t| t.hdr.magic.set(0),
            |e| matches!(e, Invalid::Magic(0)),
        ),
        (
            "version",
            |t| t.hdr.version.set(9),
            |e| matches!(e, Invalid::Version(9)),
        ),
        (
            "entry size",
            |t| t.hdr.entry_size.set(16),
            |e| matches!(e, Invalid::EntrySize(16)),
        ),
        (
            "header checksum (a damaged array address)",
            |t| t.hdr.entries.set(t.hdr.entries.get() ^ 0x1000),
            |e| matches!(e, Invalid::HeaderChecksum(..)),
        ),
        (
            "count > capacity",
            |t| {
                t.hdr.count.set(t.hdr.capacity.get() + 1);
                fix_checksum(t)
            },
            |e| matches!(e, Invalid::CountOverCapacity(..)),
        ),
        (
            "capacity > allocation",
            |t| {
                t.hdr.capacity.set(1 << 20);
                fix_checksum(t)
            },
            |e| matches!(e, Invalid::CapacityOverAllocation(..)),
        ),
        (
            "no array",
            |t| {
                t.hdr.entries.set(0);
                fix_checksum(t)
            },
            |e| e == Invalid::ArrayAddress,
        ),
        (
            "class wider than 24 bits",
            |t| {
                t.buf[0].class.set(0x0106_0400);
                fix_checksum(t)
            },
            |e| matches!(e, Invalid::Flags(0)),
        ),
        (
            "checksum",
            |t| t.buf[0].vendor.set(0x1234),
            |e| matches!(e, Invalid::Checksum(..)),
        ),
        (
            "unsorted",
            |t| {
                t.buf.swap(0, 1);
                fix_checksum(t)
            },
            |e| matches!(e, Invalid::Unsorted(1)),
        ),
        (
            "duplicate",
            |t| {
                t.buf[1] = t.buf[0];
                fix_checksum(t)
            },
            |e| matches!(e, Invalid::Duplicate(1)),
        ),
        (
            "zero refcount",
            |t| {
                let n = t.hdr.count.get() as usize;
                t.buf[n - 1].refcount.set(0);
                fix_checksum(t)
            },
            |e| matches!(e, Invalid::ZeroRefcount(_)),
        ),
        (
            "bridge refcount",
            |t| {
                t.buf[0].refcount.set(7);
                fix_checksum(t)
            },
            |e| matches!(e, Invalid::Refcount(0, 7, 2)),
        ),
        (
            "child count",
            |t| {
                // Drop the last endpoint: its root port now claims a missing child.
                let n = t.hdr.count.get();
                t.buf[n as usize - 1] = PciDevSer::default();
                t.hdr.count.set(n - 1);
                fix_checksum(t)
            },
            |e| matches!(e, Invalid::Refcount(..)),
        ),
        (
            "flags",
            |t| {
                t.buf[0].flags.set(0x80);
                fix_checksum(t)
            },
            |e| matches!(e, Invalid::Flags(0)),
        ),
        (
            "bus range",
            |t| {
                t.buf[0].secondary = 0;
                fix_checksum(t)
            },
            |e| matches!(e, Invalid::BusRange(0)),
        ),
        (
            "upstream",
            |t| {
                let n = t.hdr.count.get() as usize;
                t.buf[n - 1].upstream.set(0x0042);
                fix_checksum(t)
            },
            |e| matches!(e, Invalid::Upstream(_)),
        ),
    ];
    let good = sample();
    good.validate().unwrap();
    for (name, corrupt, want) in cases {
        let mut t = sample();
        corrupt(&mut t);
        let got = t.validate();
        assert!(matches!(got, Err(e) if want(e)), "{name}: got {got:?}");
    }
}

#[test]
fn validator_takes_short_allocation_without_panic() {
    let t = sample();
    let bytes = t.array_bytes();
    for cut in 0..bytes.len() {
        let mut hdr = t.hdr;
        let _ = validate_bytes(&mut hdr, &bytes[..cut]);
    }
}

#[test]
fn crc32c_known_answer() {
    // RFC 3720 B.4: 32 bytes of zeros.
    assert_eq!(table::crc32c(&[0u8; 32]), 0x8a91_36aa);
    assert_eq!(table::crc32c(b"123456789"), 0xe306_9283);
    // Every length and alignment of the 8-byte steps against a bitwise CRC.
    let data: Vec<u8> = (0..100u32).map(|i| (i * 37 + 11) as u8).collect();
    for start in 0..9 {
        for end in start..data.len() {
            let mut c = !0u32;
            for &b in &data[start..end] {
                c ^= u32::from(b);
                for _ in 0..8 {
                    c = if c & 1 != 0 {
                        (c >> 1) ^ 0x82f6_3b78
                    } else {
                        c >> 1
                    };
                }
            }
            assert_eq!(table::crc32c(&data[start..end]), !c, "{start}..{end}");
        }
    }
    let _ = PciDevSer::default().as_bytes();
}

/// A valid chain of `n` devices: bridges on buses 0..n-1, each above the
/// next, and a directly preserved endpoint on bus n-1.
fn chain(n: usize) -> OwnedTable {
    let mut t = OwnedTable::new();
    let mut buf = Vec::new();
    for b in 0..n {
        let mut e = PciDevSer::default();
        e.bdf.set((b as u16) << 8);
        e.refcount.set(1);
        e.vendor.set(0x1b36);
        let last = b == n - 1;
        let mut flags = if last { abi::F_DIRECT } else { abi::F_BRIDGE };
        if !last {
            e.secondary = b as u8 + 1;
            e.subordinate = 0xff;
        }
        if b > 0 {
            flags |= abi::F_UPSTREAM;
            e.upstream.set(((b - 1) as u16) << 8);
        }
        e.flags.set(flags);
        buf.push(e);
    }
    t.hdr.capacity.set(n as u32);
    t.hdr.count.set(n as u32);
    t.hdr.entries.set(0x1000);
    t.buf = buf;
    fix_checksum(&mut t);
    t
}

#[test]
fn validator_accepts_exactly_the_depth_finish_drains() {
    let mut ok = chain(table::MAX_DEPTH);
    ok.validate().unwrap();
    let bdf = ((table::MAX_DEPTH - 1) as u16) << 8;
    ok.view().finish(0, bdf).unwrap();
    assert!(ok.view().is_empty());

    let deep = chain(table::MAX_DEPTH + 1);
    let got = deep.validate();
    assert!(
        matches!(got, Err(Invalid::TooDeep(i)) if i == table::MAX_DEPTH),
        "got {got:?}"
    );
}

#[test]
fn same_place_needs_the_recorded_upstream_and_buses() {
    let t = chain(3);
    let (bridge, ep) = (&t.buf[1], &t.buf[2]);
    assert!(table::same_place(ep, Some(0x0100), None));
    assert!(
        !table::same_place(ep, Some(0x0200), None),
        "other upstream bridge"
    );
    assert!(!table::same_place(ep, None, None), "now on a root bus");
    assert!(
        !table::same_place(ep, Some(0x0100), Some((3, 3))),
        "now a bridge"
    );
    assert!(table::same_place(bridge, Some(0x0000), Some((2, 0xff))));
    assert!(
        !table::same_place(bridge, Some(0x0000), Some((2, 4))),
        "other bus range"
    );
    assert!(
        !table::same_place(bridge, Some(0x0000), None),
        "no longer a bridge"
    );
    assert!(
        table::same_place(&t.buf[0], None, Some((1, 0xff))),
        "root port"
    );
}

#[test]
fn window_records_match_the_registers() {
    use table::{check_windows, Probe};
    let all = Probe {
        bar_order: [0; abi::BARS],
        flags: abi::P_SIZED | abi::P_WINDOWS,
        ..Probe::default()
    };
    // I/O 0xd000-0xdfff, 64-bit prefetchable window.
    assert!(check_windows(&all, 0xd0d0, 0xfe01_fe01));
    // Registers all zero: nothing to contradict.
    assert!(check_windows(&Probe::default(), 0, 0));
    let no_io = Probe {
        flags: abi::P_SIZED | abi::P_PREF_WINDOW | abi::P_PREF_64,
        ..all
    };
    assert!(!check_windows(&no_io, 0xd0d0, 0xfe01_fe01));
    let pref32 = Probe {
        flags: abi::P_SIZED | abi::P_IO_WINDOW | abi::P_PREF_WINDOW,
        ..all
    };
    assert!(!check_windows(&pref32, 0xd0d0, 0xfe01_fe01));
    assert!(check_windows(&pref32, 0xd0d0, 0xfe00_fe00));
}

/// The QEMU topology with two VFs enabled on the nvme PF behind rp1.
fn with_vfs() -> (Topology, usize, Vec<usize>) {
    let (mut topo, eps) = Topology::qemu();
    let pf = eps[0];
    assert!(topo.node(pf).info().probe.has_sriov());
    let vfs = topo.enable_vfs(pf, 2);
    (topo, pf, vfs)
}

#[test]
fn vf_needs_its_pf_preserved_with_vfs_enabled() {
    let (topo, pf, vfs) = with_vfs();
    let mut t = OwnedTable::new();
    assert_eq!(t.preserve(&topo.node(vfs[0])), Err(Error::NoPf));
    assert!(t.view().is_empty());
    // The PF preserved before its VFs were enabled: refreshed by the VF.
    let (plain, _) = Topology::qemu();
    t.preserve(&plain.node(pf)).unwrap();
    t.preserve(&topo.node(vfs[0])).unwrap();
    let pfi = topo.node(pf).info();
    let e = *t.view().find(pfi.segment, pfi.bdf).unwrap();
    assert_eq!(e.refcount.get(), 2);
    assert_ne!(e.probe & abi::P_VFS, 0);
    assert_eq!(e.num_vfs.get(), 2);
    let vfi = topo.node(vfs[0]).info();
    let v = *t.view().find(vfi.segment, vfi.bdf).unwrap();
    assert_eq!(
        v.flags.get(),
        abi::F_DIRECT | abi::F_UPSTREAM | abi::F_VIRTFN
    );
    assert_eq!(v.upstream.get(), pfi.bdf);
    assert_ne!(t.hdr.incompat.get() & abi::INCOMPAT_VF, 0);
    // The root port counts the PF and the VF.
    assert_eq!(refs(&mut t, &topo, 0), Some((2, false)));
    t.validate().unwrap();
    assert_eq!(t.preserve(&topo.node(vfs[0])), Err(Error::Busy));
    t.preserve(&topo.node(vfs[1])).unwrap();
    t.validate().unwrap();
}

#[test]
fn pf_stays_while_vfs_are_preserved() {
    let (topo, pf, vfs) = with_vfs();
    let mut t = OwnedTable::new();
    t.preserve(&topo.node(pf)).unwrap();
    t.preserve(&topo.node(vfs[1])).unwrap();
    let before = (t.hdr, t.buf.clone());
    assert_eq!(t.unpreserve(&topo.node(pf)), Err(Error::HasVfs));
    assert_eq!((t.hdr, t.buf.clone()), before);
    t.unpreserve(&topo.node(vfs[1])).unwrap();
    assert_eq!(t.hdr.incompat.get() & abi::INCOMPAT_VF, 0);
    t.unpreserve(&topo.node(pf)).unwrap();
    assert!(t.view().is_empty());
}

#[test]
fn pf_and_vf_finish_in_either_order() {
    for pf_first in [true, false] {
        let (topo, pf, vfs) = with_vfs();
        let mut t = OwnedTable::new();
        t.preserve(&topo.node(pf)).unwrap();
        t.preserve(&topo.node(vfs[0])).unwrap();
        let mut hdr = t.hdr;
        let mut entries = validate_bytes(&mut hdr, t.array_bytes()).unwrap();
        let mut view = table::Table::new(&mut hdr, &mut entries).unwrap();
        let (p, v) = (topo.node(pf).info(), topo.node(vfs[0]).info());
        let order = if pf_first { [p, v] } else { [v, p] };
        view.finish(order[0].segment, order[0].bdf).unwrap();
        table::check_entries(view.entries()).unwrap();
        view.finish(order[1].segment, order[1].bdf).unwrap();
        assert!(view.is_empty());
    }
}

#[test]
fn vf_links_are_checked() {
    let (topo, pf, vfs) = with_vfs();
    let mut t = OwnedTable::new();
    t.preserve(&topo.node(pf)).unwrap();
    t.preserve(&topo.node(vfs[0])).unwrap();
    let good = t.validate().unwrap();
    let vi = good.iter().position(table::is_virtfn).unwrap();
    let pi = vi - 1;
    // A VF whose upstream is the root port, not its PF: the PF misses it.
    let mut bad = good.clone();
    bad[vi].upstream = bad[0].bdf;
    assert!(matches!(table::check_entries(&bad), Err(Invalid::Refcount(i, 2, 1)) if i == pi));
    // A VF at a routing ID none of the PF's VFs has.
    let mut bad = good.clone();
    bad[pi].vf_offset.set(3);
    assert_eq!(table::check_entries(&bad), Err(Invalid::Upstream(vi)));
    // A PF that no longer records its VFs enabled.
    let mut bad = good.clone();
    bad[pi].probe &= !abi::P_VFS;
    bad[pi].num_vfs.set(0);
    assert!(table::check_entries(&bad).is_err());
    // NumVFs 0 with VFs recorded.
    let mut bad = good.clone();
    bad[pi].num_vfs.set(0);
    assert!(matches!(table::check_entries(&bad), Err(Invalid::Probe(_))));
    // A VF without the direct mark.
    let mut bad = good.clone();
    bad[vi].flags.set(abi::F_UPSTREAM | abi::F_VIRTFN);
    assert!(table::check_entries(&bad).is_err());
    // The PF does not count its VF.
    let mut bad = good.clone();
    bad[pi].refcount.set(1);
    assert!(matches!(
        table::check_entries(&bad),
        Err(Invalid::Refcount(..))
    ));
    // NumVFs so large that the last VF's routing ID passes 0xffff, with a
    // VF that does fit: the range of VFs below the PF must not end up
    // empty, or the PF's refcount would miss the VF (found by the fuzzer).
    let mut bad = good.clone();
    bad[pi].num_vfs.set(0xfffa);
    bad[pi].refcount.set(1);
    bad[0].refcount.set(1);
    assert_eq!(table::check_entries(&bad), Err(Invalid::Probe(pi)));
    // A reader that does not know VFs refuses the whole table.
    let hdr = t.hdr;
    assert!(hdr.incompat.get() & abi::INCOMPAT_VF != 0);
}

#[test]
fn kept_vfs_must_match_the_record() {
    use table::{check_sriov, SriovMisfit, SriovRegs};
    let (topo, pf, _) = with_vfs();
    let p = topo.node(pf).info().probe;
    let v = *p.kept_vfs().unwrap();
    let regs = SriovRegs {
        ctrl: v.ctrl,
        supported_pages: 0x553,
        page: 1 << v.page,
        num_vfs: v.num_vfs,
        offset: v.offset,
        stride: v.stride,
        vf_device: v.vf_device,
        vf_bars: [0x0010_000c, 0x8, 0, 0xfe80_0000, 0, 0],
    };
    let rid = topo.node(pf).info().bdf;
    assert_eq!(check_sriov(&p, &regs, 12, rid), Ok(()));
    for bad in [
        SriovRegs { ctrl: 0x10, ..regs },
        SriovRegs {
            ctrl: v.ctrl & !0x8,
            ..regs
        },
        SriovRegs { num_vfs: 1, ..regs },
        SriovRegs { stride: 2, ..regs },
        SriovRegs { offset: 2, ..regs },
        SriovRegs {
            vf_device: 0x12,
            ..regs
        },
        SriovRegs { page: 0x2, ..regs },
    ] {
        assert_eq!(
            check_sriov(&p, &bad, 12, rid),
            Err(SriovMisfit::VfState),
            "{bad:?}"
        );
    }
    // The last VF routes past the recorded bus span.
    let far = SriovRegs {
        offset: 0x300,
        ..regs
    };
    let pfar = table::Probe {
        vfs: table::VfState { offset: 0x300, ..v },
        ..p
    };
    assert_eq!(check_sriov(&pfar, &far, 12, rid), Err(SriovMisfit::Buses));
    // VFs enabled but none recorded: set up anew.
    let plain = table::Probe {
        flags: p.flags & !abi::P_VFS,
        ..p
    };
    assert_eq!(
        check_sriov(&plain, &regs, 12, rid),
        Err(SriovMisfit::VfEnabled)
    );
}

/// The checksums of a sealed table are what the hand-written CRC32C of the
/// first releases wrote, so tables handed over by those kernels still pass.
#[test]
fn sealed_checksums_unchanged() {
    let (topo, eps) = Topology::qemu();
    let mut t = OwnedTable::new();
    for &ep in &eps[1..4] {
        t.preserve(&topo.node(ep)).unwrap();
    }
    let n = t.view().len();
    assert_eq!(n, 8);
    assert_eq!(
        (t.hdr.checksum.get(), t.hdr.header_checksum.get()),
        (0xa1a7_c1ce, 0x5600_097e)
    );
}
