/* SPDX-License-Identifier: GPL-2.0 */
/*
 * PCI Live Update: hooks of the PCI core (private to drivers/pci/).
 *
 * Implemented in Rust (drivers/pci/liveupdate/liveupdate.rs); the
 * prototypes are checked against the Rust definitions at build time.
 * Included by drivers/pci/pci.h.
 *
 * Locking: the hooks take the component's lock themselves. A caller may hold
 * the PCI rescan/remove lock (bus scans, removal) but must not hold any LUO
 * lock. None of them drops a pci_dev reference.
 */
#ifndef _DRIVERS_PCI_LIVEUPDATE_HOOKS_H
#define _DRIVERS_PCI_LIVEUPDATE_HOOKS_H

#include <linux/errno.h>
#include <linux/pci_liveupdate.h>	/* pci_liveupdate_adopt_config() */
#include <linux/types.h>

struct pci_bus;
struct pci_dev;
struct pci_driver;

#ifdef CONFIG_PCI_LIVEUPDATE

/* Boot-time setup, once, from the component's postcore initcall. */
int pci_liveupdate_init(void);
/* After the initial enumeration, once: drop what can never finish. */
void pci_liveupdate_late_init(void);

/* pci_setup_device(): mark an incoming device, check its identity. */
void pci_liveupdate_setup_device(struct pci_dev *dev);

/*
 * pci_read_bases(): the sizing masks of an incoming device's BARs from its
 * record (false: size them); afterwards, record the sizes found.
 */
bool pci_liveupdate_bar_masks(struct pci_dev *dev, unsigned int howmany,
			      u32 *sizes, u32 *rom);
void pci_liveupdate_bars_read(struct pci_dev *dev);
/*
 * sriov_init(): the sizing masks of an incoming PF's VF BARs and the bus
 * numbers its VFs span, from its record (false: probe them by writing).
 */
bool pci_liveupdate_vf_bar_masks(struct pci_dev *dev, u32 *sizes,
				 u8 *vf_buses);
/*
 * An incoming PF kept VF Enable: its recorded driver names the driver of
 * its VFs that were not preserved (into @buf of @len bytes; false if none).
 */
bool pci_liveupdate_incoming_driver(struct pci_dev *dev, char *buf, size_t len);
/* INTx masking and bridge windows were taken from the record: no probing. */
bool pci_liveupdate_probed(struct pci_dev *dev);
/* pci_claim_resource() failed: abandon what depends on an incoming @dev. */
void pci_liveupdate_claim_failed(struct pci_dev *dev, int resno);
/* pci_rebar_set_size(): BAR @bar now decodes @size bytes. */
void pci_liveupdate_bar_resized(struct pci_dev *dev, int bar, u64 size);

/* pci_destroy_dev(): a preserved device leaves the bus. */
void pci_liveupdate_remove_device(struct pci_dev *dev);

/* pci_device_shutdown(), first: preservation cannot change any more. */
void pci_liveupdate_freeze(struct pci_dev *dev);

/* Whether @dev or a device below it is preserved for the next kernel. */
bool pci_liveupdate_is_outgoing(struct pci_dev *dev);

/*
 * pci_scan_bridge_extend(): whether the bridge keeps the bus numbers it
 * has (decided in pass 0, kept for pass 1, forgotten after it); and a
 * bridge that would need new numbers while they must be kept.
 */
bool pci_liveupdate_scan_bridge_begin(struct pci_bus *bus, struct pci_dev *dev,
				      int pass, bool assign_all);
void pci_liveupdate_refuse_bridge(struct pci_dev *dev, int pass);
void pci_liveupdate_scan_bridge_end(struct pci_dev *dev, int pass);

/*
 * pci_pm_init(): an incoming function, or a bridge on an incoming path,
 * stays in D0 until finish: its runtime PM is held off (exports.c).
 */
void pci_liveupdate_pm_hold(struct pci_dev *dev);

/* pci_acs_init() / pci_enable_acs(): adopt the previous kernel's ACS. */
void pci_liveupdate_init_acs(struct pci_dev *dev);
bool pci_liveupdate_adopt_acs(struct pci_dev *dev);

/* pci_configure_ari(): ARI Forwarding of an incoming bridge, or -ENOENT. */
int pci_liveupdate_bridge_ari(struct pci_dev *bridge);

/* pci_device_probe(): 0, or -EBUSY if @drv may not bind @dev yet. */
int pci_liveupdate_may_probe(struct pci_dev *dev, struct pci_driver *drv);

/* sysfs: liveupdate_abandon, for an administrator (exports.c). */
extern const struct attribute_group pci_liveupdate_attr_group;

/* C glue for the Rust side (exports.c). */
bool pci_liveupdate_needs_acs_quirk(struct pci_dev *dev);
/* After a finish: bind the port drivers deferred on bridges now released. */
void pci_liveupdate_probe_ports(void);
/* Whether @dev is such a bridge (true once). */
bool pci_liveupdate_port_deferred(struct pci_dev *dev);
/* Whether the PCI core added @dev and has not begun to remove it. */
bool pci_liveupdate_dev_added(struct pci_dev *dev);
/* Kexec: may preserved devices keep Bus Master (the IOMMU hands over)? */
bool pci_liveupdate_dma_handover(void);
/* Kexec: a kept device's IOMMU translation is carried or blocked (true) or absent. */
bool pci_liveupdate_dma_keep(struct pci_dev *dev);
/* Boot: did the previous kernel hand its IOMMU over, as the hardware shows? */
bool pci_liveupdate_dma_incoming(void);
/* A device stops being incoming: end the IOMMU translation carried for it. */
void pci_liveupdate_dma_release(struct pci_dev *dev);
/* The bits of @dev a probe record carries (PCI_DEV_SER_P_*), and setting them. */
u8 pci_liveupdate_probe_bits(struct pci_dev *dev);
void pci_liveupdate_set_probe_bits(struct pci_dev *dev, u8 bits);
/* The per-VF BAR sizes and VF bus span of an SR-IOV PF; false if none. */
bool pci_liveupdate_sriov_record(struct pci_dev *dev, u64 *vf_bar_sizes,
				 u8 *vf_buses);
/* A PF with kept VFs is no longer incoming: disable its VFs. */
void pci_liveupdate_drop_vfs(struct pci_dev *dev);
/* Whether the device at @segment/@bdf was found and is incoming. */
bool pci_liveupdate_found_incoming(u32 segment, u16 bdf);

#else /* CONFIG_PCI_LIVEUPDATE */

static inline void pci_liveupdate_setup_device(struct pci_dev *dev) {}
static inline bool pci_liveupdate_bar_masks(struct pci_dev *dev,
					    unsigned int howmany, u32 *sizes,
					    u32 *rom)
{
	return false;
}

static inline void pci_liveupdate_bars_read(struct pci_dev *dev) {}
static inline void pci_liveupdate_pm_hold(struct pci_dev *dev) {}
static inline bool pci_liveupdate_vf_bar_masks(struct pci_dev *dev,
					       u32 *sizes, u8 *vf_buses)
{
	return false;
}

static inline bool pci_liveupdate_probed(struct pci_dev *dev)
{
	return false;
}

static inline void pci_liveupdate_bar_resized(struct pci_dev *dev, int bar,
					      u64 size) {}
static inline void pci_liveupdate_claim_failed(struct pci_dev *dev, int resno) {}
static inline void pci_liveupdate_remove_device(struct pci_dev *dev) {}
static inline void pci_liveupdate_freeze(struct pci_dev *dev) {}
static inline bool pci_liveupdate_is_outgoing(struct pci_dev *dev)
{
	return false;
}

static inline bool pci_liveupdate_scan_bridge_begin(struct pci_bus *bus,
						    struct pci_dev *dev,
						    int pass, bool assign_all)
{
	return false;
}

static inline void pci_liveupdate_refuse_bridge(struct pci_dev *dev, int pass) {}
static inline void pci_liveupdate_scan_bridge_end(struct pci_dev *dev, int pass) {}
static inline void pci_liveupdate_init_acs(struct pci_dev *dev) {}
static inline bool pci_liveupdate_adopt_acs(struct pci_dev *dev)
{
	return false;
}

static inline int pci_liveupdate_bridge_ari(struct pci_dev *bridge)
{
	return -ENOENT;
}

static inline int pci_liveupdate_may_probe(struct pci_dev *dev,
					   struct pci_driver *drv)
{
	return 0;
}

#endif /* CONFIG_PCI_LIVEUPDATE */

/* pci_bus_write_config_*(): test kernels watch writes to incoming functions. */
#ifdef CONFIG_PCI_LIVEUPDATE_TEST
void pci_liveupdate_config_written(struct pci_bus *bus, unsigned int devfn,
				   int pos, int len, u32 value);
#else
static inline void pci_liveupdate_config_written(struct pci_bus *bus,
						 unsigned int devfn, int pos,
						 int len, u32 value) {}
#endif

#endif /* _DRIVERS_PCI_LIVEUPDATE_HOOKS_H */
