/* SPDX-License-Identifier: GPL-2.0 */
#ifndef VFIO_PCI_LIVEUPDATE_H
#define VFIO_PCI_LIVEUPDATE_H

#include <linux/pci.h>
#include <linux/vfio.h>

/* vfio_pci.c, for the Live Update file handler. */
extern const struct vfio_device_ops vfio_pci_ops;
extern struct pci_driver vfio_pci_driver;

#ifdef CONFIG_VFIO_PCI_LIVEUPDATE
int vfio_pci_liveupdate_init(void);
void vfio_pci_liveupdate_cleanup(void);
bool vfio_pci_liveupdate_open_blocked(struct vfio_device *vdev);
#else
#define vfio_pci_liveupdate_open_blocked NULL

static inline int vfio_pci_liveupdate_init(void)
{
	return 0;
}

static inline void vfio_pci_liveupdate_cleanup(void)
{
}
#endif

#endif /* VFIO_PCI_LIVEUPDATE_H */
