/* SPDX-License-Identifier: GPL-2.0 */
/*
 * IOMMU handover across a Live Update kexec: the interface between the PCI
 * Live Update component and the IOMMU driver that can keep translating.
 *
 * A device preserved for the next kernel keeps Bus Master through the
 * kexec only if its IOMMU hands over: translation stays enabled and every
 * DMA is blocked (never untranslated) until the next kernel's IOMMU driver
 * has taken the hardware over and the device's owner maps memory again.
 * Only Intel VT-d (legacy mode) implements it; without it the preserved
 * devices are stopped at the kexec as a stock kexec stops every device.
 */
#ifndef _LINUX_IOMMU_LIVEUPDATE_H
#define _LINUX_IOMMU_LIVEUPDATE_H

#include <linux/errno.h>
#include <linux/types.h>

struct intel_iommu;

#if defined(CONFIG_PCI_LIVEUPDATE) && defined(CONFIG_INTEL_IOMMU)

/*
 * Old kernel, at the first device shutdown of a kexec (process context):
 * prepares the handover. 0, or -errno with *@why saying why not.
 */
int iommu_liveupdate_prepare(const char **why);

/*
 * Next kernel, before PCI enumeration: 0 if the previous kernel handed its
 * IOMMUs over and the hardware shows it, -ENOENT if it handed nothing over,
 * another -errno (with *@why) if the record is damaged or disagrees with
 * the hardware.
 */
int iommu_liveupdate_incoming(const char **why);

/* VT-d internals, from drivers/iommu/intel/iommu.c. */
bool intel_iommu_lu_shutdown(struct intel_iommu *iommu);
bool intel_iommu_lu_adopt(struct intel_iommu *iommu);

/* Tests only: the outgoing VT-d record, to damage it. */
void *intel_iommu_lu_test_record(void);

#else

static inline int iommu_liveupdate_prepare(const char **why)
{
	*why = "no IOMMU driver here can hand translation over";
	return -EOPNOTSUPP;
}

static inline int iommu_liveupdate_incoming(const char **why)
{
	return -ENOENT;
}

static inline bool intel_iommu_lu_shutdown(struct intel_iommu *iommu)
{
	return false;
}

static inline bool intel_iommu_lu_adopt(struct intel_iommu *iommu)
{
	return false;
}

static inline void *intel_iommu_lu_test_record(void)
{
	return NULL;
}

#endif
#endif /* _LINUX_IOMMU_LIVEUPDATE_H */
