// SPDX-License-Identifier: GPL-2.0

/*
 * Helpers for the PCI Live Update component: inline PCI functions that
 * bindgen cannot bind.
 */

#include <linux/pci.h>

__rust_helper int rust_helper_pci_domain_nr(struct pci_bus *bus)
{
	return pci_domain_nr(bus);
}

__rust_helper bool rust_helper_device_has_driver_override(struct device *dev)
{
	return device_has_driver_override(dev);
}

__rust_helper bool rust_helper_pci_is_pcie(struct pci_dev *dev)
{
	return pci_is_pcie(dev);
}
