// SPDX-License-Identifier: GPL-2.0
/*
 * A preserved device that does not appear in the next kernel cannot pin
 * the handover. Stage 1 preserves the edus 04:00.0 and 07:00.0, then
 * moves the secondary bus of the switch port above 04:00.0 out of the
 * switch's range, so the next kernel, which keeps bus numbers, cannot find
 * that edu. After the initial enumeration its preservation is dropped with
 * a warning, and finishing 07:00.0 drains the table.
 */
#include <errno.h>
#include <unistd.h>

#include "pci_lu.h"

#define DROPPED_MSG \
	"0000:04:00.0 was preserved by the previous kernel but not found at enumeration; its preservation is dropped"

static int stage1(struct pci_lu_ctx *ctx)
{
	int s = luo_create_session(ctx, "devices");
	int sub = pci_lu_config_word(SWITCH_DN1, 0x1a);

	if (!CHECK(ctx, s >= 0, "create session"))
		return 1;
	CHECK(ctx, pci_lu_preserve(s, EDU_SW, 1) == 0, "preserve %s", EDU_SW);
	CHECK(ctx, pci_lu_preserve(s, EDU_RP, 2) == 0, "preserve %s", EDU_RP);
	/* Secondary and subordinate 0x30: beyond what the switch forwards. */
	CHECK(ctx, sub >= 0 && pci_lu_config_write_word(SWITCH_DN1, 0x18, 0x3003) == 0 &&
	      pci_lu_config_write_word(SWITCH_DN1, 0x1a, (sub & 0xff00) | 0x30) == 0,
	      "bus 04 of %s moved to 30", SWITCH_DN1);
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	char buf[8];
	int s;

	CHECK(ctx, pci_lu_read("/sys/bus/pci/devices/" EDU_SW "/vendor", buf, sizeof(buf)) < 0,
	      "%s was not found", EDU_SW);
	CHECK(ctx, pci_lu_dmesg_has(DROPPED_MSG),
	      "kernel dropped the preservation of the absent %s", EDU_SW);
	CHECK(ctx, pci_lu_incoming(EDU_RP) == 1, "%s is incoming", EDU_RP);
	CHECK(ctx, pci_lu_incoming_count() == 1, "only %s is incoming", EDU_RP);
	s = luo_retrieve_session(ctx, "devices");
	if (!CHECK(ctx, s >= 0, "retrieve session"))
		return 1;
	CHECK(ctx, luo_retrieve_fd(s, 1) == -ENODEV, "the file of absent %s cannot be retrieved",
	      EDU_SW);
	CHECK(ctx, luo_retrieve_fd(s, 2) >= 0, "retrieve the file of %s", EDU_RP);
	CHECK(ctx, luo_finish_session(s) == 0, "finish session");
	CHECK(ctx, pci_lu_dmesg_has("every incoming preserved device finished"),
	      "finishing %s drained the table", EDU_RP);
	return 0;
}

PCI_LU_TEST(stage1, stage2)
