// SPDX-License-Identifier: GPL-2.0
/*
 * The probe record: the first kernel hands over what probing found (BAR
 * sizes, INTx masking, bridge windows) so that the next kernel learns it
 * without writing to a running device. The edu behind the switch keeps its
 * record and gets no config write at all in the second kernel. The root
 * port above the other edu gets a BAR size its address does not fit
 * (test-only control): it must not be treated as preserved, the log names
 * the BAR, and so the edu below it is not treated as preserved either (its
 * resources could move): named, its Bus Master cleared. The nvme PF is
 * handed over with a VF BAR size its VF BAR does not fit: named, and its
 * SR-IOV set up anew (VF Enable is clear), the PF itself still incoming.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "pci_lu.h"

#define P_SIZED		0x01
#define P_WINDOWS	0x1c

/* edu: BAR 0 is 1 MiB, nothing else. */
#define EDU_BARS	"14-00-00-00-00-00-00"

#define BAR_MSG \
	"does not fit the size 2^40 recorded when it was preserved; not treated as preserved"
#define BELOW_MSG \
	EDU_RP ": its upstream bridge 00:04.0 is not treated as preserved; neither is it"
#define VF_BAR_MSG \
	NVME_PF ": VF BAR 0 does not fit its recorded size; SR-IOV is set up anew as on any boot"

static int stage1(struct pci_lu_ctx *ctx)
{
	unsigned int probe = 0;
	char bars[64] = "";
	int ret, s = luo_create_session(ctx, "devices");

	if (!CHECK(ctx, s >= 0, "create session"))
		return 1;
	CHECK(ctx, pci_lu_preserve(s, EDU_SW, 1) == 0, "preserve %s", EDU_SW);
	CHECK(ctx, pci_lu_preserve(s, EDU_RP, 2) == 0, "preserve %s", EDU_RP);
	ret = pci_lu_probe_record("outgoing", EDU_SW, &probe, bars, sizeof(bars));
	CHECK(ctx, ret == 0 && probe == P_SIZED && !strcmp(bars, EDU_BARS),
	      "%s recorded with BAR 0 of 1 MiB (probe=%02x bars=%s)", EDU_SW, probe, bars);
	ret = pci_lu_probe_record("outgoing", SWITCH_DN1, &probe, bars, sizeof(bars));
	CHECK(ctx, ret == 0 && (probe & P_SIZED) && (probe & P_WINDOWS),
	      "%s recorded with its windows (probe=%02x)", SWITCH_DN1, probe);
	CHECK(ctx, pci_lu_write(PCI_LU_DEBUGFS "/misfit", ROOT_PORT4) == 0,
	      "record a BAR size %s does not fit", ROOT_PORT4);
	CHECK(ctx, pci_lu_preserve(s, NVME_PF, 3) == 0, "preserve %s", NVME_PF);
	CHECK(ctx, pci_lu_write(PCI_LU_DEBUGFS "/vf_misfit", NVME_PF) == 0,
	      "record a VF BAR size %s does not fit", NVME_PF);
	CHECK(ctx, pci_lu_set_bus_master(EDU_SW) == 0 && pci_lu_set_bus_master(EDU_RP) == 0,
	      "set Bus Master on both");
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	unsigned int probe = 0;
	char bars[64] = "";
	int ret, s;

	CHECK(ctx, pci_lu_incoming(EDU_SW) == 1 && pci_lu_bus_master(EDU_SW) == 1,
	      "%s is incoming and still masters", EDU_SW);
	ret = pci_lu_probe_record("incoming", EDU_SW, &probe, bars, sizeof(bars));
	CHECK(ctx, ret == 0 && probe == P_SIZED && !strcmp(bars, EDU_BARS),
	      "%s handed over with its record (probe=%02x bars=%s)", EDU_SW, probe, bars);
	CHECK(ctx, pci_lu_config_writes(EDU_SW) == 0,
	      "no config write to %s: its BARs were not sized", EDU_SW);
	CHECK(ctx, pci_lu_dmesg_has(ROOT_PORT4 ": BAR 0 (register 0x") &&
	      pci_lu_dmesg_has(BAR_MSG),
	      "kernel named the BAR of %s that does not fit", ROOT_PORT4);
	CHECK(ctx, pci_lu_dmesg_has(BELOW_MSG),
	      "kernel named %s as below it", EDU_RP);
	CHECK(ctx, pci_lu_incoming(EDU_RP) == 0, "%s is not incoming", EDU_RP);
	CHECK(ctx, pci_lu_bus_master(EDU_RP) == 0, "%s was stopped", EDU_RP);
	CHECK(ctx, pci_lu_status_field(ROOT_PORT4, "path") == 0,
	      "%s released with the device below it", ROOT_PORT4);
	CHECK(ctx, pci_lu_dmesg_has(VF_BAR_MSG),
	      "kernel named the VF BAR of %s that does not fit", NVME_PF);
	CHECK(ctx, pci_lu_incoming(NVME_PF) == 1, "%s is still incoming", NVME_PF);
	s = luo_retrieve_session(ctx, "devices");
	CHECK(ctx, s >= 0 && luo_retrieve_fd(s, 1) >= 0 && luo_retrieve_fd(s, 2) >= 0 &&
	      luo_retrieve_fd(s, 3) >= 0, "retrieve the session's fds");
	CHECK(ctx, luo_finish_session(s) == 0, "finish session");
	CHECK(ctx, pci_lu_dmesg_has("every incoming preserved device finished"),
	      "table drained without the misfit device");
	return 0;
}

PCI_LU_TEST(stage1, stage2)
