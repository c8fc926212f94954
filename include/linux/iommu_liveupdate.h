/* SPDX-License-Identifier: GPL-2.0 */
/*
 * IOMMU handover across a Live Update kexec: the interface between the PCI
 * Live Update component and the IOMMU driver that can keep translating.
 *
 * A device preserved for the next kernel keeps Bus Master through the
 * kexec only if its IOMMU hands over: translation stays enabled, a kept
 * device's mappings are carried if they only reach preserved memory, and
 * every other DMA is blocked (never untranslated). The next kernel keeps
 * the carried mappings until the device is attached to a new domain or its
 * preservation ends. Only Intel VT-d (legacy mode) implements it; without
 * it the preserved devices are stopped at the kexec as a stock kexec stops
 * every device.
 */
#ifndef _LINUX_IOMMU_LIVEUPDATE_H
#define _LINUX_IOMMU_LIVEUPDATE_H

#include <linux/errno.h>
#include <linux/types.h>

struct intel_iommu;
struct pci_dev;

#if defined(CONFIG_PCI_LIVEUPDATE) && defined(CONFIG_INTEL_IOMMU)

/*
 * Old kernel, at the first device shutdown of a kexec (process context):
 * prepares the handover. 0, or -errno with *@why saying why not.
 */
int iommu_liveupdate_prepare(const char **why);

/*
 * Old kernel, at the shutdown of each device that keeps Bus Master, after
 * iommu_liveupdate_prepare(): carries its translation if everything it maps
 * is preserved memory (else its DMA is blocked through the kexec; logged).
 * -ENODEV if no handed-over IOMMU translates the device: it must stop.
 */
int iommu_liveupdate_keep_device(struct pci_dev *pdev);

/*
 * Next kernel, before PCI enumeration: 0 if the previous kernel handed its
 * IOMMUs over and the hardware shows it, -ENOENT if it handed nothing over,
 * another -errno (with *@why) if the record is damaged or disagrees with
 * the hardware.
 */
int iommu_liveupdate_incoming(const char **why);

/* Next kernel: whether carried translations make DMA API users attach lazily. */
bool iommu_liveupdate_deferred_attach(void);

/*
 * Next kernel: @pdev's preservation ended (finished, dropped or removed):
 * end the translation carried for it, so its DMA is blocked until attached.
 */
void iommu_liveupdate_release_device(struct pci_dev *pdev);

/* VT-d internals, between drivers/iommu/intel/{iommu,liveupdate}.c. */
bool intel_iommu_lu_shutdown(struct intel_iommu *iommu);
bool intel_iommu_lu_adopt(struct intel_iommu *iommu);
void intel_iommu_lu_copied(struct intel_iommu *iommu, bool copied);
void intel_iommu_lu_ignored(struct intel_iommu *iommu);
void intel_iommu_lu_copied_gone(struct intel_iommu *iommu, u8 bus, u8 devfn);
void intel_iommu_lu_end_copied(struct intel_iommu *iommu, u8 bus, u8 devfn);

/* Tests only: the outgoing VT-d record, to damage it. */
void *intel_iommu_lu_test_record(void);

#else

static inline int iommu_liveupdate_prepare(const char **why)
{
	*why = "no IOMMU driver here can hand translation over";
	return -EOPNOTSUPP;
}

static inline int iommu_liveupdate_keep_device(struct pci_dev *pdev)
{
	return -ENODEV;
}

static inline int iommu_liveupdate_incoming(const char **why)
{
	return -ENOENT;
}

static inline bool iommu_liveupdate_deferred_attach(void)
{
	return false;
}

static inline void iommu_liveupdate_release_device(struct pci_dev *pdev)
{
}

static inline bool intel_iommu_lu_shutdown(struct intel_iommu *iommu)
{
	return false;
}

static inline bool intel_iommu_lu_adopt(struct intel_iommu *iommu)
{
	return false;
}

static inline void intel_iommu_lu_copied(struct intel_iommu *iommu, bool copied)
{
}

static inline void intel_iommu_lu_ignored(struct intel_iommu *iommu)
{
}

static inline void intel_iommu_lu_copied_gone(struct intel_iommu *iommu, u8 bus, u8 devfn)
{
}

static inline void *intel_iommu_lu_test_record(void)
{
	return NULL;
}

#endif
#endif /* _LINUX_IOMMU_LIVEUPDATE_H */
