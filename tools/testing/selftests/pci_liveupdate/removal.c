// SPDX-License-Identifier: GPL-2.0
/*
 * Hot-removal of preserved devices. Before the kexec, the edu behind the
 * switch is removed through sysfs after being preserved: the kernel warns,
 * drops it and its share of the bridges, and the next kernel does not see
 * it as incoming. After the kexec, an incoming device is removed before it
 * finished: the kernel warns and the table still drains at finish. A
 * device removed while a file still references it cannot be preserved.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "pci_lu.h"

#define DROPPED_MSG \
	"0000:04:00.0: removed while preserved for the next Live Update; its preservation is dropped"
#define REMOVING_MSG \
	"0000:06:00.0: preserve refused: the device is not added to the system or is being removed"
#define UNFINISHED_MSG \
	"0000:07:00.0: removed before its Live Update preservation finished"

static void check_refs(struct pci_lu_ctx *ctx, const char *which)
{
	struct pci_lu_entry e[32];
	int n = pci_lu_table(which, e, 32);
	const struct pci_lu_entry *up = pci_lu_find(e, n > 0 ? n : 0, SWITCH_UP);
	const struct pci_lu_entry *rp = pci_lu_find(e, n > 0 ? n : 0, ROOT_PORT2);

	CHECK(ctx, n > 0 && !pci_lu_find(e, n, EDU_SW) && !pci_lu_find(e, n, SWITCH_DN1),
	      "%s: no entry for %s or %s (%d entries)", which, EDU_SW, SWITCH_DN1, n);
	CHECK(ctx, up && up->refcount == 1 && rp && rp->refcount == 1,
	      "%s: %s and %s hold one reference each", which, SWITCH_UP, ROOT_PORT2);
}

static int stage1(struct pci_lu_ctx *ctx)
{
	int s = luo_create_session(ctx, "devices");
	struct pci_lu_entry e[32];
	int fd, n;

	if (!CHECK(ctx, s >= 0, "create session"))
		return 1;
	CHECK(ctx, pci_lu_preserve(s, EDU_SW, 1) == 0, "preserve %s", EDU_SW);
	CHECK(ctx, pci_lu_preserve(s, TESTDEV_SW, 2) == 0, "preserve %s", TESTDEV_SW);
	CHECK(ctx, pci_lu_preserve(s, EDU_RP, 3) == 0, "preserve %s", EDU_RP);
	CHECK(ctx, pci_lu_write("/sys/bus/pci/devices/" EDU_SW "/remove", "1") == 0,
	      "remove %s", EDU_SW);
	CHECK(ctx, pci_lu_dmesg_has(DROPPED_MSG),
	      "kernel warned about the removal of %s", EDU_SW);
	check_refs(ctx, "outgoing");

	/* A file bound to a device keeps it alive, not preservable. */
	fd = pci_lu_test_fd(E1000E);
	CHECK(ctx, fd >= 0, "test file bound to %s", E1000E);
	CHECK(ctx, pci_lu_write("/sys/bus/pci/devices/" E1000E "/remove", "1") == 0,
	      "remove %s", E1000E);
	CHECK(ctx, fd >= 0 && luo_preserve_fd(s, fd, 4) == -ENODEV,
	      "preserving removed %s fails with ENODEV", E1000E);
	CHECK(ctx, pci_lu_dmesg_has(REMOVING_MSG),
	      "kernel named the removed device");
	n = pci_lu_table("outgoing", e, 32);
	CHECK(ctx, n > 0 && !pci_lu_find(e, n, E1000E) && !pci_lu_find(e, n, ROOT_PORT3),
	      "nothing of %s or %s in the outgoing table", E1000E, ROOT_PORT3);
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	int s;

	CHECK(ctx, pci_lu_incoming(EDU_SW) == 0, "%s (enumerated again) is not incoming", EDU_SW);
	CHECK(ctx, pci_lu_status_field(SWITCH_DN1, "path") == 0, "%s not on an incoming path",
	      SWITCH_DN1);
	CHECK(ctx, pci_lu_incoming(TESTDEV_SW) == 1 && pci_lu_incoming(EDU_RP) == 1,
	      "%s and %s are incoming", TESTDEV_SW, EDU_RP);
	check_refs(ctx, "incoming");
	CHECK(ctx, pci_lu_write("/sys/bus/pci/devices/" EDU_RP "/remove", "1") == 0,
	      "remove incoming %s", EDU_RP);
	CHECK(ctx, pci_lu_dmesg_has(UNFINISHED_MSG),
	      "kernel warned about the removal of incoming %s", EDU_RP);
	s = luo_retrieve_session(ctx, "devices");
	CHECK(ctx, s >= 0, "retrieve session");
	for (int t = 1; s >= 0 && t <= 3; t++)
		luo_retrieve_fd(s, t);
	CHECK(ctx, s >= 0 && luo_finish_session(s) == 0, "finish session");
	CHECK(ctx, pci_lu_dmesg_has("every incoming preserved device finished"),
	      "table drained");
	CHECK(ctx, pci_lu_table("incoming", NULL, 0) == -ENODATA, "incoming table freed");
	return 0;
}

PCI_LU_TEST(stage1, stage2)
