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
struct pci_dev_ser;

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
 * Call from the file handler's preserve() callback. Nothing is preserved on
 * error.
 * Return: 0; -EINVAL for a VF or an inconsistent topology; -EBUSY if @dev is
 * already preserved; -ENOENT if no outgoing table exists; -EOPNOTSUPP if
 * Live Update is disabled; -ENOMEM or -E2BIG if the table cannot grow;
 * -EOVERFLOW if a bridge has 65535 preserved devices below it; -ENODEV
 * before the component initialised; -EIO if the table was damaged.
 */
int pci_liveupdate_preserve(struct pci_dev *dev);

/**
 * pci_liveupdate_unpreserve() - Undo pci_liveupdate_preserve().
 * @dev: The device. A device that is not preserved gets a warning.
 */
void pci_liveupdate_unpreserve(struct pci_dev *dev);

/**
 * pci_liveupdate_finish() - End the preservation of an incoming device.
 * @dev: The device. A device that is not incoming gets a warning.
 *
 * Call from the file handler's finish() callback. After the last device the
 * handed-over table is freed.
 */
void pci_liveupdate_finish(struct pci_dev *dev);

/**
 * pci_liveupdate_is_incoming() - Was @dev preserved by the previous kernel?
 * @dev: The device.
 *
 * Return: true if the previous kernel preserved @dev, the device at that
 * address still has the recorded vendor, device and class, and it has not
 * finished.
 */
bool pci_liveupdate_is_incoming(struct pci_dev *dev);

/* Boot-time setup, called from the component's initcall. */
int pci_liveupdate_init(void);

#ifdef CONFIG_PCI_LIVEUPDATE_TEST
/*
 * Test-only inspection: copy up to @max entries of the incoming (or, with
 * @outgoing, the outgoing) table into @buf. Returns the number of entries
 * in the table, or a negative errno from liveupdate_flb_get_*().
 */
int pci_liveupdate_test_snapshot(bool outgoing, struct pci_dev_ser *buf, u32 max);

/* Test-only faults for pci_liveupdate_test_inject(). */
#define PCI_LU_TEST_FAIL_NEXT_ALLOC	1 /* next growth of the array fails */
#define PCI_LU_TEST_CORRUPT_CHECKSUM	2 /* flip a bit of an entry */
#define PCI_LU_TEST_CORRUPT_COUNT	3 /* count > capacity */
#define PCI_LU_TEST_CORRUPT_ORDER	4 /* swap two entries, fix checksum */
#define PCI_LU_TEST_CORRUPT_MAGIC	5 /* bad header magic */
#define PCI_LU_TEST_CORRUPT_REFCOUNT	6 /* bridge refcount off by one, fix checksum */
#define PCI_LU_TEST_CORRUPT_DUPLICATE	7 /* repeat an entry, fix checksum */
#define PCI_LU_TEST_CORRUPT_CAPACITY	8 /* capacity beyond the allocation */
#define PCI_LU_TEST_CORRUPT_ZERO_REFCOUNT 9 /* last entry unreferenced, fix checksum */
#define PCI_LU_TEST_CORRUPT_HEADER	10 /* damage the array address only */

/* Test-only: inject @fault (PCI_LU_TEST_*). Returns 0 or a negative errno. */
int pci_liveupdate_test_inject(u32 fault);
#endif

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

static inline void pci_liveupdate_unpreserve(struct pci_dev *dev)
{
}

static inline void pci_liveupdate_finish(struct pci_dev *dev)
{
}

static inline bool pci_liveupdate_is_incoming(struct pci_dev *dev)
{
	return false;
}

#endif /* CONFIG_PCI_LIVEUPDATE */
#endif /* _LINUX_PCI_LIVEUPDATE_H */
