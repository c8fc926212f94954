// SPDX-License-Identifier: GPL-2.0

//! The PCI File-Lifecycle-Bound object and the tables it carries.
//!
//! C header: [`include/linux/liveupdate.h`](srctree/include/linux/liveupdate.h)
//!
//! LUO calls the [`FlbOps`] callbacks of [`PciFlb`] under its own per-FLB
//! mutex. They build and tear down [`Outgoing`] and [`Incoming`] and never
//! take a reference on the FLB (which would take LUO's mutex again). The
//! outgoing table lives in [`STATE`] from preserve to unpreserve, which is
//! why the component never takes LUO's outgoing FLB mutex while holding
//! its own lock.

use crate::abi::{
    self,
    PciLuSer, //
};
use crate::state::STATE;
use crate::table::{
    self,
    Table, //
};
use kernel::{
    bindings,
    kho::{
        PreservedMem,
        RestoredFolio, //
    },
    liveupdate::{
        Flb,
        FlbOps, //
    },
    prelude::*,
};
use zerocopy::FromBytes;

/// Makes the next [`Outgoing::grow`] fail with `ENOMEM`, for tests of the
/// error path.
#[cfg(CONFIG_PCI_LIVEUPDATE_TEST)]
pub(crate) static FAIL_NEXT_GROW: kernel::sync::atomic::AtomicFlag =
    kernel::sync::atomic::AtomicFlag::new(false);

/// The PCI FLB's callbacks.
pub(crate) struct PciFlb;

/// The PCI FLB. LUO owns its private part.
pub(crate) static PCI_FLB: Flb<PciFlb> = Flb::new();

/// The compatible string, checked at build time against the C ABI header.
const COMPATIBLE: &CStr = {
    let c = bindings::PCI_LU_FLB_COMPATIBLE;
    let src = abi::FLB_COMPATIBLE.as_bytes();
    // The C and Rust ABI definitions name the same contract.
    assert!(c.len() == src.len() + 1);
    let mut i = 0;
    while i < src.len() {
        assert!(src[i] == c[i]);
        i += 1;
    }
    match CStr::from_bytes_with_nul(c) {
        Ok(s) => s,
        Err(_) => panic!("PCI_LU_FLB_COMPATIBLE is not a C string"),
    }
};

impl FlbOps for PciFlb {
    type Incoming = Incoming;

    const COMPATIBLE: &'static CStr = COMPATIBLE;

    /// Creates the outgoing table for the first file that uses the FLB and
    /// publishes it in [`STATE`]; the next kernel gets its header's address.
    fn preserve() -> Result<u64> {
        if !crate::state::ready() {
            return Err(ENODEV);
        }
        let out = KBox::new(Outgoing::new()?, GFP_KERNEL)?;
        let phys = out.phys();
        // Lock order: LUO's outgoing FLB mutex (held) -> `STATE`.
        STATE.lock().outgoing = Some(out);
        Ok(phys)
    }

    /// Drops the outgoing table once no file uses the FLB any more.
    fn unpreserve(_data: u64) {
        // Withdraw it first, so no entry point can reach it once freed.
        let out = STATE.lock().outgoing.take();
        if let Some(mut out) = out {
            let left = out.table().map_or(0, |t| t.len());
            if left != 0 {
                pr_warn!("outgoing table still lists {left} devices at unpreserve\n");
            }
        }
    }

    /// Restores the previous kernel's table.
    ///
    /// Invalid data is logged and kept as [`Incoming::Refused`]: every
    /// lookup then answers "not preserved" (see the crate documentation for
    /// why this does not panic). Succeeding keeps LUO's reference counting
    /// intact, so the FLB still finishes cleanly with its files.
    fn retrieve(data: u64) -> Result<Option<KBox<Incoming>>> {
        let inc = Incoming::restore(data);
        if let Incoming::Refused(why) = &inc {
            pr_err!(
                "invalid handover data from the previous kernel ({why}): no device is treated as preserved\n"
            );
        }
        let boxed = if crate::glue::test_fail_retrieve() {
            Err(ENOMEM)
        } else {
            KBox::new(inc, GFP_KERNEL).map_err(|_| ENOMEM)
        };
        // On failure `inc` drops its folios, freeing them: LUO never retries
        // a failed retrieve, so the data could not be used later anyway. The
        // retrieve still succeeds, without an object: LUO would warn when
        // the last dependent file finishes after a failed one, and
        // `pci_liveupdate_init()` treats the missing object as refused data.
        match boxed {
            Ok(inc) => Ok(Some(inc)),
            Err(_) => {
                pr_err!(
                    "no memory for the incoming device table; no device is treated as preserved\n"
                );
                Ok(None)
            }
        }
    }
}

/// The outgoing table: a fixed header and a growable entry array, both in
/// memory preserved for the next kernel.
///
/// # Invariants
///
/// `hdr` holds an initialised [`PciLuSer`] whose `capacity` and `entries`
/// describe `array` (0 and 0 without one).
pub(crate) struct Outgoing {
    hdr: PreservedMem,
    array: Option<PreservedMem>,
}

/// The preserved memory as table entries (as many as fit).
fn entries_mut(mem: &mut PreservedMem) -> &mut [abi::PciDevSer] {
    let bytes = mem.as_bytes_mut();
    let n = bytes.len() / abi::DEV_SER_SIZE;
    match <[abi::PciDevSer]>::mut_from_prefix_with_elems(bytes, n) {
        Ok((entries, _)) => entries,
        // `PciDevSer` has alignment 1 and `n` entries fit: cannot fail.
        Err(_) => &mut [],
    }
}

impl Outgoing {
    /// A new, empty table.
    pub(crate) fn new() -> Result<Self> {
        let mut hdr = PreservedMem::alloc(abi::SER_SIZE)?;
        let (h, _) = PciLuSer::mut_from_prefix(hdr.as_bytes_mut()).map_err(|_| EINVAL)?;
        table::init_header(h);
        // INVARIANT: An empty header describes no array.
        Ok(Outgoing { hdr, array: None })
    }

    /// The handle stored in the FLB: the header's physical address.
    pub(crate) fn phys(&self) -> u64 {
        self.hdr.phys()
    }

    fn parts(&mut self) -> Option<(&mut PciLuSer, &mut [abi::PciDevSer])> {
        let (hdr, _) = PciLuSer::mut_from_prefix(self.hdr.as_bytes_mut()).ok()?;
        let entries = match &mut self.array {
            Some(a) => entries_mut(a),
            None => &mut [],
        };
        Some((hdr, entries))
    }

    /// A view of the table.
    ///
    /// Fails with `EIO` only if the header was overwritten behind the
    /// table's back (the test fault injection does that).
    pub(crate) fn table(&mut self) -> Result<Table<'_>> {
        let (hdr, entries) = self.parts().ok_or(EIO)?;
        Table::new(hdr, entries).ok_or(EIO)
    }

    /// Header and whole array, for fault injection.
    #[cfg(CONFIG_PCI_LIVEUPDATE_TEST)]
    pub(crate) fn raw_mut(&mut self) -> Result<(&mut PciLuSer, &mut [abi::PciDevSer])> {
        self.parts().ok_or(EIO)
    }

    /// Runs the next kernel's validation on a copy of the header: `validate`
    /// rewrites the header it checks.
    #[cfg(CONFIG_PCI_LIVEUPDATE_KUNIT_TEST)]
    pub(crate) fn validate(&mut self) -> Result<usize, table::Invalid> {
        let (hdr, _) = PciLuSer::ref_from_prefix(self.hdr.as_bytes_mut())
            .map_err(|_| table::Invalid::ShortHeader(0))?;
        let mut hdr = *hdr;
        let array = match &mut self.array {
            Some(a) => a.as_bytes_mut(),
            None => &mut [],
        };
        validate_copy(&mut hdr, array).map(|e| e.len())
    }

    /// Grows the array to hold at least `need` entries, at least doubling
    /// it. On failure the table is unchanged.
    pub(crate) fn grow(&mut self, need: usize) -> Result {
        #[cfg(CONFIG_PCI_LIVEUPDATE_TEST)]
        if FAIL_NEXT_GROW.xchg(false, kernel::sync::atomic::Relaxed) {
            return Err(ENOMEM);
        }
        let want = need.max(self.table()?.capacity().saturating_mul(2));
        let bytes = want.checked_mul(abi::DEV_SER_SIZE).ok_or(E2BIG)?;
        let mut new = PreservedMem::alloc(bytes)?;
        let phys = new.phys();
        self.table()?
            .move_to(entries_mut(&mut new), phys)
            .ok_or(E2BIG)?;
        // INVARIANT: The header now describes `new`. The old array, if any,
        // is unpreserved and freed only after the header stopped naming it.
        self.array = Some(new);
        Ok(())
    }
}

/// [`table::validate`] into a new allocation of this kernel's entries.
fn validate_copy(hdr: &mut PciLuSer, array: &[u8]) -> Result<KVec<abi::PciDevSer>, table::Invalid> {
    let count = table::validate_header(hdr)?.count;
    // Test kernels: read as a kernel without VF support would.
    if crate::glue::test_no_vfs() && hdr.incompat.get() & abi::INCOMPAT_VF != 0 {
        return Err(table::Invalid::Incompat(abi::INCOMPAT_VF));
    }
    // Bounded by what the array can hold: a larger count is refused by
    // `validate` before it needs the room.
    let room = count.min(array.len() / abi::DEV_SER_MIN_SIZE);
    let mut entries = KVec::new();
    entries
        .resize(room, abi::PciDevSer::default(), GFP_KERNEL)
        .map_err(|_| table::Invalid::NoRoom(count))?;
    table::validate(hdr, array, &mut entries)?;
    Ok(entries)
}

/// The incoming table: the previous kernel's header and entries, restored,
/// validated and copied into this kernel's memory, or the reason they were
/// refused.
///
/// # Invariants
///
/// In `Valid`, `hdr` and `entries` came out of [`table::validate`] and since
/// then have only been changed through [`Table`].
pub(crate) enum Incoming {
    /// Usable handover data.
    Valid {
        /// The header, rewritten to describe `entries`.
        hdr: PciLuSer,
        /// The entries, at this kernel's size.
        entries: KVec<abi::PciDevSer>,
    },
    /// Refused handover data: no device is treated as preserved.
    Refused(table::Invalid),
}

impl Incoming {
    /// Restores and validates the table whose header is at `phys`.
    ///
    /// The array is restored only once the header, checksum included, is
    /// valid, so a damaged address never makes this kernel take over memory
    /// it does not own. Both folios are freed on return: the entries are
    /// copied, so that entries of any size, older or newer, become this
    /// kernel's.
    fn restore(phys: u64) -> Self {
        match Self::try_restore(phys) {
            // INVARIANT: `try_restore` returns what `validate` produced.
            Ok((hdr, entries)) => Incoming::Valid { hdr, entries },
            Err(why) => Incoming::Refused(why),
        }
    }

    fn try_restore(phys: u64) -> Result<(PciLuSer, KVec<abi::PciDevSer>), table::Invalid> {
        // SAFETY: `phys` is the handle LUO kept for this FLB: the previous
        // kernel's `Outgoing::phys()`.
        let hdr = unsafe { RestoredFolio::restore(phys) }.ok_or(table::Invalid::ShortHeader(0))?;
        let len = hdr.as_bytes().len();
        let (h, _) = PciLuSer::read_from_prefix(hdr.as_bytes())
            .map_err(|_| table::Invalid::ShortHeader(len))?;
        let mut h = h;
        let shape = table::validate_header(&h)?;
        let array = if shape.capacity == 0 {
            None
        } else {
            // SAFETY: The header, checksum included, is valid, so `entries`
            // is the array address the previous kernel wrote into it.
            let array = unsafe { RestoredFolio::restore(h.entries.get()) };
            Some(array.ok_or(table::Invalid::ArrayAddress)?)
        };
        let entries = validate_copy(&mut h, array.as_ref().map_or(&[], |a| a.as_bytes()))?;
        Ok((h, entries))
    }

    /// A view of the table; `EINVAL` if the data was refused.
    pub(crate) fn table(&mut self) -> Result<Table<'_>> {
        let Incoming::Valid { hdr, entries } = self else {
            return Err(EINVAL);
        };
        Table::new(hdr, entries).ok_or(EIO)
    }
}
