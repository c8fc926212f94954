// SPDX-License-Identifier: GPL-2.0

//! Test-only debugfs files (`CONFIG_PCI_LIVEUPDATE_TEST`), in
//! `pci_liveupdate/`:
//!
//! - `outgoing`, `incoming`: the device tables, one line per entry.
//! - `status`: every PCI device with the component's view of it.
//! - `inject`: write a fault number ([`test_api::inject`]).
//! - `unpreserve`, `finish`, `freeze`: write a device address
//!   (`0000:01:00.0`) to call that entry point directly, outside any LUO
//!   session, to test how it handles misuse.
//! - `mismatch`, `misfit`, `vf_misfit`: write a device address to damage
//!   its outgoing entry ([`test_api::mismatch`] and the like).
//! - `fuzz`: write `SEED VARIANTS [RESEAL]` to run the validator on damaged
//!   copies of the incoming table ([`test_api::fuzz`]); read the outcome.
//! - `timing`: time spent in the PCI core hooks.
//! - `anchor`: where `pci_liveupdate_preserve()` is: fault injection's
//!   stack filter needs addresses, which KASLR moves. Exposing the layout
//!   is the point (root only, test kernels only).
//!
//! `test_handler.c` adds the files whose state is in C to the same
//! directory.

use crate::{
    c_api,
    dev::{
        DevRef,
        PciDev, //
    },
    fmt::Bdf,
    hooks,
    state::ready,
    table,
    test_api::{
        self,
        FuzzStats, //
    },
    timing, //
};
use core::str::FromStr;
use kernel::{
    debugfs::{
        Dir,
        File, //
    },
    fmt,
    new_mutex,
    pci,
    prelude::*,
    sync::Mutex,
    uaccess::UserSliceReader, //
};

/// A device address as `lspci -D` prints it: `segment:bus:device.function`,
/// in hex.
struct Address {
    domain: u32,
    bdf: u16,
}

impl FromStr for Address {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let hex = |x: &str| u32::from_str_radix(x, 16).map_err(|_| EINVAL);
        let (domain, rest) = s.split_once(':').ok_or(EINVAL)?;
        let (bus, rest) = rest.split_once(':').ok_or(EINVAL)?;
        let (slot, func) = rest.split_once('.').ok_or(EINVAL)?;
        let (bus, slot, func) = (hex(bus)?, hex(slot)?, hex(func)?);
        if bus > 0xff || slot > 0x1f || func > 7 {
            return Err(EINVAL);
        }
        Ok(Address {
            domain: hex(domain)?,
            // CAST: Checked above: 16 bits.
            bdf: (bus << 8 | slot << 3 | func) as u16,
        })
    }
}

/// Parses what the user wrote, at most 63 bytes of text.
fn parse<T: FromStr<Err = Error>>(r: &mut UserSliceReader) -> Result<T> {
    let mut buf = [0u8; 64];
    let n = r.len();
    if n >= buf.len() {
        return Err(EINVAL);
    }
    r.read_slice(&mut buf[..n])?;
    core::str::from_utf8(&buf[..n])
        .map_err(|_| EINVAL)?
        .trim()
        .parse()
}

/// Runs `op` on the device whose address the user wrote.
fn on_device(r: &mut UserSliceReader, op: fn(&PciDev) -> Result) -> Result {
    let a: Address = parse(r)?;
    let dev = DevRef::lookup(a.domain, a.bdf).ok_or(ENODEV)?;
    op(&dev)
}

/// Bytes as `%*phD` prints them: hex, joined by dashes.
struct Dashed<'a>(&'a [u8]);

impl core::fmt::Display for Dashed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// A driver name as `%.*s` prints it, `-` if none.
struct DriverName<'a>(&'a [u8]);

impl core::fmt::Display for DriverName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("-");
        }
        self.0
            .iter()
            .try_for_each(|&b| core::fmt::Write::write_char(f, char::from(b)))
    }
}

fn show_table(outgoing: bool, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let (entries, capacity) = match test_api::snapshot(outgoing) {
        Ok(s) => s,
        Err(e) => return writeln!(f, "error {}", e.to_errno()),
    };
    writeln!(f, "count {}", entries.len())?;
    if let Some(c) = capacity {
        writeln!(f, "capacity {c}")?;
    }
    for e in &entries {
        writeln!(
            f,
            "{:04x}:{} refcount={} vendor={:04x} device={:04x} class={:06x} \
             flags={:x} upstream={:04x} bus={:02x}-{:02x} probe={:02x} bars={} vfbars={} \
             vfbuses={} driver={}",
            e.segment.get(),
            Bdf(Some(e.bdf.get())),
            e.refcount.get(),
            e.vendor.get(),
            e.device.get(),
            e.class.get(),
            e.flags.get(),
            e.upstream.get(),
            e.secondary,
            e.subordinate,
            e.probe,
            Dashed(&e.bar_order),
            Dashed(&e.vf_bar_order),
            e.vf_buses,
            DriverName(table::driver_of(e)),
        )?;
    }
    Ok(())
}

fn show_outgoing(_: &(), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    show_table(true, f)
}

fn show_incoming(_: &(), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    show_table(false, f)
}

fn show_status(_: &(), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for dev in pci::Devices::new() {
        let (segment, vendor, device) =
            (dev.domain_nr(), dev.vendor_id().as_raw(), dev.device_id());
        let pdev = DevRef::from(dev);
        let s = test_api::status(&pdev);
        writeln!(
            f,
            "{:04x}:{} {:04x}:{:04x} incoming={} path={} outgoing={} \
             bm_at_enum={} pm_held={} acs_adopted={}",
            segment,
            Bdf(Some(pdev.bdf())),
            vendor,
            device,
            u8::from(s.incoming),
            u8::from(s.path),
            u8::from(s.outgoing),
            u8::from(s.bm_at_enum),
            u8::from(pdev.pm_held()),
            u8::from(s.acs_adopted),
        )?;
    }
    Ok(())
}

fn show_timing(_: &(), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    for (what, acct) in [
        ("enumeration", &timing::ENUMERATION),
        ("shutdown", &timing::SHUTDOWN),
    ] {
        let (calls, ns, window) = acct.read();
        writeln!(f, "{what} calls {calls} ns {ns} window_ns {window}")?;
    }
    Ok(())
}

fn show_anchor(_: &(), f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let preserve: unsafe extern "C" fn(_) -> _ = c_api::pci_liveupdate_preserve;
    // CAST: The function's address, for the tests to compare with System.map.
    writeln!(f, "pci_liveupdate_preserve {:x}", preserve as usize)
}

/// The last run of `fuzz`, `ENODATA` before the first.
type FuzzResult = Mutex<Result<FuzzStats>>;

/// `SEED VARIANTS [RESEAL]`, as `fuzz` takes it.
struct FuzzCmd {
    seed: u64,
    variants: u32,
    reseal: bool,
}

impl FromStr for FuzzCmd {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let mut words = s.split_ascii_whitespace();
        let mut next = || words.next().ok_or(EINVAL);
        let seed = next()?.parse().map_err(|_| EINVAL)?;
        let variants = next()?.parse().map_err(|_| EINVAL)?;
        let reseal = match words.next() {
            None | Some("0") => false,
            Some("1") => true,
            Some(_) => return Err(EINVAL),
        };
        if variants > 1_000_000 {
            return Err(EINVAL);
        }
        Ok(FuzzCmd {
            seed,
            variants,
            reseal,
        })
    }
}

fn run_fuzz(last: &FuzzResult, r: &mut UserSliceReader) -> Result {
    let c: FuzzCmd = parse(r)?;
    let mut last = last.lock();
    *last = test_api::fuzz(c.seed, c.variants, c.reseal);
    last.as_ref().map(|_| ()).map_err(|e| *e)
}

fn show_fuzz(last: &FuzzResult, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match *last.lock() {
        Ok([tried, refused, same, changed, undrained]) => writeln!(
            f,
            "tried {tried} refused {refused} valid_same {same} valid_changed {changed} \
             undrained {undrained}"
        ),
        Err(e) => writeln!(f, "error {}", e.to_errno()),
    }
}

/// A number the user wrote, as `inject` takes it.
struct Fault(u32);

impl FromStr for Fault {
    type Err = Error;

    /// Decimal, or hex with `0x`, as the C attribute file took it.
    fn from_str(s: &str) -> Result<Self> {
        match s.strip_prefix("0x") {
            Some(hex) => u32::from_str_radix(hex, 16),
            None => s.parse(),
        }
        .map(Fault)
        .map_err(|_| EINVAL)
    }
}

fn write_inject(_: &(), r: &mut UserSliceReader) -> Result {
    let Fault(n) = parse(r)?;
    test_api::inject(n)
}

/// The files, which live as long as the kernel.
#[pin_data]
struct Files {
    #[pin]
    outgoing: File<()>,
    #[pin]
    incoming: File<()>,
    #[pin]
    status: File<()>,
    #[pin]
    inject: File<()>,
    #[pin]
    unpreserve: File<()>,
    #[pin]
    finish: File<()>,
    #[pin]
    freeze: File<()>,
    #[pin]
    mismatch: File<()>,
    #[pin]
    misfit: File<()>,
    #[pin]
    vf_misfit: File<()>,
    #[pin]
    fuzz: File<FuzzResult>,
    #[pin]
    timing: File<()>,
    #[pin]
    anchor: File<()>,
}

/// A write-only file that runs `op` on the device written to it.
macro_rules! device_file {
    ($dir:expr, $name:expr, $op:expr) => {
        $dir.write_callback_file($name, (), &|_: &(), r: &mut UserSliceReader| {
            on_device(r, $op)
        })
    };
}

/// Creates `pci_liveupdate/` and the files above; test_handler.c adds its
/// own afterwards.
#[export]
pub extern "C" fn pci_liveupdate_test_debugfs() {
    let dir = Dir::new(c"pci_liveupdate");
    let files = try_pin_init!(Files {
        outgoing <- dir.read_callback_file(c"outgoing", (), &show_outgoing),
        incoming <- dir.read_callback_file(c"incoming", (), &show_incoming),
        status <- dir.read_callback_file(c"status", (), &show_status),
        inject <- dir.write_callback_file(c"inject", (), &write_inject),
        // As the C entry points, these report errors in the log only.
        unpreserve <- device_file!(dir, c"unpreserve", |p| {
            if ready() {
                let _ = c_api::unpreserve(p);
            }
            Ok(())
        }),
        finish <- device_file!(dir, c"finish", |p| {
            if ready() {
                let _ = c_api::end_incoming(p, false);
            }
            Ok(())
        }),
        freeze <- device_file!(dir, c"freeze", |_| {
            if ready() {
                hooks::freeze();
            }
            Ok(())
        }),
        mismatch <- device_file!(dir, c"mismatch", test_api::mismatch),
        misfit <- device_file!(dir, c"misfit", test_api::misfit),
        vf_misfit <- device_file!(dir, c"vf_misfit", test_api::vf_misfit),
        fuzz <- dir.read_write_callback_file(
            c"fuzz",
            new_mutex!(Err(ENODATA)),
            &show_fuzz,
            &run_fuzz,
        ),
        timing <- dir.read_callback_file(c"timing", (), &show_timing),
        anchor <- dir.read_callback_file(c"anchor", (), &show_anchor),
    });
    match KBox::pin_init(files, GFP_KERNEL) {
        // Test kernels never remove them.
        Ok(files) => core::mem::forget(files),
        Err(e) => pr_err!("test: cannot create the debugfs files: {e:?}\n"),
    }
}
