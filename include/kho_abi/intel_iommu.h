/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Intel VT-d state handed over across a Live Update kexec (KHO).
 *
 * When a Live Update keeps devices mastering through the kexec, the old
 * kernel does not switch DMA translation off: it points every DMA
 * remapping unit at a zeroed root table (no root entry present, so every
 * request is blocked and recorded as a fault) that lives in KHO-preserved
 * memory, and describes it here. The next kernel takes each unit over with
 * translation still on and installs its own root table; a device's DMA is
 * therefore blocked, never untranslated, until its new owner maps memory.
 *
 * The record is one page, the KHO subtree INTEL_IOMMU_LU_SUBTREE, all
 * fields little-endian. @crc is the CRC32C of the page with @crc zero. A
 * reader refuses the record if the magic, the CRC, the unit count or a
 * reserved field is wrong, or if a unit's registers (translation enabled,
 * root table address) do not show what the record says. The subtree name
 * changes when an older kernel must refuse the record.
 */
#ifndef _LINUX_KHO_ABI_INTEL_IOMMU_H
#define _LINUX_KHO_ABI_INTEL_IOMMU_H

#include <linux/types.h>

#define INTEL_IOMMU_LU_SUBTREE	"intel-iommu-lu-v1"
#define INTEL_IOMMU_LU_MAGIC	0x554c5456	/* "VTLU" */

/* One DMA remapping unit: its register base and the blocking root table. */
struct intel_iommu_lu_unit {
	__le64 reg_phys;
	__le64 root_phys;
} __packed;

struct intel_iommu_lu_ser {
	__le32 magic;
	__le32 crc;
	__le32 nr_units;
	__le32 reserved;
	struct intel_iommu_lu_unit units[];
} __packed;

#define INTEL_IOMMU_LU_MAX_UNITS \
	((4096 - sizeof(struct intel_iommu_lu_ser)) / sizeof(struct intel_iommu_lu_unit))

#endif /* _LINUX_KHO_ABI_INTEL_IOMMU_H */
