// SPDX-License-Identifier: GPL-2.0
/*
 * Not a test of the kernel: a check of run_vmtests.sh (-S). Both stages
 * pass, then stage 2 never returns to /init, so the VM never powers off,
 * as if the second kernel's power-off (which runs the shutdown hooks) hung.
 * The runner must report this VM as failed even though every PASS line is
 * in its log.
 */
#include <stdlib.h>
#include <unistd.h>

#include "pci_lu.h"

/* Runs after pci_lu_main() printed the stage's PASS line. */
static void hang(void)
{
	pci_lu_log("selfcheck_hang: hanging after PASS on purpose");
	for (;;)
		pause();
}

static int stage1(struct pci_lu_ctx *ctx)
{
	CHECK(ctx, true, "stage 1 passes");
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	CHECK(ctx, atexit(hang) == 0, "stage 2 passes, then hangs");
	return 0;
}

PCI_LU_TEST(stage1, stage2)
