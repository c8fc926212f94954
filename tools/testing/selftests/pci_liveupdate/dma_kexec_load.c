// SPDX-License-Identifier: GPL-2.0
/*
 * A kexec that does not carry the Live Update (plain kexec_load(), so no
 * KHO data and no device table reach the next kernel) must stop preserved
 * devices as a stock kexec does: the next kernel would not know they are
 * running, and nothing would keep their DMA out of its memory.
 *
 * Stage 1 preserves edu 04:00.0 mastering, with its bridges, and asks
 * /init for kexec-tools' kexec_load() instead of kexec_file_load(). Stage 2
 * (no KHO, no LUO data): edu and its bridges arrived with Bus Master off
 * and nothing is incoming.
 */
#include <fcntl.h>
#include <unistd.h>

#include "pci_lu.h"

static int stage1(struct pci_lu_ctx *ctx)
{
	int s, fd;

	s = luo_create_session(ctx, "dma-kexec-load");
	if (!CHECK(ctx, s >= 0, "create a session (%d)", s))
		return 1;
	pci_lu_preserve_edu_mastering(ctx, s, 1);
	fd = open("/kexec-load", O_WRONLY | O_CREAT, 0644);
	CHECK(ctx, fd >= 0 && access("/sbin/kexec", X_OK) == 0,
	      "/init will load the next kernel with kexec-tools' kexec_load()");
	close(fd);
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	CHECK(ctx, access("/sys/kernel/debug/kho/in", F_OK) != 0,
	      "this kernel got no KHO handover (plain kexec_load)");
	CHECK(ctx, pci_lu_incoming(EDU_SW) == 0, "%s is not incoming: no table reached this kernel",
	      EDU_SW);
	pci_lu_check_edu_stopped_by_kexec(ctx);
	CHECK(ctx, !pci_lu_dmesg_has("cleared Bus Master left set by the previous kernel"),
	      "nothing left for this kernel to clear");
	return 0;
}

PCI_LU_TEST(stage1, stage2)
