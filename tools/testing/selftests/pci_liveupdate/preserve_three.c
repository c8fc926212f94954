// SPDX-License-Identifier: GPL-2.0
/*
 * Preserve three endpoints, two behind one switch and one on a root port;
 * the second kernel must see exactly those and their upstream bridges,
 * with the right refcounts and identities, and free the table when they
 * finish.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "pci_lu.h"

static const struct {
	const char *bdf;
	unsigned int refcount, vendor, device;
	bool direct;
} expect[] = {
	{ ROOT_PORT2, 2, 0x1b36, 0x000c, false },
	{ ROOT_PORT3, 1, 0x1b36, 0x000c, false },
	{ SWITCH_UP, 2, 0x104c, 0x8232, false },
	{ SWITCH_DN1, 1, 0x104c, 0x8233, false },
	{ SWITCH_DN2, 1, 0x104c, 0x8233, false },
	{ EDU_SW, 1, 0x1234, 0x11e8, true },
	{ TESTDEV_SW, 1, 0x1b36, 0x0005, true },
	{ E1000E, 1, 0x8086, 0x10d3, true },
};

#define N_EXPECT ((int)ARRAY_SIZE(expect))

static const char *const endpoints[] = { EDU_SW, TESTDEV_SW, E1000E };

static void check_table(struct pci_lu_ctx *ctx, const char *which)
{
	struct pci_lu_entry e[64];
	int n = pci_lu_table(which, e, 64);

	CHECK(ctx, n == N_EXPECT, "%s table has %d entries (got %d)", which, N_EXPECT, n);
	for (int i = 0; i < N_EXPECT; i++) {
		const struct pci_lu_entry *f = pci_lu_find(e, n > 0 ? n : 0, expect[i].bdf);

		CHECK(ctx, f && f->refcount == expect[i].refcount &&
		      f->vendor == expect[i].vendor && f->device == expect[i].device &&
		      !!(f->flags & 1) == expect[i].direct,
		      "%s: %s refcount %u %04x:%04x%s", which, expect[i].bdf,
		      expect[i].refcount, expect[i].vendor, expect[i].device,
		      expect[i].direct ? " direct" : "");
	}
}

static int stage1(struct pci_lu_ctx *ctx)
{
	int s = luo_create_session(ctx, "devices");

	if (!CHECK(ctx, s >= 0, "create session"))
		return 1;
	for (int i = 0; i < 3; i++) {
		int ret = pci_lu_preserve(s, endpoints[i], i + 1);

		CHECK(ctx, ret == 0, "preserve %s (%s)", endpoints[i], strerror(-ret));
	}
	CHECK(ctx, !pci_lu_dmesg_has("registered with file handler"),
	      "registering the PCI FLB is not logged on every boot");
	check_table(ctx, "outgoing");
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	char buf[128], want[128];
	int s, fd;

	CHECK(ctx,
	      pci_lu_dmesg_has("FLB pci-lu-sorted-table-v2 ready, 3 incoming preserved devices"),
	      "kernel found 3 incoming devices at boot");
	check_table(ctx, "incoming");
	for (int i = 0; i < 3; i++)
		CHECK(ctx, pci_lu_incoming(endpoints[i]) == 1, "%s is incoming", endpoints[i]);
	CHECK(ctx, pci_lu_incoming_count() == 3, "no other device is incoming (%d)",
	      pci_lu_incoming_count());

	s = luo_retrieve_session(ctx, "devices");
	if (!CHECK(ctx, s >= 0, "retrieve session (%d)", s))
		return 1;
	for (int i = 0; i < 3; i++) {
		fd = luo_retrieve_fd(s, i + 1);
		memset(buf, 0, sizeof(buf));
		if (fd >= 0)
			read(fd, buf, sizeof(buf) - 1);
		snprintf(want, sizeof(want), "%s incoming=1\n", endpoints[i]);
		CHECK(ctx, fd >= 0 && !strcmp(buf, want), "retrieved fd %d reports %s", i + 1,
		      endpoints[i]);
	}
	CHECK(ctx, luo_finish_session(s) == 0, "finish session");
	CHECK(ctx, pci_lu_incoming_count() == 0, "nothing is incoming after finish");
	CHECK(ctx, pci_lu_table("incoming", NULL, 0) == -ENODATA,
	      "incoming table freed (get_incoming reports no data)");
	CHECK(ctx, pci_lu_dmesg_has("every incoming preserved device finished"),
	      "kernel logged the last finish");
	return 0;
}

PCI_LU_TEST(stage1, stage2)
