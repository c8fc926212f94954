// SPDX-License-Identifier: GPL-2.0
/*
 * A preserved device really survives the kexec: an nvme controller (left
 * unbound, enabled with canary admin queues) and an edu behind the switch
 * are preserved. The second kernel boots with pci=assign-busses,noari and
 * hpbussize=4 (which would renumber the hot-plug capable root ports) and
 * must show: every bridge's bus numbers unchanged, also across a sysfs
 * rescan; Bus Master kept on the preserved devices and their bridges and
 * cleared elsewhere; the nvme neither reset nor probed by the built-in nvme
 * driver (while the control nvme is re-initialised by it); ACS Control and
 * ARI Forwarding on the root port as the first kernel left them. After the
 * session finishes the binding rule is gone and nvme binds normally. (No
 * rescan after finish here: with pci=assign-busses a stock rescan renumbers
 * live bridges; adopt_acs_ari checks the stock rescan.)
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "pci_lu.h"
#include "nvme.h"

#define ACS_CANARY	0x0001	/* SV only; Linux with an IOMMU sets SV|RR|CR|UF */
#define NO_DRIVER_MSG \
	"0000:01:00.0: Live Update: driver nvme may not bind before the preservation finishes (preserved with no driver)"

static const char *const kept[] = {	/* preserved devices and their bridges */
	NVME_PF, ROOT_PORT1, EDU_SW, SWITCH_DN1, SWITCH_UP, ROOT_PORT2,
};

#define N_KEPT ((int)ARRAY_SIZE(kept))
/* Not preserved but mastering before the kexec: must arrive stopped. */
static const char *const stopped[] = { TESTDEV_SW, SWITCH_DN2, EDU_RP, ROOT_PORT3, NVME_CTL };
#define N_STOPPED ((int)ARRAY_SIZE(stopped))

static void set_bm(struct pci_lu_ctx *ctx, const char *bdf)
{
	CHECK(ctx, pci_lu_set_bus_master(bdf) == 0, "set Bus Master on %s", bdf);
}

static int stage1(struct pci_lu_ctx *ctx)
{
	int s, pos;

	pci_lu_check_firmware_buses(ctx, "firmware");
	CHECK(ctx, nvme_plant_canary(NVME_PF) == 0, "canary planted in %s", NVME_PF);
	CHECK(ctx, nvme_plant_canary(NVME_CTL) == 0, "canary planted in control %s", NVME_CTL);
	/* Every bridge masters, as the path of a device doing DMA must. */
	set_bm(ctx, EDU_SW);
	set_bm(ctx, SWITCH_DN1);
	set_bm(ctx, TESTDEV_SW);
	set_bm(ctx, SWITCH_DN2);
	set_bm(ctx, EDU_RP);
	set_bm(ctx, ROOT_PORT3);
	pos = pci_lu_find_ext_cap(ROOT_PORT1, 0x000d);
	CHECK(ctx, pos > 0, "%s has an ACS capability", ROOT_PORT1);
	if (pos > 0)
		pci_lu_config_write_word(ROOT_PORT1, pos + 6, ACS_CANARY);
	CHECK(ctx, pci_lu_acs_ctrl(ROOT_PORT1) == ACS_CANARY, "ACS Control of %s set to %#x",
	      ROOT_PORT1, ACS_CANARY);
	CHECK(ctx, pci_lu_ari_fwd(ROOT_PORT1) == 1,
	      "ARI Forwarding enabled on %s (the nvme below has ARI)", ROOT_PORT1);

	s = luo_create_session(ctx, "devices");
	if (!CHECK(ctx, s >= 0, "create session"))
		return 1;
	CHECK(ctx, pci_lu_preserve(s, NVME_PF, 1) == 0, "preserve %s", NVME_PF);
	CHECK(ctx, pci_lu_preserve(s, EDU_SW, 2) == 0, "preserve %s", EDU_SW);
	for (int i = 0; i < N_KEPT; i++) {
		CHECK(ctx, pci_lu_status_field(kept[i], "outgoing") == 1, "%s outgoing", kept[i]);
		CHECK(ctx, pci_lu_bus_master(kept[i]) == 1, "%s masters before kexec", kept[i]);
	}
	/* Else "arrived cleared" in the second kernel would prove nothing. */
	for (int i = 0; i < N_STOPPED; i++) {
		CHECK(ctx, pci_lu_status_field(stopped[i], "outgoing") == 0, "%s not outgoing",
		      stopped[i]);
		CHECK(ctx, pci_lu_bus_master(stopped[i]) == 1, "%s masters before kexec",
		      stopped[i]);
	}
	CHECK(ctx, pci_lu_stage2_cmdline("pci=assign-busses,noari,hpbussize=4") == 0,
	      "second kernel gets pci=assign-busses,noari,hpbussize=4");
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	volatile uint8_t *bar;
	char drv[64];
	int s, fd;

	CHECK(ctx, pci_lu_cmdline_has("assign-busses") && pci_lu_cmdline_has("noari"),
	      "booted with pci=assign-busses,noari");
	CHECK(ctx, pci_lu_dmesg_has("pci=assign-busses ignored during a Live Update"),
	      "kernel logged that assign-busses is ignored");
	pci_lu_check_firmware_buses(ctx, "after kexec");

	CHECK(ctx, pci_lu_incoming(NVME_PF) == 1 && pci_lu_incoming(EDU_SW) == 1,
	      "%s and %s are incoming", NVME_PF, EDU_SW);
	for (int i = 0; i < N_KEPT; i++) {
		CHECK(ctx, pci_lu_status_field(kept[i], "path") == 1, "%s on an incoming path",
		      kept[i]);
		CHECK(ctx, pci_lu_status_field(kept[i], "bm_at_enum") == 1,
		      "%s arrived with Bus Master set", kept[i]);
	}
	for (int i = 0; i < N_STOPPED; i++)
		CHECK(ctx, pci_lu_status_field(stopped[i], "bm_at_enum") == 0,
		      "%s (mastering before kexec) arrived with Bus Master cleared", stopped[i]);
	CHECK(ctx, pci_lu_bus_master(NVME_PF) == 1, "%s Bus Master still set", NVME_PF);
	CHECK(ctx, pci_lu_bus_master(EDU_SW) == 1, "%s Bus Master still set", EDU_SW);
	CHECK(ctx, pci_lu_bus_master(TESTDEV_SW) == 0 && pci_lu_bus_master(EDU_RP) == 0,
	      "Bus Master cleared on non-preserved %s and %s", TESTDEV_SW, EDU_RP);

	/* The control nvme is probed and re-initialised by its driver. */
	CHECK(ctx, wait_driver(NVME_CTL, "nvme", 15000), "control %s bound to nvme", NVME_CTL);
	bar = pci_lu_map_bar0(NVME_CTL);
	CHECK(ctx, bar && nvme_rd(bar, NVME_ASQ) != CANARY_ASQ,
	      "control %s re-initialised by its driver", NVME_CTL);
	pci_lu_driver(NVME_PF, drv, sizeof(drv));
	CHECK(ctx, !drv[0], "%s has no driver (got '%s')", NVME_PF, drv);
	CHECK(ctx, pci_lu_dmesg_has(NO_DRIVER_MSG),
	      "kernel refused the nvme driver for %s", NVME_PF);
	CHECK(ctx, nvme_has_canary(NVME_PF), "%s canary intact: not reset, not probed", NVME_PF);

	CHECK(ctx, pci_lu_acs_ctrl(ROOT_PORT1) == ACS_CANARY, "%s ACS Control still %#x (got %#x)",
	      ROOT_PORT1, ACS_CANARY, pci_lu_acs_ctrl(ROOT_PORT1));
	CHECK(ctx, pci_lu_status_field(ROOT_PORT1, "acs_adopted") == 1,
	      "kernel adopted the ACS Control of %s", ROOT_PORT1);
	CHECK(ctx, pci_lu_ari_fwd(ROOT_PORT1) == 1,
	      "%s ARI Forwarding still enabled despite noari", ROOT_PORT1);
	CHECK(ctx, pci_lu_dmesg_has("ARI Forwarding kept on ") &&
	      !pci_lu_dmesg_has("ARI Forwarding kept on 0 bridges"),
	      "kernel kept the ARI Forwarding of incoming bridges");

	/* A rescan while devices are incoming keeps every number. */
	CHECK(ctx, pci_lu_write("/sys/bus/pci/rescan", "1") == 0, "rescan before finish");
	pci_lu_check_firmware_buses(ctx, "rescan before finish");
	pci_lu_driver(NVME_PF, drv, sizeof(drv));
	CHECK(ctx, !drv[0] && nvme_has_canary(NVME_PF), "%s still untouched after rescan",
	      NVME_PF);

	/* An administrator's driver_override still wins over the rule. */
	CHECK(ctx, pci_lu_write("/sys/bus/pci/devices/" EDU_SW "/driver_override",
				"vfio-pci") == 0 &&
	      pci_lu_write("/sys/bus/pci/drivers/vfio-pci/bind", EDU_SW) == 0 &&
	      wait_driver(EDU_SW, "vfio-pci", 5000),
	      "driver_override binds incoming %s to vfio-pci", EDU_SW);
	CHECK(ctx, pci_lu_incoming(EDU_SW) == 1 && pci_lu_bus_master(EDU_SW) == 1,
	      "%s still incoming and mastering", EDU_SW);

	s = luo_retrieve_session(ctx, "devices");
	if (!CHECK(ctx, s >= 0, "retrieve session"))
		return 1;
	fd = luo_retrieve_fd(s, 1);
	CHECK(ctx, fd >= 0 && luo_retrieve_fd(s, 2) >= 0, "retrieve both fds");
	CHECK(ctx, luo_finish_session(s) == 0, "finish session");
	CHECK(ctx, pci_lu_dmesg_has("every incoming preserved device finished"),
	      "every device finished");
	CHECK(ctx, pci_lu_incoming(NVME_PF) == 0, "%s no longer incoming", NVME_PF);

	/* Afterwards binding behaves as stock (rescans: see adopt_acs_ari). */
	pci_lu_write("/sys/bus/pci/drivers_probe", NVME_PF);
	CHECK(ctx, wait_driver(NVME_PF, "nvme", 15000), "%s binds to nvme after finish", NVME_PF);
	return 0;
}

PCI_LU_TEST(stage1, stage2)
