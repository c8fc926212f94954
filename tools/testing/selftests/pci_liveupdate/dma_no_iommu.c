// SPDX-License-Identifier: GPL-2.0
/*
 * Without an IOMMU that hands translation over (here: the first kernel
 * boots with intel_iommu=off), a preserved device must not keep Bus Master
 * through the kexec: nothing would keep its DMA out of the next kernel's
 * memory. The old kernel stops it (and the bridges above it) as a stock
 * kexec does; the rest of the preservation still holds.
 *
 * Stage 1 preserves edu 04:00.0 mastering, with Bus Master on its bridges.
 * Stage 2: edu is incoming, every bus number is the firmware's, and edu and
 * its bridges arrived with Bus Master off, so this kernel had nothing to
 * clear.
 */
#include <unistd.h>

#include "pci_lu.h"

static int stage1(struct pci_lu_ctx *ctx)
{
	int s;

	CHECK(ctx, pci_lu_cmdline_has("intel_iommu=off") &&
	      access("/sys/class/iommu/dmar0", F_OK) != 0,
	      "the first kernel runs without VT-d translation (intel_iommu=off)");
	s = luo_create_session(ctx, "dma-no-iommu");
	if (!CHECK(ctx, s >= 0, "create a session (%d)", s))
		return 1;
	pci_lu_preserve_edu_mastering(ctx, s, 1);
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	int s;

	pci_lu_check_firmware_buses(ctx, "after kexec");
	CHECK(ctx, pci_lu_incoming(EDU_SW) == 1, "%s is incoming: the rest of its preservation holds",
	      EDU_SW);
	pci_lu_check_edu_stopped_by_kexec(ctx);
	CHECK(ctx, !pci_lu_dmesg_has("0000:04:00.0: cleared Bus Master"),
	      "nothing left for this kernel to clear on %s", EDU_SW);
	s = luo_retrieve_session(ctx, "dma-no-iommu");
	CHECK(ctx, s >= 0 && luo_retrieve_fd(s, 1) >= 0 && luo_finish_session(s) == 0,
	      "the session is retrieved and finishes");
	return 0;
}

PCI_LU_TEST(stage1, stage2)
