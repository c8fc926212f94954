/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vfio-pci Live Update handover ABI.
 */
#ifndef _LINUX_KHO_ABI_VFIO_PCI_H
#define _LINUX_KHO_ABI_VFIO_PCI_H

#include <linux/build_bug.h>
#include <linux/types.h>

/**
 * DOC: vfio-pci Live Update ABI
 *
 * Each preserved VFIO device file carries, as its LUO serialized data, the
 * physical address of one &struct vfio_pci_lu_ser allocated with
 * kho_alloc_preserve(). The PCI core keeps its own table of preserved
 * devices (include/linux/kho/abi/pci.h); this record only tells vfio-pci
 * which device the file was opened on, so that the next kernel can open it
 * again. All fields are little-endian.
 *
 * Extending the format: a reader accepts any @size of at least
 * sizeof(struct vfio_pci_lu_ser) and ignores the bytes it does not know;
 * a new field is appended and announced by a bit in @flags that older
 * readers ignore. %VFIO_PCI_LU_COMPATIBLE changes only when an older
 * kernel must refuse the record.
 */
#define VFIO_PCI_LU_COMPATIBLE	"vfio-pci-lu-v1"

/* "VFLU" read as a little-endian u32. */
#define VFIO_PCI_LU_SER_MAGIC	0x554c4656

/**
 * struct vfio_pci_lu_ser - A preserved vfio-pci device file.
 * @magic:     %VFIO_PCI_LU_SER_MAGIC.
 * @size:      Size of this record in bytes.
 * @segment:   PCI segment (domain) of the device.
 * @bdf:       Bus number << 8 | devfn, as pci_dev_id().
 * @vendor:    Vendor ID of the device when it was preserved.
 * @device:    Device ID of the device when it was preserved.
 * @flags:     No flags are defined yet; written as zero.
 * @reserved:  Written as zero.
 */
struct vfio_pci_lu_ser {
	__le32 magic;
	__le32 size;
	__le32 segment;
	__le16 bdf;
	__le16 vendor;
	__le16 device;
	__le16 flags;
	__le32 reserved;
} __packed;

static_assert(sizeof(struct vfio_pci_lu_ser) == 24);

#endif /* _LINUX_KHO_ABI_VFIO_PCI_H */
