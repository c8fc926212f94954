// SPDX-License-Identifier: GPL-2.0
/*
 * Requests the PCI core must refuse without changing anything: preserve
 * with no outgoing FLB, a second preserve of one device, a VF, unpreserve
 * of a device never preserved, an allocation failure (nothing may be left
 * half-preserved), a device needing an ACS quirk, and preserve or
 * unpreserve once shutdown has begun. The second kernel must see only what
 * succeeded.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pci_lu.h"

#define SYS "/sys/bus/pci/devices/"
#define NOT_PRESERVED_MSG \
	"0000:06:00.0: unpreserve: device is not preserved; nothing changed"

static int stage1(struct pci_lu_ctx *ctx)
{
	struct pci_lu_entry e[32];
	struct stat st;
	int s, n, ret;

	/* No file preserved yet: no outgoing FLB. */
	ret = pci_lu_write(PCI_LU_DEBUGFS "/preserve", EDU_RP);
	CHECK(ctx, ret == -ENOENT, "preserve without an FLB fails with ENOENT (%d)", ret);
	CHECK(ctx, pci_lu_table("outgoing", e, 32) == -ENOENT, "no outgoing table exists");

	s = luo_create_session(ctx, "devices");
	if (!CHECK(ctx, s >= 0, "create session"))
		return 1;

	/* The table array cannot be allocated: the preserve fails whole. */
	CHECK(ctx, pci_lu_inject(PCI_LU_TEST_FAIL_NEXT_ALLOC) == 0, "inject allocation failure");
	ret = pci_lu_preserve(s, EDU_SW, 1);
	CHECK(ctx, ret == -ENOMEM, "preserve under allocation failure fails with ENOMEM (%d)", ret);
	n = pci_lu_table("outgoing", e, 32);
	CHECK(ctx, n == -ENOENT || n == 0, "nothing half-preserved (%d)", n);

	ret = pci_lu_preserve(s, EDU_RP, 2);
	CHECK(ctx, ret == 0, "preserve %s (%d)", EDU_RP, ret);
	ret = pci_lu_preserve(s, EDU_RP, 3);
	CHECK(ctx, ret == -EBUSY, "second preserve of %s fails with EBUSY (%d)", EDU_RP, ret);
	n = pci_lu_table("outgoing", e, 32);
	CHECK(ctx, n == 2, "table unchanged by the refused preserve (%d)", n);

	/* Unpreserve of a device that was never preserved: warning, no change. */
	CHECK(ctx, pci_lu_write(PCI_LU_DEBUGFS "/unpreserve", E1000E) == 0, "unpreserve %s",
	      E1000E);
	CHECK(ctx, pci_lu_dmesg_has(NOT_PRESERVED_MSG),
	      "kernel warned, naming the device");
	CHECK(ctx, pci_lu_table("outgoing", e, 32) == 2, "table unchanged by the bad unpreserve");

	/* A VF: bind the NVMe PF to vfio-pci (which enables SR-IOV), make one. */
	CHECK(ctx, pci_lu_unbind(NVME_PF) == 0, "unbind %s from nvme", NVME_PF);
	CHECK(ctx, pci_lu_write(SYS NVME_PF "/driver_override", "vfio-pci") == 0,
	      "driver_override");
	CHECK(ctx, pci_lu_write("/sys/bus/pci/drivers/vfio-pci/bind", NVME_PF) == 0,
	      "bind PF to vfio-pci");
	CHECK(ctx, pci_lu_write(SYS NVME_PF "/sriov_numvfs", "1") == 0, "enable 1 VF");
	CHECK(ctx, stat(SYS NVME_VF, &st) == 0, "VF %s exists", NVME_VF);
	ret = pci_lu_preserve(s, NVME_VF, 4);
	CHECK(ctx, ret == -EINVAL, "preserving the VF fails with EINVAL (%d)", ret);
	n = pci_lu_table("outgoing", e, 32);
	CHECK(ctx, n == 2 && !pci_lu_find(e, n, NVME_VF), "VF not in the table");

	/* A device (or bridge above it) that needs an ACS quirk. */
	CHECK(ctx, pci_lu_inject(PCI_LU_TEST_FORCE_ACS_QUIRK) == 0, "force an ACS quirk");
	ret = pci_lu_preserve(s, TESTDEV_SW, 5);
	CHECK(ctx, ret == -EINVAL, "preserving an ACS-quirk device fails with EINVAL (%d)", ret);
	CHECK(ctx,
	      pci_lu_dmesg_has("0000:05:00.0: cannot preserve: needs a device-specific ACS quirk"),
	      "kernel named the ACS-quirk device");
	CHECK(ctx, pci_lu_table("outgoing", e, 32) == 2, "table unchanged by the ACS refusal");

	/* Shutdown has begun: nothing may change any more. */
	CHECK(ctx, pci_lu_write(PCI_LU_DEBUGFS "/freeze", EDU_RP) == 0, "run the freeze hook");
	ret = pci_lu_preserve(s, TESTDEV_SW, 6);
	CHECK(ctx, ret == -ESHUTDOWN, "preserve after freeze fails with ESHUTDOWN (%d)", ret);
	CHECK(ctx, pci_lu_dmesg_has("0000:05:00.0: preserve refused: shutdown has begun"),
	      "kernel refused the preserve, naming the device");
	CHECK(ctx, pci_lu_write(PCI_LU_DEBUGFS "/unpreserve", EDU_RP) == 0, "unpreserve %s",
	      EDU_RP);
	CHECK(ctx, pci_lu_dmesg_has("0000:07:00.0: unpreserve refused: shutdown has begun"),
	      "kernel refused the unpreserve, naming the device");
	n = pci_lu_table("outgoing", e, 32);
	CHECK(ctx, n == 2 && pci_lu_find(e, n, EDU_RP), "table unchanged after freeze (%d)", n);
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	struct pci_lu_entry e[32];
	int n = pci_lu_table("incoming", e, 32);
	int s;

	CHECK(ctx, n == 2 && pci_lu_find(e, n, EDU_RP) && pci_lu_find(e, n, ROOT_PORT4),
	      "incoming: %s and its root port only (%d)", EDU_RP, n);
	CHECK(ctx, pci_lu_incoming_count() == 1 && pci_lu_incoming(EDU_RP) == 1,
	      "only %s is incoming", EDU_RP);
	CHECK(ctx, pci_lu_incoming(NVME_VF) != 1 && pci_lu_incoming(EDU_SW) == 0,
	      "refused devices are not incoming");
	/* Finish of a device that is not incoming: warning, no change. */
	CHECK(ctx, pci_lu_write(PCI_LU_DEBUGFS "/finish", E1000E) == 0, "finish %s", E1000E);
	CHECK(ctx,
	      pci_lu_dmesg_has("0000:06:00.0: finish: device is not an incoming preserved device"),
	      "kernel warned about the bad finish, naming the device");
	CHECK(ctx, pci_lu_incoming(EDU_RP) == 1, "%s still incoming", EDU_RP);
	s = luo_retrieve_session(ctx, "devices");
	CHECK(ctx, s >= 0 && luo_finish_session(s) == 0, "finish session");
	CHECK(ctx, pci_lu_table("incoming", NULL, 0) == -ENODATA, "table freed after finish");
	return 0;
}

PCI_LU_TEST(stage1, stage2)
