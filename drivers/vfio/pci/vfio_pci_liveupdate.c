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
 *   freeze      (kexec) waits for user accesses in flight, then is refused
 *               while interrupts are enabled or outside D0, or stops user
 *               access. No reset; Bus Master stays on.
 *   retrieve    (next kernel) finds the device, binds vfio-pci if no driver
 *               is bound, and returns a file like a fresh cdev open.
 *   finish      ends the preservation; a device the VMM did not take over
 *               (file not retrieved, or not bound to iommufd) is abandoned:
 *               Bus Master cleared, as a stock kexec would.
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
#include <linux/mutex.h>
#include <linux/slab.h>
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

/*
 * The record behind a LUO handle of the previous kernel, restored from KHO
 * before it is read; NULL (logged) if the handle cannot be one. Free it
 * with vfio_pci_lu_free().
 */
static struct vfio_pci_lu_ser *vfio_pci_lu_restore(u64 data)
{
	struct vfio_pci_lu_ser *ser;
	struct folio *folio = NULL;

	/* kho_alloc_preserve() hands out whole pages. */
	if (data && PAGE_ALIGNED(data) && pfn_valid(PHYS_PFN(data)))
		folio = kho_restore_folio(data);
	if (!folio) {
		pr_err("Live Update: handover record at %#llx cannot be restored\n", data);
		return NULL;
	}
	ser = folio_address(folio);
	if (folio_size(folio) < sizeof(*ser) ||
	    le32_to_cpu(ser->magic) != VFIO_PCI_LU_SER_MAGIC ||
	    le32_to_cpu(ser->size) < sizeof(*ser)) {
		pr_err("Live Update: invalid handover record at %#llx\n", data);
		folio_put(folio);
		return NULL;
	}
	return ser;
}

static void vfio_pci_lu_free(struct vfio_pci_lu_ser *ser)
{
	folio_put(virt_to_folio(ser));
}

/* The device a record names, referenced, or NULL. */
static struct pci_dev *vfio_pci_lu_find(const struct vfio_pci_lu_ser *ser)
{
	u16 bdf = le16_to_cpu(ser->bdf);

	return pci_get_domain_bus_and_slot(le32_to_cpu(ser->segment),
					   PCI_BUS_NUM(bdf), bdf & 0xff);
}

/*
 * Nobody will take @pdev over (its file was never retrieved, or its
 * retrieve failed): stop it as a stock kexec would and release it.
 */
static void vfio_pci_lu_abandon(struct pci_dev *pdev, const char *why)
{
	if (!pdev || !pci_liveupdate_is_incoming(pdev))
		return;
	pci_warn(pdev, "Live Update: %s; abandoning the device\n", why);
	pci_liveupdate_abandon(pdev);
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

	/* vfio-pci is the bound driver: the binding it records holds still. */
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

/*
 * PF files whose unpreserve was refused because VFs of the PF are still
 * preserved: held open, so that nothing resets the PF (and with it its
 * VFs), until the last such VF is unpreserved.
 */
struct vfio_pci_lu_held {
	struct list_head node;
	struct pci_dev *pdev;
	struct file *file;
};

static LIST_HEAD(vfio_pci_lu_held_pfs);
static DEFINE_MUTEX(vfio_pci_lu_held_lock);

static void vfio_pci_lu_hold_pf(struct pci_dev *pdev, struct file *file)
{
	struct vfio_pci_lu_held *h = kzalloc_obj(*h);

	/* Without memory the PF file closes: its VFs are reset with it. */
	if (WARN_ON(!h))
		return;
	h->pdev = pdev;
	h->file = get_file(file);
	guard(mutex)(&vfio_pci_lu_held_lock);
	list_add(&h->node, &vfio_pci_lu_held_pfs);
	pci_info(pdev, "Live Update: PF kept open and preserved while its VFs are\n");
}

/* Whether @pf is held open only for its preserved VFs. */
static bool vfio_pci_lu_pf_held(struct pci_dev *pf)
{
	struct vfio_pci_lu_held *h;

	guard(mutex)(&vfio_pci_lu_held_lock);
	list_for_each_entry(h, &vfio_pci_lu_held_pfs, node)
		if (h->pdev == pf)
			return true;
	return false;
}

/* A VF was unpreserved: its PF's pending unpreserve may go through now. */
static void vfio_pci_lu_release_pf(struct pci_dev *vf)
{
	struct pci_dev *pf = pci_physfn(vf);
	struct vfio_pci_lu_held *h, *tmp;

	guard(mutex)(&vfio_pci_lu_held_lock);
	list_for_each_entry_safe(h, tmp, &vfio_pci_lu_held_pfs, node) {
		if (h->pdev != pf || pci_liveupdate_unpreserve(pf))
			continue;
		list_del(&h->node);
		fput(h->file);
		kfree(h);
	}
}

static void vfio_pci_lu_unpreserve(struct liveupdate_file_op_args *args)
{
	struct vfio_pci_core_device *vdev = vfio_pci_lu_vdev(args->file);
	struct pci_dev *pdev = vdev->pdev;

	if (pci_liveupdate_unpreserve(pdev) == -EBUSY)
		vfio_pci_lu_hold_pf(pdev, args->file);
	else if (pdev->is_virtfn)
		vfio_pci_lu_release_pf(pdev);
	kho_unpreserve_free(phys_to_virt(args->serialized_data));
}

/*
 * An ioeventfd on an I/O port BAR writes to the device without the memory
 * checks that stop the others once frozen.
 */
static bool vfio_pci_lu_has_io_ioeventfd(struct vfio_pci_core_device *vdev)
{
	struct vfio_pci_ioeventfd *ioeventfd;

	guard(mutex)(&vdev->ioeventfds_lock);
	list_for_each_entry(ioeventfd, &vdev->ioeventfds_list, next)
		if (!ioeventfd->test_mem)
			return true;
	return false;
}

static int vfio_pci_lu_freeze(struct liveupdate_file_op_args *args)
{
	struct vfio_pci_core_device *vdev = vfio_pci_lu_vdev(args->file);
	struct pci_dev *pdev = vdev->pdev;
	int ret = 0;

	/*
	 * A PF held only for its VFs is in no session: nothing would freeze
	 * it, and no file would take it over after the kexec.
	 */
	if (pdev->is_virtfn && vfio_pci_lu_pf_held(pci_physfn(pdev))) {
		pci_err(pdev, "Live Update: freeze refused: its PF %s is no longer preserved in a session\n",
			pci_name(pci_physfn(pdev)));
		return -EBUSY;
	}

	/*
	 * Wait for every ioctl, read and write in flight and keep new ones out:
	 * nothing userspace started may reach the device after this returns.
	 */
	down_write(&vdev->liveupdate_gate);
	/* The interrupt setup only changes under igate. */
	mutex_lock(&vdev->igate);
	/* Unmap the BARs from userspace; faults fail from now on. */
	vfio_pci_zap_and_down_write_memory_lock(vdev);
	if (vdev->irq_type != VFIO_PCI_NUM_IRQS) {
		pci_err(pdev, "Live Update: freeze refused: interrupts are still enabled\n");
		ret = -EBUSY;
	} else if (vfio_pci_lu_has_io_ioeventfd(vdev)) {
		pci_err(pdev, "Live Update: freeze refused: an I/O port ioeventfd is registered\n");
		ret = -EBUSY;
	} else if (pdev->current_state != PCI_D0) {
		pci_err(pdev, "Live Update: freeze refused: device is in %s, not D0\n",
			pci_power_name(pdev->current_state));
		ret = -EBUSY;
	} else {
		vfio_pci_dma_buf_move(vdev, true);
		/* Paired with smp_load_acquire() in vfio_pci_liveupdate_frozen() */
		smp_store_release(&vdev->liveupdate_frozen, true);
	}
	up_write(&vdev->memory_lock);
	mutex_unlock(&vdev->igate);
	up_write(&vdev->liveupdate_gate);
	return ret;
}

static void vfio_pci_lu_unfreeze(struct liveupdate_file_op_args *args)
{
	struct vfio_pci_core_device *vdev = vfio_pci_lu_vdev(args->file);

	down_write(&vdev->liveupdate_gate);
	down_write(&vdev->memory_lock);
	/* Paired with smp_load_acquire() in vfio_pci_liveupdate_frozen() */
	smp_store_release(&vdev->liveupdate_frozen, false);
	if (__vfio_pci_memory_enabled(vdev))
		vfio_pci_dma_buf_move(vdev, false);
	up_write(&vdev->memory_lock);
	up_write(&vdev->liveupdate_gate);
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
	struct vfio_pci_lu_ser *ser = vfio_pci_lu_restore(args->serialized_data);
	u16 vendor, device, bdf;
	struct pci_dev *pdev;
	struct file *file;
	u32 segment;
	int ret;

	if (!ser)
		return -EINVAL;
	/* Not needed after this: LUO never calls retrieve twice. */
	segment = le32_to_cpu(ser->segment);
	bdf = le16_to_cpu(ser->bdf);
	vendor = le16_to_cpu(ser->vendor);
	device = le16_to_cpu(ser->device);
	pdev = vfio_pci_lu_find(ser);
	vfio_pci_lu_free(ser);
	if (!pdev) {
		pr_err("Live Update: retrieve refused: no device %04x:%02x:%02x.%d\n",
		       segment, PCI_BUS_NUM(bdf), PCI_SLOT(bdf), PCI_FUNC(bdf));
		return -ENODEV;
	}
	/* The PCI core checked identity and place at enumeration. */
	if (!pci_liveupdate_is_incoming(pdev)) {
		pci_err(pdev, "Live Update: retrieve refused: not the device preserved as %04x:%04x\n",
			vendor, device);
		ret = -ENODEV;
		goto out;
	}

	/*
	 * vfio-pci takes a VF only once its PF is bound (VF token): a VF
	 * retrieved first binds its incoming PF as the PF's retrieve would.
	 */
	if (pdev->is_virtfn && pci_liveupdate_is_incoming(pci_physfn(pdev))) {
		ret = vfio_pci_lu_bind(pci_physfn(pdev));
		if (ret)
			goto fail;
	}
	ret = vfio_pci_lu_bind(pdev);
	if (ret)
		goto fail;
	file = vfio_pci_lu_open(pdev);
	if (IS_ERR(file)) {
		ret = PTR_ERR(file);
		goto fail;
	}
	args->file = file;
	pci_info(pdev, "Live Update: device retrieved\n");
	goto out;
fail:
	/* It cannot be retrieved again. */
	vfio_pci_lu_abandon(pdev, "retrieve failed");
out:
	pci_dev_put(pdev);
	return ret;
}

/*
 * Finish ends the preservation whether or not the VMM took the device over,
 * so that closing a session (e.g. when the VMM dies) never leaves a device
 * pinned. A device whose file was not retrieved, or retrieved but never
 * bound to iommufd, is abandoned: Bus Master cleared, carried translation
 * ended, and its next open is an ordinary one, with a reset.
 */
static void vfio_pci_lu_finish(struct liveupdate_file_op_args *args)
{
	struct vfio_pci_core_device *vdev;
	struct vfio_pci_lu_ser *ser;
	struct pci_dev *pdev;
	bool bound;

	if (args->retrieve_status > 0) {
		vdev = vfio_pci_lu_vdev(args->file);
		pdev = vdev->pdev;
		scoped_guard(mutex, &vdev->vdev.dev_set->lock) {
			bound = !vdev->liveupdate_incoming;
			vdev->liveupdate_incoming = false;
		}
		if (!bound)
			vfio_pci_lu_abandon(pdev,
					    "finished before the VMM bound the retrieved file");
		else if (pci_liveupdate_is_incoming(pdev))
			pci_liveupdate_finish(pdev);
		return;
	}
	/*
	 * A failed retrieve freed the record and abandoned the device if it
	 * found one incoming; one whose record was unreadable stays incoming
	 * until an administrator abandons it (sysfs liveupdate_abandon).
	 */
	if (args->retrieve_status < 0)
		return;
	ser = vfio_pci_lu_restore(args->serialized_data);
	if (!ser)
		return;
	pdev = vfio_pci_lu_find(ser);
	vfio_pci_lu_free(ser);
	vfio_pci_lu_abandon(pdev, "finished without its file being retrieved");
	pci_dev_put(pdev);
}

static const struct liveupdate_file_ops vfio_pci_lu_ops = {
	.can_preserve = vfio_pci_lu_can_preserve,
	.preserve = vfio_pci_lu_preserve,
	.unpreserve = vfio_pci_lu_unpreserve,
	.freeze = vfio_pci_lu_freeze,
	.unfreeze = vfio_pci_lu_unfreeze,
	.retrieve = vfio_pci_lu_retrieve,
	.finish = vfio_pci_lu_finish,
	.owner = THIS_MODULE,
};

static struct liveupdate_file_handler vfio_pci_lu_fh = {
	.ops = &vfio_pci_lu_ops,
	.compatible = VFIO_PCI_LU_COMPATIBLE,
};

static bool vfio_pci_lu_registered;

/*
 * vfio_device_ops.open_blocked of vfio-pci: an incoming device is opened
 * only through the session that preserved it. A variant driver bound
 * through driver_override has no such op; vfio_pci_core_enable() refuses
 * its first open instead, before anything touches the device.
 */
bool vfio_pci_liveupdate_open_blocked(struct vfio_device *vdev)
{
	return pci_liveupdate_is_incoming(to_pci_dev(vdev->dev));
}

int vfio_pci_liveupdate_init(void)
{
	int ret;

	ret = liveupdate_register_file_handler(&vfio_pci_lu_fh);
	/* Live Update disabled at boot: vfio-pci works as always. */
	if (ret == -EOPNOTSUPP)
		return 0;
	if (ret)
		return ret;

	/*
	 * LUO may restore files against the handler from here on. If module
	 * init then fails, those files point into the freed module: LUO's
	 * unregister cannot refuse. Only a failure below makes that window.
	 */
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
