/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Body of the corrupt_* tests: stage 1 preserves two devices that master
 * the bus and then damages the outgoing table in one way (FAULT); the
 * second kernel must log why it refuses the data (REASON) and apply the
 * invalid-data policy: no device treated as preserved, every bridge keeps
 * its bus numbers, Bus Master cleared on every device that arrived with it
 * set; and still boot and finish the session without a panic.
 *
 * A test file defines FAULT and REASON and includes this file. A fault
 * that makes the table unreadable already for the first kernel (count or
 * capacity beyond the array) also defines MASTERS_AT_KEXEC 0: that kernel
 * cannot vouch for any device either, so it clears Bus Master at kexec.
 */
#ifndef MASTERS_AT_KEXEC
#define MASTERS_AT_KEXEC 1
#endif
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "pci_lu.h"

#define BM_CLEARED_MSG	"0000:04:00.0: cleared Bus Master left set by the previous kernel"

static int stage1(struct pci_lu_ctx *ctx)
{
	struct pci_lu_entry e[32];
	int s = luo_create_session(ctx, "devices");
	int n, ret;

	if (!CHECK(ctx, s >= 0, "create session"))
		return 1;
	for (int i = 0; i < 2; i++) {
		const char *d = i ? EDU_RP : EDU_SW;

		CHECK(ctx, pci_lu_set_bus_master(d) == 0, "set Bus Master on %s", d);
		CHECK(ctx, pci_lu_preserve(s, d, i + 1) == 0, "preserve %s", d);
	}
	n = pci_lu_table("outgoing", e, 32);
	CHECK(ctx, n == 6, "outgoing table has 6 entries (%d)", n);
	/* Stock numbering would differ: the policy must keep the old one. */
	CHECK(ctx, pci_lu_stage2_cmdline("pci=assign-busses,hpbussize=4") == 0,
	      "second kernel gets pci=assign-busses,hpbussize=4");
	ret = pci_lu_inject(FAULT);
	CHECK(ctx, ret == 0, "inject fault %d (%d)", FAULT, ret);
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	char buf[64];
	int s, fd;

	CHECK(ctx, pci_lu_dmesg_has("invalid handover data from the previous kernel (" REASON),
	      "kernel logged: " REASON);
	CHECK(ctx, pci_lu_dmesg_has("no device is treated as preserved"),
	      "kernel refused all devices");
	/* The policy: stop what arrived mastering, keep every bus number. */
	CHECK(ctx, pci_lu_status_field(EDU_SW, "bm_at_enum") == MASTERS_AT_KEXEC &&
	      pci_lu_status_field(EDU_RP, "bm_at_enum") == MASTERS_AT_KEXEC,
	      "%s and %s arrived with Bus Master %s", EDU_SW, EDU_RP,
	      MASTERS_AT_KEXEC ? "set" : "cleared by the first kernel");
	CHECK(ctx, pci_lu_bus_master(EDU_SW) == 0 && pci_lu_bus_master(EDU_RP) == 0,
	      "Bus Master cleared on %s and %s", EDU_SW, EDU_RP);
	CHECK(ctx, pci_lu_dmesg_has(BM_CLEARED_MSG) == MASTERS_AT_KEXEC,
	      "kernel %s the cleared Bus Master of %s",
	      MASTERS_AT_KEXEC ? "logged" : "had no need to log", EDU_SW);
	pci_lu_check_firmware_buses(ctx, "despite pci=assign-busses");
	CHECK(ctx, pci_lu_incoming_count() == 0, "no device is incoming (%d)",
	      pci_lu_incoming_count());
	CHECK(ctx, pci_lu_table("incoming", NULL, 0) == -EINVAL, "incoming table is refused");
	s = luo_retrieve_session(ctx, "devices");
	if (!CHECK(ctx, s >= 0, "session still retrievable (%d)", s))
		return 1;
	fd = luo_retrieve_fd(s, 1);
	memset(buf, 0, sizeof(buf));
	if (fd >= 0)
		read(fd, buf, sizeof(buf) - 1);
	CHECK(ctx, !strcmp(buf, EDU_SW " incoming=0\n"), "retrieved fd reports %s not incoming",
	      EDU_SW);
	CHECK(ctx, luo_finish_session(s) == 0, "finish session without a panic");
	CHECK(ctx, !pci_lu_dmesg_has("WARNING:"), "no kernel warning on the way");
	return 0;
}

PCI_LU_TEST(stage1, stage2)
