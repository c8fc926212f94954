// SPDX-License-Identifier: GPL-2.0

//! Host-side stand-ins for what the kernel provides: a PCI topology whose
//! devices implement [`Node`], a growable table in ordinary memory and a
//! small deterministic random number generator.

extern crate alloc;

use crate::abi::{
    self,
    PciDevSer,
    PciLuSer, //
};
use crate::table::{
    self,
    DevInfo,
    Error,
    Node,
    Probe,
    Table, //
};
use alloc::vec;
use alloc::vec::Vec;
use zerocopy::IntoBytes;

/// A device of a model topology.
#[derive(Clone, Debug)]
pub struct ModelDev {
    /// What the table records about it.
    pub info: DevInfo,
    /// Index of the upstream bridge.
    pub parent: Option<usize>,
}

/// A PCI hierarchy: root-bus devices, bridges and endpoints.
#[derive(Clone, Debug, Default)]
pub struct Topology {
    /// All devices; parents come before their children.
    pub devs: Vec<ModelDev>,
    next_bus: u8,
}

/// A device of a [`Topology`], as the table logic sees it.
#[derive(Clone, Copy)]
pub struct ModelNode<'a> {
    topo: &'a Topology,
    idx: usize,
}

impl Node for ModelNode<'_> {
    fn info(&self) -> DevInfo {
        self.topo.devs[self.idx].info
    }

    fn parent(&self) -> Option<Self> {
        self.topo.devs[self.idx].parent.map(|idx| ModelNode {
            topo: self.topo,
            idx,
        })
    }
}

impl Topology {
    /// An empty hierarchy below root bus 0 of segment 0.
    pub fn new() -> Self {
        Topology {
            devs: Vec::new(),
            next_bus: 1,
        }
    }

    /// The device at `idx`.
    pub fn node(&self, idx: usize) -> ModelNode<'_> {
        ModelNode { topo: self, idx }
    }

    fn bus_of(&self, parent: Option<usize>) -> u8 {
        parent.map_or(0, |p| self.devs[p].info.bridge.unwrap().0)
    }

    fn add(&mut self, parent: Option<usize>, slot: u8, bridge: bool, id: u16) -> usize {
        self.add_fn(parent, slot << 3, bridge, id)
    }

    fn add_fn(&mut self, parent: Option<usize>, devfn: u8, bridge: bool, id: u16) -> usize {
        let bus = self.bus_of(parent);
        let bridge = bridge.then(|| {
            let sec = self.next_bus;
            self.next_bus += 1;
            // Subordinate is fixed up when children are added.
            (sec, sec)
        });
        let info = DevInfo {
            segment: 0,
            bdf: (u16::from(bus) << 8) | u16::from(devfn),
            vendor: 0x1b36,
            device: id,
            class: if bridge.is_some() { 0x060400 } else { 0x010802 },
            bridge,
            upstream: parent.map(|p| self.devs[p].info.bdf),
            virtfn: false,
            probe: model_probe(bridge.is_some(), id, devfn),
        };
        self.devs.push(ModelDev { info, parent });
        // Widen the bus ranges of every bridge above a new bridge.
        if let Some((sec, _)) = bridge {
            let mut up = parent;
            while let Some(p) = up {
                if let Some((_, sub)) = self.devs[p].info.bridge.as_mut() {
                    *sub = (*sub).max(sec);
                }
                up = self.devs[p].parent;
            }
        }
        self.devs.len() - 1
    }

    /// Adds a bridge in `slot` below `parent` (or on the root bus).
    pub fn bridge(&mut self, parent: Option<usize>, slot: u8) -> usize {
        self.add(parent, slot, true, 0x000c)
    }

    /// Adds an endpoint in `slot` below `parent` (or on the root bus).
    pub fn endpoint(&mut self, parent: Option<usize>, slot: u8) -> usize {
        self.add(parent, slot, false, 0x0010)
    }

    /// Adds an endpoint at function `devfn` below `parent`.
    pub fn endpoint_fn(&mut self, parent: Option<usize>, devfn: u8) -> usize {
        self.add_fn(parent, devfn, false, 0x0010)
    }

    /// Enables `num` VFs on the SR-IOV endpoint `pf` (First VF Offset 1,
    /// VF Stride 1, as QEMU's nvme) and adds them; returns their indices.
    pub fn enable_vfs(&mut self, pf: usize, num: u16) -> Vec<usize> {
        let p = &mut self.devs[pf].info;
        assert!(p.probe.has_sriov(), "not an SR-IOV PF");
        p.probe.flags |= abi::P_VFS;
        p.probe.vfs = table::VfState {
            ctrl: 0x19,
            num_vfs: num,
            offset: 1,
            stride: 1,
            vf_device: 0x0011,
            page: 0,
        };
        let pf_info = *p;
        (0..num)
            .map(|i| {
                let info = DevInfo {
                    bdf: pf_info
                        .probe
                        .vfs
                        .vf_rid(pf_info.bdf, i)
                        .expect("VF routing ID"),
                    device: 0x0011,
                    bridge: None,
                    upstream: Some(pf_info.bdf),
                    virtfn: true,
                    probe: Probe {
                        flags: abi::P_SIZED,
                        ..Probe::default()
                    },
                    ..pf_info
                };
                self.devs.push(ModelDev {
                    info,
                    parent: Some(pf),
                });
                self.devs.len() - 1
            })
            .collect()
    }

    /// The QEMU topology of the kselftests: three root ports, a switch with
    /// two downstream ports below the second; returns the endpoints.
    pub fn qemu() -> (Self, Vec<usize>) {
        let mut t = Topology::new();
        let rp1 = t.bridge(None, 1);
        let rp2 = t.bridge(None, 2);
        let rp3 = t.bridge(None, 3);
        let ep1 = t.endpoint(Some(rp1), 0);
        let up = t.bridge(Some(rp2), 0);
        let dn1 = t.bridge(Some(up), 0);
        let dn2 = t.bridge(Some(up), 1);
        let ep2 = t.endpoint(Some(dn1), 0);
        let ep3 = t.endpoint(Some(dn2), 0);
        let ep4 = t.endpoint(Some(rp3), 0);
        (t, vec![ep1, ep2, ep3, ep4])
    }

    /// A random tree with about `n` endpoints; returns the endpoints.
    pub fn random(rng: &mut Rng, n: usize) -> (Self, Vec<usize>) {
        let mut t = Topology::new();
        let mut bridges: Vec<(usize, u8)> = Vec::new();
        let mut eps = Vec::new();
        let mut root_slot = 1u8;
        while eps.len() < n {
            // Grow bridges until the bus numbers run out, then add endpoints.
            let want_bridge = t.next_bus < 250 && (bridges.is_empty() || rng.below(4) == 0);
            let parent = if bridges.is_empty() || (root_slot < 32 && rng.below(8) == 0) {
                None
            } else {
                Some(rng.below(bridges.len()))
            };
            let (pidx, slot) = match parent {
                Some(b) if bridges[b].1 < 32 => {
                    bridges[b].1 += 1;
                    (Some(bridges[b].0), bridges[b].1 - 1)
                }
                Some(_) => continue,
                None if root_slot < 32 => {
                    root_slot += 1;
                    (None, root_slot - 1)
                }
                None => continue,
            };
            if want_bridge {
                let b = t.bridge(pidx, slot);
                bridges.push((b, 0));
            } else {
                eps.push(t.endpoint(pidx, slot));
            }
        }
        (t, eps)
    }
}

/// A table in ordinary memory that grows by doubling, as the kernel's does.
pub struct OwnedTable {
    /// The header.
    pub hdr: PciLuSer,
    /// The whole array (`capacity` entries).
    pub buf: Vec<PciDevSer>,
}

impl Default for OwnedTable {
    fn default() -> Self {
        Self::new()
    }
}

impl OwnedTable {
    /// An empty table without an array, as after FLB preserve.
    pub fn new() -> Self {
        let mut hdr = PciLuSer::default();
        table::init_header(&mut hdr);
        OwnedTable {
            hdr,
            buf: Vec::new(),
        }
    }

    /// A view for the table logic.
    pub fn view(&mut self) -> Table<'_> {
        Table::new(&mut self.hdr, &mut self.buf).expect("header matches array")
    }

    /// Preserves `node` with no driver, growing the array as needed.
    pub fn preserve<N: Node>(&mut self, node: &N) -> Result<(), Error> {
        self.preserve_as(node, &table::NO_DRIVER)
    }

    /// Preserves `node` bound to `driver`, growing the array as needed.
    pub fn preserve_as<N: Node>(&mut self, node: &N, driver: &table::Driver) -> Result<(), Error> {
        match self.view().preserve(node, driver) {
            Err(Error::NoSpace(need)) => {
                let mut cap = self.buf.len().max(16);
                while cap < need {
                    cap *= 2;
                }
                let mut new = vec![PciDevSer::default(); cap];
                self.view().move_to(&mut new, 0x1000).expect("grows");
                self.buf = new;
                self.view().preserve(node, driver)
            }
            r => r,
        }
    }

    /// Unpreserves `node`.
    pub fn unpreserve<N: Node>(&mut self, node: &N) -> Result<(), Error> {
        self.view().unpreserve(&node.info())
    }

    /// The array as the next kernel would see the preserved allocation.
    pub fn array_bytes(&self) -> &[u8] {
        self.buf.as_bytes()
    }

    /// Runs the next kernel's validation on copies of the header and array;
    /// returns the entries it accepts.
    pub fn validate(&self) -> Result<Vec<PciDevSer>, table::Invalid> {
        let mut hdr = self.hdr;
        validate_bytes(&mut hdr, self.array_bytes())
    }
}

/// A plausible probe record: bridges with all three windows, endpoints
/// with a 64-bit BAR 0 whose size depends on `id` and a 4 KiB BAR 2, and
/// the endpoints in slots 0, 3, 6, ... SR-IOV PFs.
fn model_probe(bridge: bool, id: u16, devfn: u8) -> Probe {
    if bridge {
        return Probe {
            bar_order: [0; abi::BARS],
            flags: abi::P_SIZED | abi::P_WINDOWS,
            ..Probe::default()
        };
    }
    // CAST: `id % 8` is below 8.
    let order = 14 + (id % 8) as u8;
    let mut p = Probe {
        bar_order: [order, 0, 12, 0, 0, 0, 0],
        flags: abi::P_SIZED,
        ..Probe::default()
    };
    let slot = devfn >> 3;
    if slot % 3 == 0 {
        p.flags |= abi::P_SRIOV;
        p.vf_bar_order = [order, 0, 0, 13, 0, 0];
        p.vf_buses = slot % 2;
    }
    p
}

/// [`table::validate`] into a buffer of the size the kernel allocates:
/// room for the header's count, bounded by what `array` could hold.
pub fn validate_bytes(hdr: &mut PciLuSer, array: &[u8]) -> Result<Vec<PciDevSer>, table::Invalid> {
    let n = table::validate_header(hdr)?.count;
    let mut out = vec![PciDevSer::default(); n.min(array.len() / abi::DEV_SER_MIN_SIZE)];
    table::validate(hdr, array, &mut out).map(|e| e.to_vec())
}

/// xorshift64*: small, deterministic, good enough for test sequences.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (any value).
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}
