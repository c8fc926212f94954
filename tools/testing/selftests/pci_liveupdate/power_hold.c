// SPDX-License-Identifier: GPL-2.0
/*
 * A running device stays in D0 until it finishes. The nvme on the first
 * root port is preserved through vfio-pci; the second kernel is booted with
 * pcie_port_pm=force. Before retrieve, the test allows runtime PM of the
 * nvme and of its root port (power/control = auto) and binds vfio-pci,
 * whose idle device would go to D3hot at once: both must stay runtime
 * active and held (the nvme in D0, its canary intact). After retrieve and
 * finish both are released, and closing the file lets vfio-pci put the
 * nvme in D3hot as on any boot: the provocation works.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "nvme.h"
#include "pci_lu.h"
#include "vfio_lu.h"

#define PCI_CAP_ID_PM	0x01
#define PM_CTRL		4

/* "active", "suspended", ... of @bdf's runtime PM, or "" */
static void read_runtime_status(const char *bdf, char *buf, size_t len)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/power/runtime_status", bdf);
	if (pci_lu_read(path, buf, len) < 0)
		buf[0] = 0;
	buf[strcspn(buf, "\n")] = 0;
}

static int allow_runtime_pm(const char *bdf)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/power/control", bdf);
	return pci_lu_write(path, "auto");
}

/* The D-state in @bdf's PM Control/Status register, or -1. */
static int power_state(const char *bdf)
{
	int pm = pci_lu_find_cap(bdf, PCI_CAP_ID_PM);
	int v = pm > 0 ? pci_lu_config_word(bdf, pm + PM_CTRL) : -1;

	return v < 0 ? -1 : v & 3;
}

static int stage1(struct pci_lu_ctx *ctx)
{
	struct vfio_lu_dev nvme = VFIO_LU_DEV_INIT;
	int s;

	nvme_vmm_start(ctx, &nvme);
	CHECK(ctx, pci_lu_find_cap(NVME_PF, PCI_CAP_ID_PM) > 0 && power_state(NVME_PF) == 0,
	      "%s has a PM capability and is in D0", NVME_PF);
	s = luo_create_session(ctx, "power");
	CHECK(ctx, s >= 0 && luo_preserve_fd(s, nvme.fd, 1) == 0, "%s preserved", NVME_PF);
	CHECK(ctx, pci_lu_stage2_cmdline("pcie_port_pm=force") == 0,
	      "second kernel lets ports use D3");
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	struct vfio_lu_dev nvme = VFIO_LU_DEV_INIT;
	static const char *const path[] = { NVME_PF, ROOT_PORT1 };
	char st[32];
	int s, i, d = -1;

	CHECK(ctx, pci_lu_incoming(NVME_PF) == 1 && pci_lu_bus_master(NVME_PF) == 1,
	      "%s is incoming and masters", NVME_PF);
	for (i = 0; i < 2; i++)
		CHECK(ctx, allow_runtime_pm(path[i]) == 0, "runtime PM of %s allowed", path[i]);
	CHECK(ctx, vfio_lu_bind_driver(NVME_PF) == 0, "vfio-pci bound to %s before retrieve",
	      NVME_PF);
	/* vfio-pci's idle D3 is immediate; pcieport's autosuspend 100 ms. */
	vfio_lu_sleep_ms(1500);
	/* The root port has no PM capability: its runtime status tells. */
	for (i = 0; i < 2; i++) {
		read_runtime_status(path[i], st, sizeof(st));
		CHECK(ctx, !strcmp(st, "active") && pci_lu_status_field(path[i], "pm_held") == 1,
		      "%s still runtime active, held, while incoming (%s)", path[i], st);
	}
	CHECK(ctx, power_state(NVME_PF) == 0, "%s still in D0", NVME_PF);
	CHECK(ctx, nvme_has_canary(NVME_PF), "canary intact before retrieve");

	s = luo_retrieve_session(ctx, "power");
	nvme.fd = s >= 0 ? luo_retrieve_fd(s, 1) : -ENOENT;
	CHECK(ctx, nvme.fd >= 0 && vfio_lu_attach(&nvme) == 0, "VFIO file retrieved and bound");
	CHECK(ctx, nvme_vfio_has_canary(&nvme), "canary intact through VFIO");
	CHECK(ctx, luo_finish_session(s) == 0 && pci_lu_incoming(NVME_PF) == 0,
	      "session finished");
	close(s);

	/* Released: the idle device suspends as on any boot. */
	for (i = 0; i < 2; i++) {
		for (int t = 0; t < 30 && pci_lu_status_field(path[i], "pm_held") != 0; t++)
			vfio_lu_sleep_ms(100);
		CHECK(ctx, pci_lu_status_field(path[i], "pm_held") == 0,
		      "%s released after finish", path[i]);
	}
	vfio_lu_close(&nvme);
	for (i = 0; i < 30; i++) {
		read_runtime_status(NVME_PF, st, sizeof(st));
		d = power_state(NVME_PF);
		if (!strcmp(st, "suspended") && d == 3)
			break;
		vfio_lu_sleep_ms(100);
	}
	CHECK(ctx, !strcmp(st, "suspended") && d == 3,
	      "after finish and close %s runtime suspends to D3hot (%s, D%d)", NVME_PF, st, d);
	return 0;
}

PCI_LU_TEST(stage1, stage2)
