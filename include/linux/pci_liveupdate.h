/* SPDX-License-Identifier: GPL-2.0 */
/*
 * PCI Live Update: keep PCI devices running across a kexec-based Live
 * Update. Implemented in Rust (drivers/pci/liveupdate/); the prototypes
 * below are checked against the Rust definitions at build time.
 */
#ifndef _LINUX_PCI_LIVEUPDATE_H
#define _LINUX_PCI_LIVEUPDATE_H

#include <linux/errno.h>
#include <linux/types.h>

struct liveupdate_file_handler;
struct pci_dev;

#ifdef CONFIG_PCI_LIVEUPDATE

/**
 * pci_liveupdate_register_flb() - Make a file handler depend on the PCI FLB.
 * @fh: A registered LUO file handler whose files preserve PCI devices.
 *
 * Preserving the first file of @fh then creates the outgoing device table.
 * Return: 0, or the error of liveupdate_register_flb().
 */
int pci_liveupdate_register_flb(struct liveupdate_file_handler *fh);

/**
 * pci_liveupdate_unregister_flb() - Undo pci_liveupdate_register_flb().
 * @fh: The file handler.
 */
void pci_liveupdate_unregister_flb(struct liveupdate_file_handler *fh);

/**
 * pci_liveupdate_preserve() - Preserve a device across the next Live Update.
 * @dev: The device; its upstream bridges are preserved with it.
 *
 * Call from the file handler's preserve() callback. The binding of @dev must
 * not change during the call: the caller is its bound driver, acting for a
 * file whose release the driver's removal waits for, or holds its device
 * lock. This takes no PCI core lock. Nothing is preserved on error.
 * The driver bound to @dev now (if any) is recorded: until @dev finishes in
 * the next kernel, only that driver, or one an administrator names in
 * driver_override, may bind it there.
 *
 * Return: 0; -EINVAL for a VF, a device that needs a device-specific ACS
 * quirk, an inconsistent topology or a table the next kernel would reject;
 * -EBUSY if @dev is already preserved; -ENOENT if no outgoing table exists;
 * -ESHUTDOWN once shutdown has begun; -ENAMETOOLONG if the bound driver's
 * name does not fit the table; -EOPNOTSUPP if Live Update is disabled;
 * -ENOMEM or -E2BIG if the table cannot grow; -EOVERFLOW if a bridge has
 * 65535 preserved devices below it; -ENODEV before the component
 * initialised, before the PCI core added @dev or once it is being removed;
 * -EIO if the table was damaged.
 */
int pci_liveupdate_preserve(struct pci_dev *dev);

/**
 * pci_liveupdate_unpreserve() - Undo pci_liveupdate_preserve().
 * @dev: The device. A device that is not preserved gets a warning, as does
 *       any call once shutdown has begun; nothing changes then.
 *
 * Return: 0; -EBUSY if @dev is a PF whose VFs are preserved: it stays
 * preserved, and its caller must keep it running (no reset, VF Enable
 * kept) until they are unpreserved; -EINVAL if @dev is not preserved;
 * -ESHUTDOWN once shutdown has begun.
 */
int pci_liveupdate_unpreserve(struct pci_dev *dev);

/**
 * pci_liveupdate_finish() - End the preservation of an incoming device.
 * @dev: The device. A device that is not incoming gets a warning.
 *
 * Call from the file handler's finish() callback. After the last device the
 * handed-over table is freed.
 */
void pci_liveupdate_finish(struct pci_dev *dev);

/**
 * pci_liveupdate_abandon() - Give up an incoming device nobody takes over.
 * @dev: The device.
 *
 * Stops @dev as a stock kexec would have (Bus Master cleared, then its
 * carried IOMMU translation ended) and ends its preservation as
 * pci_liveupdate_finish() does. Also reachable by an administrator through
 * the device's sysfs attribute ``liveupdate_abandon``.
 *
 * Return: 0, -EINVAL if @dev is not incoming, or -EBUSY if its driver took
 * it over (pci_liveupdate_claim()).
 */
int pci_liveupdate_abandon(struct pci_dev *dev);

/**
 * pci_liveupdate_claim() - An incoming device's driver takes it over.
 * @dev: The device.
 *
 * Call when the user of the handed-over device starts using it (vfio-pci:
 * the first open of the retrieved file). From then on only
 * pci_liveupdate_finish() ends the preservation; abandoning is refused.
 */
void pci_liveupdate_claim(struct pci_dev *dev);

/**
 * pci_liveupdate_is_incoming() - Was @dev preserved by the previous kernel?
 * @dev: The device.
 *
 * Return: true if the previous kernel preserved @dev, the device at that
 * address still has the recorded vendor, device and class, and it has not
 * finished.
 */
bool pci_liveupdate_is_incoming(struct pci_dev *dev);

/**
 * pci_liveupdate_is_preserved() - Must @dev be kept from resets?
 * @dev: The device.
 *
 * For callers about to reset a bus or slot that holds @dev (e.g. for a
 * sibling function).
 *
 * Return: true if @dev is preserved for the next kernel or is incoming.
 */
bool pci_liveupdate_is_preserved(struct pci_dev *dev);

/**
 * pci_liveupdate_adopt_config() - Must enumeration leave @dev as found?
 * @dev: The device.
 *
 * For the PCI core and arch PCI code, which otherwise write to functions
 * as they enumerate them.
 *
 * Return: true if @dev is incoming or a bridge on an incoming device's
 * path, until that device finishes: its configuration is adopted, not
 * written.
 */
bool pci_liveupdate_adopt_config(struct pci_dev *dev);

#else /* CONFIG_PCI_LIVEUPDATE */

static inline int pci_liveupdate_register_flb(struct liveupdate_file_handler *fh)
{
	return -EOPNOTSUPP;
}

static inline void pci_liveupdate_unregister_flb(struct liveupdate_file_handler *fh)
{
}

static inline int pci_liveupdate_preserve(struct pci_dev *dev)
{
	return -EOPNOTSUPP;
}

static inline int pci_liveupdate_unpreserve(struct pci_dev *dev)
{
	return -EOPNOTSUPP;
}

static inline void pci_liveupdate_finish(struct pci_dev *dev)
{
}

static inline int pci_liveupdate_abandon(struct pci_dev *dev)
{
	return -EINVAL;
}

static inline void pci_liveupdate_claim(struct pci_dev *dev)
{
}

static inline bool pci_liveupdate_is_incoming(struct pci_dev *dev)
{
	return false;
}

static inline bool pci_liveupdate_is_preserved(struct pci_dev *dev)
{
	return false;
}

static inline bool pci_liveupdate_adopt_config(struct pci_dev *dev)
{
	return false;
}

#endif /* CONFIG_PCI_LIVEUPDATE */
#endif /* _LINUX_PCI_LIVEUPDATE_H */
