// SPDX-License-Identifier: GPL-2.0
/*
 * C side of the PCI Live Update component.
 *
 * #[export] only fixes the symbol names and checks the signatures of the
 * Rust functions; it does not make them visible to modules. This file
 * exports them (vfio-pci may be a module), runs the boot-time init and
 * wraps the PCI core internals the Rust side needs.
 */

#include <linux/device.h>
#include <linux/export.h>
#include <linux/init.h>
#include <linux/iommu_liveupdate.h>
#include <linux/kstrtox.h>
#include <linux/kexec.h>
#include <linux/kexec_handover.h>
#include <linux/kho/abi/pci.h>
#include <linux/liveupdate.h>
#include <linux/mutex.h>
#include <linux/pci_liveupdate.h>
#include <linux/pm_runtime.h>
#include <linux/workqueue.h>

#include "../pci.h"

#define PCI_LU_PR "pci_liveupdate: "

/* The functions are defined in Rust, as in rust/exports.c. */
#define PCI_LU_EXPORT_RUST_GPL(sym) EXPORT_SYMBOL_GPL(sym)

PCI_LU_EXPORT_RUST_GPL(pci_liveupdate_register_flb);
PCI_LU_EXPORT_RUST_GPL(pci_liveupdate_unregister_flb);
PCI_LU_EXPORT_RUST_GPL(pci_liveupdate_preserve);
PCI_LU_EXPORT_RUST_GPL(pci_liveupdate_unpreserve);
PCI_LU_EXPORT_RUST_GPL(pci_liveupdate_finish);
PCI_LU_EXPORT_RUST_GPL(pci_liveupdate_abandon);
PCI_LU_EXPORT_RUST_GPL(pci_liveupdate_claim);
PCI_LU_EXPORT_RUST_GPL(pci_liveupdate_is_incoming);
PCI_LU_EXPORT_RUST_GPL(pci_liveupdate_is_preserved);

/*
 * After LUO has read the incoming FLB headers (early_initcall) and before
 * PCI enumeration (subsys_initcall), which will look devices up.
 */
static int __init pci_liveupdate_initcall(void)
{
	return pci_liveupdate_init();
}
postcore_initcall(pci_liveupdate_initcall);

/*
 * After the initial enumeration: once asynchronous and deferred probes (a
 * host bridge driver may enumerate from one) are done, with no scan running.
 */
static int __init pci_liveupdate_late_initcall(void)
{
	wait_for_device_probe();
	pci_lock_rescan_remove();
	pci_liveupdate_late_init();
	pci_unlock_rescan_remove();
	return 0;
}
late_initcall_sync(pci_liveupdate_late_initcall);

/*
 * An administrator's way out for an incoming device that nobody will take
 * over (e.g. its session is never retrieved): writing 1 stops and releases
 * it. Documentation/ABI/testing/sysfs-bus-pci-liveupdate.
 */
static ssize_t liveupdate_abandon_store(struct device *dev,
					struct device_attribute *attr,
					const char *buf, size_t count)
{
	bool val;
	int ret;

	ret = kstrtobool(buf, &val);
	if (ret)
		return ret;
	if (!val)
		return -EINVAL;
	ret = pci_liveupdate_abandon(to_pci_dev(dev));
	return ret ?: count;
}
static DEVICE_ATTR_WO(liveupdate_abandon);

static struct attribute *pci_liveupdate_attrs[] = {
	&dev_attr_liveupdate_abandon.attr,
	NULL,
};

const struct attribute_group pci_liveupdate_attr_group = {
	.attrs = pci_liveupdate_attrs,
};

bool pci_liveupdate_found_incoming(u32 segment, u16 bdf)
{
	struct pci_dev *pdev;
	bool found;

	pdev = pci_get_domain_bus_and_slot(segment, PCI_BUS_NUM(bdf), bdf & 0xff);
	found = pdev && pci_liveupdate_is_incoming(pdev);
	pci_dev_put(pdev);
	return found;
}

/* pci_dev_specific_enable_acs_needed() is a stub without PCI quirks. */
bool pci_liveupdate_needs_acs_quirk(struct pci_dev *dev)
{
	return pci_dev_specific_enable_acs_needed(dev);
}

/* The bit fields of struct pci_dev that a probe record carries. */
u8 pci_liveupdate_probe_bits(struct pci_dev *dev)
{
	return (dev->broken_intx_masking ? PCI_DEV_SER_P_INTX_BROKEN : 0) |
	       (dev->io_window ? PCI_DEV_SER_P_IO_WINDOW : 0) |
	       (dev->pref_window ? PCI_DEV_SER_P_PREF_WINDOW : 0) |
	       (dev->pref_64_window ? PCI_DEV_SER_P_PREF_64 : 0);
}

void pci_liveupdate_set_probe_bits(struct pci_dev *dev, u8 bits)
{
	dev->broken_intx_masking = !!(bits & PCI_DEV_SER_P_INTX_BROKEN);
	dev->io_window = !!(bits & PCI_DEV_SER_P_IO_WINDOW);
	dev->pref_window = !!(bits & PCI_DEV_SER_P_PREF_WINDOW);
	dev->pref_64_window = !!(bits & PCI_DEV_SER_P_PREF_64);
}

/* struct pci_sriov is private to the PCI core. */
bool pci_liveupdate_sriov_record(struct pci_dev *dev, u64 *vf_bar_sizes,
				 u8 *vf_buses)
{
#ifdef CONFIG_PCI_IOV
	struct pci_sriov *iov = dev->sriov;
	int i;

	if (!dev->is_physfn)
		return false;
	for (i = 0; i < PCI_SRIOV_NUM_BARS; i++)
		vf_bar_sizes[i] = iov->barsz[i];
	*vf_buses = iov->max_VF_buses - dev->bus->number;
	return true;
#else
	return false;
#endif
}

/* A PF with kept VFs is no longer incoming: disable them as any boot does. */
void pci_liveupdate_drop_vfs(struct pci_dev *dev)
{
#ifdef CONFIG_PCI_IOV
	if (!dev->is_physfn || !dev->liveupdate.vfs_kept)
		return;
	dev->liveupdate.vfs_kept = false;
	pci_iov_drop_kept_vfs(dev);
	pci_warn(dev, "Live Update: its kept VFs are disabled\n");
#endif
}

#ifdef CONFIG_PCI_IOV

/*
 * Creates the pci_devs of the VFs an incoming PF kept enabled, at the BDFs
 * they have: the hardware VFs never went away. The VFs that were not
 * preserved go to the PF's recorded driver, as vfio-pci takes the VFs it
 * enables; no driver probes them before that is set.
 */
static void pci_liveupdate_add_vfs(struct pci_dev *dev)
{
	struct pci_sriov *iov = dev->sriov;
	char drv[PCI_DEV_SER_DRIVER_LEN];
	bool named, autoprobe;
	int i, num;

	/* Abandoned since enumeration: nothing keeps its VFs any more. */
	if (!pci_liveupdate_is_incoming(dev)) {
		pci_liveupdate_drop_vfs(dev);
		return;
	}
	dev->liveupdate.vfs_kept = false;
	autoprobe = iov->drivers_autoprobe;
	iov->drivers_autoprobe = false;
	num = pci_iov_keep_vfs(dev);
	named = num > 0 && pci_liveupdate_incoming_driver(dev, drv, sizeof(drv));
	for (i = 0; named && i < num; i++) {
		struct pci_dev *vf;

		vf = pci_get_domain_bus_and_slot(pci_domain_nr(dev->bus),
						 pci_iov_virtfn_bus(dev, i),
						 pci_iov_virtfn_devfn(dev, i));
		if (vf && !pci_liveupdate_is_incoming(vf))
			WARN_ON(device_set_driver_override(&vf->dev, drv));
		pci_dev_put(vf);
	}
	iov->drivers_autoprobe = autoprobe;
	if (num < 0)
		pci_err(dev, "Live Update: cannot keep its VFs (%d); they are disabled\n", num);
	else
		pci_info(dev, "Live Update: kept %d VFs enabled\n", num);
}

/*
 * After the boot's resource claims (x86: fs_initcall) and before any
 * driver's initcall: the VFs of incoming PFs exist before a driver could
 * probe them.
 */
static int __init pci_liveupdate_keep_vfs(void)
{
	struct pci_dev *dev = NULL;

	pci_lock_rescan_remove();
	for_each_pci_dev(dev)
		if (dev->is_physfn && dev->liveupdate.vfs_kept)
			pci_liveupdate_add_vfs(dev);
	pci_unlock_rescan_remove();
	return 0;
}
fs_initcall_sync(pci_liveupdate_keep_vfs);
#endif

/*
 * A running device must not be powered down before its driver took it back,
 * nor a bridge above it: neither by runtime PM (power/control set to auto,
 * a driver's idle D3 such as vfio-pci's) nor through its parent. A usage
 * count from pci_pm_init() until it finishes keeps it active, and so its
 * path. Taken during enumeration and dropped under the rescan lock.
 */
void pci_liveupdate_pm_hold(struct pci_dev *dev)
{
	if (!pci_liveupdate_adopt_config(dev))
		return;
	pm_runtime_get_noresume(&dev->dev);
	dev->liveupdate.pm_held = true;
}

static void pci_liveupdate_pm_release(struct pci_dev *dev)
{
	if (!dev->liveupdate.pm_held || pci_liveupdate_adopt_config(dev))
		return;
	dev->liveupdate.pm_held = false;
	pm_runtime_put(&dev->dev);
}

/*
 * After an incoming device finished: let the functions it no longer keeps
 * (itself, the bridges of its path no incoming device needs any more)
 * runtime suspend again, and bind the drivers (pcieport) that
 * pci_liveupdate_may_probe() kept off those bridges. From a work item, as a
 * finish may come with device locks held; under the rescan lock, as a bus
 * scan binds drivers, so that a bridge being removed is not bound again.
 */
static void pci_liveupdate_probe_ports_fn(struct work_struct *work)
{
	struct pci_dev *pdev = NULL;

	pci_lock_rescan_remove();
	for_each_pci_dev(pdev) {
		pci_liveupdate_pm_release(pdev);
		if (pci_dev_is_added(pdev) && pci_liveupdate_port_deferred(pdev) &&
		    device_attach(&pdev->dev) < 0)
			pci_warn(pdev, "Live Update: port driver did not bind after finish\n");
	}
	pci_unlock_rescan_remove();
}

static DECLARE_WORK(pci_liveupdate_probe_ports_work, pci_liveupdate_probe_ports_fn);

void pci_liveupdate_probe_ports(void)
{
	schedule_work(&pci_liveupdate_probe_ports_work);
}

/*
 * A device is added once the scan that found it (and numbered its bus) is
 * over, and stops being added as its removal begins.
 */
bool pci_liveupdate_dev_added(struct pci_dev *dev)
{
	return pci_dev_is_added(dev);
}

/*
 * At the first device shutdown of a kexec with devices preserved: whether
 * they may keep Bus Master. Only if the image carries KHO (so LUO's data,
 * the device table with it, reaches the next kernel) and the IOMMU hands
 * translation over; otherwise they are stopped as a stock kexec stops
 * every device, and the rest of their preservation still applies.
 */
bool pci_liveupdate_dma_handover(void)
{
	const char *why;
	int ret = -ENODATA;

	if (!kexec_in_progress)
		return false;
	why = "the kexec image carries no KHO data (kexec_load, or KHO disabled)";
	if (!kexec_image || !kexec_image->file_mode || !kexec_image->kho.fdt)
		goto out;
	ret = -EOPNOTSUPP;
	why = "Live Update is disabled";
	if (!liveupdate_enabled())
		goto out;
	ret = iommu_liveupdate_prepare(&why);
out:
	if (ret)
		pr_warn(PCI_LU_PR "preserved devices lose Bus Master at this kexec: %s (%d)\n",
			why, ret);
	return !ret;
}

/*
 * At the shutdown of a device that keeps Bus Master: its IOMMU carries its
 * translation or blocks it. False if no handed-over IOMMU translates it,
 * so its DMA would be untranslated in the next kernel: it must stop.
 */
bool pci_liveupdate_dma_keep(struct pci_dev *dev)
{
	return !iommu_liveupdate_keep_device(dev);
}

/* Its preservation ended: DMA through carried translations must end too. */
void pci_liveupdate_dma_release(struct pci_dev *dev)
{
	iommu_liveupdate_release_device(dev);
}

/*
 * Before enumeration: whether a device that arrives mastering is safe,
 * i.e. the previous kernel handed its IOMMU over and the hardware shows it
 * (the IOMMU driver logs why a record it found was refused).
 */
bool pci_liveupdate_dma_incoming(void)
{
	const char *why;

	return !iommu_liveupdate_incoming(&why);
}
