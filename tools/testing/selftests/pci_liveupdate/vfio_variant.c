// SPDX-License-Identifier: GPL-2.0
/*
 * A vfio-pci variant driver bound to an incoming device through
 * driver_override must not take the device over: only the file its
 * session retrieves may. Stage 1 preserves a virtio-blk device (no driver,
 * Bus Master on) with the test handler. In the next kernel
 * virtio_vfio_pci binds it (driver_override wins at probe), and a VMM's
 * path through that driver (cdev open, VFIO_DEVICE_BIND_IOMMUFD) fails
 * with EBUSY while Bus Master stays set: the open would otherwise clear it
 * and reset the function. After finish the variant driver works as stock.
 */
#include <errno.h>
#include <unistd.h>

#include "vfio_lu.h"

#define VIRTIO_BLK	"0000:09:00.0"	/* scripts/vm -v */
#define VIRTIO_RP	"0000:00:1d.0"
#define VARIANT		"virtio_vfio_pci"
#define REFUSED_MSG \
	"0000:09:00.0: Live Update: " VARIANT " may not open the incoming device"

static int stage1(struct pci_lu_ctx *ctx)
{
	char drv[64];
	int s;

	pci_lu_driver(VIRTIO_BLK, drv, sizeof(drv));
	CHECK(ctx, !strcmp(drv, "virtio-pci"), "virtio-pci drives %s (got '%s')", VIRTIO_BLK,
	      drv);
	CHECK(ctx, pci_lu_unbind(VIRTIO_BLK) == 0, "unbind %s", VIRTIO_BLK);
	CHECK(ctx, pci_lu_set_bus_master(VIRTIO_BLK) == 0 &&
	      pci_lu_set_bus_master(VIRTIO_RP) == 0, "Bus Master on %s and %s", VIRTIO_BLK,
	      VIRTIO_RP);
	s = luo_create_session(ctx, "devices");
	if (!CHECK(ctx, s >= 0, "create session"))
		return 1;
	CHECK(ctx, pci_lu_preserve(s, VIRTIO_BLK, 1) == 0, "preserve %s", VIRTIO_BLK);
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	struct vfio_lu_dev dev = VFIO_LU_DEV_INIT;
	int s, ret = -1;
	char drv[64];

	pci_lu_driver(VIRTIO_BLK, drv, sizeof(drv));
	CHECK(ctx, pci_lu_incoming(VIRTIO_BLK) == 1 && !drv[0] &&
	      pci_lu_bus_master(VIRTIO_BLK) == 1,
	      "%s incoming, mastering, no driver (got '%s')", VIRTIO_BLK, drv);

	CHECK(ctx, pci_lu_write("/sys/bus/pci/devices/" VIRTIO_BLK "/driver_override",
				VARIANT) == 0 &&
	      pci_lu_write("/sys/bus/pci/drivers/" VARIANT "/bind", VIRTIO_BLK) == 0 &&
	      wait_driver(VIRTIO_BLK, VARIANT, 5000),
	      "driver_override binds incoming %s to %s", VIRTIO_BLK, VARIANT);

	/* Refused at the cdev open or at the bind that would enable it. */
	dev.fd = vfio_lu_cdev_open(VIRTIO_BLK);
	if (dev.fd == -EBUSY)
		ret = -EBUSY;
	else if (dev.fd >= 0)
		ret = vfio_lu_bind(&dev);
	CHECK(ctx, ret == -EBUSY, "the VMM path through %s fails with EBUSY (%d, open %d)",
	      VARIANT, ret, dev.fd);
	CHECK(ctx, pci_lu_dmesg_has(REFUSED_MSG), "kernel named the device and %s", VARIANT);
	CHECK(ctx, pci_lu_incoming(VIRTIO_BLK) == 1 && pci_lu_bus_master(VIRTIO_BLK) == 1,
	      "%s still incoming and mastering", VIRTIO_BLK);
	if (dev.fd >= 0)
		close(dev.fd);
	if (dev.iommufd >= 0)
		close(dev.iommufd);

	s = luo_retrieve_session(ctx, "devices");
	if (!CHECK(ctx, s >= 0, "retrieve session"))
		return 1;
	CHECK(ctx, luo_retrieve_fd(s, 1) >= 0, "retrieve the file of %s", VIRTIO_BLK);
	CHECK(ctx, luo_finish_session(s) == 0, "finish session");
	CHECK(ctx, pci_lu_incoming(VIRTIO_BLK) == 0, "%s no longer incoming", VIRTIO_BLK);

	/* Afterwards the variant driver opens the device as stock. */
	dev = (struct vfio_lu_dev)VFIO_LU_DEV_INIT;
	dev.fd = vfio_lu_cdev_open(VIRTIO_BLK);
	ret = dev.fd >= 0 ? vfio_lu_bind(&dev) : dev.fd;
	CHECK(ctx, ret == 0, "after finish %s opens and binds %s (%d)", VARIANT, VIRTIO_BLK, ret);
	if (dev.fd >= 0)
		close(dev.fd);
	if (dev.iommufd >= 0)
		close(dev.iommufd);
	return 0;
}

PCI_LU_TEST(stage1, stage2)
