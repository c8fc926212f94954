// SPDX-License-Identifier: GPL-2.0
/*
 * VT-d handover across a Live Update kexec (see
 * include/linux/kho/abi/intel_iommu.h and include/linux/iommu_liveupdate.h).
 *
 * Old kernel: iommu_liveupdate_prepare() (process context, at the first
 * device shutdown of the kexec) allocates one zeroed root table per unit in
 * KHO-preserved memory and publishes their addresses in a KHO subtree.
 * intel_iommu_shutdown() then calls intel_iommu_lu_shutdown() for each unit
 * instead of switching translation off: the unit now walks the zeroed root,
 * so every DMA is blocked and recorded as a fault. Fault interrupts are
 * masked; the next kernel prints what was recorded when it sets up the
 * invalidation queue.
 *
 * Next kernel: iommu_liveupdate_incoming() checks the record against the
 * hardware (before PCI enumeration, so the PCI component knows whether a
 * device found mastering is safe); init_dmars() calls intel_iommu_lu_adopt()
 * and keeps translation on while it installs its own root table; once the
 * hardware no longer points at them, the handed-over pages are freed.
 *
 * Only legacy (non-scalable) mode without interrupt remapping. The old
 * kernel's mappings are not carried: a kept device's DMA is blocked until
 * its new owner maps memory.
 */

#define pr_fmt(fmt) "DMAR: Live Update: " fmt

#include <linux/crc32.h>
#include <linux/dmar.h>
#include <linux/init.h>
#include <linux/io.h>
#include <linux/iommu_liveupdate.h>
#include <linux/kexec_handover.h>
#include <linux/kho/abi/intel_iommu.h>
#include <linux/mutex.h>

#include "iommu.h"

static DEFINE_MUTEX(lu_lock);

/* Old kernel: the published record and each unit's blocking root. */
static struct intel_iommu_lu_ser *lu_out;
static void *lu_out_root[DMAR_UNITS_SUPPORTED];

/* Next kernel: the validated record (NULL if none or refused). */
static struct intel_iommu_lu_ser *lu_in;
static int lu_in_err = 1;	/* 1: not checked yet */
static const char *lu_in_why;

/* CRC32C of the record page, its crc field counted as zero. */
static u32 lu_crc(const struct intel_iommu_lu_ser *ser)
{
	static const __le32 zero;
	u32 crc = crc32c(~0, &ser->magic, sizeof(ser->magic));

	crc = crc32c(crc, &zero, sizeof(zero));
	return crc32c(crc, &ser->nr_units,
		      PAGE_SIZE - offsetof(struct intel_iommu_lu_ser, nr_units));
}

static void lu_free_out(struct intel_iommu_lu_ser *ser)
{
	for (int i = 0; i < DMAR_UNITS_SUPPORTED; i++) {
		if (lu_out_root[i])
			kho_unpreserve_free(lu_out_root[i]);
		lu_out_root[i] = NULL;
	}
	kho_unpreserve_free(ser);
}

int iommu_liveupdate_prepare(const char **why)
{
	struct intel_iommu_lu_ser *ser;
	struct dmar_drhd_unit *drhd;
	struct intel_iommu *iommu;
	u32 n = 0;
	int ret = 0;

	guard(mutex)(&lu_lock);
	if (lu_out)
		return 0;
	if (!intel_iommu_enabled) {
		*why = "VT-d is not translating (intel_iommu=off or no DMA remapping unit)";
		return -ENODEV;
	}
	ser = kho_alloc_preserve(PAGE_SIZE);
	if (IS_ERR(ser)) {
		*why = "cannot allocate the VT-d handover record";
		return PTR_ERR(ser);
	}
	down_read(&dmar_global_lock);
	for_each_active_iommu(iommu, drhd) {
		void *root;

		if (!(iommu->gcmd & DMA_GCMD_TE)) {
			*why = "a VT-d unit is not translating";
			ret = -ENODEV;
		} else if (sm_supported(iommu)) {
			*why = "VT-d scalable mode cannot hand over";
			ret = -EOPNOTSUPP;
		} else if (iommu->gcmd & DMA_GCMD_IRE) {
			/* Its table would be memory the next kernel reuses. */
			*why = "interrupt remapping is on and its table is not handed over";
			ret = -EOPNOTSUPP;
		} else if (n >= INTEL_IOMMU_LU_MAX_UNITS || iommu->seq_id >= DMAR_UNITS_SUPPORTED) {
			*why = "too many VT-d units";
			ret = -E2BIG;
		}
		if (ret)
			break;
		root = kho_alloc_preserve(VTD_PAGE_SIZE);
		if (IS_ERR(root)) {
			*why = "cannot allocate a blocking root table";
			ret = PTR_ERR(root);
			break;
		}
		__iommu_flush_cache(iommu, root, VTD_PAGE_SIZE);
		lu_out_root[iommu->seq_id] = root;
		ser->units[n].reg_phys = cpu_to_le64(iommu->reg_phys);
		ser->units[n].root_phys = cpu_to_le64(virt_to_phys(root));
		n++;
	}
	up_read(&dmar_global_lock);
	if (!ret && !n) {
		*why = "no active VT-d unit";
		ret = -ENODEV;
	}
	if (!ret) {
		ser->magic = cpu_to_le32(INTEL_IOMMU_LU_MAGIC);
		ser->nr_units = cpu_to_le32(n);
		ser->crc = cpu_to_le32(lu_crc(ser));
		ret = kho_add_subtree(INTEL_IOMMU_LU_SUBTREE, ser, PAGE_SIZE);
		if (ret)
			*why = "cannot add the VT-d handover record to KHO";
	}
	if (ret) {
		lu_free_out(ser);
		return ret;
	}
	lu_out = ser;
	pr_info("%u unit(s) will block DMA through the kexec instead of turning translation off\n",
		n);
	return 0;
}

/*
 * From intel_iommu_shutdown(), with one CPU left and interrupts off: point
 * @iommu at its blocking root and keep translating. True if it did.
 */
bool intel_iommu_lu_shutdown(struct intel_iommu *iommu)
{
	unsigned long flags;
	void *root;
	u32 sts;

	if (!lu_out || iommu->seq_id >= DMAR_UNITS_SUPPORTED)
		return false;
	root = lu_out_root[iommu->seq_id];
	if (!root)
		return false;
	iommu_flush_write_buffer(iommu);
	raw_spin_lock_irqsave(&iommu->register_lock, flags);
	writeq(virt_to_phys(root), iommu->reg + DMAR_RTADDR_REG);
	writel(iommu->gcmd | DMA_GCMD_SRTP, iommu->reg + DMAR_GCMD_REG);
	IOMMU_WAIT_OP(iommu, DMAR_GSTS_REG, readl, (sts & DMA_GSTS_RTPS), sts);
	/* Faults in the window are recorded; their vector is about to go. */
	writel(DMA_FECTL_IM, iommu->reg + DMAR_FECTL_REG);
	raw_spin_unlock_irqrestore(&iommu->register_lock, flags);
	if (!cap_esrtps(iommu->cap)) {
		iommu->flush.flush_context(iommu, 0, 0, 0, DMA_CCMD_GLOBAL_INVL);
		iommu->flush.flush_iotlb(iommu, 0, 0, 0, DMA_TLB_GLOBAL_FLUSH);
	}
	return true;
}

/* A unit's status, root table address and extended capabilities. */
static int lu_read_unit(u64 reg_phys, u32 *sts, u64 *rta, u64 *ecap)
{
	void __iomem *reg = ioremap(reg_phys, VTD_PAGE_SIZE);

	if (!reg)
		return -ENOMEM;
	*sts = readl(reg + DMAR_GSTS_REG);
	*rta = readq(reg + DMAR_RTADDR_REG);
	*ecap = readq(reg + DMAR_ECAP_REG);
	iounmap(reg);
	return 0;
}

#ifdef CONFIG_PCI_LIVEUPDATE_TEST
void *intel_iommu_lu_test_record(void)
{
	return lu_out;
}
#endif

static int lu_validate(const char **why)
{
	struct intel_iommu_lu_ser *ser;
	phys_addr_t phys;
	size_t size;
	u32 n;
	int ret;

	ret = kho_retrieve_subtree(INTEL_IOMMU_LU_SUBTREE, &phys, &size);
	if (ret == -ENOENT)
		return ret;
	if (ret) {
		*why = "the VT-d handover record cannot be read";
		return ret;
	}
	if (size != PAGE_SIZE || !PAGE_ALIGNED(phys)) {
		*why = "the VT-d handover record has the wrong size";
		return -EINVAL;
	}
	ser = phys_to_virt(phys);
	n = le32_to_cpu(ser->nr_units);
	if (le32_to_cpu(ser->magic) != INTEL_IOMMU_LU_MAGIC ||
	    le32_to_cpu(ser->crc) != lu_crc(ser)) {
		*why = "the VT-d handover record is damaged (magic or checksum)";
		return -EINVAL;
	}
	if (!n || n > INTEL_IOMMU_LU_MAX_UNITS || ser->reserved) {
		*why = "the VT-d handover record is malformed";
		return -EINVAL;
	}
	/* Whatever would make init_dmars() switch translation off refuses. */
	if (no_iommu || dmar_policy_off()) {
		*why = "VT-d is off on this kernel's command line";
		return -EOPNOTSUPP;
	}
	for (u32 i = 0; i < n; i++) {
		u64 root = le64_to_cpu(ser->units[i].root_phys);
		u64 rta, ecap;
		u32 sts;

		if (lu_read_unit(le64_to_cpu(ser->units[i].reg_phys), &sts, &rta, &ecap)) {
			*why = "a VT-d unit of the handover record cannot be mapped";
			return -EINVAL;
		}
		if (!(sts & DMA_GSTS_TES) || (sts & DMA_GSTS_IRES) || rta != root ||
		    !PAGE_ALIGNED(root)) {
			*why = "a VT-d unit does not show the handed-over state";
			return -EINVAL;
		}
		/* The root table type cannot change while translating. */
		if (intel_iommu_sm && ecap_smts(ecap)) {
			*why = "this kernel would run VT-d in scalable mode";
			return -EOPNOTSUPP;
		}
	}
	lu_in = ser;
	return 0;
}

/* Boot only: from the PCI component's postcore initcall and init_dmars(). */
int iommu_liveupdate_incoming(const char **why)
{
	if (lu_in_err == 1) {
		lu_in_err = lu_validate(&lu_in_why);
		if (lu_in_err && lu_in_err != -ENOENT)
			pr_err("handover refused: %s (%d)\n", lu_in_why, lu_in_err);
	}
	*why = lu_in_why;
	return lu_in_err;
}

/*
 * From init_dmars(), for a unit found translating outside kdump: whether
 * the previous kernel handed it over, so translation must stay on.
 */
bool __init intel_iommu_lu_adopt(struct intel_iommu *iommu)
{
	const char *why;

	if (iommu_liveupdate_incoming(&why))
		return false;
	for (u32 i = 0; i < le32_to_cpu(lu_in->nr_units); i++) {
		if (le64_to_cpu(lu_in->units[i].reg_phys) != iommu->reg_phys)
			continue;
		pr_info("%s: translation kept on from the previous kernel; DMA is blocked until devices are attached\n",
			iommu->name);
		return true;
	}
	return false;
}

/* Once no unit walks them any more, the handed-over pages are ours. */
static int __init lu_release(void)
{
	bool all = true;

	if (!lu_in)
		return 0;
	for (u32 i = 0; i < le32_to_cpu(lu_in->nr_units); i++) {
		u64 root = le64_to_cpu(lu_in->units[i].root_phys);
		u64 rta, ecap;
		u32 sts;

		/* Ask the hardware: VT-d init may have failed or never run. */
		if (lu_read_unit(le64_to_cpu(lu_in->units[i].reg_phys), &sts, &rta, &ecap) ||
		    (rta & VTD_PAGE_MASK) == root)
			all = false;
		else
			kho_restore_free(phys_to_virt(root));
	}
	if (all) {
		kho_restore_free(lu_in);
		lu_in = NULL;
	} else {
		pr_warn("a unit still uses a handed-over root table; it stays reserved\n");
	}
	return 0;
}
late_initcall_sync(lu_release);
