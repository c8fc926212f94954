/* SPDX-License-Identifier: GPL-2.0 */
/*
 * PCI Live Update: test-only controls (CONFIG_PCI_LIVEUPDATE_TEST), used by
 * test_handler.c. Never part of a production kernel.
 */
#ifndef _DRIVERS_PCI_LIVEUPDATE_TEST_H
#define _DRIVERS_PCI_LIVEUPDATE_TEST_H

#include <linux/types.h>

struct pci_dev;
struct pci_dev_ser;

/*
 * Copy up to @max entries of the incoming (or, with @outgoing, the
 * outgoing) table into @buf. Returns the number of entries in the table, or
 * a negative errno: -ENOENT without an outgoing table, -ENODATA without an
 * incoming one, -EINVAL if the incoming data was refused.
 */
int pci_liveupdate_test_snapshot(bool outgoing, struct pci_dev_ser *buf, u32 max);
/* Entries the outgoing array has room for, or -errno. */
int pci_liveupdate_test_capacity(void);
/*
 * Validates @variants damaged copies of the incoming table (seeded by
 * @seed); with @reseal only entries are damaged and both checksums then
 * made to match. @stats gets tried, refused, valid with the same entries,
 * valid with other entries, and valid but not drained by finishing every
 * direct entry. 0 or -errno.
 */
int pci_liveupdate_test_fuzz(u64 seed, u32 variants, bool reseal, u32 *stats);

/* Faults for pci_liveupdate_test_inject(). */
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
#define PCI_LU_TEST_FORCE_ACS_QUIRK	11 /* next preserve sees an ACS quirk */
#define PCI_LU_TEST_LEAK		12 /* leak 64 bytes, for kmemleak's test */
/* At the kexec, rewrite the table as a writer without probe records did. */
#define PCI_LU_TEST_OLD_FORMAT		13

/*
 * Boot parameter pci_liveupdate_test.fail_retrieve=1: the FLB retrieve of the
 * incoming table fails its allocation, as under memory pressure.
 */
bool pci_liveupdate_test_fail_retrieve(void);

/*
 * Boot parameter pci_liveupdate_test.no_vfs=1: this kernel reads the
 * incoming table as one without SR-IOV VF support (PCI_LU_INCOMPAT_VF
 * unknown) would.
 */
bool pci_liveupdate_test_no_vfs(void);

/* Inject @fault (PCI_LU_TEST_*). Returns 0 or a negative errno. */
int pci_liveupdate_test_inject(u32 fault);

/*
 * Record another device ID for @dev in the outgoing table (checksums
 * fixed), so the next kernel finds a different identity at its address.
 */
int pci_liveupdate_test_mismatch(struct pci_dev *dev);

/*
 * Record a size for the first sized BAR (VF BAR) of @dev that its address
 * does not fit (checksums fixed): the next kernel must not take it as
 * preserved.
 */
int pci_liveupdate_test_misfit(struct pci_dev *dev);
int pci_liveupdate_test_vf_misfit(struct pci_dev *dev);

/*
 * What the component knows of @dev: @path is set if the incoming table has
 * an entry for it (a preserved device or a bridge above one), @outgoing if
 * the outgoing table has.
 */
void pci_liveupdate_test_status(struct pci_dev *dev, bool *path, bool *outgoing);

/*
 * Time in the PCI core hooks: @shutdown selects the reboot-time ones over
 * the enumeration ones. @out gets calls, ns in hooks, and ns from the
 * first call's start to the last call's end.
 */
void pci_liveupdate_test_timing(bool shutdown, s64 *out);

/*
 * config_writes.c: count the config writes to the incoming function at
 * @segment/@bdf from now on; stop logging them (they stay listed) for it,
 * or with @all for every function.
 */
void pci_liveupdate_test_watch(u32 segment, u16 bdf);
void pci_liveupdate_test_unwatch(u32 segment, u16 bdf, bool all);

/* local_clock(), for the component's hook timing. */
u64 pci_liveupdate_test_clock(void);

/* pci_setup_device() starts on @dev: time it until its device_add(). */
void pci_liveupdate_test_enum_begin(struct pci_dev *dev);

/* debugfs: config_writes and enumeration, in @dir. */
struct dentry;
void pci_liveupdate_test_enum_debugfs(struct dentry *dir);

#endif /* _DRIVERS_PCI_LIVEUPDATE_TEST_H */
