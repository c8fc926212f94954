/* SPDX-License-Identifier: GPL-2.0 */
/*
 * PCI Live Update: test-only controls (CONFIG_PCI_LIVEUPDATE_TEST), used by
 * test_handler.c. Never part of a production kernel.
 */
#ifndef _DRIVERS_PCI_LIVEUPDATE_TEST_H
#define _DRIVERS_PCI_LIVEUPDATE_TEST_H

#include <linux/types.h>

struct pci_dev;

/* Creates debugfs pci_liveupdate/ with the files test_debugfs.rs owns. */
void pci_liveupdate_test_debugfs(void);

/*
 * After every device's shutdown (@kexec: of a kexec): logs the time the
 * shutdown hooks took, and applies a fault injected for the end of a kexec.
 */
void pci_liveupdate_test_shutdown(bool kexec);

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
