/* SPDX-License-Identifier: GPL-2.0 */
/*
 * PCI Live Update handover ABI.
 *
 * Mirrored in Rust by drivers/pci/liveupdate/abi.rs; both sides assert
 * the layout.
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
 * and the kernel that is kexec'ed into. All fields are little-endian.
 *
 * The FLB data handle is the physical address of a &struct pci_lu_ser,
 * allocated once with kho_alloc_preserve() when the first device is
 * preserved. The header never moves; it points to a physically contiguous,
 * KHO-preserved array of @capacity entries of @entry_size bytes, of which
 * the first @count are valid and strictly sorted by (segment, bdf). The
 * array is reallocated (doubling) when full. Because LUO has no freeze
 * hook for FLBs, the header and the array are kept current on every
 * change, including both checksums.
 *
 * Extending the format. %PCI_LU_FLB_COMPATIBLE changes only when an older
 * kernel must refuse the data; everything else is added compatibly:
 *
 * - A new header field takes bytes from @reserved (written as zero, ignored
 *   by readers that do not know it) and is announced by a feature bit.
 * - A bit in @compat announces data an older kernel may ignore; a reader
 *   ignores @compat bits it does not know.
 * - A bit in @incompat announces data whose meaning an older kernel would
 *   get wrong; a reader refuses the whole table if it finds an @incompat
 *   bit it does not know.
 * - Entries may grow: a reader accepts any @entry_size of at least
 *   %PCI_DEV_SER_MIN_SIZE, uses the fields it knows, ignores the tail of a
 *   longer entry and reads the fields missing from a shorter one as zero.
 *   The checksum covers the whole entries.
 * - Unknown bits in &pci_dev_ser.flags make the entry invalid; a per-entry
 *   datum an older kernel may ignore goes in the entry tail instead.
 */
#define PCI_LU_FLB_COMPATIBLE	"pci-lu-sorted-table-v2"

/* "PCLU" read as a little-endian u32. */
#define PCI_LU_SER_MAGIC	0x554c4350
#define PCI_LU_SER_VERSION	2

/*
 * @checksum is the sum (mod 2^32) of the CRC32C of each of the @count
 * entries (@entry_size bytes each) instead of one CRC32C over them all: a
 * change updates it from the entries it touches, so a preserve costs the
 * same whatever the size of the table. Entry order is checked separately.
 */
#define PCI_LU_INCOMPAT_ENTRY_SUM	0x00000001U

/*
 * Entries carry the probe record: &pci_dev_ser.bar_order and
 * &pci_dev_ser.probe. Without it (an older writer) they read as zero.
 */
#define PCI_LU_COMPAT_PROBE	0x00000001U

/*
 * The table holds SR-IOV virtual functions (%PCI_DEV_SER_F_VIRTFN). A VF
 * runs only while its PF keeps VF Enable and every SR-IOV register: a
 * reader that would set SR-IOV up anew must refuse the table.
 */
#define PCI_LU_INCOMPAT_VF	0x00000002U

#define PCI_LU_COMPAT_KNOWN	PCI_LU_COMPAT_PROBE
#define PCI_LU_INCOMPAT_KNOWN	(PCI_LU_INCOMPAT_ENTRY_SUM | PCI_LU_INCOMPAT_VF)

/* Room for a driver name and its NUL. */
#define PCI_DEV_SER_DRIVER_LEN	24

/**
 * struct pci_lu_ser - Header of the preserved device table.
 * @magic:      %PCI_LU_SER_MAGIC.
 * @version:    %PCI_LU_SER_VERSION.
 * @entry_size: Size of one entry, at least %PCI_DEV_SER_MIN_SIZE.
 * @count:      Number of valid entries.
 * @capacity:   Number of entries the array has room for.
 * @entries:    Physical address of the entry array (0 if @capacity is 0).
 * @checksum:   CRC32C of the first @count * @entry_size bytes of the array,
 *              or with %PCI_LU_INCOMPAT_ENTRY_SUM (always written) the sum
 *              of the CRC32C of each of those entries.
 * @header_checksum: CRC32C of this header with @header_checksum read as
 *              zero. It is checked before @entries is trusted, so a
 *              damaged address never makes the next kernel claim memory
 *              it does not own.
 * @compat:     Feature bits a reader may ignore if it does not know them.
 * @incompat:   Feature bits a reader must know, or refuse the table.
 * @reserved:   Zero when written, ignored when read.
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
	__le32 compat;
	__le32 incompat;
	u8 reserved[24];
} __packed;

/* Preserved by a driver call, not only as an upstream bridge. */
#define PCI_DEV_SER_F_DIRECT	0x1
/* The device is a bridge (it has a subordinate bus). */
#define PCI_DEV_SER_F_BRIDGE	0x2
/* @upstream holds the BDF of the upstream bridge. */
#define PCI_DEV_SER_F_UPSTREAM	0x4
/*
 * An SR-IOV virtual function, always preserved directly; @upstream holds
 * its PF, which the entry depends on as other devices on their bridges.
 */
#define PCI_DEV_SER_F_VIRTFN	0x8
#define PCI_DEV_SER_F_ALL	(PCI_DEV_SER_F_DIRECT | PCI_DEV_SER_F_BRIDGE | \
				 PCI_DEV_SER_F_UPSTREAM | PCI_DEV_SER_F_VIRTFN)

/* BAR 0-5 and the expansion ROM. */
#define PCI_DEV_SER_BARS	7

/* &pci_dev_ser.probe: the record is valid (the BARs were sized). */
#define PCI_DEV_SER_P_SIZED		0x01
/* PCI_COMMAND_INTX_DISABLE is not writable (broken_intx_masking). */
#define PCI_DEV_SER_P_INTX_BROKEN	0x02
/* Bridges: an I/O window, a prefetchable window, 64-bit prefetchable. */
#define PCI_DEV_SER_P_IO_WINDOW		0x04
#define PCI_DEV_SER_P_PREF_WINDOW	0x08
#define PCI_DEV_SER_P_PREF_64		0x10
/*
 * SR-IOV physical functions: @vf_bar_order and @vf_buses are valid, so the
 * next kernel sets up SR-IOV without sizing the VF BARs or trying NumVFs.
 */
#define PCI_DEV_SER_P_SRIOV		0x20
/*
 * With %PCI_DEV_SER_P_SRIOV: VF Enable was set and the SR-IOV state fields
 * (@sriov_ctrl to @sriov_page) are valid; the next kernel keeps the VFs.
 */
#define PCI_DEV_SER_P_VFS		0x40

/* VF BAR 0-5 of the SR-IOV capability. */
#define PCI_DEV_SER_VF_BARS	6

/* Entries of a writer without the probe record had this size. */
#define PCI_DEV_SER_MIN_SIZE	48

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
 * @driver:   With %PCI_DEV_SER_F_DIRECT, the NUL-padded name of the driver
 *            bound to the device when it was preserved (empty if none).
 *            Until the device finishes, the next kernel lets only that
 *            driver (or an administrator's driver_override) bind it. All
 *            zero in other entries.
 * @bar_order: With %PCI_DEV_SER_P_SIZED, log2 of the size of BAR 0-5 and
 *            (index 6) of the expansion ROM, as the previous kernels found
 *            them; 0 for a BAR that is not implemented and for the upper
 *            half of a 64-bit BAR. The next kernel takes the sizes from here
 *            instead of writing all-ones to the BARs of a running device.
 * @probe:    PCI_DEV_SER_P_* bits: what else probing found, valid with
 *            %PCI_DEV_SER_P_SIZED; a reader ignores bits it does not know.
 * @vf_bar_order: With %PCI_DEV_SER_P_SRIOV, log2 of the size one VF decodes
 *            through each VF BAR, at the System Page Size found in the
 *            capability; 0 as in @bar_order.
 * @vf_buses: With %PCI_DEV_SER_P_SRIOV, how many bus numbers above the
 *            function's own the VFs may use at any NumVFs.
 * @reserved: Zero when written, ignored when read.
 * @sriov_ctrl: With %PCI_DEV_SER_P_VFS, SR-IOV Control as found at preserve
 *            (VF Enable, VF MSE, ARI Capable Hierarchy).
 * @num_vfs:  With %PCI_DEV_SER_P_VFS, NumVFs.
 * @vf_offset: With %PCI_DEV_SER_P_VFS, First VF Offset.
 * @vf_stride: With %PCI_DEV_SER_P_VFS, VF Stride.
 * @vf_device: With %PCI_DEV_SER_P_VFS, VF Device ID.
 * @sriov_page: With %PCI_DEV_SER_P_VFS, n for the System Page Size 1 << n
 *            (pages of 2^(n + 12) bytes).
 * @reserved2: Zero when written, ignored when read.
 *
 * The entries below a bridge are exactly the entries on its secondary bus
 * whose @upstream is the bridge, VFs aside; the entries below a PF are its
 * VFs (%PCI_DEV_SER_F_VIRTFN, @upstream the PF), each at one of the
 * routing IDs its recorded NumVFs, First VF Offset and VF Stride give. So
 * the next kernel can check every @refcount against the table alone.
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
	char driver[PCI_DEV_SER_DRIVER_LEN];
	u8 bar_order[PCI_DEV_SER_BARS];
	u8 probe;
	u8 vf_bar_order[PCI_DEV_SER_VF_BARS];
	u8 vf_buses;
	u8 reserved;
	__le16 sriov_ctrl;
	__le16 num_vfs;
	__le16 vf_offset;
	__le16 vf_stride;
	__le16 vf_device;
	u8 sriov_page;
	u8 reserved2[5];
} __packed;

static_assert(sizeof(struct pci_lu_ser) == 64);
static_assert(offsetof(struct pci_lu_ser, entries) == 16);
static_assert(offsetof(struct pci_lu_ser, checksum) == 24);
static_assert(offsetof(struct pci_lu_ser, header_checksum) == 28);
static_assert(offsetof(struct pci_lu_ser, compat) == 32);
static_assert(offsetof(struct pci_lu_ser, incompat) == 36);
static_assert(sizeof(struct pci_dev_ser) == 80);
static_assert(offsetof(struct pci_dev_ser, refcount) == 6);
static_assert(offsetof(struct pci_dev_ser, class) == 12);
static_assert(offsetof(struct pci_dev_ser, flags) == 16);
static_assert(offsetof(struct pci_dev_ser, upstream) == 20);
static_assert(offsetof(struct pci_dev_ser, secondary) == 22);
static_assert(offsetof(struct pci_dev_ser, driver) == 24);
static_assert(offsetof(struct pci_dev_ser, bar_order) == PCI_DEV_SER_MIN_SIZE);
static_assert(offsetof(struct pci_dev_ser, probe) == 55);
static_assert(offsetof(struct pci_dev_ser, vf_bar_order) == 56);
static_assert(offsetof(struct pci_dev_ser, vf_buses) == 62);
static_assert(offsetof(struct pci_dev_ser, sriov_ctrl) == 64);
static_assert(offsetof(struct pci_dev_ser, vf_device) == 72);
static_assert(offsetof(struct pci_dev_ser, sriov_page) == 74);

#endif /* _LINUX_KHO_ABI_PCI_H */
