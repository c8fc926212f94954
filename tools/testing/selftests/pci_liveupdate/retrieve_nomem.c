// SPDX-License-Identifier: GPL-2.0
/*
 * The next kernel cannot allocate what retrieving the PCI handover data
 * needs (boot parameter pci_liveupdate_test.fail_retrieve=1). It must treat the data
 * as refused (nothing incoming, logged) and later finish the session whose
 * files depend on the PCI FLB without a kernel warning from LUO.
 */
#include <errno.h>
#include <unistd.h>

#include "pci_lu.h"

static int stage1(struct pci_lu_ctx *ctx)
{
	int s = luo_create_session(ctx, "devices");

	if (!CHECK(ctx, s >= 0, "create session"))
		return 1;
	CHECK(ctx, pci_lu_preserve(s, EDU_SW, 1) == 0, "preserve %s", EDU_SW);
	CHECK(ctx, pci_lu_preserve(s, EDU_RP, 2) == 0, "preserve %s", EDU_RP);
	CHECK(ctx, pci_lu_stage2_cmdline("pci_liveupdate_test.fail_retrieve=1") == 0,
	      "next kernel fails the retrieve allocation");
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	int s;

	CHECK(ctx, pci_lu_dmesg_has("no memory for the incoming device table"),
	      "kernel logged the failed retrieve");
	CHECK(ctx, pci_lu_incoming_count() == 0, "no device is incoming");
	pci_lu_check_firmware_buses(ctx, "with the handover data unreadable");
	s = luo_retrieve_session(ctx, "devices");
	if (!CHECK(ctx, s >= 0, "retrieve session"))
		return 1;
	CHECK(ctx, luo_retrieve_fd(s, 1) >= 0 && luo_retrieve_fd(s, 2) >= 0, "retrieve both files");
	CHECK(ctx, luo_finish_session(s) == 0, "finish session");
	CHECK(ctx, !pci_lu_dmesg_has("WARNING:"), "no kernel warning");
	return 0;
}

PCI_LU_TEST(stage1, stage2)
