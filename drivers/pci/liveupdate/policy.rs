// SPDX-License-Identifier: GPL-2.0

//! Policy: what may be preserved.

use crate::{
    dev::PciDev,
    state::State, //
};
use kernel::prelude::*;

/// Whether `pdev` or a bridge above it needs a device-specific ACS quirk,
/// which the next kernel could not adopt; warns naming that device.
pub(crate) fn refuse_acs_quirk(state: &mut State, pdev: &PciDev) -> bool {
    #[cfg(CONFIG_PCI_LIVEUPDATE_TEST)]
    if core::mem::take(&mut state.force_acs_quirk) {
        dev_warn!(
            pdev.as_dev(),
            "cannot preserve: needs a device-specific ACS quirk (test)\n"
        );
        return true;
    }
    let _ = state;
    let mut cur = Some(*pdev);
    while let Some(d) = cur {
        if d.needs_acs_quirk() {
            dev_warn!(
                d.as_dev(),
                "cannot preserve {}: needs a device-specific ACS quirk\n",
                pdev.as_dev().name()
            );
            return true;
        }
        cur = d.upstream();
    }
    false
}
