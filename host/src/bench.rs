// SPDX-License-Identifier: GPL-2.0

//! Prints preserve and lookup cost of the device table at 16, 256 and 4096
//! devices on the host, and bytes per preserved device. It measures; it does
//! not assert speed. The kernel numbers come from the KUnit `bench` case.

use pci_lu_host::abi;
use pci_lu_host::model::{OwnedTable, Topology};
use pci_lu_host::table::Node;
use std::hint::black_box;
use std::time::Instant;

fn main() {
    for n in [16usize, 256, 4096] {
        // Endpoints in 256-function groups below root ports, as in KUnit.
        let mut topo = Topology::new();
        let mut eps = Vec::with_capacity(n);
        let mut port = None;
        for k in 0..n {
            if k % 256 == 0 {
                port = Some(topo.bridge(None, (k / 256 + 1) as u8));
            }
            eps.push(topo.endpoint_fn(port, (k % 256) as u8));
        }
        let runs = if n > 1000 { 5 } else { 50 };
        let mut best_preserve = u128::MAX;
        let mut best_lookup = u128::MAX;
        let mut bytes = 0;
        for _ in 0..runs {
            let mut t = OwnedTable::new();
            let start = Instant::now();
            for &e in &eps {
                t.preserve(&topo.node(e)).unwrap();
            }
            best_preserve = best_preserve.min(start.elapsed().as_nanos());
            let view = t.view();
            let start = Instant::now();
            let mut found = 0;
            for &e in &eps {
                let i = topo.node(e).info();
                found += usize::from(black_box(view.find(i.segment, i.bdf)).is_some());
            }
            best_lookup = best_lookup.min(start.elapsed().as_nanos());
            assert_eq!(found, n);
            // KHO allocates whole pages, rounded up to a power of two.
            let pages = |b: usize| b.div_ceil(4096).next_power_of_two() * 4096;
            bytes = pages(abi::SER_SIZE) + pages(view.capacity().max(1) * abi::DEV_SER_SIZE);
        }
        println!(
            "bench host n={n} preserve_ns_per_dev={} lookup_ns={} bytes_per_dev={}",
            best_preserve / n as u128,
            best_lookup / n as u128,
            bytes / n
        );
    }
}
