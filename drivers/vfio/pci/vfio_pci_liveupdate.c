// SPDX-License-Identifier: GPL-2.0
/*
 * vfio-pci Live Update: keep an assigned device running across a kexec.
 *
 * A VMM preserves the VFIO cdev file of a device in a Live Update
 * Orchestrator session. The PCI core (pci_liveupdate_*) keeps the device,
 * its bus numbers and Bus Master across the kexec; this handler records
 * which device the file was opened on and gives the next kernel's VMM a
 * file for the same device, which the first open does not reset.
 *
 * Life of a preserved file:
 *   preserve    the PCI core preserves the device; a KHO record names it.
 *   freeze      (kexec) refused while interrupts are enabled or outside D0;
 *               then user access stops. No reset; Bus Master stays on.
 *   retrieve    (next kernel) finds the device, binds vfio-pci if no driver
 *               is bound, and returns a file like a fresh cdev open.
 *   finish      once that file is bound to iommufd; ends the preservation.
 *
 * Until finish, the device's cdev and group refuse to open it (-EBUSY).
 * See Documentation/PCI/vfio-liveupdate.rst.
 */

#define pr_fmt(fmt) "vfio-pci: " fmt

#include <linux/device.h>
#include <linux/file.h>
#include <linux/io.h>
#include <linux/kexec_handover.h>
#include <linux/kho/abi/vfio_pci.h>
#include <linux/liveupdate.h>
#include <linux/mm.h>
#include <linux/pci.h>
#include <linux/pci_liveupdate.h>
#include <linux/vfio.h>
#include <linux/vfio_pci_core.h>

#include "vfio_pci_liveupdate.h"
#include "vfio_pci_priv.h"

/* The vfio-pci device of a file, or NULL for any other file. */
static struct vfio_pci_core_device *vfio_pci_lu_vdev(struct file *file)
{
	struct vfio_device *device = vfio_device_from_file(file);

	if (!device || device->ops != &vfio_pci_ops)
		return NULL;
	return container_of(device, struct vfio_pci_core_device, vdev);
}

/* The record behind a LUO handle, or NULL if the handle cannot be one. */
static struct vfio_pci_lu_ser *vfio_pci_lu_ser(u64 data)
{
	struct vfio_pci_lu_ser *ser;

	/* kho_alloc_preserve() hands out whole pages. */
	if (!data || !PAGE_ALIGNED(data) || !pfn_valid(PHYS_PFN(data)))
		return NULL;
	ser = phys_to_virt(data);
	if (le32_to_cpu(ser->magic) != VFIO_PCI_LU_SER_MAGIC ||
	    le32_to_cpu(ser->size) < sizeof(*ser))
		return NULL;
	return ser;
}

/* The device a record names, referenced, or NULL. */
static struct pci_dev *vfio_pci_lu_find(const struct vfio_pci_lu_ser *ser)
{
	u16 bdf = le16_to_cpu(ser->bdf);

	return pci_get_domain_bus_and_slot(le32_to_cpu(ser->segment),
					   PCI_BUS_NUM(bdf), bdf & 0xff);
}

static bool vfio_pci_lu_can_preserve(struct liveupdate_file_handler *fh,
				     struct file *file)
{
	return vfio_pci_lu_vdev(file);
}

static int vfio_pci_lu_preserve(struct liveupdate_file_op_args *args)
{
	struct vfio_pci_core_device *vdev = vfio_pci_lu_vdev(args->file);
	struct pci_dev *pdev = vdev->pdev;
	struct vfio_pci_lu_ser *ser;
	int ret;

	ret = vfio_device_file_preservable(args->file);
	if (ret) {
		pci_warn(pdev, "Live Update: preserve refused: %s\n",
			 ret == -EBUSY ? "another file has the device open" :
			 "only a /dev/vfio/devices file bound to iommufd can be preserved");
		return ret;
	}

	ser = kho_alloc_preserve(sizeof(*ser));
	if (IS_ERR(ser))
		return PTR_ERR(ser);

	/* Takes the PCI rescan lock: no vfio lock may be held here. */
	ret = pci_liveupdate_preserve(pdev);
	if (ret) {
		kho_unpreserve_free(ser);
		return ret;
	}

	ser->magic = cpu_to_le32(VFIO_PCI_LU_SER_MAGIC);
	ser->size = cpu_to_le32(sizeof(*ser));
	ser->segment = cpu_to_le32(pci_domain_nr(pdev->bus));
	ser->bdf = cpu_to_le16(pci_dev_id(pdev));
	ser->vendor = cpu_to_le16(pdev->vendor);
	ser->device = cpu_to_le16(pdev->device);
	args->serialized_data = virt_to_phys(ser);
	return 0;
}

static void vfio_pci_lu_unpreserve(struct liveupdate_file_op_args *args)
{
	struct vfio_pci_core_device *vdev = vfio_pci_lu_vdev(args->file);

	pci_liveupdate_unpreserve(vdev->pdev);
	kho_unpreserve_free(phys_to_virt(args->serialized_data));
}

static int vfio_pci_lu_freeze(struct liveupdate_file_op_args *args)
{
	struct vfio_pci_core_device *vdev = vfio_pci_lu_vdev(args->file);
	struct pci_dev *pdev = vdev->pdev;
	int ret = 0;

	/* The interrupt setup only changes under igate. */
	mutex_lock(&vdev->igate);
	if (vdev->irq_type != VFIO_PCI_NUM_IRQS) {
		pci_err(pdev, "Live Update: freeze refused: interrupts are still enabled\n");
		ret = -EBUSY;
	} else if (pdev->current_state != PCI_D0) {
		pci_err(pdev, "Live Update: freeze refused: device is in %s, not D0\n",
			pci_power_name(pdev->current_state));
		ret = -EBUSY;
	} else {
		/* Unmap the BARs from userspace; faults fail from now on. */
		vfio_pci_zap_and_down_write_memory_lock(vdev);
		vfio_pci_dma_buf_move(vdev, true);
		/* Paired with smp_load_acquire() in vfio_pci_liveupdate_frozen() */
		smp_store_release(&vdev->liveupdate_frozen, true);
		up_write(&vdev->memory_lock);
	}
	mutex_unlock(&vdev->igate);
	return ret;
}

static void vfio_pci_lu_unfreeze(struct liveupdate_file_op_args *args)
{
	struct vfio_pci_core_device *vdev = vfio_pci_lu_vdev(args->file);

	down_write(&vdev->memory_lock);
	/* Paired with smp_load_acquire() in vfio_pci_liveupdate_frozen() */
	smp_store_release(&vdev->liveupdate_frozen, false);
	if (__vfio_pci_memory_enabled(vdev))
		vfio_pci_dma_buf_move(vdev, false);
	up_write(&vdev->memory_lock);
}

/* Binds vfio-pci to @pdev if no driver is; 0 if vfio-pci is bound. */
static int vfio_pci_lu_bind(struct pci_dev *pdev)
{
	bool set_override = false;
	int ret;

	if (!READ_ONCE(pdev->dev.driver)) {
		/* vfio-pci matches a device only through driver_override. */
		if (!device_has_driver_override(&pdev->dev)) {
			ret = device_set_driver_override(&pdev->dev, vfio_pci_driver.name);
			if (ret)
				return ret;
			set_override = true;
		}
		ret = device_driver_attach(&vfio_pci_driver.driver, &pdev->dev);
		if (set_override)
			device_set_driver_override(&pdev->dev, NULL);
		if (ret && ret != -EBUSY) {
			pci_err(pdev, "Live Update: retrieve: binding vfio-pci failed (%d)\n", ret);
			return ret;
		}
	}
	return 0;
}

/* A new file for the vfio-pci device @pdev, whose next open keeps it as is. */
static struct file *vfio_pci_lu_open(struct pci_dev *pdev)
{
	struct vfio_pci_core_device *vdev;
	struct file *file;

	/* The driver cannot change while the device lock is held. */
	device_lock(&pdev->dev);
	if (pdev->dev.driver != &vfio_pci_driver.driver) {
		device_unlock(&pdev->dev);
		pci_err(pdev, "Live Update: retrieve refused: bound to %s, not vfio-pci\n",
			pdev->dev.driver ? pdev->dev.driver->name : "no driver");
		return ERR_PTR(-EBUSY);
	}
	vdev = dev_get_drvdata(&pdev->dev);
	/* The file holds a registration: vfio-pci stays bound while it lives. */
	file = vfio_device_liveupdate_open(&vdev->vdev);
	device_unlock(&pdev->dev);
	if (IS_ERR(file))
		return file;

	mutex_lock(&vdev->vdev.dev_set->lock);
	if (vdev->vdev.open_count) {
		/* Cannot happen while incoming: cdev and group refuse opens. */
		mutex_unlock(&vdev->vdev.dev_set->lock);
		fput(file);
		pci_err(pdev, "Live Update: retrieve refused: device already open\n");
		return ERR_PTR(-EBUSY);
	}
	vdev->liveupdate_incoming = true;
	mutex_unlock(&vdev->vdev.dev_set->lock);
	return file;
}

static int vfio_pci_lu_retrieve(struct liveupdate_file_op_args *args)
{
	struct vfio_pci_lu_ser *ser = vfio_pci_lu_ser(args->serialized_data);
	struct pci_dev *pdev;
	struct file *file;
	int ret;

	if (!ser) {
		pr_err("Live Update: retrieve refused: invalid handover record at %#llx\n",
		       args->serialized_data);
		return -EINVAL;
	}
	pdev = vfio_pci_lu_find(ser);
	if (!pdev) {
		pr_err("Live Update: retrieve refused: no device %04x:%02x:%02x.%d\n",
		       le32_to_cpu(ser->segment), PCI_BUS_NUM(le16_to_cpu(ser->bdf)),
		       PCI_SLOT(le16_to_cpu(ser->bdf)), PCI_FUNC(le16_to_cpu(ser->bdf)));
		return -ENODEV;
	}
	if (pdev->vendor != le16_to_cpu(ser->vendor) ||
	    pdev->device != le16_to_cpu(ser->device) ||
	    !pci_liveupdate_is_incoming(pdev)) {
		pci_err(pdev, "Live Update: retrieve refused: not the device preserved as %04x:%04x\n",
			le16_to_cpu(ser->vendor), le16_to_cpu(ser->device));
		ret = -ENODEV;
		goto out;
	}

	ret = vfio_pci_lu_bind(pdev);
	if (ret)
		goto out;
	file = vfio_pci_lu_open(pdev);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto out;
	}
	args->file = file;
	pci_info(pdev, "Live Update: device retrieved\n");
out:
	pci_dev_put(pdev);
	return ret;
}

static bool vfio_pci_lu_can_finish(struct liveupdate_file_op_args *args)
{
	struct vfio_pci_core_device *vdev;

	/* Nothing will come of a failed retrieve: let the session end. */
	if (args->retrieve_status < 0)
		return true;
	if (!args->retrieve_status)
		return false;
	/* The first open (VFIO_DEVICE_BIND_IOMMUFD) must have taken it over. */
	vdev = vfio_pci_lu_vdev(args->file);
	guard(mutex)(&vdev->vdev.dev_set->lock);
	return !vdev->liveupdate_incoming;
}

static void vfio_pci_lu_finish(struct liveupdate_file_op_args *args)
{
	struct vfio_pci_lu_ser *ser = vfio_pci_lu_ser(args->serialized_data);
	struct pci_dev *pdev;

	if (args->retrieve_status > 0) {
		pci_liveupdate_finish(vfio_pci_lu_vdev(args->file)->pdev);
	} else if (ser) {
		/* Retrieve failed: release what the PCI core still holds. */
		pdev = vfio_pci_lu_find(ser);
		if (pdev && pci_liveupdate_is_incoming(pdev))
			pci_liveupdate_finish(pdev);
		pci_dev_put(pdev);
	}
	if (ser)
		kho_restore_free(ser);
	else
		pr_warn("Live Update: invalid handover record at %#llx not freed\n",
			args->serialized_data);
}

static const struct liveupdate_file_ops vfio_pci_lu_ops = {
	.can_preserve = vfio_pci_lu_can_preserve,
	.preserve = vfio_pci_lu_preserve,
	.unpreserve = vfio_pci_lu_unpreserve,
	.freeze = vfio_pci_lu_freeze,
	.unfreeze = vfio_pci_lu_unfreeze,
	.retrieve = vfio_pci_lu_retrieve,
	.can_finish = vfio_pci_lu_can_finish,
	.finish = vfio_pci_lu_finish,
	.owner = THIS_MODULE,
};

static struct liveupdate_file_handler vfio_pci_lu_fh = {
	.ops = &vfio_pci_lu_ops,
	.compatible = VFIO_PCI_LU_COMPATIBLE,
};

static bool vfio_pci_lu_registered;

int vfio_pci_liveupdate_init(void)
{
	int ret;

	ret = liveupdate_register_file_handler(&vfio_pci_lu_fh);
	/* Live Update disabled at boot: vfio-pci works as always. */
	if (ret == -EOPNOTSUPP)
		return 0;
	if (ret)
		return ret;

	ret = pci_liveupdate_register_flb(&vfio_pci_lu_fh);
	if (ret) {
		liveupdate_unregister_file_handler(&vfio_pci_lu_fh);
		return ret == -EOPNOTSUPP ? 0 : ret;
	}
	vfio_pci_lu_registered = true;
	return 0;
}

void vfio_pci_liveupdate_cleanup(void)
{
	if (!vfio_pci_lu_registered)
		return;
	pci_liveupdate_unregister_flb(&vfio_pci_lu_fh);
	liveupdate_unregister_file_handler(&vfio_pci_lu_fh);
	vfio_pci_lu_registered = false;
}
