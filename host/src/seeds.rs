// SPDX-License-Identifier: GPL-2.0

//! Writes valid handover images (header followed by the array) into the
//! directory given as argument: the fuzzer's seed corpus.

use pci_lu_host::model::{OwnedTable, Rng, Topology};
use std::{env, fs, path::PathBuf};
use zerocopy::IntoBytes;

fn main() {
    let dir = PathBuf::from(env::args().nth(1).expect("usage: pci-lu-seeds DIR"));
    fs::create_dir_all(&dir).unwrap();
    for seed in 0..32u64 {
        let mut rng = Rng::new(seed);
        let n = 1 + rng.below(12);
        let (topo, eps) = if seed == 0 {
            Topology::qemu()
        } else {
            Topology::random(&mut rng, n)
        };
        let mut t = OwnedTable::new();
        for &e in &eps {
            if rng.below(3) != 0 {
                t.preserve(&topo.node(e)).unwrap();
            }
        }
        write(&dir, &format!("seed-{seed:02}"), seed, &t);
    }
    // The QEMU topology's SR-IOV PF with a VF preserved below it.
    let (mut topo, eps) = Topology::qemu();
    let vfs = topo.enable_vfs(eps[0], 2);
    let mut t = OwnedTable::new();
    t.preserve(&topo.node(eps[0])).unwrap();
    t.preserve(&topo.node(vfs[1])).unwrap();
    write(&dir, "seed-vf", 0, &t);
}

fn write(dir: &std::path::Path, name: &str, mode: u64, t: &OwnedTable) {
    let mut image = vec![(mode % 2) as u8];
    image.extend_from_slice(t.hdr.as_bytes());
    image.extend_from_slice(t.array_bytes());
    fs::write(dir.join(name), image).unwrap();
}
