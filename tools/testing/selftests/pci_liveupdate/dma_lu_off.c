// SPDX-License-Identifier: GPL-2.0
/*
 * The next kernel boots with liveupdate=off: nothing takes the preserved
 * device over, so it must not stay mastering. The old kernel could not
 * know and kept Bus Master (its IOMMU handed over); the next kernel, booted
 * by a KHO kexec, stops every device that arrives mastering with no
 * handover accounting for it, before any driver binds, and logs why. Its
 * IOMMU still takes the handed-over VT-d state: translation stays on.
 *
 * Stage 1 preserves edu 04:00.0 mastering (bridges too) and asks for
 * liveupdate=off in stage 2, which runs without LUO.
 */
#include "pci_lu.h"

static int stage1(struct pci_lu_ctx *ctx)
{
	int s = luo_create_session(ctx, "dma-lu-off");

	if (!CHECK(ctx, s >= 0, "create a session (%d)", s))
		return 1;
	pci_lu_preserve_edu_mastering(ctx, s, 1);
	CHECK(ctx, pci_lu_stage2_cmdline("liveupdate=off") == 0, "stage 2 boots with liveupdate=off");
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	char line[160];

	CHECK(ctx, ctx->luo_fd < 0 && pci_lu_cmdline_has("liveupdate=off"),
	      "this kernel runs without LUO");
	for (int i = 0; i < EDU_SW_PATH_LEN; i++) {
		snprintf(line, sizeof(line),
			 "%s: cleared Bus Master left set by the previous kernel (no Live Update handover accounts for it)",
			 pci_lu_edu_sw_path[i]);
		CHECK(ctx, pci_lu_dmesg_has(line),
		      "%s arrived mastering and was stopped at enumeration, reason logged",
		      pci_lu_edu_sw_path[i]);
	}
	/* The bridges' port driver sets Bus Master again, as it always does. */
	CHECK(ctx, pci_lu_bus_master(EDU_SW) == 0, "%s, without a driver, stays stopped", EDU_SW);
	CHECK(ctx, pci_lu_dmesg_has("translation kept on from the previous kernel"),
	      "VT-d took the handed-over state without turning translation off");
	CHECK(ctx, !pci_lu_dmesg_has("not in kdump mode"), "VT-d never turned translation off");
	return 0;
}

PCI_LU_TEST(stage1, stage2)
