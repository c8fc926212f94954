// SPDX-License-Identifier: GPL-2.0
/*
 * A file acts only on the preservation it made. Session A preserves edu
 * 04:00.0, the device is removed (A's preservation is dropped) and found
 * again by a rescan, and session B preserves the new device at the same
 * address. Closing A must leave B's preservation alone: the kernel warns
 * that A's device is no longer preserved, and after the kexec the edu is
 * incoming and B retrieves and finishes it.
 */
#include <errno.h>
#include <unistd.h>

#include "pci_lu.h"

#define DROPPED_MSG \
	"0000:04:00.0: removed while preserved for the next Live Update; its preservation is dropped"
#define ALREADY_DROPPED_MSG \
	"0000:04:00.0: unpreserve: this device's preservation was already dropped; nothing changed"

static bool outgoing_has_edu(void)
{
	struct pci_lu_entry e[32];
	int n = pci_lu_table("outgoing", e, 32);
	const struct pci_lu_entry *d = n > 0 ? pci_lu_find(e, n, EDU_SW) : NULL;

	return d && (d->flags & 1);
}

static int stage1(struct pci_lu_ctx *ctx)
{
	int a = luo_create_session(ctx, "A");
	int b = luo_create_session(ctx, "B");
	char buf[8];

	if (!CHECK(ctx, a >= 0 && b >= 0, "create sessions A and B"))
		return 1;
	CHECK(ctx, pci_lu_preserve(a, EDU_SW, 1) == 0, "A preserves %s", EDU_SW);
	CHECK(ctx, pci_lu_write("/sys/bus/pci/devices/" EDU_SW "/remove", "1") == 0,
	      "remove %s", EDU_SW);
	CHECK(ctx, pci_lu_dmesg_has(DROPPED_MSG),
	      "kernel dropped A's preservation at the removal");
	CHECK(ctx, !outgoing_has_edu(), "%s is no longer in the outgoing table", EDU_SW);
	CHECK(ctx, pci_lu_write("/sys/bus/pci/rescan", "1") == 0, "rescan");
	CHECK(ctx, pci_lu_read("/sys/bus/pci/devices/" EDU_SW "/vendor", buf, sizeof(buf)) == 0,
	      "%s is back after the rescan", EDU_SW);
	CHECK(ctx, pci_lu_preserve(b, EDU_SW, 1) == 0, "B preserves the new %s", EDU_SW);
	CHECK(ctx, outgoing_has_edu(), "%s is in the outgoing table for B", EDU_SW);

	/* Unpreserves A's file, made for the device that was removed. */
	CHECK(ctx, close(a) == 0, "close session A");
	CHECK(ctx, outgoing_has_edu(), "closing A left B's preservation of %s", EDU_SW);
	CHECK(ctx, pci_lu_dmesg_has(ALREADY_DROPPED_MSG),
	      "kernel warned about A's stale unpreserve");
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	int s, fd;

	CHECK(ctx, pci_lu_incoming(EDU_SW) == 1, "%s is incoming", EDU_SW);
	CHECK(ctx, luo_retrieve_session(ctx, "A") < 0, "session A did not survive");
	s = luo_retrieve_session(ctx, "B");
	if (!CHECK(ctx, s >= 0, "retrieve session B"))
		return 1;
	fd = luo_retrieve_fd(s, 1);
	CHECK(ctx, fd >= 0, "retrieve B's file for %s", EDU_SW);
	CHECK(ctx, luo_finish_session(s) == 0, "finish session B");
	CHECK(ctx, pci_lu_incoming(EDU_SW) == 0, "%s finished", EDU_SW);
	CHECK(ctx, pci_lu_dmesg_has("every incoming preserved device finished"), "table drained");
	return 0;
}

PCI_LU_TEST(stage1, stage2)
