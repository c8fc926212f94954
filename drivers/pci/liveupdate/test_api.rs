// SPDX-License-Identifier: GPL-2.0

//! Test-only inspection and fault injection (`CONFIG_PCI_LIVEUPDATE_TEST`).
//!
//! Used by `test_handler.c`, which the kselftests drive through debugfs.

use crate::{
    abi,
    flb::FAIL_NEXT_GROW,
    state::STATE,
    table, //
};
use core::mem::MaybeUninit;
use kernel::{
    bindings,
    prelude::*,
    sync::atomic::Relaxed, //
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

/// Copies as many of `entries` as fit into `out`; returns how many there are.
fn copy_out(entries: &[abi::PciDevSer], out: &mut [MaybeUninit<abi::PciDevSer>]) -> c_int {
    for (o, e) in out.iter_mut().zip(entries) {
        o.write(*e);
    }
    // A count beyond `i32::MAX` saturates rather than wraps.
    i32::try_from(entries.len()).unwrap_or(i32::MAX)
}

/// Copies up to `max` entries of the incoming, or outgoing, table to `buf`.
///
/// # Safety
///
/// `buf` must have room for `max` entries.
#[export]
pub unsafe extern "C" fn pci_liveupdate_test_snapshot(
    outgoing: bool,
    buf: *mut bindings::pci_dev_ser,
    max: u32,
) -> c_int {
    if !crate::state::ready() {
        return ENODEV.to_errno();
    }
    let buf = if max == 0 || buf.is_null() {
        &mut []
    } else {
        // SAFETY: The caller provides room for `max` entries at `buf`, which
        // C and Rust lay out alike (asserted above); nothing else accesses
        // it during this call.
        unsafe { core::slice::from_raw_parts_mut(buf.cast(), max as usize) }
    };
    let mut state = STATE.lock();
    if outgoing {
        return state
            .outgoing()
            .and_then(|out| Ok(copy_out(out.table()?.entries(), buf)))
            .unwrap_or_else(|e| e.to_errno());
    }
    let refused = state.refused;
    match state.incoming() {
        Some(t) => copy_out(t.entries(), buf),
        None if refused => EINVAL.to_errno(),
        None => ENODATA.to_errno(),
    }
}

/// Capacity of the outgoing table's array in entries, or a negative errno.
#[export]
pub extern "C" fn pci_liveupdate_test_capacity() -> c_int {
    if !crate::state::ready() {
        return ENODEV.to_errno();
    }
    let mut state = STATE.lock();
    state
        .outgoing()
        .and_then(|out| Ok(i32::try_from(out.table()?.capacity()).unwrap_or(i32::MAX)))
        .unwrap_or_else(|e| e.to_errno())
}

/// Outcome of [`pci_liveupdate_test_fuzz`], in `stats` order.
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

/// Runs the incoming validator on `variants` randomly damaged copies of the
/// incoming table (its header and entries as this kernel holds them), seeded by
/// `seed`, and counts the outcomes into `stats` (tried, refused, still
/// valid with the same entries, valid with other entries, valid but not
/// drained by finishing every direct entry). With `reseal`, only the used
/// entries are damaged and both checksums are then made to match, so the
/// structural checks behind the checksums are what refuses a copy. The
/// real table is not touched.
///
/// # Safety
///
/// `stats` must point to 5 writable `u32`s.
#[export]
pub unsafe extern "C" fn pci_liveupdate_test_fuzz(
    seed: u64,
    variants: u32,
    reseal: bool,
    stats: *mut u32,
) -> c_int {
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
    let (hdr0, bytes0, orig) = match copy() {
        Ok(c) => c,
        Err(e) => return e.to_errno(),
    };
    let mut work = match KVec::with_capacity(bytes0.len(), GFP_KERNEL) {
        Ok(w) => w,
        Err(e) => return Error::from(e).to_errno(),
    };
    let mut parsed = KVec::new();
    if let Err(e) = parsed.resize(orig.len(), abi::PciDevSer::default(), GFP_KERNEL) {
        return Error::from(e).to_errno();
    }
    let mut out = [0u32; 5];
    let mut rng = seed | 1;
    let used = orig.len() * abi::DEV_SER_SIZE;
    for _ in 0..variants {
        let mut hdr = hdr0;
        work.clear();
        if work.extend_from_slice(&bytes0, GFP_KERNEL).is_err() {
            return ENOMEM.to_errno();
        }
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
        match drains(&hdr, e) {
            Ok(true) => {}
            Ok(false) => out[FUZZ_UNDRAINED] += 1,
            Err(e) => return e.to_errno(),
        }
    }
    for (i, v) in out.iter().enumerate() {
        // SAFETY: `stats` has room for 5 values (function contract).
        unsafe { *stats.add(i) = *v };
    }
    0
}

/// Makes both checksums match again, so the next kernel reaches the
/// structural check a fault targets.
fn fix_checksum(hdr: &mut abi::PciLuSer, entries: &[abi::PciDevSer]) {
    let n = (hdr.count.get() as usize).min(entries.len());
    table::seal(hdr, &entries[..n]);
}

/// Injects a test fault (`PCI_LU_TEST_*`).
#[export]
pub extern "C" fn pci_liveupdate_test_inject(fault: u32) -> c_int {
    if fault == bindings::PCI_LU_TEST_FAIL_NEXT_ALLOC {
        FAIL_NEXT_GROW.store(true, Relaxed);
        return 0;
    }
    if fault == bindings::PCI_LU_TEST_LEAK {
        // The kmemleak test's positive control: an allocation nothing frees
        // or points to, made by the component.
        return match KBox::new([0x5au8; 64], GFP_KERNEL) {
            Ok(b) => {
                let _ = KBox::into_raw(b);
                0
            }
            Err(_) => ENOMEM.to_errno(),
        };
    }
    if !crate::state::ready() {
        return ENODEV.to_errno();
    }
    let mut state = STATE.lock();
    if fault == bindings::PCI_LU_TEST_FORCE_ACS_QUIRK {
        state.force_acs_quirk = true;
        return 0;
    }
    state
        .outgoing()
        .and_then(|out| {
            let (hdr, e) = out.raw_mut()?;
            // Earlier faults may have made the header lie about the array.
            let n = (hdr.count.get() as usize).min(e.len());
            match fault {
                bindings::PCI_LU_TEST_CORRUPT_CHECKSUM if n >= 1 => {
                    e[0].vendor.set(e[0].vendor.get() ^ 1)
                }
                bindings::PCI_LU_TEST_CORRUPT_COUNT => {
                    hdr.count.set(hdr.capacity.get().saturating_add(1));
                    fix_checksum(hdr, e);
                }
                bindings::PCI_LU_TEST_CORRUPT_ORDER if n >= 2 => {
                    e.swap(0, 1);
                    fix_checksum(hdr, e);
                }
                bindings::PCI_LU_TEST_CORRUPT_MAGIC => hdr.magic.set(0),
                bindings::PCI_LU_TEST_CORRUPT_REFCOUNT => {
                    let b = e[..n]
                        .iter_mut()
                        .find(|x| x.flags.get() & abi::F_BRIDGE != 0)
                        .ok_or(EINVAL)?;
                    b.refcount.set(b.refcount.get().saturating_add(1));
                    fix_checksum(hdr, e);
                }
                bindings::PCI_LU_TEST_CORRUPT_DUPLICATE if n >= 2 => {
                    e[1] = e[0];
                    fix_checksum(hdr, e);
                }
                bindings::PCI_LU_TEST_CORRUPT_ZERO_REFCOUNT if n >= 1 => {
                    e[n - 1].refcount.set(0);
                    fix_checksum(hdr, e);
                }
                bindings::PCI_LU_TEST_CORRUPT_CAPACITY => {
                    hdr.capacity.set(hdr.capacity.get().saturating_mul(1024));
                    fix_checksum(hdr, e);
                }
                bindings::PCI_LU_TEST_CORRUPT_HEADER => {
                    hdr.entries.set(hdr.entries.get() ^ 0x1000);
                }
                bindings::PCI_LU_TEST_OLD_FORMAT => old_format(hdr, e, n),
                _ => return Err(EINVAL),
            }
            pr_warn!("test: corrupted the outgoing table (fault {fault})\n");
            Ok(0)
        })
        .unwrap_or_else(|e| e.to_errno())
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

/// Changes the outgoing entry of `dev` with `change`, then fixes both
/// checksums, so that the next kernel reaches the check the change targets.
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev` the caller holds a reference to.
unsafe fn change_entry(
    dev: *mut bindings::pci_dev,
    change: impl FnOnce(&mut abi::PciDevSer) -> Result<&'static str>,
) -> c_int {
    // SAFETY: Valid and referenced (function contract).
    let Some(pdev) = (unsafe { crate::state::entry_dev(dev) }) else {
        return ENODEV.to_errno();
    };
    let info = pdev.identity();
    let mut state = STATE.lock();
    state
        .outgoing()
        .and_then(|out| {
            let (hdr, e) = out.raw_mut()?;
            let n = (hdr.count.get() as usize).min(e.len());
            let i = table::search(&e[..n], info.segment, info.bdf).map_err(|_| ENOENT)?;
            let what = change(&mut e[i])?;
            fix_checksum(hdr, e);
            dev_warn!(pdev.as_dev(), "test: {what}\n");
            Ok(0)
        })
        .unwrap_or_else(|e| e.to_errno())
}

/// Records a size that does not fit for the first sized BAR of `dev`.
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev` the caller holds a reference to.
#[export]
pub unsafe extern "C" fn pci_liveupdate_test_misfit(dev: *mut bindings::pci_dev) -> c_int {
    // SAFETY: Valid and referenced (function contract).
    unsafe {
        change_entry(dev, |e| {
            let bar = e.bar_order.iter().position(|&o| o != 0).ok_or(ENOENT)?;
            // 1 TiB: no BAR of these test devices sits at such an address.
            e.bar_order[bar] = 40;
            Ok("recorded its first sized BAR as 1 TiB")
        })
    }
}

/// Records the first sized VF BAR of `dev` as 1 TiB in the outgoing table.
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev` the caller holds a reference to.
#[export]
pub unsafe extern "C" fn pci_liveupdate_test_vf_misfit(dev: *mut bindings::pci_dev) -> c_int {
    // SAFETY: Valid and referenced (function contract).
    unsafe {
        change_entry(dev, |e| {
            let bar = e.vf_bar_order.iter().position(|&o| o != 0).ok_or(ENOENT)?;
            e.vf_bar_order[bar] = 40;
            Ok("recorded its first sized VF BAR as 1 TiB")
        })
    }
}

/// Records another device ID for `dev` in the outgoing table.
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev` the caller holds a reference to.
#[export]
pub unsafe extern "C" fn pci_liveupdate_test_mismatch(dev: *mut bindings::pci_dev) -> c_int {
    // SAFETY: Valid and referenced (function contract).
    unsafe {
        change_entry(dev, |e| {
            e.device.set(e.device.get() ^ 0x00ff);
            Ok("recorded another identity")
        })
    }
}

/// Whether `dev` has an incoming entry (`path`) and an outgoing one.
///
/// # Safety
///
/// `dev` must be a valid `struct pci_dev`; `path` and `outgoing` valid out
/// pointers.
#[export]
pub unsafe extern "C" fn pci_liveupdate_test_status(
    dev: *mut bindings::pci_dev,
    path: *mut bool,
    outgoing: *mut bool,
) {
    // SAFETY: Valid and referenced (function contract).
    let Some(pdev) = (unsafe { crate::state::entry_dev(dev) }) else {
        return;
    };
    let info = pdev.identity();
    let mut state = STATE.lock();
    let p = state.incoming_entry(&pdev).is_some();
    let o = state.outgoing_entry(&info).is_some();
    // SAFETY: Valid out pointers (function contract).
    unsafe {
        *path = p;
        *outgoing = o;
    }
}

/// Time spent in the PCI core hooks, see `test.h`.
///
/// # Safety
///
/// `out` must point to room for three `s64`.
#[export]
pub unsafe extern "C" fn pci_liveupdate_test_timing(shutdown: bool, out: *mut i64) {
    let acct = if shutdown {
        &crate::timing::SHUTDOWN
    } else {
        &crate::timing::ENUMERATION
    };
    let (calls, ns, window) = acct.read();
    // SAFETY: The caller provides room for three values at `out`.
    unsafe { out.cast::<[i64; 3]>().write_unaligned([calls, ns, window]) };
}
