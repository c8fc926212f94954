// SPDX-License-Identifier: GPL-2.0
/*
 * `make demo`: print the PCI topology (bus numbers, Bus Master now and as
 * handed over at boot, driver, preserved status) before and after a Live
 * Update in which the edu device behind the switch is bound to vfio-pci and
 * preserved, while the other edu also masters but is not preserved.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pci_lu.h"

#define DEMO_DEV EDU_SW

static void report(struct pci_lu_ctx *ctx)
{
	struct dirent **names;
	int n = scandir("/sys/bus/pci/devices", &names, NULL, alphasort);

	printf("DEMO %s kernel: %-13s %-9s %-7s %-3s %-8s %-10s %s\n",
	       ctx->stage == 1 ? "first " : "second", "device", "id", "buses", "BM",
	       "BM@boot", "driver", "incoming");
	for (int i = 0; i < n; i++) {
		const char *bdf = names[i]->d_name;
		char path[PATH_MAX], link[PATH_MAX] = "-", buses[16] = "";
		int cmd, sec, sub, vid, did;
		ssize_t l;

		if (bdf[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
		l = readlink(path, link, sizeof(link) - 1);
		if (l > 0) {
			link[l] = '\0';
			memmove(link, strrchr(link, '/') + 1, strlen(strrchr(link, '/')));
		}
		cmd = pci_lu_config_word(bdf, 0x04);
		vid = pci_lu_config_word(bdf, 0x00);
		did = pci_lu_config_word(bdf, 0x02);
		if ((pci_lu_config_word(bdf, 0x0e) & 0x7f) == 1 &&
		    !pci_lu_bridge_buses(bdf, &sec, &sub))
			snprintf(buses, sizeof(buses), "%02x-%02x", sec, sub);
		printf("DEMO %s kernel: %-13s %04x:%04x %-7s %-3s %-8s %-10s %s\n",
		       ctx->stage == 1 ? "first " : "second", bdf, vid, did, buses,
		       cmd & 0x4 ? "on" : "off",
		       ctx->stage == 1 ? "-" :
		       pci_lu_status_field(bdf, "bm_at_enum") == 1 ? "on" : "off", link,
		       pci_lu_incoming(bdf) == 1 ? "yes" : "no");
		free(names[i]);
	}
	free(names);
}

static int stage1(struct pci_lu_ctx *ctx)
{
	int s;

	CHECK(ctx, pci_lu_write("/sys/bus/pci/devices/" DEMO_DEV "/driver_override",
				"vfio-pci") == 0 &&
	      pci_lu_write("/sys/bus/pci/drivers/vfio-pci/bind", DEMO_DEV) == 0,
	      "bind %s to vfio-pci", DEMO_DEV);
	/* Let the device master the bus, as a running device would. */
	CHECK(ctx, pci_lu_set_bus_master(DEMO_DEV) == 0, "set Bus Master on %s", DEMO_DEV);
	/* The switch port above it forwards its DMA (pcieport left it off). */
	CHECK(ctx, pci_lu_set_bus_master(SWITCH_DN1) == 0, "set Bus Master on %s", SWITCH_DN1);
	/* A device that is not preserved, mastering too: stock kexec stops it. */
	CHECK(ctx, pci_lu_set_bus_master(EDU_RP) == 0, "set Bus Master on %s (not preserved)",
	      EDU_RP);
	report(ctx);
	s = luo_create_session(ctx, "demo");
	CHECK(ctx, s >= 0 && pci_lu_preserve(s, DEMO_DEV, 1) == 0, "preserve %s", DEMO_DEV);
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	int s;

	report(ctx);
	CHECK(ctx, pci_lu_incoming(DEMO_DEV) == 1, "%s is incoming", DEMO_DEV);
	CHECK(ctx, pci_lu_bus_master(DEMO_DEV) == 1, "%s kept Bus Master", DEMO_DEV);
	CHECK(ctx, pci_lu_bus_master(EDU_RP) == 0, "%s had Bus Master cleared", EDU_RP);
	CHECK(ctx, pci_lu_status_field(SWITCH_DN1, "bm_at_enum") == 1 &&
	      pci_lu_status_field(SWITCH_UP, "bm_at_enum") == 1 &&
	      pci_lu_status_field(ROOT_PORT2, "bm_at_enum") == 1,
	      "the bridges above %s kept Bus Master across the kexec", DEMO_DEV);
	s = luo_retrieve_session(ctx, "demo");
	CHECK(ctx, s >= 0 && luo_finish_session(s) == 0, "finish session");
	return 0;
}

PCI_LU_TEST(stage1, stage2)
