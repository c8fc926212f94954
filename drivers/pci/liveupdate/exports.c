// SPDX-License-Identifier: GPL-2.0
/*
 * C side of the PCI Live Update component.
 *
 * #[export] only fixes the symbol names and checks the signatures of the
 * Rust functions; it does not make them visible to modules. This file
 * exports them (vfio-pci may be a module), runs the boot-time init and
 * wraps the PCI core internals the Rust side needs.
 */

#include <linux/delay.h>
#include <linux/export.h>
#include <linux/init.h>
#include <linux/jiffies.h>
#include <linux/mutex.h>
#include <linux/pci_liveupdate.h>

#include "../pci.h"

/* The functions are defined in Rust, as in rust/exports.c. */
#define PCI_LU_EXPORT_RUST_GPL(sym) EXPORT_SYMBOL_GPL(sym)

PCI_LU_EXPORT_RUST_GPL(pci_liveupdate_register_flb);
PCI_LU_EXPORT_RUST_GPL(pci_liveupdate_unregister_flb);
PCI_LU_EXPORT_RUST_GPL(pci_liveupdate_preserve);
PCI_LU_EXPORT_RUST_GPL(pci_liveupdate_unpreserve);
PCI_LU_EXPORT_RUST_GPL(pci_liveupdate_finish);
PCI_LU_EXPORT_RUST_GPL(pci_liveupdate_is_incoming);

/*
 * After LUO has read the incoming FLB headers (early_initcall) and before
 * PCI enumeration (subsys_initcall), which will look devices up.
 */
static int __init pci_liveupdate_initcall(void)
{
	return pci_liveupdate_init();
}
postcore_initcall(pci_liveupdate_initcall);

/* pci_dev_specific_enable_acs_needed() is a stub without PCI quirks. */
bool pci_liveupdate_needs_acs_quirk(struct pci_dev *dev)
{
	return pci_dev_specific_enable_acs_needed(dev);
}

/*
 * Removing a device whose VFIO file a LUO session holds waits, under the
 * rescan/remove lock, until that session lets the file go. A preserve runs
 * with the session locked, so it must give up instead of waiting forever.
 */
bool pci_liveupdate_lock_rescan_timeout(unsigned int ms)
{
	unsigned long end = jiffies + msecs_to_jiffies(ms);

	for (;;) {
		if (mutex_trylock(&pci_rescan_remove_lock))
			return true;
		if (time_after(jiffies, end))
			return false;
		msleep(20);
	}
}
