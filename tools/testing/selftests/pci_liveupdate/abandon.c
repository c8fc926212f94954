// SPDX-License-Identifier: GPL-2.0
/*
 * Every incoming device has a way out when nobody takes it over. Three
 * devices arrive mastering:
 *  - edu 07:00.0 (vfio): its file is retrieved but never bound, and the VMM
 *    closes the session (as when it dies);
 *  - nvme 01:00.0 (vfio): its session is finished without retrieving the
 *    file;
 *  - edu 04:00.0 (test handler): an administrator writes 1 to its sysfs
 *    liveupdate_abandon.
 * Each is abandoned: Bus Master cleared, no longer incoming, the table
 * drains. The nvme's controller canary shows that abandoning does not
 * reset it, and that the next open is an ordinary one (with a reset).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "nvme.h"
#include "pci_lu.h"
#include "vfio_lu.h"

static int vmm_open(struct pci_lu_ctx *ctx, const char *bdf, struct vfio_lu_dev *d)
{
	int ret;

	if (!CHECK(ctx, vfio_lu_bind_driver(bdf) == 0, "%s bound to vfio-pci", bdf))
		return -ENODEV;
	d->fd = vfio_lu_cdev_open(bdf);
	ret = d->fd >= 0 ? vfio_lu_attach(d) : d->fd;
	ret = ret ?: vfio_lu_set_master(d);
	CHECK(ctx, ret == 0, "%s opened, attached, Bus Master set through VFIO (%d)", bdf, ret);
	return ret;
}

static int stage1(struct pci_lu_ctx *ctx)
{
	struct vfio_lu_dev edu = VFIO_LU_DEV_INIT, nvme = VFIO_LU_DEV_INIT;
	int s_edu = luo_create_session(ctx, "edu");
	int s_nvme = luo_create_session(ctx, "nvme");
	int s_admin = luo_create_session(ctx, "admin");

	if (!CHECK(ctx, s_edu >= 0 && s_nvme >= 0 && s_admin >= 0, "create three sessions"))
		return 1;
	if (vmm_open(ctx, EDU_RP, &edu) || vmm_open(ctx, NVME_PF, &nvme))
		return 1;
	CHECK(ctx, pci_lu_set_bus_master(ROOT_PORT4) == 0 && pci_lu_set_bus_master(ROOT_PORT1) == 0,
	      "Bus Master on %s and %s", ROOT_PORT4, ROOT_PORT1);
	CHECK(ctx, nvme_vfio_plant_canary(&nvme) == 0 && nvme_vfio_has_canary(&nvme),
	      "canary planted in %s", NVME_PF);
	CHECK(ctx, luo_preserve_fd(s_edu, edu.fd, 1) == 0, "preserve %s", EDU_RP);
	CHECK(ctx, luo_preserve_fd(s_nvme, nvme.fd, 2) == 0, "preserve %s", NVME_PF);
	pci_lu_preserve_edu_mastering(ctx, s_admin, 3);
	return 0;
}

static void check_abandoned(struct pci_lu_ctx *ctx, const char *bdf, const char *why)
{
	char msg[160];

	CHECK(ctx, pci_lu_incoming(bdf) == 0, "%s is no longer incoming", bdf);
	CHECK(ctx, pci_lu_bus_master(bdf) == 0, "%s Bus Master cleared", bdf);
	if (why) {
		snprintf(msg, sizeof(msg), "%s: Live Update: %s; abandoning the device", bdf, why);
		CHECK(ctx, pci_lu_dmesg_has(msg), "kernel logged: %s", msg);
	}
	snprintf(msg, sizeof(msg), "%s: Live Update preservation abandoned; Bus Master cleared",
		 bdf);
	CHECK(ctx, pci_lu_dmesg_has(msg), "kernel logged: %s", msg);
}

static int stage2(struct pci_lu_ctx *ctx)
{
	struct vfio_lu_dev edu = VFIO_LU_DEV_INIT, nvme = VFIO_LU_DEV_INIT;
	static const char *const devs[] = { EDU_RP, NVME_PF, EDU_SW };
	int s, ret;

	for (int i = 0; i < 3; i++)
		CHECK(ctx, pci_lu_incoming(devs[i]) == 1 && pci_lu_bus_master(devs[i]) == 1,
		      "%s incoming and mastering", devs[i]);
	CHECK(ctx, nvme_has_canary(NVME_PF), "%s canary intact after the kexec", NVME_PF);

	/* Retrieved, never bound, session closed. */
	s = luo_retrieve_session(ctx, "edu");
	edu.fd = s >= 0 ? luo_retrieve_fd(s, 1) : -ENOENT;
	CHECK(ctx, edu.fd >= 0, "retrieve the file of %s (%d)", EDU_RP, edu.fd);
	CHECK(ctx, s >= 0 && close(s) == 0, "close the session without binding");
	check_abandoned(ctx, EDU_RP, "finished before the VMM bound the retrieved file");
	ret = edu.fd >= 0 ? vfio_lu_attach(&edu) : edu.fd;
	CHECK(ctx, ret == 0, "the retrieved file of %s still binds, as an ordinary open (%d)",
	      EDU_RP, ret);
	CHECK(ctx, pci_lu_write("/sys/bus/pci/devices/" EDU_RP "/liveupdate_abandon", "1") ==
	      -EINVAL, "abandoning it again fails with EINVAL");

	/* Finished without retrieving the file. */
	s = luo_retrieve_session(ctx, "nvme");
	CHECK(ctx, s >= 0 && luo_finish_session(s) == 0, "finish session nvme without retrieve");
	check_abandoned(ctx, NVME_PF, "finished without its file being retrieved");
	CHECK(ctx, nvme_has_canary(NVME_PF), "abandoning did not reset %s", NVME_PF);
	ret = vfio_lu_bind_driver(NVME_PF);
	nvme.fd = ret ?: vfio_lu_cdev_open(NVME_PF);
	ret = nvme.fd >= 0 ? vfio_lu_attach(&nvme) : nvme.fd;
	CHECK(ctx, ret == 0, "the cdev of %s opens and binds (%d)", NVME_PF, ret);
	CHECK(ctx, !nvme_vfio_has_canary(&nvme), "that open reset %s, as an ordinary open does",
	      NVME_PF);

	/* The administrator's way out. */
	CHECK(ctx, pci_lu_write("/sys/bus/pci/devices/" EDU_SW "/liveupdate_abandon", "0") ==
	      -EINVAL, "writing 0 is refused with EINVAL");
	CHECK(ctx, pci_lu_write("/sys/bus/pci/devices/" E1000E "/liveupdate_abandon", "1") ==
	      -EINVAL, "abandoning %s, which is not incoming, fails with EINVAL", E1000E);
	CHECK(ctx, pci_lu_incoming(EDU_SW) == 1, "%s still incoming", EDU_SW);
	CHECK(ctx, pci_lu_write("/sys/bus/pci/devices/" EDU_SW "/liveupdate_abandon", "1") == 0,
	      "administrator abandons %s", EDU_SW);
	check_abandoned(ctx, EDU_SW, NULL);
	CHECK(ctx, pci_lu_dmesg_has("every incoming preserved device finished"), "table drained");
	s = luo_retrieve_session(ctx, "admin");
	CHECK(ctx, s >= 0 && luo_finish_session(s) == 0,
	      "the abandoned device's session still finishes");
	vfio_lu_close(&edu);
	vfio_lu_close(&nvme);
	CHECK(ctx, !pci_lu_dmesg_has("WARNING:"), "no kernel warning");
	return 0;
}

PCI_LU_TEST(stage1, stage2)
