// SPDX-License-Identifier: GPL-2.0
/*
 * No bus reset from a sibling. The nvme 09:00.0 and the edu 09:00.1 are two
 * functions of one slot (scripts/vm -p): a bus or slot reset for either
 * resets both, and a reset clears the nvme's controller registers (the
 * canary of lib/nvme.h).
 *
 * Stage 1, as a VMM owning both: a hot reset from the edu's file first
 * works and clears the canary (the topology can reset the nvme); then the
 * nvme's file is preserved and the same hot reset fails with EBUSY naming
 * the nvme, and the canary stays. Stage 2: the nvme arrives with the
 * canary; with its file retrieved but not yet bound, the edu is opened as
 * vfio-pci, a hot reset from it is refused, and closing it (vfio-pci's bus
 * reset at close, since the edu has no function reset) leaves the nvme
 * alone. The nvme is then bound and finished with the canary intact.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "nvme.h"
#include "pci_lu.h"
#include "vfio_lu.h"

#define NVME_SIB	"0000:09:00.0"
#define EDU_SIB		"0000:09:00.1"
#define RESET_REFUSED_MSG \
	"0000:09:00.0: Live Update: bus reset refused: the device is preserved"
#define RESET_SKIPPED_MSG \
	"0000:09:00.0: Live Update: bus reset at close skipped: the device is preserved"

/* VFIO_DEVICE_PCI_HOT_RESET with the caller's iommufd as the owner; 0 or -errno. */
static int hot_reset(int fd)
{
	struct vfio_pci_hot_reset r = { .argsz = sizeof(r) };

	return ioctl(fd, VFIO_DEVICE_PCI_HOT_RESET, &r) ? -errno : 0;
}

/* Opens @bdf's cdev and binds it to @owner's iommufd and IOAS; 0 or -errno. */
static int open_in(struct vfio_lu_dev *d, const char *bdf, const struct vfio_lu_dev *owner)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt at = { .argsz = sizeof(at) };

	d->fd = vfio_lu_cdev_open(bdf);
	if (d->fd < 0)
		return d->fd;
	bind.iommufd = owner->iommufd;
	at.pt_id = owner->ioas;
	if (ioctl(d->fd, VFIO_DEVICE_BIND_IOMMUFD, &bind) ||
	    ioctl(d->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at))
		return -errno;
	return 0;
}

static int stage1(struct pci_lu_ctx *ctx)
{
	struct vfio_lu_dev nvme = VFIO_LU_DEV_INIT, edu = VFIO_LU_DEV_INIT;
	int s, ret;

	CHECK(ctx, vfio_lu_bind_driver(NVME_SIB) == 0 && vfio_lu_bind_driver(EDU_SIB) == 0,
	      "%s and %s bound to vfio-pci", NVME_SIB, EDU_SIB);
	nvme.fd = vfio_lu_cdev_open(NVME_SIB);
	if (!CHECK(ctx, nvme.fd >= 0 && vfio_lu_attach(&nvme) == 0,
		   "%s opened and attached to an IOAS", NVME_SIB))
		return 1;
	ret = open_in(&edu, EDU_SIB, &nvme);
	if (!CHECK(ctx, ret == 0, "%s opened in the same iommufd (%d)", EDU_SIB, ret))
		return 1;

	/* Contrast: this topology does reset the nvme from its sibling. */
	CHECK(ctx, nvme_vfio_plant_canary(&nvme) == 0 && nvme_vfio_has_canary(&nvme),
	      "canary planted in %s", NVME_SIB);
	/* QEMU's root port reports -ENOTTY after a reset it did perform. */
	ret = hot_reset(edu.fd);
	CHECK(ctx, ret == 0 || ret == -ENOTTY, "hot reset from %s before any preservation (%d)",
	      EDU_SIB, ret);
	CHECK(ctx, !nvme_vfio_has_canary(&nvme), "that reset cleared the canary of %s", NVME_SIB);

	CHECK(ctx, nvme_vfio_plant_canary(&nvme) == 0 && nvme_vfio_has_canary(&nvme),
	      "canary planted again in %s", NVME_SIB);
	s = luo_create_session(ctx, "sibling");
	if (!CHECK(ctx, s >= 0, "create session"))
		return 1;
	ret = luo_preserve_fd(s, nvme.fd, 1);
	CHECK(ctx, ret == 0, "preserve the VFIO file of %s (%d)", NVME_SIB, ret);
	ret = hot_reset(edu.fd);
	CHECK(ctx, ret == -EBUSY, "hot reset from %s fails with EBUSY (%d)", EDU_SIB, ret);
	CHECK(ctx, pci_lu_dmesg_has(RESET_REFUSED_MSG),
	      "kernel named the preserved %s", NVME_SIB);
	CHECK(ctx, nvme_vfio_has_canary(&nvme), "canary of %s intact", NVME_SIB);
	vfio_lu_close(&edu);
	CHECK(ctx, nvme_vfio_has_canary(&nvme), "canary of %s intact after %s closed",
	      NVME_SIB, EDU_SIB);
	return 0;
}

static int stage2(struct pci_lu_ctx *ctx)
{
	struct vfio_lu_dev nvme = VFIO_LU_DEV_INIT, edu = VFIO_LU_DEV_INIT;
	int s, ret;

	CHECK(ctx, pci_lu_incoming(NVME_SIB) == 1, "%s is incoming", NVME_SIB);
	CHECK(ctx, nvme_has_canary(NVME_SIB), "%s canary intact after the kexec", NVME_SIB);
	s = luo_retrieve_session(ctx, "sibling");
	if (!CHECK(ctx, s >= 0, "retrieve session"))
		return 1;
	nvme.fd = luo_retrieve_fd(s, 1);
	if (!CHECK(ctx, nvme.fd >= 0, "retrieve the VFIO file of %s (%d)", NVME_SIB, nvme.fd))
		return 1;

	/* The sibling as another VMM would use it, while the nvme is not bound. */
	CHECK(ctx, vfio_lu_bind_driver(EDU_SIB) == 0, "%s bound to vfio-pci", EDU_SIB);
	edu.fd = vfio_lu_cdev_open(EDU_SIB);
	ret = edu.fd >= 0 ? vfio_lu_attach(&edu) : edu.fd;
	CHECK(ctx, ret == 0, "%s opened and attached (%d)", EDU_SIB, ret);
	ret = hot_reset(edu.fd);
	CHECK(ctx, ret == -EBUSY, "hot reset from %s fails with EBUSY (%d)", EDU_SIB, ret);
	CHECK(ctx, nvme_has_canary(NVME_SIB), "%s canary intact after the refused hot reset",
	      NVME_SIB);
	vfio_lu_close(&edu);
	CHECK(ctx, pci_lu_dmesg_has(RESET_SKIPPED_MSG),
	      "closing %s skipped the bus reset, naming %s", EDU_SIB, NVME_SIB);
	CHECK(ctx, nvme_has_canary(NVME_SIB), "%s canary intact after %s closed", NVME_SIB,
	      EDU_SIB);

	ret = vfio_lu_attach(&nvme);
	CHECK(ctx, ret == 0, "retrieved %s bound and attached (%d)", NVME_SIB, ret);
	CHECK(ctx, nvme_vfio_has_canary(&nvme), "%s canary intact through VFIO", NVME_SIB);
	CHECK(ctx, luo_finish_session(s) == 0, "finish session");
	CHECK(ctx, pci_lu_incoming(NVME_SIB) == 0, "%s finished", NVME_SIB);
	return 0;
}

PCI_LU_TEST(stage1, stage2)
