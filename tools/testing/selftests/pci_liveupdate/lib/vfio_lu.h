/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a VMM does with a vfio-pci device, for the Live Update tests: bind
 * vfio-pci, open the cdev, bind it to iommufd, reach config space and BAR0
 * through the VFIO file, map guest memory, run edu DMA, and load the next
 * kernel to try a kexec from a test.
 */
#ifndef PCI_LU_VFIO_H
#define PCI_LU_VFIO_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <linux/iommufd.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kexec_load.h"
#include "nvme.h"
#include "pci_lu.h"

#define EDU_LIVENESS	0x04	/* reads back the complement of what was written */
#define EDU_FACT	0x08	/* write n, read n! */
#define EDU_DMA_SRC	0x80
#define EDU_DMA_DST	0x88
#define EDU_DMA_CNT	0x90
#define EDU_DMA_CMD	0x98
#define EDU_DMA_START	0x1
#define EDU_DMA_TO_RAM	0x2
#define EDU_BUF		0x40000	/* edu's internal 4 KiB buffer */
#define EDU_DMA_LEN	1024	/* QEMU's edu refuses a transfer ending at the buffer's end */

/* A device opened the way a VMM opens it. */
struct vfio_lu_dev {
	int fd;		/* VFIO cdev (or retrieved) file */
	int iommufd;
	uint32_t ioas;
	uint64_t cfg_off;	/* offset of the config region in fd */
	uint64_t bar0_off;	/* offset of BAR0 in fd */
	volatile uint8_t *bar0;	/* BAR0 mmap, NULL if vfio does not allow it */
	size_t bar0_len;
	const uint8_t *vf_token;	/* a VF of a vfio-pci PF binds with the PF's token */
};

#define VFIO_LU_DEV_INIT { .fd = -1, .iommufd = -1 }

static inline void vfio_lu_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Binds @bdf to vfio-pci through driver_override; 0 or -errno. */
static inline int vfio_lu_bind_driver(const char *bdf)
{
	char path[128], drv[64];

	pci_lu_driver(bdf, drv, sizeof(drv));
	if (!strcmp(drv, "vfio-pci"))
		return 0;
	if (drv[0] && pci_lu_unbind(bdf))
		return -EIO;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", bdf);
	if (pci_lu_write(path, "vfio-pci"))
		return -EIO;
	if (pci_lu_write("/sys/bus/pci/drivers/vfio-pci/bind", bdf))
		return -EIO;
	pci_lu_driver(bdf, drv, sizeof(drv));
	return strcmp(drv, "vfio-pci") ? -ENODEV : 0;
}

/* /dev/vfio/devices/vfioN of @bdf into @path; 0 or -errno. */
static inline int vfio_lu_cdev_path(const char *bdf, char *path, size_t len)
{
	char dir[128];
	struct dirent *e;
	DIR *d;
	int ret = -ENOENT;

	snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (!strncmp(e->d_name, "vfio", 4)) {
			snprintf(path, len, "/dev/vfio/devices/%.255s", e->d_name);
			ret = 0;
			break;
		}
	}
	closedir(d);
	return ret;
}

/* Opens the cdev of @bdf: fd or -errno. */
static inline int vfio_lu_cdev_open(const char *bdf)
{
	char path[300];
	int ret = vfio_lu_cdev_path(bdf, path, sizeof(path));

	if (ret)
		return ret;
	ret = open(path, O_RDWR);
	return ret < 0 ? -errno : ret;
}

/* /dev/vfio/<group> of @bdf opened: fd or -errno. */
static inline int vfio_lu_group_open(const char *bdf)
{
	char path[128], link[256];
	ssize_t l;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	l = readlink(path, link, sizeof(link) - 1);
	if (l <= 0)
		return -errno;
	link[l] = '\0';
	snprintf(path, sizeof(path), "/dev/vfio/%s", basename(link));
	fd = open(path, O_RDWR);
	return fd < 0 ? -errno : fd;
}

/* VFIO_GROUP_GET_DEVICE_FD after setting up a type1 container: fd or -errno. */
static inline int vfio_lu_group_device_fd(int group, int container, const char *bdf)
{
	int fd;

	if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container))
		return -errno;
	if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		return -errno;
	fd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	return fd < 0 ? -errno : fd;
}

static inline int vfio_lu_get_info(int fd, struct vfio_device_info *info)
{
	memset(info, 0, sizeof(*info));
	info->argsz = sizeof(*info);
	return ioctl(fd, VFIO_DEVICE_GET_INFO, info) ? -errno : 0;
}

static inline int vfio_lu_region(int fd, unsigned int index, struct vfio_region_info *r)
{
	memset(r, 0, sizeof(*r));
	r->argsz = sizeof(*r);
	r->index = index;
	return ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, r) ? -errno : 0;
}

/* Binds dev->fd to a new iommufd, with a new IOAS not attached yet; 0 or -errno. */
static inline int vfio_lu_bind(struct vfio_lu_dev *dev)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };

	dev->iommufd = open("/dev/iommu", O_RDWR);
	if (dev->iommufd < 0)
		return -errno;
	if (ioctl(dev->iommufd, IOMMU_IOAS_ALLOC, &alloc))
		return -errno;
	dev->ioas = alloc.out_ioas_id;
	bind.iommufd = dev->iommufd;
	if (dev->vf_token) {
		bind.flags = VFIO_DEVICE_BIND_FLAG_TOKEN;
		bind.token_uuid_ptr = (uintptr_t)dev->vf_token;
	}
	return ioctl(dev->fd, VFIO_DEVICE_BIND_IOMMUFD, &bind) ? -errno : 0;
}

/* Sets the VF token of the PF open on @fd (16 bytes); 0 or -errno. */
static inline int vfio_lu_set_vf_token(int fd, const uint8_t *token)
{
	struct {
		struct vfio_device_feature f;
		uint8_t uuid[16];
	} arg = {
		.f = {
			.argsz = sizeof(arg),
			.flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_PCI_VF_TOKEN,
		},
	};

	memcpy(arg.uuid, token, sizeof(arg.uuid));
	return ioctl(fd, VFIO_DEVICE_FEATURE, &arg) ? -errno : 0;
}

/* Attaches the bound device to its IOAS; 0 or -errno. */
static inline int vfio_lu_attach_ioas(struct vfio_lu_dev *dev)
{
	struct vfio_device_attach_iommufd_pt at = { .argsz = sizeof(at), .pt_id = dev->ioas };

	return ioctl(dev->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at) ? -errno : 0;
}

/*
 * Binds dev->fd to a new iommufd and IOAS, then finds the config region and
 * BAR0 and maps BAR0 if vfio allows it; 0 or -errno.
 */
static inline int vfio_lu_attach(struct vfio_lu_dev *dev)
{
	struct vfio_region_info r;
	void *p;
	int ret;

	ret = vfio_lu_bind(dev);
	if (!ret)
		ret = vfio_lu_attach_ioas(dev);
	if (ret)
		return ret;
	if (vfio_lu_region(dev->fd, VFIO_PCI_CONFIG_REGION_INDEX, &r))
		return -errno;
	dev->cfg_off = r.offset;
	if (vfio_lu_region(dev->fd, VFIO_PCI_BAR0_REGION_INDEX, &r))
		return -errno;
	dev->bar0_off = r.offset;
	dev->bar0 = NULL;
	if (r.flags & VFIO_REGION_INFO_FLAG_MMAP) {
		p = mmap(NULL, r.size, PROT_READ | PROT_WRITE, MAP_SHARED, dev->fd, r.offset);
		if (p != MAP_FAILED) {
			dev->bar0 = p;
			dev->bar0_len = r.size;
		}
	}
	return 0;
}

/* Closes the device as a VMM does; the BAR mapping also holds the file. */
static inline void vfio_lu_close(struct vfio_lu_dev *dev)
{
	if (dev->bar0)
		munmap((void *)dev->bar0, dev->bar0_len);
	dev->bar0 = NULL;
	close(dev->fd);
	close(dev->iommufd);
}

/* BAR0 dword through read()/write() on the VFIO file. */
static inline uint32_t vfio_lu_bar_rd(struct vfio_lu_dev *dev, int off)
{
	uint32_t v = 0xffffffff;

	if (pread(dev->fd, &v, 4, dev->bar0_off + off) != 4)
		return 0xffffffff;
	return v;
}

static inline int vfio_lu_bar_wr(struct vfio_lu_dev *dev, int off, uint32_t v)
{
	return pwrite(dev->fd, &v, 4, dev->bar0_off + off) == 4 ? 0 : -errno;
}

/* Config word through the VFIO file (as the VMM sees it), or -errno. */
static inline int vfio_lu_cfg_word(struct vfio_lu_dev *dev, int off)
{
	uint16_t v;

	if (pread(dev->fd, &v, 2, dev->cfg_off + off) != 2)
		return -errno;
	return v;
}

/* Sets Memory Space and Bus Master through the VFIO file; 0 or -errno. */
static inline int vfio_lu_set_master(struct vfio_lu_dev *dev)
{
	int cmd = vfio_lu_cfg_word(dev, 0x04);
	uint16_t v;

	if (cmd < 0)
		return cmd;
	v = cmd | 0x6;
	if (pwrite(dev->fd, &v, 2, dev->cfg_off + 0x04) != 2)
		return -errno;
	return 0;
}

/* Maps @len bytes at @buf to @iova in the device's IOAS; 0 or -errno. */
static inline int vfio_lu_dma_map(struct vfio_lu_dev *dev, void *buf, size_t len,
				  uint64_t iova)
{
	struct iommu_ioas_map m = {
		.size = sizeof(m),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = dev->ioas,
		.user_va = (uintptr_t)buf,
		.length = len,
		.iova = iova,
	};

	return ioctl(dev->iommufd, IOMMU_IOAS_MAP, &m) ? -errno : 0;
}

static inline uint32_t edu_rd(volatile uint8_t *bar, int off)
{
	return *(volatile uint32_t *)(bar + off);
}

static inline void edu_wr(volatile uint8_t *bar, int off, uint32_t v)
{
	*(volatile uint32_t *)(bar + off) = v;
}

/* One edu DMA transfer; 0 once the device reports it done, else -ETIMEDOUT. */
static inline int edu_dma(volatile uint8_t *bar, uint64_t src, uint64_t dst,
			  uint32_t len, uint32_t cmd)
{
	*(volatile uint64_t *)(bar + EDU_DMA_SRC) = src;
	*(volatile uint64_t *)(bar + EDU_DMA_DST) = dst;
	*(volatile uint64_t *)(bar + EDU_DMA_CNT) = len;
	edu_wr(bar, EDU_DMA_CMD, cmd | EDU_DMA_START);
	for (int i = 0; i < 300; i++) {
		if (!(edu_rd(bar, EDU_DMA_CMD) & EDU_DMA_START))
			return 0;
		vfio_lu_sleep_ms(10);
	}
	return -ETIMEDOUT;
}

/*
 * Round trip through edu's buffer: the start of a fresh page mapped at
 * @iova is copied to the device and back to the next page; 0 if the data
 * came back intact.
 */
static inline int edu_dma_round_trip(struct vfio_lu_dev *dev, uint64_t iova, uint8_t seed)
{
	uint8_t *buf = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ret;

	if (buf == MAP_FAILED)
		return -errno;
	for (int i = 0; i < 4096; i++)
		buf[i] = (uint8_t)(seed + i * 7);
	memset(buf + 4096, 0, 4096);
	ret = dev->bar0 ? vfio_lu_dma_map(dev, buf, 8192, iova) : -ENOTSUP;
	if (!ret)
		ret = edu_dma(dev->bar0, iova, EDU_BUF, EDU_DMA_LEN, 0);
	if (!ret)
		ret = edu_dma(dev->bar0, EDU_BUF, iova + 4096, EDU_DMA_LEN, EDU_DMA_TO_RAM);
	if (!ret && memcmp(buf, buf + 4096, EDU_DMA_LEN))
		ret = -EIO;
	munmap(buf, 8192);
	return ret;
}

/* Routes MSI vector 0 of @fd to a new eventfd (@on) or disables it; 0 or -errno. */
static inline int vfio_lu_msi(int fd, bool on)
{
	struct {
		struct vfio_irq_set set;
		int32_t efd;
	} s = {
		.set = {
			.argsz = sizeof(s),
			.index = VFIO_PCI_MSI_IRQ_INDEX,
			.start = 0,
		},
	};

	if (on) {
		s.efd = eventfd(0, 0);
		if (s.efd < 0)
			return -errno;
		s.set.flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
		s.set.count = 1;
	} else {
		s.set.argsz = sizeof(s.set);
		s.set.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
		s.set.count = 0;
	}
	return ioctl(fd, VFIO_DEVICE_SET_IRQS, &s) ? -errno : 0;
}

/* The canary of lib/nvme.h, written through the VFIO file. */
static inline int nvme_vfio_plant_canary(struct vfio_lu_dev *d)
{
	int ret = vfio_lu_bar_wr(d, NVME_CC, 0);

	for (int i = 0; !ret && i < 200 && (vfio_lu_bar_rd(d, NVME_CSTS) & 1); i++)
		vfio_lu_sleep_ms(10);
	ret = ret ?: vfio_lu_bar_wr(d, NVME_AQA, CANARY_AQA);
	ret = ret ?: vfio_lu_bar_wr(d, NVME_ASQ, CANARY_ASQ);
	ret = ret ?: vfio_lu_bar_wr(d, NVME_ASQ + 4, 0);
	ret = ret ?: vfio_lu_bar_wr(d, NVME_ACQ, CANARY_ACQ);
	ret = ret ?: vfio_lu_bar_wr(d, NVME_ACQ + 4, 0);
	ret = ret ?: vfio_lu_bar_wr(d, NVME_CC, CANARY_CC);
	for (int i = 0; !ret && i < 200 && !(vfio_lu_bar_rd(d, NVME_CSTS) & 1); i++)
		vfio_lu_sleep_ms(10);
	return ret;
}

static inline bool nvme_vfio_has_canary(struct vfio_lu_dev *d)
{
	return vfio_lu_bar_rd(d, NVME_CC) == CANARY_CC &&
	       (vfio_lu_bar_rd(d, NVME_CSTS) & 1) &&
	       vfio_lu_bar_rd(d, NVME_AQA) == CANARY_AQA &&
	       vfio_lu_bar_rd(d, NVME_ASQ) == CANARY_ASQ &&
	       vfio_lu_bar_rd(d, NVME_ACQ) == CANARY_ACQ;
}

/*
 * What a VMM keeping the nvme on the first root port does before the
 * update: opens it through vfio-pci and iommufd, sets Bus Master on it and
 * on its root port, and plants the canary; each step is a check.
 */
static inline void nvme_vmm_start(struct pci_lu_ctx *ctx, struct vfio_lu_dev *nvme)
{
	nvme->fd = vfio_lu_bind_driver(NVME_PF) ?: vfio_lu_cdev_open(NVME_PF);
	CHECK(ctx, nvme->fd >= 0 && vfio_lu_attach(nvme) == 0,
	      "%s opened through vfio-pci and bound to iommufd", NVME_PF);
	CHECK(ctx, vfio_lu_set_master(nvme) == 0 && pci_lu_set_bus_master(ROOT_PORT1) == 0,
	      "Bus Master on %s and %s", NVME_PF, ROOT_PORT1);
	CHECK(ctx, nvme_vfio_plant_canary(nvme) == 0 && nvme_vfio_has_canary(nvme),
	      "canary planted through VFIO");
}

/* Loads this same kernel and initramfs for stage 2, as /init does; 0 or -errno. */
static inline int vfio_lu_load_next_kernel(void)
{
	char cmdline[1024], next[1100];
	int fd = open("/proc/cmdline", O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, cmdline, sizeof(cmdline) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	cmdline[n] = '\0';
	cmdline[strcspn(cmdline, "\n")] = '\0';
	snprintf(next, sizeof(next), "%s pci_lu_stage=2", cmdline);
	return pci_lu_kexec_load(next);
}

#endif /* PCI_LU_VFIO_H */
