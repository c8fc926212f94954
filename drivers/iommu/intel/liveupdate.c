// SPDX-License-Identifier: GPL-2.0
/*
 * VT-d handover across a Live Update kexec (see
 * include/linux/kho/abi/intel_iommu.h and include/linux/iommu_liveupdate.h).
 *
 * Old kernel: iommu_liveupdate_prepare() (process context, at the first
 * device shutdown of the kexec) allocates one zeroed root table per unit in
 * KHO-preserved memory and publishes it in a KHO subtree. As each device
 * that keeps Bus Master shuts down, iommu_liveupdate_keep_device() carries
 * its context entry into that root table if everything its page tables map
 * is preserved memory, and preserves the page-table pages. At
 * intel_iommu_shutdown(), with one CPU left, intel_iommu_lu_shutdown()
 * drops any entry whose mappings changed since, points the unit at the
 * handed-over root and keeps translating: kept devices keep their
 * mappings, every other DMA is blocked and recorded as a fault.
 *
 * Next kernel: iommu_liveupdate_incoming() checks the record, the tables
 * and the hardware before PCI enumeration; init_dmars() keeps translation
 * on and copies the carried entries (the kdump path), the page-table pages
 * become this kernel's, and a carried entry lives until the device is
 * attached to a new domain or iommu_liveupdate_release_device() ends it.
 *
 * Only legacy (non-scalable) mode without interrupt remapping.
 */

#define pr_fmt(fmt) "DMAR: Live Update: " fmt

#include <linux/crc32.h>
#include <linux/dmar.h>
#include <linux/init.h>
#include <linux/io.h>
#include <linux/iommu_liveupdate.h>
#include <linux/kexec_handover.h>
#include <linux/kho/abi/intel_iommu.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#include "iommu.h"

/* Page-table pages under one carried entry: 512 GiB mapped in 4 KiB pages. */
#define LU_MAX_TABLES	BIT(18)
#define LU_PTE_ADDR	GENMASK_ULL(51, 12)

static DEFINE_MUTEX(lu_lock);

/* Old kernel: the published record and each unit's handed-over root. */
static struct intel_iommu_lu_ser *lu_out;
static struct root_entry *lu_out_root[DMAR_UNITS_SUPPORTED];
static u16 lu_out_unit[DMAR_UNITS_SUPPORTED];

/* Next kernel: the validated record (NULL if none or refused). */
static struct intel_iommu_lu_ser *lu_in;
static int lu_in_err = 1;	/* 1: not checked yet */
static const char *lu_in_why;

/* Next kernel: each carried entry, kept after the record page is freed. */
enum lu_ctx_state { LU_SHADOW, LU_COPIED, LU_GONE };

struct lu_in_ctx {
	u64 reg_phys;			/* its unit */
	u64 asr;			/* its page-table root */
	struct context_entry *shadow;	/* in the handed-over tables */
	u16 segment;
	u16 sid;
	u8 levels;
	u8 state;
	bool restored;			/* it restored its tables */
	bool leak;			/* its tables were not all restored */
	bool held;			/* what its tables map is held */
};

static DEFINE_SPINLOCK(lu_in_lock);	/* the states of lu_in_ctx[] */
static struct lu_in_ctx *lu_in_ctx;
static u32 lu_in_nr_ctx;

/* CRC32C of the record page, its crc field counted as zero. */
static u32 lu_crc(const struct intel_iommu_lu_ser *ser)
{
	static const __le32 zero;
	u32 crc = crc32c(~0, &ser->magic, sizeof(ser->magic));

	crc = crc32c(crc, &zero, sizeof(zero));
	return crc32c(crc, &ser->nr_units,
		      PAGE_SIZE - offsetof(struct intel_iommu_lu_ser, nr_units));
}

static void lu_seal(struct intel_iommu_lu_ser *ser)
{
	ser->crc = cpu_to_le32(lu_crc(ser));
}

/* Levels of a multi-level context entry (AW 1-3), or -EINVAL. */
static int lu_ctx_levels(u64 lo, u64 hi)
{
	u32 aw = hi & 7;

	if (!(lo & 1) || ((lo >> 2) & 3) != CONTEXT_TT_MULTI_LEVEL || aw < 1 || aw > 3)
		return -EINVAL;
	return agaw_to_level(aw);
}

/*
 * A walk of second-level page tables: counts the table pages and takes the
 * CRC32C of their contents (depth first), calls @leaf for each mapping and
 * @table for each table page after its children. A table is read only if
 * it is online RAM: the old kernel's tables may change under the walk, the
 * next kernel's come from the previous kernel.
 */
struct lu_walk {
	u32 nr;
	u32 crc;
	u32 done;
	u32 cap;
	unsigned long *pfns;	/* lu_table_preserve: @done of @cap preserved */
	phys_addr_t span_start;	/* lu_leaf_span: the current run of leaves */
	u64 span_size;
	bool hold;
	bool may_sleep;
	int (*leaf)(struct lu_walk *w, phys_addr_t pa, u64 size);
	int (*table)(struct lu_walk *w, phys_addr_t pa);
};

static int lu_walk(struct lu_walk *w, phys_addr_t pa, int level)
{
	const u64 *pt;
	int ret;

	if (++w->nr > LU_MAX_TABLES)
		return -E2BIG;
	if (!pfn_to_online_page(PHYS_PFN(pa)))
		return -EINVAL;
	if (w->may_sleep)
		cond_resched();
	pt = phys_to_virt(pa);
	w->crc = crc32c(w->crc, pt, VTD_PAGE_SIZE);
	for (int i = 0; i < VTD_PAGE_SIZE / sizeof(u64); i++) {
		u64 pte = READ_ONCE(pt[i]);
		phys_addr_t next = pte & LU_PTE_ADDR;

		if (!(pte & (DMA_PTE_READ | DMA_PTE_WRITE)))
			continue;
		if (level == 1 || (pte & DMA_PTE_LARGE_PAGE)) {
			if (level > 3)
				return -EINVAL;
			ret = w->leaf ? w->leaf(w, next, VTD_PAGE_SIZE <<
						level_to_offset_bits(level)) : 0;
		} else {
			ret = lu_walk(w, next, level - 1);
		}
		if (ret)
			return ret;
	}
	return w->table ? w->table(w, pa) : 0;
}

static int lu_leaf_preserved(struct lu_walk *w, phys_addr_t pa, u64 size)
{
	return kho_is_preserved(pa, size) ? 0 : -EFAULT;
}

/* Preserves a table page, recording it in @w->pfns (sized by a first walk). */
static int lu_table_preserve(struct lu_walk *w, phys_addr_t pa)
{
	int ret;

	if (w->done >= w->cap)
		return -EAGAIN;	/* more tables than the first walk found */
	ret = kho_preserve_pages(phys_to_page(pa), 1);
	if (!ret)
		w->pfns[w->done++] = PHYS_PFN(pa);
	return ret;
}

static int lu_table_restore(struct lu_walk *w, phys_addr_t pa)
{
	return kho_restore_pages(pa, 1) ? 0 : -ENOENT;
}

static int lu_table_free(struct lu_walk *w, phys_addr_t pa)
{
	free_page((unsigned long)phys_to_virt(pa));
	return 0;
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
			*why = "cannot allocate a root table to hand over";
			ret = PTR_ERR(root);
			break;
		}
		__iommu_flush_cache(iommu, root, VTD_PAGE_SIZE);
		lu_out_root[iommu->seq_id] = root;
		lu_out_unit[iommu->seq_id] = n;
		ser->units[n].reg_phys = cpu_to_le64(iommu->reg_phys);
		ser->units[n].root_phys = cpu_to_le64(virt_to_phys(root));
		ser->units[n].segment = cpu_to_le16(drhd->segment);
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
		lu_seal(ser);
		ret = kho_add_subtree(INTEL_IOMMU_LU_SUBTREE, ser, PAGE_SIZE);
		if (ret)
			*why = "cannot add the VT-d handover record to KHO";
	}
	if (ret) {
		lu_free_out(ser);
		return ret;
	}
	lu_out = ser;
	pr_info("%u unit(s) keep translating through the kexec; only kept devices' mappings are carried\n",
		n);
	return 0;
}

/* The context entry the unit walks for bus/devfn (legacy mode). */
static bool lu_live_context(struct intel_iommu *iommu, u8 bus, u8 devfn,
			    struct context_entry *ce)
{
	u64 re = READ_ONCE(iommu->root_entry[bus].lo);
	struct context_entry *tbl;

	if (!(re & 1))
		return false;
	tbl = phys_to_virt(re & VTD_PAGE_MASK);
	ce->lo = READ_ONCE(tbl[devfn].lo);
	ce->hi = READ_ONCE(tbl[devfn].hi);
	return ce->lo & 1;
}

/* The handed-over context entry for bus/devfn, allocating its table. */
static struct context_entry *lu_shadow_context(struct intel_iommu *iommu,
					       u8 bus, u8 devfn)
{
	struct root_entry *root = lu_out_root[iommu->seq_id];
	struct context_entry *tbl;

	if (!(root[bus].lo & 1)) {
		tbl = kho_alloc_preserve(VTD_PAGE_SIZE);
		if (IS_ERR(tbl))
			return NULL;
		__iommu_flush_cache(iommu, tbl, VTD_PAGE_SIZE);
		root[bus].lo = virt_to_phys(tbl) | 1;
		__iommu_flush_cache(iommu, &root[bus], sizeof(root[bus]));
	}
	tbl = phys_to_virt(root[bus].lo & VTD_PAGE_MASK);
	return &tbl[devfn];
}

/* Preserves the tables under @asr, or finds them carried for another entry. */
static int lu_carry_tables(struct pci_dev *pdev, u64 asr, int levels,
			   u32 *nr, u32 *crc)
{
	struct lu_walk w = { .leaf = lu_leaf_preserved };
	u32 n = le32_to_cpu(lu_out->nr_ctx);
	unsigned long *pfns;
	int ret;

	for (u32 i = 0; i < n; i++) {
		if ((le64_to_cpu(lu_out->ctx[i].lo) & VTD_PAGE_MASK) == asr) {
			*nr = le32_to_cpu(lu_out->ctx[i].nr_tables);
			*crc = le32_to_cpu(lu_out->ctx[i].tables_crc);
			return 0;
		}
	}
	ret = lu_walk(&w, asr, levels);
	if (ret == -EFAULT) {
		pci_warn(pdev, "Live Update: its IOMMU mappings reach memory that is not preserved; its DMA is blocked through the kexec\n");
		return ret;
	}
	if (ret) {
		pci_warn(pdev, "Live Update: its IOMMU page tables cannot be carried (%d); its DMA is blocked through the kexec\n",
			 ret);
		return ret;
	}
	*nr = w.nr;
	*crc = w.crc;
	pfns = kvcalloc(*nr, sizeof(*pfns), GFP_KERNEL);
	if (!pfns) {
		pci_warn(pdev, "Live Update: no memory to carry its IOMMU page tables; its DMA is blocked through the kexec\n");
		return -ENOMEM;
	}
	w = (struct lu_walk){ .table = lu_table_preserve, .pfns = pfns, .cap = *nr };
	ret = lu_walk(&w, asr, levels);
	if (!ret && (w.nr != *nr || w.crc != *crc))
		ret = -EAGAIN;	/* changed under us */
	if (ret) {
		for (u32 i = 0; i < w.done; i++)
			kho_unpreserve_pages(pfn_to_page(pfns[i]), 1);
		pci_warn(pdev, "Live Update: cannot preserve its IOMMU page tables (%d); its DMA is blocked through the kexec\n",
			 ret);
	}
	kvfree(pfns);
	return ret;
}

int iommu_liveupdate_keep_device(struct pci_dev *pdev)
{
	struct device_domain_info *info = dev_iommu_priv_get(&pdev->dev);
	struct intel_iommu_lu_ctx *c;
	struct context_entry ce, *shadow;
	struct intel_iommu *iommu;
	u32 n, nr, crc;
	bool present;
	int levels;

	guard(mutex)(&lu_lock);
	if (!lu_out)
		return -ENODEV;
	iommu = info ? info->iommu : NULL;
	if (!iommu || iommu->seq_id >= DMAR_UNITS_SUPPORTED || !lu_out_root[iommu->seq_id]) {
		pci_warn(pdev, "Live Update: not behind a VT-d unit that hands over\n");
		return -ENODEV;
	}
	/*
	 * A bridge forwards DMA; its own requests need no mappings. (A PCI
	 * bridge that takes over its devices' requester ID is not handled:
	 * their DMA is blocked through the kexec.)
	 */
	if (pci_is_bridge(pdev))
		return 0;
	spin_lock(&iommu->lock);
	present = lu_live_context(iommu, info->bus, info->devfn, &ce);
	spin_unlock(&iommu->lock);
	if (!present)
		return 0;
	levels = lu_ctx_levels(ce.lo, ce.hi);
	if (levels < 0) {
		pci_info(pdev, "Live Update: its translation type (pass-through or device TLB) is not carried; its DMA is blocked through the kexec\n");
		return 0;
	}
	n = le32_to_cpu(lu_out->nr_ctx);
	if (n >= INTEL_IOMMU_LU_MAX_CTX) {
		pci_warn(pdev, "Live Update: too many carried IOMMU contexts; its DMA is blocked through the kexec\n");
		return 0;
	}
	if (lu_carry_tables(pdev, ce.lo & VTD_PAGE_MASK, levels, &nr, &crc))
		return 0;
	shadow = lu_shadow_context(iommu, info->bus, info->devfn);
	if (!shadow) {
		pci_warn(pdev, "Live Update: cannot allocate a context table to hand over; its DMA is blocked through the kexec\n");
		return 0;	/* its preserved tables stay reserved, unused */
	}
	*shadow = ce;
	__iommu_flush_cache(iommu, shadow, sizeof(*shadow));
	c = &lu_out->ctx[n];
	c->lo = cpu_to_le64(ce.lo);
	c->hi = cpu_to_le64(ce.hi);
	c->unit = cpu_to_le16(lu_out_unit[iommu->seq_id]);
	c->sid = cpu_to_le16(PCI_DEVID(info->bus, info->devfn));
	c->nr_tables = cpu_to_le32(nr);
	c->tables_crc = cpu_to_le32(crc);
	lu_out->nr_ctx = cpu_to_le32(n + 1);
	lu_seal(lu_out);
	pci_info(pdev, "Live Update: its DMA stays translated through the kexec (domain %u, %u page-table pages)\n",
		 context_domain_id(&ce), nr);
	return 0;
}

/*
 * From intel_iommu_shutdown(), with one CPU left and interrupts off: drop
 * the carried entries whose mappings changed since they were checked,
 * point @iommu at its handed-over root and keep translating. True if it did.
 */
bool intel_iommu_lu_shutdown(struct intel_iommu *iommu)
{
	struct root_entry *root;
	unsigned long flags;
	bool changed = false;
	u32 sts;

	if (!lu_out || iommu->seq_id >= DMAR_UNITS_SUPPORTED)
		return false;
	root = lu_out_root[iommu->seq_id];
	if (!root)
		return false;
	for (u32 i = 0; i < le32_to_cpu(lu_out->nr_ctx); i++) {
		struct intel_iommu_lu_ctx *c = &lu_out->ctx[i];
		u16 sid = le16_to_cpu(c->sid);
		struct lu_walk w = {};
		struct context_entry ce, *shadow;

		if (le16_to_cpu(c->unit) != lu_out_unit[iommu->seq_id] || !c->lo)
			continue;
		if (lu_live_context(iommu, PCI_BUS_NUM(sid), sid & 0xff, &ce) &&
		    ce.lo == le64_to_cpu(c->lo) && ce.hi == le64_to_cpu(c->hi) &&
		    !lu_walk(&w, ce.lo & VTD_PAGE_MASK, lu_ctx_levels(ce.lo, ce.hi)) &&
		    w.nr == le32_to_cpu(c->nr_tables) && w.crc == le32_to_cpu(c->tables_crc))
			continue;
		shadow = phys_to_virt(root[PCI_BUS_NUM(sid)].lo & VTD_PAGE_MASK);
		shadow += sid & 0xff;
		context_clear_entry(shadow);
		__iommu_flush_cache(iommu, shadow, sizeof(*shadow));
		c->lo = 0;
		c->hi = 0;
		changed = true;
		pr_warn("%s: %02x:%02x.%d: its mappings changed after they were checked; its DMA is blocked through the kexec\n",
			iommu->name, PCI_BUS_NUM(sid), PCI_SLOT(sid), PCI_FUNC(sid));
	}
	if (changed)
		lu_seal(lu_out);
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

/* A unit's status, root table address and (extended) capabilities. */
static int lu_read_unit(u64 reg_phys, u32 *sts, u64 *rta, u64 *cap, u64 *ecap)
{
	void __iomem *reg = ioremap(reg_phys, VTD_PAGE_SIZE);

	if (!reg)
		return -ENOMEM;
	*sts = readl(reg + DMAR_GSTS_REG);
	*rta = readq(reg + DMAR_RTADDR_REG);
	*cap = readq(reg + DMAR_CAP_REG);
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

/* A page the previous kernel handed over, readable here. */
static void *lu_in_page(u64 phys)
{
	if (!PAGE_ALIGNED(phys) || !pfn_to_online_page(PHYS_PFN(phys)))
		return NULL;
	return phys_to_virt(phys);
}

static int lu_find_ctx(const struct intel_iommu_lu_ser *ser, u32 unit, u16 sid)
{
	for (u32 i = 0; i < le32_to_cpu(ser->nr_ctx); i++)
		if (le16_to_cpu(ser->ctx[i].unit) == unit && le16_to_cpu(ser->ctx[i].sid) == sid &&
		    ser->ctx[i].lo)
			return i;
	return -ENOENT;
}

/*
 * The handed-over root and context tables of unit @u hold exactly the
 * listed entries; counts them in *@found and notes where each one is.
 */
static int lu_validate_tables(const struct intel_iommu_lu_ser *ser, u32 u,
			      struct lu_in_ctx *ctx, u32 *found, const char **why)
{
	struct root_entry *root = lu_in_page(le64_to_cpu(ser->units[u].root_phys));

	if (!root) {
		*why = "a handed-over root table is not memory";
		return -EINVAL;
	}
	for (int bus = 0; bus < 256; bus++) {
		struct context_entry *tbl;

		if (root[bus].hi || (root[bus].lo & ~(VTD_PAGE_MASK | 1))) {
			*why = "a handed-over root entry is malformed";
			return -EINVAL;
		}
		if (!(root[bus].lo & 1))
			continue;
		tbl = lu_in_page(root[bus].lo & VTD_PAGE_MASK);
		if (!tbl) {
			*why = "a handed-over context table is not memory";
			return -EINVAL;
		}
		for (int devfn = 0; devfn < 256; devfn++) {
			int i;

			if (!context_present(&tbl[devfn]))
				continue;
			i = lu_find_ctx(ser, u, PCI_DEVID(bus, devfn));
			if (i < 0 || tbl[devfn].lo != le64_to_cpu(ser->ctx[i].lo) ||
			    tbl[devfn].hi != le64_to_cpu(ser->ctx[i].hi) || ctx[i].shadow) {
				*why = "a handed-over context entry is not listed";
				return -EINVAL;
			}
			ctx[i].shadow = &tbl[devfn];
			(*found)++;
		}
	}
	return 0;
}

static int lu_validate_ctx(const struct intel_iommu_lu_ser *ser, const u32 *ndoms,
			   struct lu_in_ctx *ctx, const char **why)
{
	u32 nu = le32_to_cpu(ser->nr_units), n = le32_to_cpu(ser->nr_ctx), live = 0, found = 0;
	int ret;

	for (u32 i = 0; i < n; i++) {
		const struct intel_iommu_lu_ctx *c = &ser->ctx[i];
		u64 lo = le64_to_cpu(c->lo), hi = le64_to_cpu(c->hi);
		struct lu_walk w = {};
		u16 u = le16_to_cpu(c->unit);
		int levels;
		u32 did;

		if (c->reserved || u >= nu) {
			*why = "a carried context entry is malformed";
			return -EINVAL;
		}
		ctx[i].reg_phys = le64_to_cpu(ser->units[u].reg_phys);
		ctx[i].segment = le16_to_cpu(ser->units[u].segment);
		ctx[i].sid = le16_to_cpu(c->sid);
		ctx[i].state = LU_GONE;
		if (!lo && !hi)
			continue;	/* dropped at the kexec */
		levels = lu_ctx_levels(lo, hi);
		did = (hi >> 8) & 0xffff;
		/* Its domain ID must be one the unit can flush. */
		if (levels < 0 || !did || did >= ndoms[u]) {
			*why = "a carried context entry does not translate";
			return -EINVAL;
		}
		ret = lu_walk(&w, lo & VTD_PAGE_MASK, levels);
		if (ret || w.nr != le32_to_cpu(c->nr_tables) ||
		    w.crc != le32_to_cpu(c->tables_crc)) {
			*why = "carried IOMMU page tables are damaged";
			return -EINVAL;
		}
		ctx[i].asr = lo & VTD_PAGE_MASK;
		ctx[i].levels = levels;
		ctx[i].state = LU_SHADOW;
		live++;
	}
	for (u32 u = 0; u < nu; u++) {
		ret = lu_validate_tables(ser, u, ctx, &found, why);
		if (ret)
			return ret;
	}
	if (found != live) {
		*why = "a carried context entry is missing from the handed-over tables";
		return -EINVAL;
	}
	return 0;
}

static int lu_validate(const char **why)
{
	struct intel_iommu_lu_ser *ser;
	u32 ndoms[INTEL_IOMMU_LU_MAX_UNITS];
	struct lu_in_ctx *ctx;
	phys_addr_t phys;
	size_t size;
	u32 n, nc;
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
	nc = le32_to_cpu(ser->nr_ctx);
	if (le32_to_cpu(ser->magic) != INTEL_IOMMU_LU_MAGIC ||
	    le32_to_cpu(ser->crc) != lu_crc(ser)) {
		*why = "the VT-d handover record is damaged (magic or checksum)";
		return -EINVAL;
	}
	if (!n || n > INTEL_IOMMU_LU_MAX_UNITS || nc > INTEL_IOMMU_LU_MAX_CTX) {
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
		u64 rta, cap, ecap;
		u32 sts;

		if (ser->units[i].reserved[0] || ser->units[i].reserved[1] ||
		    ser->units[i].reserved[2]) {
			*why = "the VT-d handover record is malformed";
			return -EINVAL;
		}
		if (lu_read_unit(le64_to_cpu(ser->units[i].reg_phys), &sts, &rta, &cap, &ecap)) {
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
		ndoms[i] = cap_ndoms(cap);
	}
	ctx = kzalloc_objs(*ctx, max(nc, 1U));
	if (!ctx) {
		*why = "no memory to check the VT-d handover";
		return -ENOMEM;
	}
	ret = lu_validate_ctx(ser, ndoms, ctx, why);
	if (ret) {
		kfree(ctx);
		return ret;
	}
	lu_in_ctx = ctx;
	lu_in_nr_ctx = nc;
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

/* Whether a carried translation can be live: DMA API users attach lazily. */
bool iommu_liveupdate_deferred_attach(void)
{
	const char *why;

	if (iommu_liveupdate_incoming(&why))
		return false;
	for (u32 i = 0; i < lu_in_nr_ctx; i++)
		if (lu_in_ctx[i].state == LU_SHADOW)
			return true;
	return false;
}

/*
 * From init_dmars(), for a unit found translating outside kdump: whether
 * the previous kernel handed it over, so translation must stay on (and the
 * carried entries are copied).
 */
bool __init intel_iommu_lu_adopt(struct intel_iommu *iommu)
{
	const char *why;
	u32 carried = 0;

	if (iommu_liveupdate_incoming(&why))
		return false;
	for (u32 i = 0; i < le32_to_cpu(lu_in->nr_units); i++) {
		if (le64_to_cpu(lu_in->units[i].reg_phys) != iommu->reg_phys)
			continue;
		for (u32 c = 0; c < lu_in_nr_ctx; c++)
			if (lu_in_ctx[c].reg_phys == iommu->reg_phys &&
			    lu_in_ctx[c].state == LU_SHADOW)
				carried++;
		pr_info("%s: translation kept on from the previous kernel; %u carried context(s), all other DMA blocked until attached\n",
			iommu->name, carried);
		return true;
	}
	return false;
}

/*
 * Another carried entry, copied or still walked in the handed-over tables
 * (possibly by another unit), uses the page tables of entry @i. Under
 * lu_in_lock.
 */
static bool lu_tables_shared(u32 i)
{
	for (u32 j = 0; j < lu_in_nr_ctx; j++)
		if (j != i && lu_in_ctx[j].state != LU_GONE && lu_in_ctx[j].asr == lu_in_ctx[i].asr)
			return true;
	return false;
}

/* An entry with the tables at @asr restored them (even if it ended since). */
static bool lu_tables_restored(u64 asr)
{
	for (u32 j = 0; j < lu_in_nr_ctx; j++)
		if (lu_in_ctx[j].restored && lu_in_ctx[j].asr == asr)
			return true;
	return false;
}

/* Tables at @asr not all restored: never freed. */
static bool lu_tables_leak(u64 asr)
{
	for (u32 j = 0; j < lu_in_nr_ctx; j++)
		if (lu_in_ctx[j].leak && lu_in_ctx[j].asr == asr)
			return true;
	return false;
}

/* What the tables at @asr map is held. */
static bool lu_tables_held(u64 asr)
{
	for (u32 j = 0; j < lu_in_nr_ctx; j++)
		if (lu_in_ctx[j].held && lu_in_ctx[j].asr == asr)
			return true;
	return false;
}

/*
 * Holds (kho_hold()) on what carried page tables map, so the memory stays
 * allocated while the device can reach it: one per run of physically
 * contiguous leaves. @w->done counts the runs; an undo stops after @limit.
 */
static int lu_span_flush(struct lu_walk *w)
{
	int ret = 0;

	if (!w->span_size)
		return 0;
	if (w->hold)
		ret = kho_hold(w->span_start, w->span_size);
	else if (w->done < w->cap)
		kho_unhold(w->span_start, w->span_size);
	else
		return -ECANCELED;
	if (!ret)
		w->done++;
	w->span_size = 0;
	return ret;
}

static int lu_leaf_span(struct lu_walk *w, phys_addr_t pa, u64 size)
{
	int ret = 0;

	if (w->span_size && w->span_start + w->span_size == pa) {
		w->span_size += size;
		return 0;
	}
	ret = lu_span_flush(w);
	w->span_start = pa;
	w->span_size = size;
	return ret;
}

static int lu_hold_leaves(u64 asr, int levels, bool hold, u32 limit)
{
	struct lu_walk w = {
		.leaf = lu_leaf_span, .hold = hold, .cap = limit, .may_sleep = true,
	};
	int ret = lu_walk(&w, asr, levels);

	if (!ret)
		ret = lu_span_flush(&w);
	if (ret && hold) {
		/* Undo the holds that were taken. */
		lu_hold_leaves(asr, levels, false, w.done);
		return ret;
	}
	return 0;
}

/*
 * From init_dmars(), after copy_translation_tables() on an adopted unit
 * (@copied false if it failed, so nothing of the unit is carried): the
 * carried page tables become this kernel's pages, and what they map is
 * held until the translation ends. A carried entry whose memory cannot be
 * held is ended at once (its DMA blocked).
 */
void __init intel_iommu_lu_copied(struct intel_iommu *iommu, bool copied)
{
	for (u32 i = 0; i < lu_in_nr_ctx; i++) {
		struct lu_in_ctx *c = &lu_in_ctx[i];
		struct lu_walk w = { .table = lu_table_restore };
		u8 bus = PCI_BUS_NUM(c->sid), devfn = c->sid & 0xff;
		bool ours;
		int ret;

		if (c->reg_phys != iommu->reg_phys)
			continue;
		scoped_guard(spinlock, &lu_in_lock) {
			ours = c->state == LU_SHADOW;
			if (ours)
				c->state = copied && context_copied(iommu, bus, devfn) ?
					   LU_COPIED : LU_GONE;
		}
		if (!ours)
			continue;
		if (c->state == LU_GONE) {
			pr_warn("%s: %02x:%02x.%d: carried context not copied; its page tables stay reserved\n",
				iommu->name, bus, PCI_SLOT(devfn), PCI_FUNC(devfn));
			continue;
		}
		/* The first entry with these tables restores them and holds. */
		if (!lu_tables_restored(c->asr)) {
			c->restored = true;
			if (lu_walk(&w, c->asr, c->levels)) {
				/* Never freed then: some pages are not this kernel's. */
				c->leak = true;
				pr_warn("%s: %02x:%02x.%d: carried page tables could not all be restored; they stay reserved\n",
					iommu->name, bus, PCI_SLOT(devfn), PCI_FUNC(devfn));
			}
			ret = lu_hold_leaves(c->asr, c->levels, true, 0);
			if (ret)
				pr_warn("%s: %02x:%02x.%d: cannot hold the memory its carried mappings reach (%d); ending them\n",
					iommu->name, bus, PCI_SLOT(devfn), PCI_FUNC(devfn), ret);
			else
				c->held = true;
		}
		if (lu_tables_held(c->asr))
			continue;
		/* The unit still walks the handed-over tables: clear it there too. */
		context_clear_entry(c->shadow);
		clflush_cache_range(c->shadow, sizeof(*c->shadow));
		intel_iommu_lu_end_copied(iommu, bus, devfn);
	}
}

/*
 * From init_dmars(), for a handed-over unit this kernel ignores (it keeps
 * translating through the handed-over tables, which stay reserved): hold
 * for good what its carried entries map.
 */
void __init intel_iommu_lu_ignored(struct intel_iommu *iommu)
{
	for (u32 i = 0; i < lu_in_nr_ctx; i++) {
		struct lu_in_ctx *c = &lu_in_ctx[i];

		if (c->reg_phys != iommu->reg_phys || c->state != LU_SHADOW ||
		    lu_tables_held(c->asr))
			continue;
		if (lu_hold_leaves(c->asr, c->levels, true, 0))
			pr_err("%s: %02x:%02x.%d: cannot hold what its carried mappings reach on an ignored unit\n",
			       iommu->name, PCI_BUS_NUM(c->sid), PCI_SLOT(c->sid & 0xff),
			       PCI_FUNC(c->sid & 0xff));
		else
			c->held = true;
	}
}

/* Freed in process context: unholding may sleep, and tables can be many. */
struct lu_free_work {
	struct work_struct work;
	u64 asr;
	int levels;
	bool held;
};

static void lu_free_tables(struct work_struct *work)
{
	struct lu_free_work *f = container_of(work, struct lu_free_work, work);
	struct lu_walk w = { .table = lu_table_free, .may_sleep = true };

	if (f->held)
		lu_hold_leaves(f->asr, f->levels, false, U32_MAX);
	lu_walk(&w, f->asr, f->levels);
	kfree(f);
}

/*
 * From copied_context_tear_down(), under iommu->lock, once the unit no
 * longer uses the copied entry for bus/devfn (its IOTLB entries flushed):
 * release its page tables, and the memory they map, if no other carried
 * entry uses them.
 */
void intel_iommu_lu_copied_gone(struct intel_iommu *iommu, u8 bus, u8 devfn)
{
	guard(spinlock)(&lu_in_lock);
	for (u32 i = 0; i < lu_in_nr_ctx; i++) {
		struct lu_in_ctx *c = &lu_in_ctx[i];
		struct lu_free_work *f;

		if (c->reg_phys != iommu->reg_phys || c->sid != PCI_DEVID(bus, devfn) ||
		    c->state != LU_COPIED)
			continue;
		c->state = LU_GONE;
		pr_info("%s: %02x:%02x.%d: carried translation ended\n", iommu->name, bus,
			PCI_SLOT(devfn), PCI_FUNC(devfn));
		if (lu_tables_shared(i) || lu_tables_leak(c->asr))
			continue;
		f = kzalloc_obj(*f, GFP_ATOMIC);
		if (!f) {
			pr_warn("%s: %02x:%02x.%d: no memory to release its carried page tables; they stay allocated\n",
				iommu->name, bus, PCI_SLOT(devfn), PCI_FUNC(devfn));
			continue;
		}
		INIT_WORK(&f->work, lu_free_tables);
		f->asr = c->asr;
		f->levels = c->levels;
		f->held = lu_tables_held(c->asr);
		schedule_work(&f->work);
	}
}

/*
 * The PCI component ends a kept device's carried translation: its
 * preservation finished or was dropped, or the device left. Before VT-d
 * takes over, the entry is removed from the handed-over tables; after, the
 * copied entry is torn down (its DMA is blocked from now on).
 */
void iommu_liveupdate_release_device(struct pci_dev *pdev)
{
	u16 seg = pci_domain_nr(pdev->bus), sid = pci_dev_id(pdev);
	struct dmar_drhd_unit *drhd;
	struct intel_iommu *iommu;
	u64 reg = 0;

	scoped_guard(spinlock, &lu_in_lock) {
		for (u32 i = 0; i < lu_in_nr_ctx; i++) {
			struct lu_in_ctx *c = &lu_in_ctx[i];

			if (c->segment != seg || c->sid != sid)
				continue;
			if (c->state == LU_SHADOW) {
				/*
				 * The unit may still hold the entry in its context
				 * cache until VT-d init flushes it; callers have
				 * stopped the device first, and the tables stay
				 * reserved.
				 */
				context_clear_entry(c->shadow);
				clflush_cache_range(c->shadow, sizeof(*c->shadow));
				c->state = LU_GONE;
				pci_info(pdev, "Live Update: carried IOMMU translation dropped before VT-d took over\n");
			} else if (c->state == LU_COPIED) {
				reg = c->reg_phys;
			}
		}
	}
	if (!reg)
		return;
	rcu_read_lock();
	for_each_active_iommu(iommu, drhd) {
		if (iommu->reg_phys == reg) {
			intel_iommu_lu_end_copied(iommu, PCI_BUS_NUM(sid), sid & 0xff);
			break;
		}
	}
	rcu_read_unlock();
}

/* Once no unit walks them any more, the handed-over tables are ours. */
static int __init lu_release(void)
{
	bool all = true;

	if (!lu_in)
		return 0;
	for (u32 i = 0; i < le32_to_cpu(lu_in->nr_units); i++) {
		u64 root = le64_to_cpu(lu_in->units[i].root_phys);
		struct root_entry *re = phys_to_virt(root);
		u64 rta, cap, ecap;
		u32 sts;

		/* Ask the hardware: VT-d init may have failed or never run. */
		if (lu_read_unit(le64_to_cpu(lu_in->units[i].reg_phys), &sts, &rta, &cap, &ecap) ||
		    (rta & VTD_PAGE_MASK) == root) {
			all = false;
			continue;
		}
		for (int bus = 0; bus < 256; bus++)
			if (re[bus].lo & 1)
				kho_restore_free(phys_to_virt(re[bus].lo & VTD_PAGE_MASK));
		kho_restore_free(re);
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
