// SPDX-License-Identifier: GPL-2.0
/*
 * sriov_keep's preservation read by a kernel without VF support
 * (pci_liveupdate_test.no_vfs=1: PCI_LU_INCOMPAT_VF unknown). It must
 * refuse the whole table, naming the feature, and come up as any boot
 * does: nothing incoming, Bus Master cleared on the PF, SR-IOV set up anew
 * (VF Enable cleared, no VFs), the PF free for its own driver.
 */
#define SRIOV_NO_SUPPORT
#include "sriov_keep.c"
