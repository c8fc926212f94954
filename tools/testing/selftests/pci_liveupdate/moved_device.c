// SPDX-License-Identifier: GPL-2.0
/*
 * The same kind of device at the same address, elsewhere in the hierarchy,
 * is not the preserved one. Stage 1 preserves the edu 04:00.0 (below the
 * switch port 03:00.0), then reprograms bus numbers: the switch gives up
 * bus 04 and the root port 00:04.0 takes it, so the next kernel, keeping
 * bus numbers, finds the other edu at 04:00.0 below 00:04.0. That edu must
 * not be treated as preserved (no binding rule, Bus Master cleared, the
 * carried IOMMU translation for that requester ID ended), with the moved
 * upstream bridge logged.
 */
#include <errno.h>
#include <unistd.h>

#include "pci_lu.h"

#define MOVED_MSG \
	"0000:04:00.0: was preserved below 03:00.0 with buses 00-00 but is now below 00:04.0 with buses 00-00; not treated as preserved"

/* Sets the secondary and subordinate bus of @bdf, keeping its primary. */
static int set_buses(const char *bdf, int sec, int sub)
{
	int lo = pci_lu_config_word(bdf, 0x18), hi = pci_lu_config_word(bdf, 0x1a);

	if (lo < 0 || hi < 0)
		return -EIO;
	return pci_lu_config_write_word(bdf, 0x18, (lo & 0xff) | sec << 8) ?:
	       pci_lu_config_write_word(bdf, 0x1a, (hi & 0xff00) | sub);
}

static int stage1(struct pci_lu_ctx *ctx)
{
	int s = luo_create_session(ctx, "devices");

	if (!CHECK(ctx, s >= 0, "create session"))
		return 1;
	pci_lu_preserve_edu_mastering(ctx, s, 1);
	/* Switch first (still reachable), then free bus 04 for 00:04.0. */
	CHECK(ctx, set_buses(SWITCH_DN1, 0x0b, 0x0b) == 0 &&
	      set_buses(SWITCH_UP, 0x03, 0x03) == 0 &&
	      set_buses(ROOT_PORT2, 0x02, 0x03) == 0 &&
	      set_buses(ROOT_PORT4, 0x04, 0x04) == 0,
	      "bus 04 moved from %s to %s", SWITCH_DN1, ROOT_PORT4);
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	int s;

	CHECK(ctx, pci_lu_bus_triple(ROOT_PORT4) == 0x040400, "%s has bus 04", ROOT_PORT4);
	CHECK(ctx, pci_lu_config_word(EDU_SW, 0) == 0x1234, "an edu answers at %s", EDU_SW);
	CHECK(ctx, pci_lu_dmesg_has(MOVED_MSG),
	      "kernel logged that %s moved", EDU_SW);
	CHECK(ctx, pci_lu_incoming(EDU_SW) == 0, "the edu at %s is not incoming", EDU_SW);
	CHECK(ctx, pci_lu_bus_master(EDU_SW) == 0, "its Bus Master is cleared");
	CHECK(ctx, pci_lu_dmesg_has("0000:04:00.0: Live Update: carried IOMMU translation dropped"),
	      "the IOMMU translation carried for requester 04:00.0 ended");
	CHECK(ctx, pci_lu_incoming_count() == 0, "nothing is incoming");
	CHECK(ctx, pci_lu_dmesg_has("every incoming preserved device finished"), "table drained");
	s = luo_retrieve_session(ctx, "devices");
	CHECK(ctx, s >= 0 && luo_finish_session(s) == 0, "session finishes");
	return 0;
}

PCI_LU_TEST(stage1, stage2)
