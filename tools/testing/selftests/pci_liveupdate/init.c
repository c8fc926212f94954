// SPDX-License-Identifier: GPL-2.0
/*
 * PID 1 of the PCI Live Update test VM, for both kernels.
 *
 * The command line names the test (pci_lu_test=NAME). In the first kernel
 * init runs "/tests/NAME 1" and, if it passed, loads the same kernel and
 * initramfs with kexec_file_load (so KHO state is handed over) and kexecs
 * with pci_lu_stage=2 appended, plus the content of /stage2-cmdline if
 * stage 1 wrote that file (pci_lu_stage2_cmdline(): extra arguments for
 * the second kernel, read only after stage 1 ran). In the second kernel
 * it runs "/tests/NAME 2" and powers off, unless the test asked for one
 * more Live Update (it wrote /next-hop): then it kexecs again into stage
 * 3, and so on. The stage comes from the
 * command line and must agree with KHO: only a kernel started by a KHO
 * kexec has /sys/kernel/debug/kho/in. The test itself checks the stage a
 * third time against LUO's state.
 *
 * A stage 1 that creates /kexec-load gets a plain kexec_load() instead
 * (kexec-tools' /sbin/kexec -c): no KHO, so nothing of the Live Update
 * reaches the second kernel; pci_lu_kexec_load on its command line tells
 * that kernel's init and test so.
 *
 * Before a stage runs, init loads the kernel's modules from /lib/modules
 * (lib/modules.h), unless the command line has pci_lu_modules=test: then
 * the test loads them when it wants to (vfio_module).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kexec_load.h"
#include "modules.h"

static char cmdline[4096];

static void __attribute__((format(printf, 1, 2))) say(const char *fmt, ...)
{
	va_list ap;

	printf("INIT: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void __attribute__((noreturn)) stop(void)
{
	sync();
	reboot(RB_POWER_OFF);
	for (;;)
		pause();
}

static int run_stage(const char *name, const char *stage)
{
	char path[256];
	int status;
	pid_t pid;

	snprintf(path, sizeof(path), "/tests/%s", name);
	pid = fork();
	if (pid == 0) {
		char *const argv[] = { path, (char *)stage, NULL };
		static char *const envp[] = { "PATH=/bin:/tests", NULL };

		execve(path, argv, envp);
		say("cannot run %s: errno %d", path, errno);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

/* kexec-tools' kexec_load() of /kernel and our initramfs; 0 or -1. */
static int plain_kexec_load(const char *cmdline_next)
{
	char cmd[sizeof(cmdline) + 600];
	int in, out, rc;
	char buf[65536];
	ssize_t n;
	pid_t pid;

	/* kexec-tools reads a regular file: copy the retained initramfs. */
	in = open("/sys/firmware/initrd", O_RDONLY);
	out = open("/initrd.img", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (in < 0 || out < 0)
		return -1;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n)
			return -1;
	close(in);
	close(out);
	snprintf(cmd, sizeof(cmd), "--command-line=%s pci_lu_kexec_load", cmdline_next);
	pid = fork();
	if (pid == 0) {
		char *const argv[] = { "/sbin/kexec", "-c", "-l", "/kernel", "--initrd=/initrd.img",
				       cmd, NULL };

		execv(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &rc, 0) != pid)
		return -1;
	return WIFEXITED(rc) && WEXITSTATUS(rc) == 0 ? 0 : -1;
}

/* Loads the kernel for stage @stage: this command line, stage replaced. */
static int load_next_kernel(int stage)
{
	char next[sizeof(cmdline) + 512], extra[448] = "", base[sizeof(cmdline)];
	char *p;
	ssize_t ret;
	int kfd;

	snprintf(base, sizeof(base), "%s", cmdline);
	p = strstr(base, " pci_lu_stage=");
	if (p)
		*p = '\0';	/* init adds it last, after the harness's arguments */

	kfd = open("/stage2-cmdline", O_RDONLY);
	if (kfd >= 0) {
		ret = read(kfd, extra, sizeof(extra) - 1);
		extra[ret > 0 ? ret : 0] = '\0';
		extra[strcspn(extra, "\n")] = '\0';
		close(kfd);
	}
	snprintf(next, sizeof(next), "%s pci_lu_stage=%d%s%s", base, stage,
		 extra[0] ? " " : "", extra);
	if (access("/kexec-load", F_OK) == 0)
		return plain_kexec_load(next);
	return pci_lu_kexec_load(next);
}

int main(void)
{
	char name[128] = "", arg[16];
	int fd, rc, stage = 1;
	bool kho_in, kho_expected;
	char *p;

	mkdir("/dev", 0755);
	mkdir("/proc", 0755);
	mkdir("/sys", 0755);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	fd = open("/dev/console", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
	}

	fd = open("/proc/cmdline", O_RDONLY);
	if (fd < 0 || read(fd, cmdline, sizeof(cmdline) - 1) <= 0)
		stop();
	close(fd);
	cmdline[strcspn(cmdline, "\n")] = '\0';
	p = strstr(cmdline, "pci_lu_test=");
	if (p)
		sscanf(p + strlen("pci_lu_test="), "%127[^ ]", name);
	if (!name[0] || !strcmp(name, "none"))
		stop();

	p = strstr(cmdline, "pci_lu_stage=");
	if (p)
		stage = atoi(p + strlen("pci_lu_stage="));
	kho_in = access("/sys/kernel/debug/kho/in", F_OK) == 0;
	/* A plain kexec_load() hands nothing over. */
	if (stage == 2 && strstr(cmdline, " pci_lu_kexec_load"))
		kho_in = true;
	kho_expected = stage > 1;
	if (kho_expected != kho_in || stage < 1) {
		say("stage marker (stage %d) disagrees with KHO handover (%d)", stage, kho_in);
		printf("PCI_LU_RESULT %s stage%d FAIL: stage detection\n", name, stage);
		stop();
	}
	if (!strstr(cmdline, " " PCI_LU_MODULES_BY_TEST)) {
		rc = pci_lu_load_modules();
		if (rc < 0) {
			printf("PCI_LU_RESULT %s stage%d FAIL: loading modules: %d\n", name,
			       stage, rc);
			stop();
		}
		say("loaded %d modules", rc);
	}
	say("Starting %s stage %d", name, stage);

	snprintf(arg, sizeof(arg), "%d", stage);
	rc = run_stage(name, arg);
	say("%s returned %d", name, rc);
	if (rc || (stage > 1 && access("/next-hop", F_OK)))
		stop();

	rc = load_next_kernel(stage + 1);
	if (rc) {
		say("kexec_file_load failed for %s: %d", name, rc);
		printf("PCI_LU_RESULT %s stage%d FAIL: kexec_file_load\n", name, stage);
		stop();
	}

	say("kexec into stage %d of %s", stage + 1, name);
	sync();
	/* Start of the blackout for make bench (the TSC runs on across kexec). */
	/* Synchronous console write: kmsg output may not flush before kexec. */
	say("tsc %llu before reboot", (unsigned long long)__builtin_ia32_rdtsc());
	reboot(RB_KEXEC);
	say("reboot(RB_KEXEC) failed for %s: errno %d", name, errno);
	printf("PCI_LU_RESULT %s stage%d FAIL: kexec\n", name, stage);
	stop();
}
