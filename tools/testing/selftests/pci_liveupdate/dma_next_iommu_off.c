// SPDX-License-Identifier: GPL-2.0
/*
 * The next kernel boots with intel_iommu=off: its VT-d driver would switch
 * translation off, so the handed-over VT-d state cannot keep a preserved
 * device's DMA translated. The record is refused before PCI enumeration,
 * which stops the device (reason logged) before translation goes off; the
 * device is still incoming, the rest of its preservation holds.
 */
#include "pci_lu.h"

#define REFUSED_MSG \
	"DMAR: Live Update: handover refused: VT-d is off on this kernel's command line"
#define STOPPED_MSG \
	"0000:04:00.0: cleared Bus Master left set by the previous kernel (no IOMMU handover keeps its DMA translated)"

static int stage1(struct pci_lu_ctx *ctx)
{
	int s = luo_create_session(ctx, "dma-next-iommu-off");

	if (!CHECK(ctx, s >= 0, "create a session (%d)", s))
		return 1;
	pci_lu_preserve_edu_mastering(ctx, s, 1);
	CHECK(ctx, pci_lu_stage2_cmdline("intel_iommu=off") == 0, "stage 2 boots with intel_iommu=off");
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	int s;

	CHECK(ctx, pci_lu_dmesg_has(REFUSED_MSG),
	      "the VT-d record is refused, reason logged");
	CHECK(ctx, pci_lu_dmesg_has(STOPPED_MSG) &&
	      pci_lu_status_field(EDU_SW, "bm_at_enum") == 1 && pci_lu_bus_master(EDU_SW) == 0,
	      "%s arrived mastering and was stopped at enumeration, reason logged", EDU_SW);
	CHECK(ctx, pci_lu_incoming(EDU_SW) == 1, "%s is still incoming", EDU_SW);
	s = luo_retrieve_session(ctx, "dma-next-iommu-off");
	CHECK(ctx, s >= 0 && luo_retrieve_fd(s, 1) >= 0 && luo_finish_session(s) == 0,
	      "the session is retrieved and finishes");
	return 0;
}

PCI_LU_TEST(stage1, stage2)
