// SPDX-License-Identifier: GPL-2.0

//! Property test: random preserve/unpreserve/kexec/finish sequences on
//! random topologies, checked after every step against a `BTreeMap` model
//! and against the next kernel's validator.

use pci_lu_host::abi::{PciDevSer, PciLuSer};
use pci_lu_host::model::{ModelNode, OwnedTable, Rng, Topology};
use pci_lu_host::table::{self, Error, Node};
use std::collections::{BTreeMap, BTreeSet};
use zerocopy::FromBytes;

const SEQUENCES: u64 = 10_000;

/// The expected table: key -> (refcount, direct), derived from the set of
/// directly preserved devices.
fn expected(topo: &Topology, direct: &BTreeSet<usize>) -> BTreeMap<u64, (u16, bool)> {
    let mut m = BTreeMap::new();
    for &d in direct {
        let mut cur = Some(topo.node(d));
        let mut first = true;
        while let Some(n) = cur {
            let e = m.entry(n.info().key()).or_insert((0u16, false));
            e.0 += 1;
            e.1 |= first;
            first = false;
            cur = n.parent();
        }
    }
    m
}

fn actual(t: &mut OwnedTable) -> BTreeMap<u64, (u16, bool)> {
    t.view()
        .entries()
        .iter()
        .map(|e| {
            (
                table::key(e.segment.get(), e.bdf.get()),
                (e.refcount.get(), table::is_direct(e)),
            )
        })
        .collect()
}

/// What the next kernel reads: the header and the array bytes, validated.
fn kexec(t: &OwnedTable) -> OwnedTable {
    let hdr = PciLuSer::read_from_bytes(zerocopy::IntoBytes::as_bytes(&t.hdr)).unwrap();
    let entries = t.validate().expect("valid handover");
    assert_eq!(entries.len(), t.hdr.count.get() as usize);
    let mut buf: Vec<PciDevSer> = t.buf.clone();
    buf.truncate(t.hdr.capacity.get() as usize);
    OwnedTable { hdr, buf }
}

fn run(seed: u64) {
    let mut rng = Rng::new(seed);
    let n = 1 + rng.below(40);
    let (topo, eps) = Topology::random(&mut rng, n);
    // Bridges may be preserved directly too.
    let all: Vec<usize> = (0..topo.devs.len()).collect();
    let mut t = OwnedTable::new();
    let mut direct = BTreeSet::new();
    let mut incoming = false;
    for _ in 0..(10 + rng.below(60)) {
        let pick = if rng.below(4) == 0 {
            all[rng.below(all.len())]
        } else {
            eps[rng.below(eps.len())]
        };
        let node: ModelNode<'_> = topo.node(pick);
        match (incoming, rng.below(10)) {
            (false, 0) => {
                t = kexec(&t);
                incoming = true;
            }
            (false, 1..=5) => {
                let r = t.preserve(&node);
                if direct.contains(&pick) {
                    assert_eq!(r, Err(Error::Busy), "seed {seed}");
                } else {
                    assert_eq!(r, Ok(()), "seed {seed}");
                    direct.insert(pick);
                }
            }
            // Unpreserve before kexec and finish after it walk the same way.
            _ => {
                let r = t.unpreserve(&node);
                if direct.remove(&pick) {
                    assert_eq!(r, Ok(()), "seed {seed}");
                } else {
                    assert_eq!(r, Err(Error::NotPreserved), "seed {seed}");
                }
            }
        }
        assert_eq!(actual(&mut t), expected(&topo, &direct), "seed {seed}");
        t.validate().unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    }
    // Finishing every device empties the table.
    if incoming {
        for d in std::mem::take(&mut direct) {
            t.unpreserve(&topo.node(d)).unwrap();
        }
        assert!(t.view().is_empty(), "seed {seed}");
    }
}

#[test]
fn random_sequences_match_model() {
    let base: u64 = std::env::var("PCI_LU_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    for seed in base..base + SEQUENCES {
        run(seed);
    }
    println!("{SEQUENCES} sequences from seed {base} passed");
}
