// SPDX-License-Identifier: GPL-2.0

//! Log formatting: table errors and bus/device/function numbers.

use crate::table;

// The shared table code formats with `core::fmt`; log lines use the
// kernel's trait.
impl kernel::fmt::Display for table::Error {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
}

impl kernel::fmt::Display for table::Invalid {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
}

impl kernel::fmt::Display for table::SriovMisfit {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
}

/// A bus/device/function for log lines and debugfs; `None` is the root
/// bus.
pub(crate) struct Bdf(pub(crate) Option<u16>);

impl core::fmt::Display for Bdf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(b) => write!(f, "{:02x}:{:02x}.{}", b >> 8, (b >> 3) & 0x1f, b & 7),
            None => f.write_str("the root bus"),
        }
    }
}

impl kernel::fmt::Display for Bdf {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        core::fmt::Display::fmt(self, f)
    }
}
