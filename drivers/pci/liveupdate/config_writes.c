// SPDX-License-Identifier: GPL-2.0
/*
 * Test kernels only: which configuration writes this kernel makes to the
 * incoming functions (each preserved device and every bridge on its path).
 *
 * The component names the functions to watch when it reads the incoming
 * table, before the PCI core enumerates anything, and stops logging a
 * device's writes once its driver takes it over or it finishes (a bridge's
 * once every incoming device finished). Every config write the PCI core
 * makes through pci_bus_write_config_*() is matched against that list; a
 * match is counted, kept (offset, size, value, callers) and logged, so a
 * test can demand that enumeration leaves a running device alone.
 * debugfs pci_liveupdate/config_writes lists them. A test may also watch
 * a control function that is not incoming:
 * pci_liveupdate_test.watch=0000:05:00.0 on the command line.
 *
 * For make bench it also times each function's addition, from the setup hook
 * in pci_setup_device() (once the header is read) to its device_add():
 * debugfs pci_liveupdate/enumeration.
 */

#define pr_fmt(fmt) "pci_liveupdate_test: " fmt

#include <linux/debugfs.h>
#include <linux/init.h>
#include <linux/moduleparam.h>
#include <linux/notifier.h>
#include <linux/pci.h>
#include <linux/pci_liveupdate.h>
#include <linux/sched/clock.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/stacktrace.h>

#include "../pci.h"
#include "test.h"

#define PCI_LU_WATCH_MAX	32	/* functions watched */
#define PCI_LU_WATCH_KEPT	64	/* writes kept per function */
#define PCI_LU_WATCH_DEPTH	4	/* callers kept per write */
#define PCI_LU_ENUM_MAX		256	/* functions timed */

struct pci_lu_write {
	u16 pos;
	u8 len;
	u32 value;
	unsigned long callers[PCI_LU_WATCH_DEPTH];
	unsigned int depth;
};

struct pci_lu_watch {
	u32 segment;
	u16 bdf;
	bool active;
	u32 count;
	struct pci_lu_write kept[PCI_LU_WATCH_KEPT];
};

static struct pci_lu_watch pci_lu_watch[PCI_LU_WATCH_MAX];
static unsigned int pci_lu_nr_watch;
/* Config writes happen in atomic context too (MSI masking). */
static DEFINE_RAW_SPINLOCK(pci_lu_watch_lock);
static bool pci_lu_watching;

void pci_liveupdate_test_watch(u32 segment, u16 bdf)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&pci_lu_watch_lock, flags);
	if (pci_lu_nr_watch < PCI_LU_WATCH_MAX) {
		struct pci_lu_watch *w = &pci_lu_watch[pci_lu_nr_watch++];

		w->segment = segment;
		w->bdf = bdf;
		w->active = true;
		WRITE_ONCE(pci_lu_watching, true);
	} else {
		pr_warn_once("too many incoming functions to watch their config writes\n");
	}
	raw_spin_unlock_irqrestore(&pci_lu_watch_lock, flags);
}

void pci_liveupdate_test_unwatch(u32 segment, u16 bdf, bool all)
{
	unsigned long flags;
	bool any = false;

	raw_spin_lock_irqsave(&pci_lu_watch_lock, flags);
	for (unsigned int i = 0; i < pci_lu_nr_watch; i++) {
		struct pci_lu_watch *w = &pci_lu_watch[i];

		if (all || (w->segment == segment && w->bdf == bdf))
			w->active = false;
		any |= w->active;
	}
	WRITE_ONCE(pci_lu_watching, any);
	raw_spin_unlock_irqrestore(&pci_lu_watch_lock, flags);
}

void pci_liveupdate_config_written(struct pci_bus *bus, unsigned int devfn,
				   int pos, int len, u32 value)
{
	struct pci_lu_write rec = { .pos = pos, .len = len, .value = value };
	u32 segment;
	u16 bdf;
	unsigned long flags;
	bool hit = false;

	if (!READ_ONCE(pci_lu_watching))
		return;
	segment = pci_domain_nr(bus);
	bdf = PCI_DEVID(bus->number, devfn);

	raw_spin_lock_irqsave(&pci_lu_watch_lock, flags);
	for (unsigned int i = 0; i < pci_lu_nr_watch; i++) {
		struct pci_lu_watch *w = &pci_lu_watch[i];

		if (!w->active || w->segment != segment || w->bdf != bdf)
			continue;
		if (w->count < PCI_LU_WATCH_KEPT) {
			/* Skip this function and pci_bus_write_config_*(). */
			rec.depth = stack_trace_save(rec.callers,
						     PCI_LU_WATCH_DEPTH, 2);
			w->kept[w->count] = rec;
		}
		w->count++;
		hit = true;
		break;
	}
	raw_spin_unlock_irqrestore(&pci_lu_watch_lock, flags);

	if (hit)
		pr_info("config write to incoming %04x:%02x:%02x.%d @%#05x/%d = %#x by %pS <- %pS\n",
			segment, bus->number, PCI_SLOT(devfn), PCI_FUNC(devfn),
			pos, len, value,
			rec.depth > 0 ? (void *)rec.callers[0] : NULL,
			rec.depth > 1 ? (void *)rec.callers[1] : NULL);
}

/*
 * One line per watched function ("0000:04:00.0 active=1 writes=3"), then
 * one per kept write ("  @0x004/2 0x0406 caller <- caller ...").
 */
static int pci_lu_config_writes_show(struct seq_file *m, void *unused)
{
	struct pci_lu_watch *copy __free(kfree) = kmalloc(sizeof(*copy), GFP_KERNEL);
	unsigned long flags;

	if (!copy)
		return -ENOMEM;
	/* seq_printf() may sleep: print a copy, one function at a time. */
	for (unsigned int i = 0;; i++) {
		bool more;

		raw_spin_lock_irqsave(&pci_lu_watch_lock, flags);
		more = i < pci_lu_nr_watch;
		if (more)
			*copy = pci_lu_watch[i];
		raw_spin_unlock_irqrestore(&pci_lu_watch_lock, flags);
		if (!more)
			return 0;

		seq_printf(m, "%04x:%02x:%02x.%d active=%d writes=%u\n",
			   copy->segment, PCI_BUS_NUM(copy->bdf),
			   PCI_SLOT(copy->bdf & 0xff), PCI_FUNC(copy->bdf & 0xff),
			   copy->active, copy->count);
		for (unsigned int j = 0; j < min(copy->count, PCI_LU_WATCH_KEPT); j++) {
			struct pci_lu_write *r = &copy->kept[j];

			seq_printf(m, "  @%#05x/%d %#x", r->pos, r->len, r->value);
			for (unsigned int k = 0; k < r->depth; k++)
				seq_printf(m, " %s%pS", k ? "<- " : "",
					   (void *)r->callers[k]);
			seq_putc(m, '\n');
		}
	}
}
DEFINE_SHOW_ATTRIBUTE(pci_lu_config_writes);

struct pci_lu_enum {
	u32 segment;
	u16 bdf;
	bool incoming;
	u64 ns;
};

static struct pci_lu_enum pci_lu_enum[PCI_LU_ENUM_MAX];
static unsigned int pci_lu_nr_enum;
/* The function pci_setup_device() works on, and since when. */
static const struct pci_dev *pci_lu_enum_dev;
static u64 pci_lu_enum_start;
static DEFINE_SPINLOCK(pci_lu_enum_lock);

u64 pci_liveupdate_test_clock(void)
{
	return local_clock();
}

void pci_liveupdate_test_enum_begin(struct pci_dev *dev)
{
	spin_lock(&pci_lu_enum_lock);
	pci_lu_enum_dev = dev;
	/* Not ktime_get(): jiffies-coarse until clocksources are chosen. */
	pci_lu_enum_start = local_clock();
	spin_unlock(&pci_lu_enum_lock);
}

/* device_add() of the function whose setup was timed: record it. */
static int pci_lu_enum_notify(struct notifier_block *nb, unsigned long action,
			      void *data)
{
	struct pci_dev *dev = to_pci_dev(data);
	u64 now = local_clock();
	bool incoming;

	if (action != BUS_NOTIFY_ADD_DEVICE)
		return NOTIFY_DONE;
	/* Takes the component's mutex: not under the spinlock. */
	incoming = pci_liveupdate_is_incoming(dev);
	spin_lock(&pci_lu_enum_lock);
	/* Another function's setup may have begun meanwhile (a rescan). */
	if (dev == pci_lu_enum_dev && pci_lu_nr_enum < PCI_LU_ENUM_MAX) {
		pci_lu_enum[pci_lu_nr_enum++] = (struct pci_lu_enum) {
			.segment = pci_domain_nr(dev->bus),
			.bdf = pci_dev_id(dev),
			.incoming = incoming,
			.ns = now - pci_lu_enum_start,
		};
	}
	pci_lu_enum_dev = NULL;
	spin_unlock(&pci_lu_enum_lock);
	return NOTIFY_DONE;
}

static struct notifier_block pci_lu_enum_nb = {
	.notifier_call = pci_lu_enum_notify,
};

/* After pci_bus_type exists (postcore), before enumeration (subsys). */
static int __init pci_lu_enum_init(void)
{
	return bus_register_notifier(&pci_bus_type, &pci_lu_enum_nb);
}
arch_initcall(pci_lu_enum_init);

/* "0000:04:00.0 incoming 123456": each timed function, in nanoseconds. */
static int pci_lu_enumeration_show(struct seq_file *m, void *unused)
{
	unsigned int n;

	spin_lock(&pci_lu_enum_lock);
	n = pci_lu_nr_enum;
	spin_unlock(&pci_lu_enum_lock);
	/* Records below n are written once and never change. */
	for (unsigned int i = 0; i < n; i++) {
		struct pci_lu_enum *e = &pci_lu_enum[i];

		seq_printf(m, "%04x:%02x:%02x.%d %s %llu\n", e->segment,
			   PCI_BUS_NUM(e->bdf), PCI_SLOT(e->bdf & 0xff),
			   PCI_FUNC(e->bdf & 0xff),
			   e->incoming ? "incoming" : "stock", e->ns);
	}
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(pci_lu_enumeration);

void pci_liveupdate_test_enum_debugfs(struct dentry *dir)
{
	debugfs_create_file("config_writes", 0400, dir, NULL,
			    &pci_lu_config_writes_fops);
	debugfs_create_file("enumeration", 0400, dir, NULL,
			    &pci_lu_enumeration_fops);
}

static char *pci_lu_watch_param;
module_param_named(watch, pci_lu_watch_param, charp, 0444);
MODULE_PARM_DESC(watch, "Also watch the config writes to this function (a control)");

/* Before the PCI core enumerates (subsys_initcall). */
static int __init pci_lu_watch_control(void)
{
	unsigned int seg, bus, slot, fn;

	if (!pci_lu_watch_param)
		return 0;
	if (sscanf(pci_lu_watch_param, "%x:%x:%x.%x", &seg, &bus, &slot, &fn) != 4 ||
	    bus > 0xff || slot > 0x1f || fn > 7) {
		pr_err("watch=%s is not a device address\n", pci_lu_watch_param);
		return 0;
	}
	pci_liveupdate_test_watch(seg, PCI_DEVID(bus, PCI_DEVFN(slot, fn)));
	return 0;
}
core_initcall(pci_lu_watch_control);
