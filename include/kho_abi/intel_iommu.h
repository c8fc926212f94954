/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Intel VT-d state handed over across a Live Update kexec (KHO).
 *
 * When a Live Update keeps devices mastering through the kexec, the old
 * kernel does not switch DMA translation off. It points every DMA
 * remapping unit at a root table in KHO-preserved memory whose context
 * entries are those of the kept devices whose mappings can be carried,
 * copied verbatim (same domain ID, same second-level page tables); every
 * other requester finds no context entry, so its DMA is blocked and
 * recorded as a fault. The page-table pages under a carried entry are
 * KHO-preserved, and every page they map was preserved by its owner (e.g.
 * a memfd in a LUO session) before the kexec; nothing else is carried.
 *
 * The next kernel takes each unit over with translation still on, copies
 * the carried context entries as the kdump path does, and keeps them until
 * the device is attached to a domain of its own or its preservation ends.
 * A kept device's DMA is therefore translated by the carried mappings or
 * blocked, never untranslated.
 *
 * The record is one page, the KHO subtree INTEL_IOMMU_LU_SUBTREE, all
 * fields little-endian. @crc is the CRC32C of the page with @crc zero. A
 * reader refuses the record if the magic, the CRC, a count or a reserved
 * field is wrong, if a unit's registers do not show the recorded root
 * table, if the root and context tables hold anything but the listed
 * entries, or if the page tables under an entry do not have the recorded
 * number of pages and CRC32C. The subtree name changes when an older
 * kernel must refuse the record.
 */
#ifndef _LINUX_KHO_ABI_INTEL_IOMMU_H
#define _LINUX_KHO_ABI_INTEL_IOMMU_H

#include <linux/types.h>

#define INTEL_IOMMU_LU_SUBTREE	"intel-iommu-lu-v2"
#define INTEL_IOMMU_LU_MAGIC	0x554c5456	/* "VTLU" */
#define INTEL_IOMMU_LU_MAX_UNITS	8

/* One DMA remapping unit: its register base, PCI segment and root table. */
struct intel_iommu_lu_unit {
	__le64 reg_phys;
	__le64 root_phys;
	__le16 segment;
	__le16 reserved[3];
} __packed;

/*
 * One carried context entry (legacy mode, multi-level translation). @lo
 * and @hi are zero if the entry was dropped at the last moment (its
 * mappings changed after they were checked).
 */
struct intel_iommu_lu_ctx {
	__le64 lo;
	__le64 hi;
	__le16 unit;		/* index into units[] */
	__le16 sid;		/* bus << 8 | devfn */
	__le32 nr_tables;	/* page-table pages under the entry */
	__le32 tables_crc;	/* CRC32C of those pages, depth first */
	__le32 reserved;
} __packed;

struct intel_iommu_lu_ser {
	__le32 magic;
	__le32 crc;
	__le32 nr_units;
	__le32 nr_ctx;
	struct intel_iommu_lu_unit units[INTEL_IOMMU_LU_MAX_UNITS];
	struct intel_iommu_lu_ctx ctx[];
} __packed;

#define INTEL_IOMMU_LU_MAX_CTX \
	((4096 - sizeof(struct intel_iommu_lu_ser)) / sizeof(struct intel_iommu_lu_ctx))

#endif /* _LINUX_KHO_ABI_INTEL_IOMMU_H */
