// SPDX-License-Identifier: GPL-2.0
/*
 * Five consecutive Live Updates in one VM run with the same device: the
 * nvme on the first root port, owned through vfio-pci with admin-queue
 * registers only a reset clears. After each kexec the kernel must hand the
 * device over untouched (bus numbers, Bus Master, canary, no other driver,
 * no config write: it is set up from the records handed on each time);
 * the test retrieves its VFIO file, binds it, checks the canary through
 * VFIO, finishes, and preserves the same file again for the next update.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "nvme.h"
#include "pci_lu.h"
#include "vfio_lu.h"

#define UPDATES	5
/* PCI_DEV_SER_P_SRIOV */
#define P_SRIOV	0x20
#define LAST_STAGE (UPDATES + 1)

static int stage1(struct pci_lu_ctx *ctx)
{
	struct vfio_lu_dev nvme = VFIO_LU_DEV_INIT;
	int s;

	pci_lu_declare_stages(ctx, LAST_STAGE);
	nvme_vmm_start(ctx, &nvme);
	s = luo_create_session(ctx, "hop");
	CHECK(ctx, s >= 0 && luo_preserve_fd(s, nvme.fd, 1) == 0, "preserve for update 1");
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	struct vfio_lu_dev nvme = VFIO_LU_DEV_INIT;
	int update = ctx->stage - 1;
	unsigned int probe = 0;
	char drv[64], bars[64];
	int s, ret;

	pci_lu_check_firmware_buses(ctx, "after the update");
	CHECK(ctx, pci_lu_incoming(NVME_PF) == 1, "update %d: %s incoming", update, NVME_PF);
	CHECK(ctx, pci_lu_status_field(NVME_PF, "bm_at_enum") == 1 &&
	      pci_lu_bus_master(NVME_PF) == 1 && pci_lu_bus_master(ROOT_PORT1) == 1,
	      "update %d: %s and %s kept Bus Master", update, NVME_PF, ROOT_PORT1);
	pci_lu_driver(NVME_PF, drv, sizeof(drv));
	CHECK(ctx, !drv[0], "update %d: no driver took %s (got '%s')", update, NVME_PF, drv);
	CHECK(ctx, nvme_has_canary(NVME_PF), "update %d: canary intact", update);
	/* Each kernel hands on the records it was handed, SR-IOV's too. */
	ret = pci_lu_probe_record("incoming", NVME_PF, &probe, bars, sizeof(bars));
	CHECK(ctx, ret == 0 && (probe & P_SRIOV) && pci_lu_config_writes(NVME_PF) == 0,
	      "update %d: %s set up from its records, no config write (probe=%02x)", update,
	      NVME_PF, probe);

	s = luo_retrieve_session(ctx, "hop");
	nvme.fd = s >= 0 ? luo_retrieve_fd(s, 1) : -ENOENT;
	CHECK(ctx, nvme.fd >= 0 && vfio_lu_attach(&nvme) == 0,
	      "update %d: VFIO file retrieved and bound (%d)", update, nvme.fd);
	CHECK(ctx, nvme_vfio_has_canary(&nvme), "update %d: canary intact through VFIO", update);
	CHECK(ctx, luo_finish_session(s) == 0 && pci_lu_incoming(NVME_PF) == 0,
	      "update %d: session finished", update);
	close(s);
	if (ctx->stage == LAST_STAGE)
		return 0;

	/* The same file carries the device into the next update. */
	s = luo_create_session(ctx, "hop");
	CHECK(ctx, s >= 0 && luo_preserve_fd(s, nvme.fd, 1) == 0 &&
	      pci_lu_status_field(NVME_PF, "outgoing") == 1,
	      "preserve the same file for update %d", update + 1);
	pci_lu_next_hop(ctx);
	return 0;
}

PCI_LU_TEST(stage1, stage2)
