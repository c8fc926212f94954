// SPDX-License-Identifier: GPL-2.0
/*
 * A BAR or window of a preserved path that cannot be claimed where the
 * previous kernel left it is not silently moved. The second kernel takes
 * 4 KiB of memory space inside the edu's BAR before PCI enumeration (test
 * boot parameter), so the windows of the edu's path conflict. The kernel
 * must name the resource, abandon the edu (Bus Master cleared, not
 * incoming) and then assign it as any device, outside the conflict; the
 * edu on another root port, preserved too, stays incoming and mastering.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pci_lu.h"

#define UNCLAIMED_MSG \
	"cannot be claimed where the previous kernel left it; abandoning the preserved devices that depend on it"

/* Start of BAR 0 of @bdf as the kernel has it, 0 if none. */
static uint64_t bar0(const char *bdf)
{
	unsigned long long start = 0, end = 0;
	char path[96];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource", bdf);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%llx %llx", &start, &end) != 2)
		start = 0;
	fclose(f);
	return start;
}

/* The address the second kernel's command line took, 0 if none. */
static uint64_t conflict_addr(void)
{
	unsigned long long addr = 0;
	char line[1024] = "", *p;
	FILE *f = fopen("/proc/cmdline", "r");

	if (!f)
		return 0;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	p = strstr(line, "pci_liveupdate_test.conflict=");
	if (p && sscanf(p, "pci_liveupdate_test.conflict=%llx", &addr) != 1)
		addr = 0;
	return addr;
}

static int stage1(struct pci_lu_ctx *ctx)
{
	uint64_t addr = bar0(EDU_SW);
	char args[96];
	int s = luo_create_session(ctx, "devices");

	if (!CHECK(ctx, s >= 0 && addr, "create session; %s BAR 0 at %#" PRIx64, EDU_SW, addr))
		return 1;
	pci_lu_preserve_edu_mastering(ctx, s, 1);
	CHECK(ctx, pci_lu_set_bus_master(ROOT_PORT4) == 0 && pci_lu_set_bus_master(EDU_RP) == 0,
	      "Bus Master on %s and %s", ROOT_PORT4, EDU_RP);
	CHECK(ctx, pci_lu_preserve(s, EDU_RP, 2) == 0, "preserve %s", EDU_RP);
	snprintf(args, sizeof(args), "pci_liveupdate_test.conflict=%#" PRIx64, addr);
	CHECK(ctx, pci_lu_stage2_cmdline(args) == 0, "second kernel takes %#" PRIx64, addr);
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	uint64_t addr = bar0(EDU_SW), taken = conflict_addr();
	int s;

	CHECK(ctx, pci_lu_dmesg_has("pci_liveupdate_test: conflict: took"),
	      "the conflict was in place before enumeration");
	CHECK(ctx, pci_lu_dmesg_has(UNCLAIMED_MSG),
	      "kernel named the resource it could not claim");
	CHECK(ctx,
	      pci_lu_dmesg_has(EDU_SW ": Live Update preservation abandoned; Bus Master cleared"),
	      "kernel abandoned %s", EDU_SW);
	CHECK(ctx, pci_lu_incoming(EDU_SW) == 0 && pci_lu_bus_master(EDU_SW) == 0,
	      "%s is not incoming and does not master", EDU_SW);
	CHECK(ctx, taken && addr && addr != taken,
	      "%s was assigned a BAR 0 anew (%#" PRIx64 ", not %#" PRIx64 ")", EDU_SW, addr, taken);
	CHECK(ctx, pci_lu_incoming(EDU_RP) == 1 && pci_lu_bus_master(EDU_RP) == 1,
	      "%s, on another root port, is still incoming and mastering", EDU_RP);
	s = luo_retrieve_session(ctx, "devices");
	CHECK(ctx, s >= 0 && luo_retrieve_fd(s, 1) >= 0 && luo_retrieve_fd(s, 2) >= 0,
	      "retrieve the session's fds");
	CHECK(ctx, luo_finish_session(s) == 0, "finish session");
	CHECK(ctx, pci_lu_dmesg_has("every incoming preserved device finished"), "table drained");
	return 0;
}

PCI_LU_TEST(stage1, stage2)
