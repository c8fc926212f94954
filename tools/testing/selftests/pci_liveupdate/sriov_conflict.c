// SPDX-License-Identifier: GPL-2.0
/*
 * sriov_keep's preservation, with 4 KiB of memory space inside the PF's
 * VF BAR taken before the next kernel's enumeration (test boot parameter
 * pci_liveupdate_test.conflict): the path's windows and the VF BAR cannot
 * be claimed where they were. The PF must be abandoned and its kept VFs
 * disabled before the VF BAR is assigned anew, without a warning.
 */
#define SRIOV_CONFLICT
#include "sriov_keep.c"
