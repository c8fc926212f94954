// SPDX-License-Identifier: GPL-2.0
/*
 * Test-only Live Update file handler for PCI devices.
 *
 * Lets kselftests preserve any PCI device through a real LUO session before
 * a real driver (vfio-pci) does: open /dev/pci_liveupdate_test, write a
 * device address ("0000:01:00.0") to bind the file to that device, then
 * preserve the fd in a session. The handler calls the PCI Live Update C API
 * exactly as a driver would. After kexec the retrieved fd reads back the
 * device's status, and finishing the session finishes the device.
 *
 * debugfs pci_liveupdate/ is created by the Rust side (test_debugfs.rs),
 * which holds the files whose logic is in Rust. This file adds those whose
 * state is here: writing a device address to "preserve" calls that API
 * directly, outside any LUO session, to test how it handles misuse;
 * "dma_after_iommu_shutdown" and "corrupt_iommu_handover" act at the very
 * end of a kexec (below); config_writes.c adds its own. A device preserved
 * through "preserve" has no file behind it, so the next kernel never
 * finishes it and keeps the handed-over table: expected in tests only.
 *
 * Boot parameters: fail_retrieve (below), conflict (below), and watch
 * (config_writes.c).
 *
 * Never enable this on a production kernel.
 */

#define pr_fmt(fmt) "pci_liveupdate_test: " fmt

#include <linux/anon_inodes.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/init.h>
#include <linux/iommu_liveupdate.h>
#include <linux/kexec.h>
#include <linux/kho/abi/intel_iommu.h>
#include <linux/liveupdate.h>
#include <linux/miscdevice.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/pci_liveupdate.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/syscore_ops.h>
#include <linux/uaccess.h>

#include "test.h"

#define PCI_LU_TEST_FH_COMPATIBLE "pci-lu-test-v1"

struct pci_lu_test_file {
	struct mutex lock;	/* protects pdev */
	struct pci_dev *pdev;	/* referenced */
};

static const struct file_operations pci_lu_test_fops;

static struct pci_lu_test_file *pci_lu_test_alloc(struct pci_dev *pdev)
{
	struct pci_lu_test_file *t = kzalloc(sizeof(*t), GFP_KERNEL);

	if (!t)
		return NULL;
	mutex_init(&t->lock);
	t->pdev = pdev;
	return t;
}

static int pci_lu_test_open(struct inode *inode, struct file *file)
{
	file->private_data = pci_lu_test_alloc(NULL);
	return file->private_data ? 0 : -ENOMEM;
}

static int pci_lu_test_release(struct inode *inode, struct file *file)
{
	struct pci_lu_test_file *t = file->private_data;

	pci_dev_put(t->pdev);
	kfree(t);
	return 0;
}

/* The device named by "segment:bus:dev.fn" in @ubuf, referenced. */
static struct pci_dev *pci_lu_test_get_dev(const char __user *ubuf, size_t len)
{
	unsigned int seg, bus, slot, fn;
	struct pci_dev *pdev;
	char buf[32];

	if (len >= sizeof(buf))
		return ERR_PTR(-EINVAL);
	if (copy_from_user(buf, ubuf, len))
		return ERR_PTR(-EFAULT);
	buf[len] = '\0';
	if (sscanf(buf, "%x:%x:%x.%x", &seg, &bus, &slot, &fn) != 4 ||
	    bus > 0xff || slot > 0x1f || fn > 7)
		return ERR_PTR(-EINVAL);
	pdev = pci_get_domain_bus_and_slot(seg, bus, PCI_DEVFN(slot, fn));
	return pdev ?: ERR_PTR(-ENODEV);
}

/* Bind the file to the device named by "segment:bus:dev.fn". */
static ssize_t pci_lu_test_write(struct file *file, const char __user *ubuf,
				 size_t len, loff_t *ppos)
{
	struct pci_lu_test_file *t = file->private_data;
	struct pci_dev *pdev = pci_lu_test_get_dev(ubuf, len);

	if (IS_ERR(pdev))
		return PTR_ERR(pdev);

	guard(mutex)(&t->lock);
	if (t->pdev) {
		pci_dev_put(pdev);
		return -EBUSY;
	}
	t->pdev = pdev;
	return len;
}

/* "<address> incoming=<0|1>\n" for the bound device. */
static ssize_t pci_lu_test_read(struct file *file, char __user *ubuf,
				size_t len, loff_t *ppos)
{
	struct pci_lu_test_file *t = file->private_data;
	char buf[64];
	int n;

	guard(mutex)(&t->lock);
	if (!t->pdev)
		return -ENODEV;
	n = scnprintf(buf, sizeof(buf), "%s incoming=%d\n", pci_name(t->pdev),
		      pci_liveupdate_is_incoming(t->pdev));
	return simple_read_from_buffer(ubuf, len, ppos, buf, n);
}

static const struct file_operations pci_lu_test_fops = {
	.owner = THIS_MODULE,
	.open = pci_lu_test_open,
	.release = pci_lu_test_release,
	.read = pci_lu_test_read,
	.write = pci_lu_test_write,
	.llseek = default_llseek,
};

static struct miscdevice pci_lu_test_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "pci_liveupdate_test",
	.fops = &pci_lu_test_fops,
};

/* The handover data is the device address itself: segment << 16 | bdf. */
static u64 pci_lu_test_encode(struct pci_dev *pdev)
{
	return (u64)pci_domain_nr(pdev->bus) << 16 | pci_dev_id(pdev);
}

static struct pci_dev *pci_lu_test_decode(u64 data)
{
	return pci_get_domain_bus_and_slot(data >> 16, (data >> 8) & 0xff,
					   data & 0xff);
}

static bool pci_lu_test_can_preserve(struct liveupdate_file_handler *fh,
				     struct file *file)
{
	struct pci_lu_test_file *t = file->private_data;

	if (file->f_op != &pci_lu_test_fops)
		return false;
	guard(mutex)(&t->lock);
	return t->pdev;
}

/*
 * Unlike vfio-pci, this handler is not the device's driver: it holds the
 * device lock so that the driver name preserve records cannot change. A
 * trylock, since a removal holds the lock while vfio-pci waits for a file
 * that a session (maybe this one) keeps.
 */
static int pci_lu_test_do_preserve(struct pci_dev *pdev)
{
	int ret;

	if (!device_trylock(&pdev->dev)) {
		pci_warn(pdev, "test preserve refused: its driver binding is changing; try again\n");
		return -EAGAIN;
	}
	ret = pci_liveupdate_preserve(pdev);
	device_unlock(&pdev->dev);
	return ret;
}

static int pci_lu_test_preserve(struct liveupdate_file_op_args *args)
{
	struct pci_lu_test_file *t = args->file->private_data;
	int ret;

	guard(mutex)(&t->lock);
	ret = pci_lu_test_do_preserve(t->pdev);
	if (!ret)
		args->serialized_data = pci_lu_test_encode(t->pdev);
	return ret;
}

static void pci_lu_test_unpreserve(struct liveupdate_file_op_args *args)
{
	struct pci_lu_test_file *t = args->file->private_data;

	guard(mutex)(&t->lock);
	pci_liveupdate_unpreserve(t->pdev);
}

static int pci_lu_test_retrieve(struct liveupdate_file_op_args *args)
{
	struct pci_dev *pdev = pci_lu_test_decode(args->serialized_data);
	struct pci_lu_test_file *t;
	struct file *file;

	if (!pdev)
		return -ENODEV;
	t = pci_lu_test_alloc(pdev);
	if (!t) {
		pci_dev_put(pdev);
		return -ENOMEM;
	}
	file = anon_inode_getfile("[pci_liveupdate_test]", &pci_lu_test_fops,
				  t, O_RDWR);
	if (IS_ERR(file)) {
		pci_dev_put(pdev);
		kfree(t);
		return PTR_ERR(file);
	}
	args->file = file;
	return 0;
}

static void pci_lu_test_finish(struct liveupdate_file_op_args *args)
{
	struct pci_lu_test_file *t;
	struct pci_dev *pdev;

	/* A retrieved file finishes the device it was retrieved for. */
	if (args->retrieve_status > 0) {
		t = args->file->private_data;
		guard(mutex)(&t->lock);
		/* Not if an administrator abandoned it meanwhile. */
		if (pci_liveupdate_is_incoming(t->pdev))
			pci_liveupdate_finish(t->pdev);
		return;
	}
	pdev = pci_lu_test_decode(args->serialized_data);
	if (!pdev) {
		pr_warn("finish: device %04llx:%02llx:%02llx.%llu is gone\n",
			args->serialized_data >> 16, (args->serialized_data >> 8) & 0xff,
			(args->serialized_data >> 3) & 0x1f, args->serialized_data & 7);
		return;
	}
	pci_liveupdate_finish(pdev);
	pci_dev_put(pdev);
}

/*
 * pci_liveupdate_test.conflict=ADDR: a 4 KiB memory resource at ADDR is
 * taken before PCI enumeration, so that a BAR or bridge window the previous
 * kernel left there cannot be claimed.
 */
static unsigned long pci_lu_test_conflict_addr;
module_param_named(conflict, pci_lu_test_conflict_addr, ulong, 0444);
MODULE_PARM_DESC(conflict, "Take 4 KiB of memory space at this address before PCI enumeration");

static struct resource pci_lu_test_conflict_res = {
	.name = "pci_liveupdate_test conflict",
	.flags = IORESOURCE_MEM | IORESOURCE_BUSY,
};

static int __init pci_lu_test_conflict(void)
{
	struct resource *r = &pci_lu_test_conflict_res;

	if (!pci_lu_test_conflict_addr)
		return 0;
	r->start = pci_lu_test_conflict_addr;
	r->end = r->start + SZ_4K - 1;
	if (request_resource(&iomem_resource, r))
		pr_err("conflict: cannot take %pR\n", r);
	else
		pr_info("conflict: took %pR\n", r);
	return 0;
}
core_initcall(pci_lu_test_conflict);

/* pci_liveupdate_test.fail_retrieve=1 on the command line of the next kernel */
static bool pci_lu_test_fail_retrieve;
module_param_named(fail_retrieve, pci_lu_test_fail_retrieve, bool, 0444);
MODULE_PARM_DESC(fail_retrieve, "The FLB retrieve of the incoming table fails its allocation");

bool pci_liveupdate_test_fail_retrieve(void)
{
	return pci_lu_test_fail_retrieve;
}

/* pci_liveupdate_test.no_vfs=1: read tables as a kernel without VF support */
static bool pci_lu_test_no_vfs;
module_param_named(no_vfs, pci_lu_test_no_vfs, bool, 0444);
MODULE_PARM_DESC(no_vfs, "Refuse incoming tables with VFs, as a kernel without VF support");

bool pci_liveupdate_test_no_vfs(void)
{
	return pci_lu_test_no_vfs;
}

/*
 * pci_liveupdate_test.quirk_class=1: an early fixup rewrites the class of
 * every edu, as a quirk only one of two kernels has would.
 */
static bool pci_lu_test_quirk_class;
module_param_named(quirk_class, pci_lu_test_quirk_class, bool, 0444);
MODULE_PARM_DESC(quirk_class, "An early fixup rewrites the class of QEMU's edu");

static void pci_lu_test_class_quirk(struct pci_dev *pdev)
{
	if (!pci_lu_test_quirk_class)
		return;
	pdev->class = PCI_CLASS_SYSTEM_OTHER << 8;
	pci_info(pdev, "test quirk: class rewritten to %06x\n", pdev->class);
}
DECLARE_PCI_FIXUP_EARLY(0x1234, 0x11e8, pci_lu_test_class_quirk);

static const struct liveupdate_file_ops pci_lu_test_file_ops = {
	.can_preserve = pci_lu_test_can_preserve,
	.preserve = pci_lu_test_preserve,
	.unpreserve = pci_lu_test_unpreserve,
	.retrieve = pci_lu_test_retrieve,
	.finish = pci_lu_test_finish,
	.owner = THIS_MODULE,
};

static struct liveupdate_file_handler pci_lu_test_fh = {
	.ops = &pci_lu_test_file_ops,
	.compatible = PCI_LU_TEST_FH_COMPATIBLE,
};

/* Calls pci_liveupdate_preserve() on the device written, returning its error. */
static ssize_t pci_lu_test_preserve_write(struct file *file, const char __user *ubuf,
					  size_t len, loff_t *ppos)
{
	struct pci_dev *pdev = pci_lu_test_get_dev(ubuf, len);
	int ret;

	if (IS_ERR(pdev))
		return PTR_ERR(pdev);
	ret = pci_lu_test_do_preserve(pdev);
	pci_dev_put(pdev);
	return ret ?: len;
}

static const struct file_operations pci_lu_test_preserve_fops = {
	.write = pci_lu_test_preserve_write,
};

/*
 * What a test arms for the end of the kexec: the last syscore shutdown
 * step, right before machine_shutdown() switches the IOMMU off (or hands
 * it over). x86_platform.iommu_shutdown itself is read-only after init.
 *
 * "dma_after_iommu_shutdown": writing "BDF ADDR" arms a QEMU edu device to
 * copy 1 KiB from its internal buffer to bus address ADDR. edu performs a
 * DMA 100 ms after the command, so it lands after the IOMMU shutdown, in
 * the window before the next kernel's IOMMU is up, deterministically. Tests
 * use it to show what a device kept mastering can reach in that window.
 *
 * "corrupt_iommu_handover": writing 1 damages the VT-d handover record
 * then, after the kexec prepared and checksummed it. Writing 2 changes the
 * page tables of the first carried context instead, after they were
 * checked and preserved: an ignored bit of a non-present entry, so the
 * hardware sees no change but the IOMMU shutdown must notice it.
 */
#define EDU_DMA_SRC		0x80
#define EDU_DMA_DST		0x88
#define EDU_DMA_CNT		0x90
#define EDU_DMA_CMD		0x98
#define EDU_DMA_START_TO_RAM	0x3
#define EDU_DMA_BUF		0x40000

static void __iomem *pci_lu_test_edu;
static u64 pci_lu_test_corrupt_iommu;

/* Mode 2: sets bit 52 of the first empty entry of the first carried table. */
static void pci_lu_test_change_carried_tables(struct intel_iommu_lu_ser *ser)
{
	u64 *pt;

	if (!le32_to_cpu(ser->nr_ctx))
		return;
	pt = phys_to_virt(le64_to_cpu(ser->ctx[0].lo) & PAGE_MASK);
	for (int i = 0; i < PAGE_SIZE / sizeof(*pt); i++) {
		if (!pt[i]) {
			WRITE_ONCE(pt[i], BIT_ULL(52));
			return;
		}
	}
}

static void pci_lu_test_end_of_kexec(void)
{
	if (!kexec_in_progress)
		return;
	if (pci_lu_test_edu)
		writeq(EDU_DMA_START_TO_RAM, pci_lu_test_edu + EDU_DMA_CMD);
	if (pci_lu_test_corrupt_iommu) {
		u8 *rec = intel_iommu_lu_test_record();

		if (rec && pci_lu_test_corrupt_iommu == 2)
			pci_lu_test_change_carried_tables((struct intel_iommu_lu_ser *)rec);
		else if (rec)
			rec[16] ^= 0xff;	/* the first unit's register base */
	}
}

static ssize_t pci_lu_test_dma_write(struct file *file, const char __user *ubuf,
				     size_t len, loff_t *ppos)
{
	unsigned int dom, bus, slot, fn;
	struct pci_dev *pdev;
	char buf[64];
	u64 addr;

	if (len >= sizeof(buf) || copy_from_user(buf, ubuf, len))
		return -EINVAL;
	buf[len] = '\0';
	if (sscanf(buf, "%x:%x:%x.%x %llx", &dom, &bus, &slot, &fn, &addr) != 5)
		return -EINVAL;
	if (pci_lu_test_edu)
		return -EBUSY;
	pdev = pci_get_domain_bus_and_slot(dom, bus, PCI_DEVFN(slot, fn));
	if (!pdev)
		return -ENODEV;
	/* Kept mapped: the command is written at the very end of the kexec. */
	pci_lu_test_edu = pci_iomap(pdev, 0, 0);
	pci_dev_put(pdev);
	if (!pci_lu_test_edu)
		return -ENOMEM;
	writeq(EDU_DMA_BUF, pci_lu_test_edu + EDU_DMA_SRC);
	writeq(addr, pci_lu_test_edu + EDU_DMA_DST);
	writeq(SZ_1K, pci_lu_test_edu + EDU_DMA_CNT);
	pr_info("%s: DMA to %#llx armed for the end of the kexec\n", pci_name(pdev), addr);
	return len;
}

static const struct file_operations pci_lu_test_dma_fops = {
	.write = pci_lu_test_dma_write,
};

static int pci_lu_test_corrupt_iommu_set(void *data, u64 val)
{
	pci_lu_test_corrupt_iommu = val;
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(pci_lu_test_corrupt_iommu_fops, NULL,
			 pci_lu_test_corrupt_iommu_set, "%llu\n");

/* After every device's shutdown. */
static void pci_lu_test_shutdown(void *data)
{
	pci_liveupdate_test_shutdown(kexec_in_progress);
	pci_lu_test_end_of_kexec();
}

static const struct syscore_ops pci_lu_test_syscore_ops = {
	.shutdown = pci_lu_test_shutdown,
};

static struct syscore pci_lu_test_syscore = {
	.ops = &pci_lu_test_syscore_ops,
};

static int __init pci_lu_test_init(void)
{
	struct dentry *dir;
	int ret;

	ret = liveupdate_register_file_handler(&pci_lu_test_fh);
	if (ret) {
		/* -EOPNOTSUPP: Live Update is off on this boot. */
		if (ret != -EOPNOTSUPP)
			pr_err("cannot register file handler: %d\n", ret);
		return 0;
	}
	ret = pci_liveupdate_register_flb(&pci_lu_test_fh);
	if (ret) {
		pr_err("cannot attach the PCI FLB: %d\n", ret);
		liveupdate_unregister_file_handler(&pci_lu_test_fh);
		return 0;
	}
	ret = misc_register(&pci_lu_test_misc);
	if (ret)
		pr_err("cannot register /dev/%s: %d\n", pci_lu_test_misc.name, ret);

	pci_liveupdate_test_debugfs();
	dir = debugfs_lookup("pci_liveupdate", NULL);
	if (dir) {
		pci_liveupdate_test_enum_debugfs(dir);
		debugfs_create_file("preserve", 0200, dir, NULL, &pci_lu_test_preserve_fops);
		debugfs_create_file("dma_after_iommu_shutdown", 0200, dir, NULL,
				    &pci_lu_test_dma_fops);
		debugfs_create_file_unsafe("corrupt_iommu_handover", 0200, dir, NULL,
					   &pci_lu_test_corrupt_iommu_fops);
		dput(dir);
	}
	register_syscore(&pci_lu_test_syscore);
	return 0;
}
late_initcall(pci_lu_test_init);
