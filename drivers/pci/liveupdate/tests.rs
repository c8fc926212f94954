// SPDX-License-Identifier: GPL-2.0

//! KUnit tests of the device table on real KHO allocations, and the
//! in-kernel benchmark (it prints numbers and asserts only results).

use kernel::prelude::*;

#[kunit_tests(pci_liveupdate)]
mod suite {
    use crate::{
        abi,
        flb::Outgoing,
        table::{
            self,
            DevInfo,
            Error as TableError,
            Node, //
        },
    };
    use kernel::{
        prelude::*,
        time::{
            Instant,
            Monotonic, //
        },
    };

    /// A synthetic hierarchy: root port `r` (00:r+1.0) has secondary bus
    /// r+1, which holds up to 256 endpoint functions.
    #[derive(Clone, Copy)]
    enum Fake {
        RootPort(u8),
        Endpoint(u16),
    }

    impl Node for Fake {
        fn info(&self) -> DevInfo {
            match *self {
                Fake::RootPort(r) => DevInfo {
                    segment: 0,
                    bdf: u16::from(r + 1) << 3,
                    vendor: 0x1b36,
                    device: 0x000c,
                    class: 0x060400,
                    bridge: Some((r + 1, r + 1)),
                    upstream: None,
                    virtfn: false,
                    probe: Default::default(),
                },
                Fake::Endpoint(k) => {
                    let r = (k / 256) as u8;
                    DevInfo {
                        segment: 0,
                        bdf: (u16::from(r + 1) << 8) | (k % 256),
                        vendor: 0x1234,
                        device: 0x11e8,
                        class: 0x00ff00,
                        bridge: None,
                        upstream: Some(u16::from(r + 1) << 3),
                        virtfn: false,
                        probe: Default::default(),
                    }
                }
            }
        }

        fn parent(&self) -> Option<Self> {
            match *self {
                Fake::RootPort(_) => None,
                Fake::Endpoint(k) => Some(Fake::RootPort((k / 256) as u8)),
            }
        }
    }

    fn preserve(out: &mut Outgoing, n: &Fake) -> Result {
        loop {
            match out.table()?.preserve(n, &table::NO_DRIVER) {
                Err(TableError::NoSpace(need)) => out.grow(need)?,
                Err(_) => return Err(EINVAL),
                Ok(()) => return Ok(()),
            }
        }
    }

    #[test]
    fn grows_in_kho_memory_and_validates() -> Result {
        let mut out = Outgoing::new()?;
        assert_eq!(out.validate(), Ok(0));
        for k in 0..600 {
            preserve(&mut out, &Fake::Endpoint(k))?;
        }
        // 600 endpoints below 3 root ports; the array doubled past 603.
        assert_eq!(out.validate(), Ok(603));
        assert!(out.table()?.capacity() >= 603);
        let rp = out.table()?.find(0, 1 << 3).map(|e| e.refcount.get());
        assert_eq!(rp, Some(256));
        assert_eq!(
            out.table()?.preserve(&Fake::Endpoint(5), &table::NO_DRIVER),
            Err(TableError::Busy)
        );
        for k in 0..600 {
            out.table()?
                .unpreserve(&Fake::Endpoint(k).info())
                .map_err(|_| EINVAL)?;
        }
        assert!(out.table()?.is_empty());
        assert_eq!(out.validate(), Ok(0));
        Ok(())
    }

    /// The kernel library's CRC32C (which uses CPU instructions, and a
    /// folding path for long buffers) is the checksum the table format
    /// defines: the check value, and a bitwise CRC over every length up to
    /// 1 KiB at every alignment of 8.
    #[test]
    fn crc32c_is_the_format_checksum() -> Result {
        assert_eq!(table::crc32c(b"123456789"), 0xe306_9283);
        let mut data = KVec::new();
        for i in 0..1032u32 {
            // CAST: Any byte pattern will do.
            data.push((i.wrapping_mul(37) + 11) as u8, GFP_KERNEL)?;
        }
        for start in 0..8 {
            for len in (0..=1024).step_by(7) {
                let bytes = &data[start..start + len];
                let mut c = !0u32;
                for &b in bytes {
                    c ^= u32::from(b);
                    for _ in 0..8 {
                        c = (c >> 1) ^ (0x82f6_3b78 & (c & 1).wrapping_neg());
                    }
                }
                assert_eq!(table::crc32c(bytes), !c);
            }
        }
        Ok(())
    }

    #[test]
    fn unpreserve_of_unknown_device_changes_nothing() -> Result {
        let mut out = Outgoing::new()?;
        preserve(&mut out, &Fake::Endpoint(1))?;
        assert_eq!(
            out.table()?.unpreserve(&Fake::Endpoint(2).info()),
            Err(TableError::NotPreserved)
        );
        assert_eq!(
            out.table()?.unpreserve(&Fake::RootPort(0).info()),
            Err(TableError::NotPreserved)
        );
        assert_eq!(out.validate(), Ok(2));
        Ok(())
    }

    #[cfg(CONFIG_PCI_LIVEUPDATE_TEST)]
    #[test]
    fn allocation_failure_preserves_nothing() -> Result {
        use kernel::sync::atomic::Relaxed;
        let mut out = Outgoing::new()?;
        crate::flb::FAIL_NEXT_GROW.store(true, Relaxed);
        assert_eq!(preserve(&mut out, &Fake::Endpoint(0)), Err(ENOMEM));
        assert!(out.table()?.is_empty());
        assert_eq!(out.validate(), Ok(0));
        preserve(&mut out, &Fake::Endpoint(0))?;
        assert_eq!(out.validate(), Ok(2));
        Ok(())
    }

    /// Prints preserve and lookup cost at 16, 256 and 4096 devices.
    #[test]
    fn bench() -> Result {
        for n in [16u16, 256, 4096] {
            let mut out = Outgoing::new()?;
            let start = Instant::<Monotonic>::now();
            for k in 0..n {
                preserve(&mut out, &Fake::Endpoint(k))?;
            }
            let preserve_ns = start.elapsed().as_nanos();
            let t = out.table()?;
            let start = Instant::<Monotonic>::now();
            let mut found = 0u32;
            for k in 0..n {
                let i = Fake::Endpoint(k).info();
                found += u32::from(t.find(i.segment, i.bdf).is_some());
            }
            let lookup_ns = start.elapsed().as_nanos();
            assert_eq!(found, u32::from(n));
            // What is really allocated: whole pages for header and array.
            let bytes = kernel::kho::PreservedMem::alloc_size(abi::SER_SIZE)
                + kernel::kho::PreservedMem::alloc_size(t.capacity() * abi::DEV_SER_SIZE);
            pr_info!(
                "bench kernel n={n} preserve_ns_per_dev={} lookup_ns={} bytes_per_dev={}\n",
                preserve_ns / i64::from(n),
                lookup_ns / i64::from(n),
                bytes / usize::from(n)
            );
        }
        Ok(())
    }
}
