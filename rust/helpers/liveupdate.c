// SPDX-License-Identifier: GPL-2.0

/*
 * Helpers for the PCI Live Update component: inline functions and macros
 * around KHO memory and PCI segments that bindgen cannot bind.
 */

#include <linux/io.h>
#include <linux/mm.h>
#include <linux/pci.h>

__rust_helper phys_addr_t rust_helper_virt_to_phys(const void *addr)
{
	return virt_to_phys((void *)addr);
}

__rust_helper void *rust_helper_folio_address(const struct folio *folio)
{
	return folio_address(folio);
}

__rust_helper size_t rust_helper_folio_size(const struct folio *folio)
{
	return folio_size(folio);
}

__rust_helper void rust_helper_folio_put(struct folio *folio)
{
	folio_put(folio);
}

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
