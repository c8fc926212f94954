/* SPDX-License-Identifier: GPL-2.0 */
/*
 * PCI Live Update handover ABI.
 *
 * Installed in the kernel tree as include/linux/kho/abi/pci.h. Mirrored in
 * Rust by drivers/pci/liveupdate/abi.rs; both sides assert the layout.
 */
#ifndef _LINUX_KHO_ABI_PCI_H
#define _LINUX_KHO_ABI_PCI_H

#include <linux/build_bug.h>
#include <linux/stddef.h>
#include <linux/types.h>

/**
 * DOC: PCI Live Update ABI
 *
 * This layout is a contract between the kernel that preserves PCI devices
 * and the kernel that is kexec'ed into. Any change to it, or to the meaning
 * of a field, must change %PCI_LU_FLB_COMPATIBLE so that a kernel never
 * interprets data written under another contract. All fields are
 * little-endian.
 *
 * The FLB data handle is the physical address of a &struct pci_lu_ser,
 * allocated once with kho_alloc_preserve() when the first device is
 * preserved. The header never moves; it points to a physically contiguous,
 * KHO-preserved array of @capacity &struct pci_dev_ser entries, of which
 * the first @count are valid and strictly sorted by (segment, bdf). The
 * array is reallocated (doubling) when full. Because LUO has no freeze
 * hook for FLBs, the header and the array are kept current on every
 * change, including both checksums.
 */
#define PCI_LU_FLB_COMPATIBLE	"pci-lu-sorted-table-v1"

/* "PCLU" read as a little-endian u32. */
#define PCI_LU_SER_MAGIC	0x554c4350
#define PCI_LU_SER_VERSION	1

/**
 * struct pci_lu_ser - Header of the preserved device table.
 * @magic:      %PCI_LU_SER_MAGIC.
 * @version:    %PCI_LU_SER_VERSION.
 * @entry_size: sizeof(struct pci_dev_ser).
 * @count:      Number of valid entries.
 * @capacity:   Number of entries the array has room for.
 * @entries:    Physical address of the entry array (0 if @capacity is 0).
 * @checksum:   CRC32C of the bytes of entries[0..@count).
 * @header_checksum: CRC32C of this header with @header_checksum read as
 *              zero. It is checked before @entries is trusted, so a
 *              damaged address never makes the next kernel claim memory
 *              it does not own.
 */
struct pci_lu_ser {
	__le32 magic;
	__le16 version;
	__le16 entry_size;
	__le32 count;
	__le32 capacity;
	__le64 entries;
	__le32 checksum;
	__le32 header_checksum;
} __packed;

/* Preserved by a driver call, not only as an upstream bridge. */
#define PCI_DEV_SER_F_DIRECT	0x1
/* The device is a bridge (it has a subordinate bus). */
#define PCI_DEV_SER_F_BRIDGE	0x2
/* @upstream holds the BDF of the upstream bridge. */
#define PCI_DEV_SER_F_UPSTREAM	0x4
#define PCI_DEV_SER_F_ALL	(PCI_DEV_SER_F_DIRECT | PCI_DEV_SER_F_BRIDGE | \
				 PCI_DEV_SER_F_UPSTREAM)

/**
 * struct pci_dev_ser - One preserved device.
 * @segment:  PCI segment (domain) number.
 * @bdf:      Bus number << 8 | devfn.
 * @refcount: Number of preservations at or below this device: 1 if the
 *            device was preserved directly, plus the sum of the refcounts
 *            of the entries whose @upstream is this device.
 * @vendor:   Vendor ID, checked against the device after kexec.
 * @device:   Device ID, checked against the device after kexec.
 * @class:    24-bit class code (base, sub, prog-if).
 * @flags:    PCI_DEV_SER_F_*.
 * @upstream: BDF of the upstream bridge in the same segment, valid with
 *            %PCI_DEV_SER_F_UPSTREAM; absent for devices on a root bus.
 * @secondary: Secondary bus number of a bridge; 0 for other devices.
 * @subordinate: Subordinate bus number of a bridge; 0 for other devices.
 *
 * The entries below a bridge are exactly the entries on its secondary bus
 * whose @upstream is the bridge, so the next kernel can check every
 * @refcount against the table alone.
 */
struct pci_dev_ser {
	__le32 segment;
	__le16 bdf;
	__le16 refcount;
	__le16 vendor;
	__le16 device;
	__le32 class;
	__le32 flags;
	__le16 upstream;
	u8 secondary;
	u8 subordinate;
} __packed;

static_assert(sizeof(struct pci_lu_ser) == 32);
static_assert(offsetof(struct pci_lu_ser, entries) == 16);
static_assert(offsetof(struct pci_lu_ser, checksum) == 24);
static_assert(offsetof(struct pci_lu_ser, header_checksum) == 28);
static_assert(sizeof(struct pci_dev_ser) == 24);
static_assert(offsetof(struct pci_dev_ser, refcount) == 6);
static_assert(offsetof(struct pci_dev_ser, class) == 12);
static_assert(offsetof(struct pci_dev_ser, flags) == 16);
static_assert(offsetof(struct pci_dev_ser, upstream) == 20);
static_assert(offsetof(struct pci_dev_ser, secondary) == 22);

#endif /* _LINUX_KHO_ABI_PCI_H */
