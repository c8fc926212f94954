// SPDX-License-Identifier: GPL-2.0
/*
 * Random corruption of the handed-over table. The second kernel runs its
 * validator (test-only debugfs "fuzz") on thousands of copies of the real
 * handed-over header and array, each damaged with seeded bit flips in the
 * header, the array or both, or truncated. Every copy must be refused, or,
 * if the damage only hit bytes nobody reads (unused capacity), validate to
 * exactly the entries that were handed over: never to something else. A
 * second series damages only the entries and then makes both checksums
 * match, so the structural checks decide: whatever they accept must drain
 * (finishing every direct entry empties it). The real table is untouched
 * and the session still finishes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pci_lu.h"

#define VARIANTS	5000

static int stage1(struct pci_lu_ctx *ctx)
{
	int s = luo_create_session(ctx, "devices");

	if (!CHECK(ctx, s >= 0, "create session"))
		return 1;
	CHECK(ctx, pci_lu_preserve(s, EDU_SW, 1) == 0 && pci_lu_preserve(s, TESTDEV_SW, 2) == 0 &&
	      pci_lu_preserve(s, EDU_RP, 3) == 0, "preserve three devices");
	return 0;
}

static void run(struct pci_lu_ctx *ctx, unsigned long long seed, bool reseal)
{
	unsigned int tried = 0, refused = 0, same = 0, changed = 0, undrained = ~0u;
	const char *how = reseal ? "resealed" : "raw";
	char cmd[48], buf[160] = "";

	snprintf(cmd, sizeof(cmd), "%llu %d %d", seed, VARIANTS, reseal);
	CHECK(ctx, pci_lu_write(PCI_LU_DEBUGFS "/fuzz", cmd) == 0 &&
	      pci_lu_read(PCI_LU_DEBUGFS "/fuzz", buf, sizeof(buf)) == 0 &&
	      sscanf(buf, "tried %u refused %u valid_same %u valid_changed %u undrained %u",
		     &tried, &refused, &same, &changed, &undrained) == 5,
	      "%s seed %llu: validator ran", how, seed);
	printf("# %s seed %llu: %u variants tried, %u refused, %u still valid with the same entries, %u valid with other entries, %u valid but not drained\n",
	       how, seed, tried, refused, same, changed, undrained);
	CHECK(ctx, tried == VARIANTS, "%s seed %llu: %d variants tried", how, seed, VARIANTS);
	CHECK(ctx, undrained == 0, "%s seed %llu: every accepted copy drains", how, seed);
	CHECK(ctx, refused + same + changed == tried, "%s seed %llu: outcomes add up", how, seed);
	if (!reseal) {
		/* The checksums catch every damage to what is read. */
		CHECK(ctx, changed == 0, "%s seed %llu: no damaged copy validated to other entries",
		      how, seed);
		CHECK(ctx, refused > tried / 2, "%s seed %llu: every other copy refused (%u)",
		      how, seed, refused);
	} else {
		/* Past the checksums: the structural checks refuse, or it drains. */
		CHECK(ctx, refused > tried / 10 && changed > 0,
		      "%s seed %llu: structural checks refused %u, %u others validated", how, seed,
		      refused, changed);
	}
}

static int stage2(struct pci_lu_ctx *ctx)
{
	int s;

	CHECK(ctx, pci_lu_incoming(EDU_SW) == 1 && pci_lu_incoming(TESTDEV_SW) == 1 &&
	      pci_lu_incoming(EDU_RP) == 1, "three devices incoming");
	run(ctx, 1, false);
	run(ctx, 0x5eed5eedULL, false);
	run(ctx, 20261122, false);
	run(ctx, 2, true);
	run(ctx, 20261201, true);
	CHECK(ctx, pci_lu_table("incoming", NULL, 0) == 8, "real table untouched (8 entries)");
	s = luo_retrieve_session(ctx, "devices");
	for (int t = 1; s >= 0 && t <= 3; t++)
		luo_retrieve_fd(s, t);
	CHECK(ctx, s >= 0 && luo_finish_session(s) == 0, "finish session");
	CHECK(ctx, pci_lu_dmesg_has("every incoming preserved device finished"), "table drained");
	return 0;
}

PCI_LU_TEST(stage1, stage2)
