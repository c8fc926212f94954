// SPDX-License-Identifier: GPL-2.0
/*
 * A table from a kernel that wrote no probe records (48-byte entries, no
 * PCI_LU_COMPAT_PROBE; test-only rewrite just before the kexec) is still
 * read: the edu stays preserved and keeps mastering, and without a record
 * its BARs are sized by writing, as they were before records existed.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "pci_lu.h"

#define PCI_LU_TEST_OLD_FORMAT	13

static int stage1(struct pci_lu_ctx *ctx)
{
	char val[8];
	int s = luo_create_session(ctx, "devices");

	if (!CHECK(ctx, s >= 0, "create session"))
		return 1;
	CHECK(ctx, pci_lu_preserve(s, EDU_SW, 1) == 0, "preserve %s", EDU_SW);
	CHECK(ctx, pci_lu_set_bus_master(EDU_SW) == 0, "set Bus Master on %s", EDU_SW);
	snprintf(val, sizeof(val), "%d", PCI_LU_TEST_OLD_FORMAT);
	CHECK(ctx, pci_lu_write(PCI_LU_DEBUGFS "/inject", val) == 0,
	      "rewrite the table in the old format");
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	unsigned int probe = 0xff;
	char bars[64] = "";
	int ret, s;

	CHECK(ctx, !pci_lu_dmesg_has("invalid handover data"), "handover data accepted");
	CHECK(ctx, pci_lu_incoming(EDU_SW) == 1 && pci_lu_bus_master(EDU_SW) == 1,
	      "%s is incoming and still masters", EDU_SW);
	ret = pci_lu_probe_record("incoming", EDU_SW, &probe, bars, sizeof(bars));
	CHECK(ctx, ret == 0 && probe == 0 && !strcmp(bars, "00-00-00-00-00-00-00"),
	      "%s has no record (probe=%02x bars=%s)", EDU_SW, probe, bars);
	CHECK(ctx, pci_lu_config_writes(EDU_SW) > 0,
	      "%s was sized by writing, as before records", EDU_SW);
	CHECK(ctx, pci_lu_status_field(SWITCH_DN1, "path") == 1,
	      "%s is on the incoming path", SWITCH_DN1);
	s = luo_retrieve_session(ctx, "devices");
	CHECK(ctx, s >= 0 && luo_retrieve_fd(s, 1) >= 0, "retrieve the session's fd");
	CHECK(ctx, luo_finish_session(s) == 0, "finish session");
	CHECK(ctx, pci_lu_dmesg_has("every incoming preserved device finished"),
	      "table drained");
	return 0;
}

PCI_LU_TEST(stage1, stage2)
