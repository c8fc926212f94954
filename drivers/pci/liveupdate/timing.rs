// SPDX-License-Identifier: GPL-2.0

//! Time spent in the PCI core hooks, for `make bench`.
//!
//! Only test kernels (`CONFIG_PCI_LIVEUPDATE_TEST`) count; elsewhere
//! [`Account::start`] returns a guard that does nothing.

/// Hooks run while the PCI core enumerates and binds devices.
pub(crate) static ENUMERATION: Account = Account::new();
/// Hooks run from `pci_device_shutdown()` at reboot.
pub(crate) static SHUTDOWN: Account = Account::new();

#[cfg(CONFIG_PCI_LIVEUPDATE_TEST)]
mod imp {
    use crate::glue::test_clock;
    use kernel::sync::atomic::{
        Atomic,
        Relaxed, //
    };

    /// Calls, total time and the window from the first call's start to
    /// the last call's end, in `local_clock()` nanoseconds.
    pub(crate) struct Account {
        calls: Atomic<i64>,
        ns: Atomic<i64>,
        first: Atomic<i64>,
        last: Atomic<i64>,
    }

    /// Adds the time until it is dropped to its account.
    pub(crate) struct Timed(&'static Account, i64);

    impl Account {
        pub(crate) const fn new() -> Self {
            Account {
                calls: Atomic::new(0),
                ns: Atomic::new(0),
                first: Atomic::new(0),
                last: Atomic::new(0),
            }
        }

        /// Starts timing one hook call.
        pub(crate) fn start(&'static self) -> Timed {
            Timed(self, test_clock())
        }

        /// `(calls, ns in hooks, ns from the first call to the last)`.
        pub(crate) fn read(&self) -> (i64, i64, i64) {
            let first = self.first.load(Relaxed);
            let last = self.last.load(Relaxed);
            (
                self.calls.load(Relaxed),
                self.ns.load(Relaxed),
                last.saturating_sub(first).max(0),
            )
        }
    }

    impl Drop for Timed {
        fn drop(&mut self) {
            let now = test_clock();
            let a = self.0;
            a.calls.add(1, Relaxed);
            // `local_clock()` may step back across CPUs: never count less than 0.
            a.ns.add(now.saturating_sub(self.1).max(0), Relaxed);
            // Only the first call sets it; losing the race means another did.
            let _ = a.first.cmpxchg(0, self.1, Relaxed);
            a.last.store(now, Relaxed);
        }
    }
}

#[cfg(not(CONFIG_PCI_LIVEUPDATE_TEST))]
mod imp {
    /// Counts nothing outside test kernels.
    pub(crate) struct Account;

    /// Measures nothing.
    pub(crate) struct Timed;

    impl Account {
        pub(crate) const fn new() -> Self {
            Account
        }

        pub(crate) fn start(&'static self) -> Timed {
            Timed
        }
    }
}

pub(crate) use imp::Account;
