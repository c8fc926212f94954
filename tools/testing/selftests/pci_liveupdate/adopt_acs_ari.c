// SPDX-License-Identifier: GPL-2.0
/*
 * ACS and ARI settings on the preserved path are adopted, not re-done: the
 * first kernel clears ARI Forwarding on the root port above a preserved
 * nvme (which has an ARI capability, so a stock kernel would enable it
 * again) and sets a non-default ACS Control. The second kernel, booted
 * without pci=noari, must keep both.
 *
 * It also zeroes the bus numbers of the switch port above the pci-testdev:
 * during the Live Update the second kernel must refuse to number that
 * bridge and not scan below it; after the session finishes, a sysfs rescan
 * numbers it as stock and the pci-testdev appears.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "pci_lu.h"
#include "nvme.h"

#define ACS_CANARY	0x0001
#define ARI_FWD		0x0020
#define NO_NUMBERS_MSG \
	"0000:03:01.0: cannot assign bus numbers during a Live Update; not scanning below this bridge"

static int stage1(struct pci_lu_ctx *ctx)
{
	int acs = pci_lu_find_ext_cap(ROOT_PORT1, 0x000d);
	int exp = pci_lu_find_cap(ROOT_PORT1, 0x10);
	int ctl, s;

	CHECK(ctx, acs > 0 && exp > 0, "%s has ACS and PCIe capabilities", ROOT_PORT1);
	if (acs <= 0 || exp <= 0)
		return 1;
	ctl = pci_lu_config_word(ROOT_PORT1, exp + 0x28);
	CHECK(ctx, ctl >= 0 && (ctl & ARI_FWD), "stock kernel enabled ARI Forwarding on %s",
	      ROOT_PORT1);
	pci_lu_config_write_word(ROOT_PORT1, exp + 0x28, ctl & ~ARI_FWD);
	pci_lu_config_write_word(ROOT_PORT1, acs + 6, ACS_CANARY);
	CHECK(ctx, pci_lu_ari_fwd(ROOT_PORT1) == 0 && pci_lu_acs_ctrl(ROOT_PORT1) == ACS_CANARY,
	      "ARI Forwarding cleared and ACS Control %#x on %s", ACS_CANARY, ROOT_PORT1);
	CHECK(ctx, pci_lu_unbind(NVME_PF) == 0, "unbind %s", NVME_PF);
	/* Primary 3, no secondary or subordinate bus: nothing usable. */
	CHECK(ctx, pci_lu_config_write_word(SWITCH_DN2, 0x18, 0x0003) == 0 &&
	      pci_lu_config_write_word(SWITCH_DN2, 0x1a, 0x0000) == 0 &&
	      (pci_lu_bus_triple(SWITCH_DN2) & 0xffff00) == 0,
	      "bus numbers of %s cleared", SWITCH_DN2);
	s = luo_create_session(ctx, "devices");
	CHECK(ctx, s >= 0 && pci_lu_preserve(s, NVME_PF, 1) == 0, "preserve %s", NVME_PF);
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	int s, sec, sub;

	CHECK(ctx, !pci_lu_cmdline_has("noari"), "booted without pci=noari");
	CHECK(ctx, pci_lu_incoming(NVME_PF) == 1, "%s is incoming", NVME_PF);
	CHECK(ctx, pci_lu_ari_fwd(ROOT_PORT1) == 0, "ARI Forwarding on %s still disabled",
	      ROOT_PORT1);
	CHECK(ctx, pci_lu_dmesg_has("ARI Forwarding kept on ") &&
	      !pci_lu_dmesg_has("ARI Forwarding kept on 0 bridges"),
	      "kernel kept the ARI Forwarding of incoming bridges");
	CHECK(ctx, pci_lu_acs_ctrl(ROOT_PORT1) == ACS_CANARY, "ACS Control of %s still %#x",
	      ROOT_PORT1, ACS_CANARY);
	CHECK(ctx, pci_lu_dmesg_has(NO_NUMBERS_MSG),
	      "kernel refused to number %s", SWITCH_DN2);
	CHECK(ctx, access("/sys/bus/pci/devices/" TESTDEV_SW, F_OK) != 0,
	      "nothing enumerated below %s", SWITCH_DN2);
	s = luo_retrieve_session(ctx, "devices");
	CHECK(ctx, s >= 0 && luo_retrieve_fd(s, 1) >= 0 && luo_finish_session(s) == 0,
	      "retrieve and finish the session");
	CHECK(ctx, pci_lu_incoming(NVME_PF) == 0, "%s finished", NVME_PF);
	CHECK(ctx, pci_lu_write("/sys/bus/pci/rescan", "1") == 0, "rescan after finish");
	CHECK(ctx, !pci_lu_bridge_buses(SWITCH_DN1, &sec, &sub) && sec == 4 && sub == 4 &&
	      pci_lu_bus_triple(ROOT_PORT2) == 0x050200,
	      "bus numbers of the other bridges unchanged by the rescan");
	sec = -1;
	sub = -1;
	pci_lu_bridge_buses(SWITCH_DN2, &sec, &sub);
	CHECK(ctx, sec == 5 && sub == 5 && access("/sys/bus/pci/devices/" TESTDEV_SW, F_OK) == 0,
	      "stock rescan numbered %s (%02x-%02x) and found %s", SWITCH_DN2, sec, sub,
	      TESTDEV_SW);
	return 0;
}

PCI_LU_TEST(stage1, stage2)
