// SPDX-License-Identifier: GPL-2.0

//! Test-only inspection and fault injection (`CONFIG_PCI_LIVEUPDATE_TEST`).
//!
//! Used by the debugfs files of [`crate::test_debugfs`], which the
//! kselftests drive.

use crate::{
    abi,
    dev::{
        Flag,
        PciDev, //
    },
    flb::FAIL_NEXT_GROW,
    state::{
        State,
        STATE, //
    },
    table, //
};
use kernel::{
    bindings,
    prelude::*,
    sync::atomic::{
        AtomicFlag,
        Relaxed, //
    },
};
use zerocopy::{
    FromBytes,
    IntoBytes, //
};

// The bindgen view of the C ABI has the layout of the Rust one.
const _: () = {
    use core::mem::{
        offset_of,
        size_of, //
    };
    assert!(size_of::<bindings::pci_dev_ser>() == abi::DEV_SER_SIZE);
    assert!(size_of::<bindings::pci_lu_ser>() == abi::SER_SIZE);
    assert!(offset_of!(bindings::pci_dev_ser, refcount) == offset_of!(abi::PciDevSer, refcount));
    assert!(offset_of!(bindings::pci_dev_ser, class) == offset_of!(abi::PciDevSer, class));
    assert!(offset_of!(bindings::pci_dev_ser, flags) == offset_of!(abi::PciDevSer, flags));
    assert!(offset_of!(bindings::pci_dev_ser, upstream) == offset_of!(abi::PciDevSer, upstream));
    assert!(offset_of!(bindings::pci_lu_ser, entries) == offset_of!(abi::PciLuSer, entries));
    assert!(offset_of!(bindings::pci_lu_ser, checksum) == offset_of!(abi::PciLuSer, checksum));
    assert!(offset_of!(bindings::pci_lu_ser, incompat) == offset_of!(abi::PciLuSer, incompat));
    assert!(offset_of!(bindings::pci_dev_ser, driver) == offset_of!(abi::PciDevSer, driver));
    assert!(bindings::PCI_DEV_SER_DRIVER_LEN as usize == abi::DRIVER_LEN);
    assert!(bindings::PCI_LU_COMPAT_KNOWN == abi::COMPAT_KNOWN);
    assert!(bindings::PCI_LU_INCOMPAT_KNOWN == abi::INCOMPAT_KNOWN);
    assert!(bindings::PCI_LU_SER_MAGIC == abi::SER_MAGIC);
    assert!(bindings::PCI_LU_SER_VERSION as u16 == abi::SER_VERSION);
    assert!(bindings::PCI_DEV_SER_F_DIRECT == abi::F_DIRECT);
    assert!(bindings::PCI_DEV_SER_F_BRIDGE == abi::F_BRIDGE);
    assert!(bindings::PCI_DEV_SER_F_UPSTREAM == abi::F_UPSTREAM);
};

/// A copy of the outgoing table's entries and its capacity, or of the
/// incoming table's entries: `ENODEV` before boot-time setup, `ENOENT`
/// without an outgoing table, `ENODATA` without an incoming one, `EINVAL`
/// if the incoming data was refused.
pub(crate) fn snapshot(outgoing: bool) -> Result<(KVVec<abi::PciDevSer>, Option<usize>)> {
    if !crate::state::ready() {
        return Err(ENODEV);
    }
    let mut state = STATE.lock();
    let copy = |entries: &[abi::PciDevSer]| -> Result<KVVec<abi::PciDevSer>> {
        let mut v = KVVec::with_capacity(entries.len(), GFP_KERNEL)?;
        v.extend_from_slice(entries, GFP_KERNEL)?;
        Ok(v)
    };
    if outgoing {
        let t = state.outgoing()?.table()?;
        return Ok((copy(t.entries())?, Some(t.capacity())));
    }
    let refused = state.refused;
    match state.incoming() {
        Some(t) => Ok((copy(t.entries())?, None)),
        None if refused => Err(EINVAL),
        None => Err(ENODATA),
    }
}

/// Outcome of [`fuzz`], in [`FuzzStats`] order.
const FUZZ_TRIED: usize = 0;
const FUZZ_REFUSED: usize = 1;
const FUZZ_VALID_SAME: usize = 2;
const FUZZ_VALID_CHANGED: usize = 3;
const FUZZ_UNDRAINED: usize = 4;

/// xorshift64: reproducible variants from a seed.
fn next(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// Flips 1 to 3 random bits of `bytes`.
fn flip(bytes: &mut [u8], rng: &mut u64) {
    if bytes.is_empty() {
        return;
    }
    for _ in 0..1 + next(rng) % 3 {
        // CAST: The remainder is below `len`, a `usize`.
        let i = (next(rng) % bytes.len() as u64) as usize;
        bytes[i] ^= 1 << (next(rng) % 8);
    }
}

/// Whether finishing every directly preserved entry of a validated copy
/// succeeds and leaves it empty, as it must for the real table.
fn drains(hdr: &abi::PciLuSer, entries: &[abi::PciDevSer]) -> Result<bool> {
    let mut buf = KVec::with_capacity(entries.len(), GFP_KERNEL)?;
    buf.extend_from_slice(entries, GFP_KERNEL)?;
    let mut direct = KVec::with_capacity(entries.len(), GFP_KERNEL)?;
    for e in entries.iter().filter(|e| table::is_direct(e)) {
        direct.push((e.segment.get(), e.bdf.get()), GFP_KERNEL)?;
    }
    let mut h = *hdr;
    // CAST: `entries` came from a validated `u32` count.
    h.capacity.set(entries.len() as u32);
    let Some(mut t) = table::Table::new(&mut h, &mut buf) else {
        return Ok(false);
    };
    for (segment, bdf) in direct {
        if t.finish(segment, bdf).is_err() {
            return Ok(false);
        }
    }
    Ok(t.is_empty())
}

/// What [`fuzz`] found: variants tried, refused, still valid with the same
/// entries, valid with other entries, valid but not drained by finishing
/// every direct entry.
pub(crate) type FuzzStats = [u32; 5];

/// Runs the incoming validator on `variants` randomly damaged copies of the
/// incoming table (its header and entries as this kernel holds them), seeded by
/// `seed`, and counts the outcomes. With `reseal`, only the used
/// entries are damaged and both checksums are then made to match, so the
/// structural checks behind the checksums are what refuses a copy. The
/// real table is not touched.
pub(crate) fn fuzz(seed: u64, variants: u32, reseal: bool) -> Result<FuzzStats> {
    if !crate::state::ready() {
        return Err(ENODEV);
    }
    let copy = || -> Result<(abi::PciLuSer, KVec<u8>, KVec<abi::PciDevSer>)> {
        let mut state = STATE.lock();
        let t = state.incoming().ok_or(ENODATA)?;
        let (hdr, all) = t.raw();
        let mut bytes = KVec::with_capacity(all.as_bytes().len(), GFP_KERNEL)?;
        bytes.extend_from_slice(all.as_bytes(), GFP_KERNEL)?;
        let mut entries = KVec::with_capacity(t.len(), GFP_KERNEL)?;
        entries.extend_from_slice(t.entries(), GFP_KERNEL)?;
        Ok((*hdr, bytes, entries))
    };
    let (hdr0, bytes0, orig) = copy()?;
    let mut work = KVec::with_capacity(bytes0.len(), GFP_KERNEL)?;
    let mut parsed = KVec::new();
    parsed.resize(orig.len(), abi::PciDevSer::default(), GFP_KERNEL)?;
    let mut out = FuzzStats::default();
    let mut rng = seed | 1;
    let used = orig.len() * abi::DEV_SER_SIZE;
    for _ in 0..variants {
        let mut hdr = hdr0;
        work.clear();
        work.extend_from_slice(&bytes0, GFP_KERNEL)?;
        let mut len = work.len();
        if reseal {
            // The handed-over table has this kernel's entry size.
            flip(&mut work[..used.min(len)], &mut rng);
            if let Ok((e, _)) = <[abi::PciDevSer]>::ref_from_prefix_with_elems(&work, orig.len()) {
                table::seal(&mut hdr, e);
            }
        } else {
            match next(&mut rng) % 4 {
                0 => flip(hdr.as_mut_bytes(), &mut rng),
                1 => flip(&mut work, &mut rng),
                2 => {
                    flip(hdr.as_mut_bytes(), &mut rng);
                    flip(&mut work, &mut rng);
                }
                // CAST: The remainder is below `len`, a `usize`.
                _ if len > 0 => len = (next(&mut rng) % len as u64) as usize,
                _ => flip(hdr.as_mut_bytes(), &mut rng),
            }
        }
        out[FUZZ_TRIED] += 1;
        let e = match table::validate(&mut hdr, &work[..len], &mut parsed) {
            Err(_) => {
                out[FUZZ_REFUSED] += 1;
                continue;
            }
            Ok(e) => e,
        };
        out[if *e == orig[..] {
            FUZZ_VALID_SAME
        } else {
            FUZZ_VALID_CHANGED
        }] += 1;
        if !drains(&hdr, e)? {
            out[FUZZ_UNDRAINED] += 1;
        }
    }
    Ok(out)
}

/// Makes both checksums match again, so the next kernel reaches the
/// structural check a fault targets.
fn fix_checksum(hdr: &mut abi::PciLuSer, entries: &[abi::PciDevSer]) {
    let n = (hdr.count.get() as usize).min(entries.len());
    table::seal(hdr, &entries[..n]);
}

/// Fault: the next growth of the outgoing array fails.
pub(crate) const FAIL_NEXT_ALLOC: u32 = 1;
/// Fault: flip a bit of an entry.
pub(crate) const CORRUPT_CHECKSUM: u32 = 2;
/// Fault: a count above the capacity.
pub(crate) const CORRUPT_COUNT: u32 = 3;
/// Fault: swap two entries, fix the checksum.
pub(crate) const CORRUPT_ORDER: u32 = 4;
/// Fault: a bad header magic.
pub(crate) const CORRUPT_MAGIC: u32 = 5;
/// Fault: a bridge's refcount off by one, fix the checksum.
pub(crate) const CORRUPT_REFCOUNT: u32 = 6;
/// Fault: repeat an entry, fix the checksum.
pub(crate) const CORRUPT_DUPLICATE: u32 = 7;
/// Fault: a capacity beyond the allocation.
pub(crate) const CORRUPT_CAPACITY: u32 = 8;
/// Fault: the last entry unreferenced, fix the checksum.
pub(crate) const CORRUPT_ZERO_REFCOUNT: u32 = 9;
/// Fault: damage the array address only.
pub(crate) const CORRUPT_HEADER: u32 = 10;
/// Fault: the next preserve sees an ACS quirk.
pub(crate) const FORCE_ACS_QUIRK: u32 = 11;
/// Fault: leak 64 bytes, for kmemleak's test.
pub(crate) const LEAK: u32 = 12;
/// Fault: at the kexec, rewrite the table as a writer without probe
/// records did (see [`shutdown`]).
pub(crate) const OLD_FORMAT: u32 = 13;

/// [`OLD_FORMAT`] was injected.
static OLD_FORMAT_AT_KEXEC: AtomicFlag = AtomicFlag::new(false);

/// Injects test fault `fault`, one of the numbers below. Tests write them to
/// debugfs `inject`.
pub(crate) fn inject(fault: u32) -> Result {
    match fault {
        FAIL_NEXT_ALLOC => {
            FAIL_NEXT_GROW.store(true, Relaxed);
            return Ok(());
        }
        LEAK => {
            // The kmemleak test's positive control: an allocation nothing
            // frees or points to, made by the component.
            let _ = KBox::into_raw(KBox::new([0x5au8; 64], GFP_KERNEL)?);
            return Ok(());
        }
        OLD_FORMAT => {
            // This kernel cannot read its table once rewritten.
            OLD_FORMAT_AT_KEXEC.store(true, Relaxed);
            return Ok(());
        }
        _ => {}
    }
    if !crate::state::ready() {
        return Err(ENODEV);
    }
    let mut state = STATE.lock();
    if fault == FORCE_ACS_QUIRK {
        state.force_acs_quirk = true;
        return Ok(());
    }
    corrupt(&mut state, fault)
}

/// Applies fault `fault` to the outgoing table.
fn corrupt(state: &mut State, fault: u32) -> Result {
    state.outgoing().and_then(|out| {
        let (hdr, e) = out.raw_mut()?;
        // Earlier faults may have made the header lie about the array.
        let n = (hdr.count.get() as usize).min(e.len());
        match fault {
            CORRUPT_CHECKSUM if n >= 1 => e[0].vendor.set(e[0].vendor.get() ^ 1),
            CORRUPT_COUNT => {
                hdr.count.set(hdr.capacity.get().saturating_add(1));
                fix_checksum(hdr, e);
            }
            CORRUPT_ORDER if n >= 2 => {
                e.swap(0, 1);
                fix_checksum(hdr, e);
            }
            CORRUPT_MAGIC => hdr.magic.set(0),
            CORRUPT_REFCOUNT => {
                let b = e[..n]
                    .iter_mut()
                    .find(|x| x.flags.get() & abi::F_BRIDGE != 0)
                    .ok_or(EINVAL)?;
                b.refcount.set(b.refcount.get().saturating_add(1));
                fix_checksum(hdr, e);
            }
            CORRUPT_DUPLICATE if n >= 2 => {
                e[1] = e[0];
                fix_checksum(hdr, e);
            }
            CORRUPT_ZERO_REFCOUNT if n >= 1 => {
                e[n - 1].refcount.set(0);
                fix_checksum(hdr, e);
            }
            CORRUPT_CAPACITY => {
                hdr.capacity.set(hdr.capacity.get().saturating_mul(1024));
                fix_checksum(hdr, e);
            }
            CORRUPT_HEADER => {
                hdr.entries.set(hdr.entries.get() ^ 0x1000);
            }
            OLD_FORMAT => old_format(hdr, e, n),
            _ => return Err(EINVAL),
        }
        pr_warn!("test: corrupted the outgoing table (fault {fault})\n");
        Ok(())
    })
}

/// Rewrites the first `n` entries as a writer without probe records laid
/// them out: entries of the first size, packed, and no `COMPAT_PROBE`. The
/// table is unusable to this kernel afterwards: the test handler does this
/// at the end of the kexec, after the shutdown hooks.
fn old_format(hdr: &mut abi::PciLuSer, e: &mut [abi::PciDevSer], n: usize) {
    let bytes = e.as_mut_bytes();
    let mut sum = 0u32;
    for i in 0..n {
        let from = i * abi::DEV_SER_SIZE;
        bytes.copy_within(
            from..from + abi::DEV_SER_MIN_SIZE,
            i * abi::DEV_SER_MIN_SIZE,
        );
        let old = &bytes[i * abi::DEV_SER_MIN_SIZE..(i + 1) * abi::DEV_SER_MIN_SIZE];
        sum = sum.wrapping_add(table::crc32c(old));
    }
    // CAST: 48 fits.
    hdr.entry_size.set(abi::DEV_SER_MIN_SIZE as u16);
    hdr.compat.set(0);
    // The same allocation holds more entries of the smaller size.
    // CAST: The array held `capacity` larger entries, a `u32` count.
    let cap = (e.len() * abi::DEV_SER_SIZE / abi::DEV_SER_MIN_SIZE) as u32;
    hdr.capacity.set(cap);
    hdr.checksum.set(sum);
    hdr.header_checksum.set(table::header_checksum(hdr));
}

/// Changes the outgoing entry of `pdev` with `change`, then fixes both
/// checksums, so that the next kernel reaches the check the change targets.
fn change_entry(
    pdev: &PciDev,
    change: impl FnOnce(&mut abi::PciDevSer) -> Result<&'static str>,
) -> Result {
    if !crate::state::ready() {
        return Err(ENODEV);
    }
    let mut state = STATE.lock();
    // A removed VF may have dropped its PF, which `identity()` reaches.
    if !pdev.in_system(&state) {
        return Err(ENODEV);
    }
    let info = pdev.identity();
    let out = state.outgoing()?;
    let (hdr, e) = out.raw_mut()?;
    let n = (hdr.count.get() as usize).min(e.len());
    let i = table::search(&e[..n], info.segment, info.bdf).map_err(|_| ENOENT)?;
    let what = change(&mut e[i])?;
    fix_checksum(hdr, e);
    dev_warn!(pdev.as_dev(), "test: {what}\n");
    Ok(())
}

/// Records a size that does not fit for the first sized BAR of `pdev`: the
/// next kernel must not take it as preserved.
pub(crate) fn misfit(pdev: &PciDev) -> Result {
    change_entry(pdev, |e| {
        let bar = e.bar_order.iter().position(|&o| o != 0).ok_or(ENOENT)?;
        // 1 TiB: no BAR of these test devices sits at such an address.
        e.bar_order[bar] = 40;
        Ok("recorded its first sized BAR as 1 TiB")
    })
}

/// [`misfit`] for the first sized VF BAR of `pdev`.
pub(crate) fn vf_misfit(pdev: &PciDev) -> Result {
    change_entry(pdev, |e| {
        let bar = e.vf_bar_order.iter().position(|&o| o != 0).ok_or(ENOENT)?;
        e.vf_bar_order[bar] = 40;
        Ok("recorded its first sized VF BAR as 1 TiB")
    })
}

/// Records another device ID for `pdev` in the outgoing table, so the next
/// kernel finds a different identity at its address.
pub(crate) fn mismatch(pdev: &PciDev) -> Result {
    change_entry(pdev, |e| {
        e.device.set(e.device.get() ^ 0x00ff);
        Ok("recorded another identity")
    })
}

/// What the component knows of a device.
pub(crate) struct Status {
    /// Preserved by the previous kernel and not finished.
    pub(crate) incoming: bool,
    /// The incoming table has an entry for it: a preserved device or a
    /// bridge above one.
    pub(crate) path: bool,
    /// The outgoing table has an entry for it.
    pub(crate) outgoing: bool,
    /// Bus Master was set when this kernel enumerated it.
    pub(crate) bm_at_enum: bool,
    /// The ACS Control the previous kernel left was adopted.
    pub(crate) acs_adopted: bool,
}

/// The component's view of `pdev`; all false before boot-time setup.
pub(crate) fn status(pdev: &PciDev) -> Status {
    let mut s = Status {
        incoming: false,
        path: false,
        outgoing: false,
        bm_at_enum: false,
        acs_adopted: false,
    };
    if !crate::state::ready() {
        return s;
    }
    let mut state = STATE.lock();
    // A removed VF may have dropped its PF, which `identity()` reaches.
    if !pdev.in_system(&state) {
        return s;
    }
    let info = pdev.identity();
    s.incoming = state.is_incoming_direct(pdev);
    s.path = state.incoming_entry(pdev).is_some();
    s.outgoing = state.outgoing_entry(&info).is_some();
    s.bm_at_enum = pdev.flag(&state, Flag::BmAtEnum);
    s.acs_adopted = pdev.adopted_acs(&state).is_some();
    s
}

/// Called by the test handler after every device's shutdown: reports what
/// the reboot cost the component and, at a kexec, applies [`OLD_FORMAT`]
/// (the shutdown hooks still needed the table in this kernel's format).
#[export]
pub extern "C" fn pci_liveupdate_test_shutdown(kexec: bool) {
    let (calls, ns, window) = crate::timing::SHUTDOWN.read();
    pr_info!("shutdown hooks: {calls} calls, {ns} ns, over {window} ns\n");
    if !kexec || !OLD_FORMAT_AT_KEXEC.load(Relaxed) || !crate::state::ready() {
        return;
    }
    let mut state = STATE.lock();
    if let Err(e) = corrupt(&mut state, OLD_FORMAT) {
        pr_err!("test: cannot rewrite the table in the old format: {e:?}\n");
    }
}
