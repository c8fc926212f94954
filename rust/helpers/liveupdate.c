// SPDX-License-Identifier: GPL-2.0

/*
 * Helpers for the PCI Live Update component: inline functions that
 * bindgen cannot bind.
 */

#include <linux/pci.h>

__rust_helper bool rust_helper_device_has_driver_override(struct device *dev)
{
	return device_has_driver_override(dev);
}
