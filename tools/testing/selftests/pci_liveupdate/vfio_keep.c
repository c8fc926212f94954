// SPDX-License-Identifier: GPL-2.0
/*
 * vfio-pci carries two devices across a Live Update, each in its own
 * session, as a VMM would: the edu behind the switch (proves DMA through the
 * retrieved file) and the nvme on the first root port (proves no reset: its
 * controller registers survive, and a function reset would clear them).
 *
 * Stage 1 binds both to vfio-pci, opens their cdevs, binds them to iommufd,
 * turns Bus Master on through VFIO, plants the nvme canary through VFIO and
 * preserves the files. Stage 2 checks the devices before anything touches
 * them, that nothing but the preserving session can open them, and that
 * the retrieved files work (finishing before that abandons: abandon.c).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "nvme.h"
#include "pci_lu.h"
#include "vfio_lu.h"

#define EDU_IOVA	0x100000	/* edu masks DMA addresses to 28 bits */

/* The bridges above each device: DMA needs Bus Master on all of them. */
static const char *const edu_path[] = { SWITCH_DN1, SWITCH_UP, ROOT_PORT2 };

/* Binds @bdf to vfio-pci and opens it as a VMM does; 0 or -errno. */
static int vmm_open(struct pci_lu_ctx *ctx, const char *bdf, struct vfio_lu_dev *d)
{
	int ret;

	if (!CHECK(ctx, vfio_lu_bind_driver(bdf) == 0, "%s bound to vfio-pci", bdf))
		return -ENODEV;
	d->fd = vfio_lu_cdev_open(bdf);
	if (!CHECK(ctx, d->fd >= 0, "open the cdev of %s (%d)", bdf, d->fd))
		return d->fd;
	ret = vfio_lu_attach(d);
	CHECK(ctx, ret == 0, "%s bound to iommufd and attached to an IOAS (%d)", bdf, ret);
	return ret;
}

static int stage1(struct pci_lu_ctx *ctx)
{
	struct vfio_lu_dev edu = VFIO_LU_DEV_INIT;
	struct vfio_lu_dev nvme = VFIO_LU_DEV_INIT;
	int s_edu, s_nvme;

	pci_lu_check_firmware_buses(ctx, "firmware");
	/* Contrast for stage 2: a stock first open clears Bus Master. */
	CHECK(ctx, vfio_lu_bind_driver(EDU_SW) == 0 && pci_lu_set_bus_master(EDU_SW) == 0,
	      "%s on vfio-pci, Bus Master set before its first open", EDU_SW);
	if (vmm_open(ctx, EDU_SW, &edu) || vmm_open(ctx, NVME_PF, &nvme))
		return 1;
	CHECK(ctx, pci_lu_bus_master(EDU_SW) == 0,
	      "the stock first open of %s cleared Bus Master", EDU_SW);
	for (unsigned int i = 0; i < ARRAY_SIZE(edu_path); i++)
		CHECK(ctx, pci_lu_set_bus_master(edu_path[i]) == 0, "Bus Master on %s",
		      edu_path[i]);
	CHECK(ctx, pci_lu_set_bus_master(ROOT_PORT1) == 0, "Bus Master on %s", ROOT_PORT1);
	CHECK(ctx, vfio_lu_set_master(&edu) == 0 && vfio_lu_set_master(&nvme) == 0,
	      "Bus Master set through VFIO on %s and %s", EDU_SW, NVME_PF);
	CHECK(ctx, pci_lu_bus_master(EDU_SW) == 1 && pci_lu_bus_master(NVME_PF) == 1,
	      "hardware has Bus Master set on both");
	CHECK(ctx, edu.bar0, "BAR0 of %s mapped through VFIO", EDU_SW);
	CHECK(ctx, edu_dma_round_trip(&edu, EDU_IOVA, 0x5a) == 0,
	      "edu DMA round trip through the IOMMU before the update");
	CHECK(ctx, nvme_vfio_plant_canary(&nvme) == 0 && nvme_vfio_has_canary(&nvme),
	      "canary planted in %s through VFIO", NVME_PF);

	s_edu = luo_create_session(ctx, "vfio-edu");
	s_nvme = luo_create_session(ctx, "vfio-nvme");
	if (!CHECK(ctx, s_edu >= 0 && s_nvme >= 0, "create two sessions"))
		return 1;
	CHECK(ctx, luo_preserve_fd(s_edu, edu.fd, 1) == 0, "preserve the VFIO file of %s",
	      EDU_SW);
	CHECK(ctx, luo_preserve_fd(s_nvme, nvme.fd, 2) == 0, "preserve the VFIO file of %s",
	      NVME_PF);
	CHECK(ctx, pci_lu_status_field(EDU_SW, "outgoing") == 1 &&
	      pci_lu_status_field(NVME_PF, "outgoing") == 1, "both devices are outgoing");
	/* Still usable until the kexec. */
	CHECK(ctx, edu_dma_round_trip(&edu, EDU_IOVA + 0x10000, 0x33) == 0,
	      "edu DMA still works after preserve");
	return 0;
}

static void check_retrieved_file_blocked(struct pci_lu_ctx *ctx, int fd)
{
	struct vfio_device_info info;

	CHECK(ctx, vfio_lu_get_info(fd, &info) == -EINVAL,
	      "VFIO_DEVICE_GET_INFO refused before VFIO_DEVICE_BIND_IOMMUFD");
}

static int stage2_edu(struct pci_lu_ctx *ctx)
{
	struct vfio_device_info info;
	struct vfio_lu_dev edu = VFIO_LU_DEV_INIT;
	char drv[64];
	int s, fd, group, container, ret;

	/* An administrator may bind vfio-pci; that opens nothing. */
	CHECK(ctx, vfio_lu_bind_driver(EDU_SW) == 0, "vfio-pci binds incoming %s", EDU_SW);
	fd = vfio_lu_cdev_open(EDU_SW);
	CHECK(ctx, fd == -EBUSY, "opening the cdev of incoming %s fails with EBUSY (%d)",
	      EDU_SW, fd);
	if (fd >= 0)
		close(fd);
	group = vfio_lu_group_open(EDU_SW);
	container = open("/dev/vfio/vfio", O_RDWR);
	fd = group >= 0 && container >= 0 ?
	     vfio_lu_group_device_fd(group, container, EDU_SW) : -ENOENT;
	CHECK(ctx, fd == -EBUSY, "VFIO_GROUP_GET_DEVICE_FD on incoming %s fails with EBUSY (%d)",
	      EDU_SW, fd);
	if (fd >= 0)
		close(fd);
	/* The group must not stay open: it would block the cdev bind. */
	close(group);
	close(container);

	s = luo_retrieve_session(ctx, "vfio-edu");
	if (!CHECK(ctx, s >= 0, "retrieve session vfio-edu"))
		return 1;
	edu.fd = luo_retrieve_fd(s, 1);
	if (!CHECK(ctx, edu.fd >= 0, "retrieve the VFIO file of %s (%d)", EDU_SW, edu.fd))
		return 1;
	pci_lu_driver(EDU_SW, drv, sizeof(drv));
	CHECK(ctx, !strcmp(drv, "vfio-pci"), "%s bound to vfio-pci (got '%s')", EDU_SW, drv);
	check_retrieved_file_blocked(ctx, edu.fd);
	CHECK(ctx, pci_lu_bus_master(EDU_SW) == 1, "%s still masters before bind", EDU_SW);
	CHECK(ctx, vfio_lu_attach(&edu) == 0, "retrieved file binds to iommufd and an IOAS");
	ret = vfio_lu_get_info(edu.fd, &info);
	CHECK(ctx, ret == 0 && info.num_regions > 0 && (info.flags & VFIO_DEVICE_FLAGS_PCI),
	      "VFIO_DEVICE_GET_INFO works: PCI device with %u regions (%d)", info.num_regions,
	      ret);
	CHECK(ctx, pci_lu_bus_master(EDU_SW) == 1 && (vfio_lu_cfg_word(&edu, 0x04) & 0x4),
	      "the first open kept Bus Master on %s", EDU_SW);
	/* Taken over: only finish ends it, not an administrator's abandon. */
	CHECK(ctx, pci_lu_write("/sys/bus/pci/devices/" EDU_SW "/liveupdate_abandon", "1") ==
	      -EBUSY && pci_lu_incoming(EDU_SW) == 1 && pci_lu_bus_master(EDU_SW) == 1,
	      "abandoning %s after the VMM bound it fails with EBUSY and changes nothing", EDU_SW);
	CHECK(ctx, pci_lu_dmesg_has("0000:04:00.0: Live Update: device retrieved"),
	      "kernel logged the retrieve of %s", EDU_SW);
	CHECK(ctx, edu.bar0 && edu_dma_round_trip(&edu, EDU_IOVA, 0xc3) == 0,
	      "edu DMA through the retrieved file completes with the right data");
	CHECK(ctx, luo_finish_session(s) == 0, "finish session vfio-edu");
	CHECK(ctx, pci_lu_incoming(EDU_SW) == 0, "%s no longer incoming", EDU_SW);
	vfio_lu_close(&edu);
	fd = vfio_lu_cdev_open(EDU_SW);
	CHECK(ctx, fd >= 0, "the cdev of %s opens again after finish (%d)", EDU_SW, fd);
	if (fd >= 0)
		close(fd);
	return 0;
}

static int stage2_nvme(struct pci_lu_ctx *ctx)
{
	struct vfio_device_info info;
	struct vfio_lu_dev nvme = VFIO_LU_DEV_INIT;
	char drv[64];
	int s;

	s = luo_retrieve_session(ctx, "vfio-nvme");
	if (!CHECK(ctx, s >= 0, "retrieve session vfio-nvme"))
		return 1;
	pci_lu_driver(NVME_PF, drv, sizeof(drv));
	CHECK(ctx, !drv[0], "%s has no driver before retrieve (got '%s')", NVME_PF, drv);
	nvme.fd = luo_retrieve_fd(s, 2);
	if (!CHECK(ctx, nvme.fd >= 0, "retrieve the VFIO file of %s (%d)", NVME_PF, nvme.fd))
		return 1;
	pci_lu_driver(NVME_PF, drv, sizeof(drv));
	CHECK(ctx, !strcmp(drv, "vfio-pci"), "retrieve bound vfio-pci to %s (got '%s')",
	      NVME_PF, drv);
	CHECK(ctx, vfio_lu_attach(&nvme) == 0 && vfio_lu_get_info(nvme.fd, &info) == 0,
	      "retrieved file of %s binds and answers VFIO_DEVICE_GET_INFO", NVME_PF);
	CHECK(ctx, nvme_vfio_has_canary(&nvme), "%s canary intact through VFIO after the first open",
	      NVME_PF);
	CHECK(ctx, pci_lu_bus_master(NVME_PF) == 1, "%s still masters", NVME_PF);
	CHECK(ctx, luo_finish_session(s) == 0, "finish session vfio-nvme");
	CHECK(ctx, pci_lu_incoming(NVME_PF) == 0, "%s no longer incoming", NVME_PF);

	/* An ordinary device again: any driver may have it. */
	vfio_lu_close(&nvme);
	CHECK(ctx, pci_lu_unbind(NVME_PF) == 0 &&
	      pci_lu_write("/sys/bus/pci/devices/" NVME_PF "/driver_override", "\n") == 0 &&
	      pci_lu_write("/sys/bus/pci/drivers/nvme/bind", NVME_PF) == 0 &&
	      wait_driver(NVME_PF, "nvme", 5000),
	      "%s rebinds to the nvme driver after finish", NVME_PF);
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	char drv[64];

	/* First what the kernel left, before any open. */
	pci_lu_check_firmware_buses(ctx, "after kexec");
	CHECK(ctx, pci_lu_incoming(EDU_SW) == 1 && pci_lu_incoming(NVME_PF) == 1,
	      "%s and %s are incoming", EDU_SW, NVME_PF);
	for (int i = 0; i < 2; i++) {
		const char *bdf = i ? NVME_PF : EDU_SW;

		pci_lu_driver(bdf, drv, sizeof(drv));
		CHECK(ctx, !drv[0] || !strcmp(drv, "vfio-pci"), "%s: no driver but vfio-pci ('%s')",
		      bdf, drv);
		CHECK(ctx, pci_lu_status_field(bdf, "bm_at_enum") == 1 &&
		      pci_lu_bus_master(bdf) == 1, "%s arrived and stays with Bus Master set", bdf);
	}
	CHECK(ctx, nvme_has_canary(NVME_PF), "%s canary intact after the kexec", NVME_PF);
	CHECK(ctx, pci_lu_dmesg_has("0000:01:00.0: Live Update: driver nvme may not bind"),
	      "kernel kept the nvme driver off %s", NVME_PF);

	stage2_edu(ctx);
	stage2_nvme(ctx);
	CHECK(ctx, !pci_lu_dmesg_has("WARNING:"), "no kernel warning");
	return 0;
}

PCI_LU_TEST(stage1, stage2)
