// SPDX-License-Identifier: GPL-2.0
/*
 * A device whose address holds another identity after the kexec is not
 * treated as preserved: the first kernel records a wrong device ID for the
 * edu behind the switch (test-only control). The second kernel must log
 * both identities, not treat it as incoming, keep the other device
 * incoming, and still free the table when the session finishes, although
 * the mismatched device never finishes. It masters before the kexec, and
 * since its record matches nothing there either, the kexec stops it.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "pci_lu.h"

#define MISMATCH_MSG \
	"0000:04:00.0: was preserved as 1234:1117 class 00ff00 but is now 1234:11e8 class 00ff00; not treated as preserved"

static int stage1(struct pci_lu_ctx *ctx)
{
	int s = luo_create_session(ctx, "devices");

	if (!CHECK(ctx, s >= 0, "create session"))
		return 1;
	CHECK(ctx, pci_lu_preserve(s, EDU_SW, 1) == 0, "preserve %s", EDU_SW);
	CHECK(ctx, pci_lu_preserve(s, EDU_RP, 2) == 0, "preserve %s", EDU_RP);
	CHECK(ctx, pci_lu_write(PCI_LU_DEBUGFS "/mismatch", EDU_SW) == 0,
	      "record another identity for %s", EDU_SW);
	/* Else "arrives stopped" in the second kernel would prove nothing. */
	CHECK(ctx, pci_lu_set_bus_master(EDU_SW) == 0, "set Bus Master on %s", EDU_SW);
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	int s;

	CHECK(ctx, pci_lu_dmesg_has(MISMATCH_MSG),
	      "kernel logged both identities of %s", EDU_SW);
	CHECK(ctx, pci_lu_incoming(EDU_SW) == 0, "%s is not incoming", EDU_SW);
	/* The first kernel's own record did not match it either. */
	CHECK(ctx, pci_lu_status_field(EDU_SW, "bm_at_enum") == 0 &&
	      pci_lu_bus_master(EDU_SW) == 0,
	      "%s was stopped at the kexec and is still stopped", EDU_SW);
	CHECK(ctx, pci_lu_incoming(EDU_RP) == 1, "%s is incoming", EDU_RP);
	CHECK(ctx, pci_lu_status_field(SWITCH_DN1, "path") == 0,
	      "%s released with the mismatched device", SWITCH_DN1);
	s = luo_retrieve_session(ctx, "devices");
	CHECK(ctx, s >= 0 && luo_retrieve_fd(s, 1) >= 0 && luo_retrieve_fd(s, 2) >= 0,
	      "retrieve the session's fds");
	CHECK(ctx, luo_finish_session(s) == 0, "finish session");
	CHECK(ctx, pci_lu_dmesg_has("every incoming preserved device finished"),
	      "table drained without the mismatched device");
	CHECK(ctx, pci_lu_table("incoming", NULL, 0) == -ENODATA, "incoming table freed");
	return 0;
}

PCI_LU_TEST(stage1, stage2)
