// SPDX-License-Identifier: GPL-2.0

//! Fuzzes the validator of handed-over data: after a mode byte, 64 bytes
//! of header, then the preserved array (entries of `entry_size` bytes,
//! larger or smaller than this kernel's, which are copied into entries of
//! this kernel's size). With bit 0 of the mode set the
//! checksum is made to match first, so mutations reach the structural
//! checks behind it. Whatever it accepts must be safe
//! to use: every entry is found by binary search, and finishing every
//! directly preserved device, walking the recorded upstream bridges,
//! succeeds and leaves the table empty.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pci_lu_host::abi::{PciDevSer, PciLuSer, SER_SIZE};
use pci_lu_host::model::validate_bytes;
use pci_lu_host::table::{self, DevInfo, Node, Table};
use zerocopy::{FromBytes, IntoBytes};

/// A device as the validated table describes it.
#[derive(Clone, Copy)]
struct Recorded<'a> {
    entries: &'a [PciDevSer],
    idx: usize,
}

impl Node for Recorded<'_> {
    fn info(&self) -> DevInfo {
        let e = &self.entries[self.idx];
        DevInfo {
            segment: e.segment.get(),
            bdf: e.bdf.get(),
            vendor: e.vendor.get(),
            device: e.device.get(),
            class: e.class.get(),
            bridge: (e.flags.get() & pci_lu_host::abi::F_BRIDGE != 0)
                .then_some((e.secondary, e.subordinate)),
            upstream: table::upstream_of(e),
            virtfn: table::is_virtfn(e),
            probe: table::Probe::of(e),
        }
    }

    fn parent(&self) -> Option<Self> {
        let e = &self.entries[self.idx];
        let up = table::upstream_of(e)?;
        let idx = table::search(self.entries, e.segment.get(), up).expect("validated parent");
        Some(Recorded {
            entries: self.entries,
            idx,
        })
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    if data.len() < SER_SIZE {
        return;
    }
    let (h, array) = data.split_at(SER_SIZE);
    let mut hdr = PciLuSer::read_from_bytes(h).unwrap();
    if mode & 1 != 0 {
        // Make both checksums match, so the structural checks get fuzzed.
        let stride = usize::from(hdr.entry_size.get()).max(1);
        let n = (hdr.count.get() as usize).min(array.len() / stride);
        hdr.checksum.set(table::crc32c(&array[..n * stride]));
        hdr.header_checksum.set(table::header_checksum(&hdr));
    }
    let Ok(snapshot) = validate_bytes(&mut hdr, array) else {
        return;
    };
    // The copy is valid as it stands: a second pass over its own bytes
    // accepts it unchanged.
    let mut hdr_again = hdr;
    assert_eq!(
        validate_bytes(&mut hdr_again, snapshot.as_bytes()).as_deref(),
        Ok(&snapshot[..]),
        "validated data validates again"
    );
    for e in &snapshot {
        assert!(table::search(&snapshot, e.segment.get(), e.bdf.get()).is_ok());
    }
    let mut buf = snapshot.clone();
    let mut t = Table::new(&mut hdr, &mut buf).expect("validated sizes");
    // A PF stays preserved while its VFs are: VFs first.
    let vfs_first = (0..snapshot.len())
        .filter(|&i| table::is_virtfn(&snapshot[i]))
        .chain((0..snapshot.len()).filter(|&i| !table::is_virtfn(&snapshot[i])));
    for idx in vfs_first {
        if table::is_direct(&snapshot[idx]) {
            let dev = Recorded {
                entries: &snapshot,
                idx,
            };
            t.unpreserve(&dev.info())
                .expect("validated table unpreserves");
        }
    }
    assert!(t.is_empty(), "validated refcounts drain to zero");

    // The same through the table's own links, as the kernel finishes.
    let mut hdr2 = hdr_again;
    let mut buf2 = snapshot.clone();
    let mut t2 = Table::new(&mut hdr2, &mut buf2).expect("validated sizes");
    for e in snapshot.iter().filter(|e| table::is_direct(e)) {
        t2.finish(e.segment.get(), e.bdf.get())
            .expect("validated table finishes");
    }
    assert!(t2.is_empty(), "recorded links drain to zero");
});
