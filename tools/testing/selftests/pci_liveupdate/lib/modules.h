/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Loads the modules of the test kernel (vfio-pci and its variant driver)
 * from /lib/modules of the initramfs, as modprobe would: in dependency
 * order, with "module.param=value" arguments from the kernel command line.
 * Header-only: /init and the tests that load modules late both use it.
 */
#ifndef PCI_LU_MODULES_H
#define PCI_LU_MODULES_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PCI_LU_MODULE_DIR	"/lib/modules"
/* On a command line: /init leaves loading the modules to the test. */
#define PCI_LU_MODULES_BY_TEST	"pci_lu_modules=test"
#define PCI_LU_MAX_MODULES	32

/* The module name of @file ("vfio-pci.ko" -> "vfio_pci"). */
static inline void pci_lu_module_name(const char *file, char *name, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len && file[i] && strcmp(file + i, ".ko"); i++)
		name[i] = file[i] == '-' ? '_' : file[i];
	name[i] = '\0';
}

/* The "name.param=value" words of /proc/cmdline, without "name.". */
static inline void pci_lu_module_params(const char *name, char *params, size_t len)
{
	char cmdline[4096], *word, *save;
	size_t n = strlen(name), used = 0;
	ssize_t got;
	int fd;

	params[0] = '\0';
	fd = open("/proc/cmdline", O_RDONLY);
	if (fd < 0)
		return;
	got = read(fd, cmdline, sizeof(cmdline) - 1);
	close(fd);
	cmdline[got > 0 ? got : 0] = '\0';
	cmdline[strcspn(cmdline, "\n")] = '\0';
	for (word = strtok_r(cmdline, " ", &save); word; word = strtok_r(NULL, " ", &save)) {
		size_t i;

		/* The kernel takes "vfio-pci.x" for "vfio_pci.x" too. */
		for (i = 0; i < n; i++)
			if (word[i] != name[i] && (word[i] != '-' || name[i] != '_'))
				break;
		if (i < n || word[n] != '.')
			continue;
		used += snprintf(params + used, len - used, "%s%s", used ? " " : "", word + n + 1);
		if (used >= len) {
			fprintf(stderr, "options of %s cut off: %s\n", name, params);
			break;
		}
	}
}

/*
 * Loads every module in PCI_LU_MODULE_DIR that is not loaded yet. A module
 * whose dependency is not loaded yet fails with ENOENT: try it again after
 * the others. Returns the number loaded (a module whose init finds no
 * device, ENODEV, is not counted), or -errno naming the first failure on
 * stderr.
 */
static inline int pci_lu_load_modules(void)
{
	char files[PCI_LU_MAX_MODULES][64], name[64], params[512], path[128];
	bool done[PCI_LU_MAX_MODULES] = { false };
	int count = 0, loaded = 0, left, fd, ret, err = 0;
	struct dirent *de;
	bool progress;
	DIR *dir;

	dir = opendir(PCI_LU_MODULE_DIR);
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dir))) {
		size_t l = strlen(de->d_name);

		if (l <= 3 || strcmp(de->d_name + l - 3, ".ko"))
			continue;
		if (count == PCI_LU_MAX_MODULES || l >= sizeof(files[0])) {
			fprintf(stderr, "cannot load %s: too many modules or too long a name\n",
				de->d_name);
			closedir(dir);
			return -E2BIG;
		}
		snprintf(files[count++], sizeof(files[0]), "%s", de->d_name);
	}
	closedir(dir);

	left = count;
	do {
		progress = false;
		for (int i = 0; i < count; i++) {
			if (done[i])
				continue;
			pci_lu_module_name(files[i], name, sizeof(name));
			pci_lu_module_params(name, params, sizeof(params));
			if (snprintf(path, sizeof(path), PCI_LU_MODULE_DIR "/%s", files[i]) >=
			    (int)sizeof(path))
				return -ENAMETOOLONG;
			fd = open(path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				return -errno;
			ret = syscall(SYS_finit_module, fd, params, 0);
			err = ret ? errno : 0;
			close(fd);
			if (ret && err == ENOENT)
				continue;	/* a dependency comes later */
			/* As with modprobe: a driver for hardware not here says no. */
			if (ret && err == ENODEV) {
				fprintf(stderr, "%s: no such device here\n", files[i]);
			} else if (ret && err != EEXIST) {
				fprintf(stderr, "loading %s (%s) failed: errno %d\n", files[i],
					params, err);
				return -err;
			}
			done[i] = true;
			progress = true;
			left--;
			loaded += !ret;
		}
	} while (left && progress);
	if (left) {
		fprintf(stderr, "%d modules have unresolved symbols (see dmesg)\n", left);
		return -ENOENT;
	}
	return loaded;
}

#endif /* PCI_LU_MODULES_H */
