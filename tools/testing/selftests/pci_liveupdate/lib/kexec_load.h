/* SPDX-License-Identifier: GPL-2.0 */
/* Loading the next kernel, shared by /init and tests that try a kexec. */
#ifndef PCI_LU_KEXEC_LOAD_H
#define PCI_LU_KEXEC_LOAD_H

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/*
 * kexec_file_load() of /kernel with the initramfs this kernel booted from
 * (kept by retain_initrd) and @cmdline; 0 or -errno.
 */
static inline int pci_lu_kexec_load(const char *cmdline)
{
	int kfd = open("/kernel", O_RDONLY);
	int ifd = open("/sys/firmware/initrd", O_RDONLY);
	long ret = -1;

	if (kfd >= 0 && ifd >= 0)
		ret = syscall(SYS_kexec_file_load, kfd, ifd, strlen(cmdline) + 1, cmdline, 0);
	ret = ret ? -errno : 0;
	if (kfd >= 0)
		close(kfd);
	if (ifd >= 0)
		close(ifd);
	return ret;
}

#endif /* PCI_LU_KEXEC_LOAD_H */
