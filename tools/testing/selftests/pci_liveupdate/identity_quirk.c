// SPDX-License-Identifier: GPL-2.0
/*
 * A quirk that rewrites IDs does not change what a device is. The next
 * kernel has an early fixup the first lacks (pci_liveupdate_test.quirk_class=1
 * rewrites the edu's class). The preserved edu 04:00.0 must still arrive
 * incoming and mastering: the handover records and compares the IDs the
 * hardware reports, not what fixups made of them.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "pci_lu.h"

static int stage1(struct pci_lu_ctx *ctx)
{
	int s = luo_create_session(ctx, "devices");

	if (!CHECK(ctx, s >= 0, "create session"))
		return 1;
	pci_lu_preserve_edu_mastering(ctx, s, 1);
	CHECK(ctx, pci_lu_stage2_cmdline("pci_liveupdate_test.quirk_class=1") == 0,
	      "next kernel rewrites the edu's class in an early fixup");
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	char class[16] = "";
	int s;

	CHECK(ctx, pci_lu_dmesg_has("0000:04:00.0: test quirk: class rewritten to 088000"),
	      "the quirk rewrote the class of %s", EDU_SW);
	CHECK(ctx,
	      pci_lu_read("/sys/bus/pci/devices/" EDU_SW "/class", class, sizeof(class)) == 0 &&
	      !strncmp(class, "0x088000", 8), "sysfs shows the rewritten class (%.8s)", class);
	CHECK(ctx, pci_lu_incoming(EDU_SW) == 1, "%s is still incoming", EDU_SW);
	CHECK(ctx, pci_lu_bus_master(EDU_SW) == 1, "%s still masters", EDU_SW);
	CHECK(ctx, !pci_lu_dmesg_has("but is now"), "no identity or place mismatch logged");
	s = luo_retrieve_session(ctx, "devices");
	CHECK(ctx, s >= 0 && luo_retrieve_fd(s, 1) >= 0 && luo_finish_session(s) == 0,
	      "session finishes");
	CHECK(ctx, pci_lu_dmesg_has("every incoming preserved device finished"), "table drained");
	return 0;
}

PCI_LU_TEST(stage1, stage2)
