/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Body of the corrupt_* tests: stage 1 preserves two devices and then
 * damages the outgoing table in one way (FAULT); the second kernel must
 * log why it refuses the data (REASON), treat no device as preserved, and
 * still boot and finish the session without a panic.
 *
 * A test file defines FAULT and REASON and includes this file.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "pci_lu.h"

static int stage1(struct pci_lu_ctx *ctx)
{
	struct pci_lu_entry e[32];
	int s = luo_create_session(ctx, "devices");
	int n, ret;

	if (!CHECK(ctx, s >= 0, "create session"))
		return 1;
	CHECK(ctx, pci_lu_preserve(s, EDU_SW, 1) == 0, "preserve %s", EDU_SW);
	CHECK(ctx, pci_lu_preserve(s, E1000E, 2) == 0, "preserve %s", E1000E);
	n = pci_lu_table("outgoing", e, 32);
	CHECK(ctx, n == 6, "outgoing table has 6 entries (%d)", n);
	ret = pci_lu_inject(FAULT);
	CHECK(ctx, ret == 0, "inject fault %d (%d)", FAULT, ret);
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	char buf[64];
	int s, fd;

	CHECK(ctx, pci_lu_dmesg_has("invalid handover data from the previous kernel (" REASON),
	      "kernel logged: " REASON);
	CHECK(ctx, pci_lu_dmesg_has("no device is treated as preserved"), "kernel refused all devices");
	CHECK(ctx, pci_lu_incoming_count() == 0, "no device is incoming (%d)", pci_lu_incoming_count());
	CHECK(ctx, pci_lu_table("incoming", NULL, 0) == -EINVAL, "incoming table is refused");
	s = luo_retrieve_session(ctx, "devices");
	if (!CHECK(ctx, s >= 0, "session still retrievable (%d)", s))
		return 1;
	fd = luo_retrieve_fd(s, 1);
	memset(buf, 0, sizeof(buf));
	if (fd >= 0)
		read(fd, buf, sizeof(buf) - 1);
	CHECK(ctx, !strcmp(buf, EDU_SW " incoming=0\n"), "retrieved fd reports %s not incoming", EDU_SW);
	CHECK(ctx, luo_finish_session(s) == 0, "finish session without a panic");
	CHECK(ctx, !pci_lu_dmesg_has("WARNING:"), "no kernel warning on the way");
	return 0;
}

PCI_LU_TEST(stage1, stage2)
