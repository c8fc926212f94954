// SPDX-License-Identifier: GPL-2.0
/*
 * A device unpreserved before kexec (its session closed) is not incoming
 * afterwards, nor is its root port; the device kept preserved still is.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "pci_lu.h"

static int stage1(struct pci_lu_ctx *ctx)
{
	struct pci_lu_entry e[32];
	int keep = luo_create_session(ctx, "keep");
	int drop = luo_create_session(ctx, "drop");
	int n;

	if (!CHECK(ctx, keep >= 0 && drop >= 0, "create sessions"))
		return 1;
	CHECK(ctx, pci_lu_preserve(keep, EDU_SW, 1) == 0, "preserve %s", EDU_SW);
	CHECK(ctx, pci_lu_preserve(drop, E1000E, 1) == 0, "preserve %s", E1000E);
	n = pci_lu_table("outgoing", e, 32);
	CHECK(ctx, n == 6 && pci_lu_find(e, n, E1000E), "both devices preserved (%d entries)", n);
	/* Closing a session unpreserves its files, and so the device. */
	close(drop);
	n = pci_lu_table("outgoing", e, 32);
	CHECK(ctx, n == 4 && !pci_lu_find(e, n, E1000E) && !pci_lu_find(e, n, ROOT_PORT3),
	      "%s and its root port left the table (%d entries)", E1000E, n);
	CHECK(ctx, pci_lu_find(e, n, EDU_SW), "%s still preserved", EDU_SW);
	CHECK(ctx, pci_lu_dmesg_has("0000:06:00.0: will no longer be preserved"),
	      "kernel logged the unpreserve, naming the device");
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	struct pci_lu_entry e[32];
	int n = pci_lu_table("incoming", e, 32);
	int s;

	CHECK(ctx, n == 4 && !pci_lu_find(e, n, E1000E), "incoming table has 4 entries, not %s",
	      E1000E);
	CHECK(ctx, pci_lu_incoming(E1000E) == 0, "%s is not incoming", E1000E);
	CHECK(ctx, pci_lu_incoming(EDU_SW) == 1, "%s is incoming", EDU_SW);
	CHECK(ctx, pci_lu_incoming_count() == 1, "exactly one device incoming");
	CHECK(ctx, luo_retrieve_session(ctx, "drop") == -ENOENT, "closed session did not cross");
	s = luo_retrieve_session(ctx, "keep");
	CHECK(ctx, s >= 0 && luo_finish_session(s) == 0, "finish the kept session");
	CHECK(ctx, pci_lu_table("incoming", NULL, 0) == -ENODATA, "table freed after finish");
	return 0;
}

PCI_LU_TEST(stage1, stage2)
