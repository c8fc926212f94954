// SPDX-License-Identifier: GPL-2.0
/*
 * Two-stage PCI Live Update selftest framework (see pci_lu.h).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/liveupdate.h>

#include "modules.h"
#include "pci_lu.h"

#define STATE_SESSION	"pci-lu-state"
#define STATE_TOKEN	1

void pci_lu_log(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

bool pci_lu_check(struct pci_lu_ctx *ctx, bool ok, const char *fmt, ...)
{
	va_list ap;

	ctx->checks++;
	if (!ok)
		ctx->failed++;
	printf("%sok %d %s stage%d: ", ok ? "" : "not ", ctx->checks,
	       ctx->name, ctx->stage);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return ok;
}

static int luo_session_ioctl(int fd, unsigned long cmd, const char *name)
{
	struct liveupdate_ioctl_create_session arg = { .size = sizeof(arg) };

	/* Create and retrieve take the same layout. */
	_Static_assert(sizeof(struct liveupdate_ioctl_create_session) ==
		       sizeof(struct liveupdate_ioctl_retrieve_session), "layout");
	snprintf((char *)arg.name, sizeof(arg.name), "%s", name);
	if (ioctl(fd, cmd, &arg) < 0)
		return -errno;
	return arg.fd;
}

int luo_create_session(struct pci_lu_ctx *ctx, const char *name)
{
	return luo_session_ioctl(ctx->luo_fd, LIVEUPDATE_IOCTL_CREATE_SESSION, name);
}

int luo_retrieve_session(struct pci_lu_ctx *ctx, const char *name)
{
	return luo_session_ioctl(ctx->luo_fd, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, name);
}

int luo_preserve_fd(int session, int fd, uint64_t token)
{
	struct liveupdate_session_preserve_fd arg = {
		.size = sizeof(arg), .fd = fd, .token = token,
	};

	return ioctl(session, LIVEUPDATE_SESSION_PRESERVE_FD, &arg) < 0 ? -errno : 0;
}

int luo_retrieve_fd(int session, uint64_t token)
{
	struct liveupdate_session_retrieve_fd arg = {
		.size = sizeof(arg), .token = token,
	};

	return ioctl(session, LIVEUPDATE_SESSION_RETRIEVE_FD, &arg) < 0 ? -errno : arg.fd;
}

int luo_finish_session(int session)
{
	struct liveupdate_session_finish arg = { .size = sizeof(arg) };

	return ioctl(session, LIVEUPDATE_SESSION_FINISH, &arg) < 0 ? -errno : 0;
}

int pci_lu_test_fd(const char *bdf)
{
	int fd = open("/dev/pci_liveupdate_test", O_RDWR);

	if (fd < 0)
		return -errno;
	if (write(fd, bdf, strlen(bdf)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int pci_lu_preserve(int session, const char *bdf, uint64_t token)
{
	int fd = pci_lu_test_fd(bdf);
	int ret;

	if (fd < 0)
		return fd;
	ret = luo_preserve_fd(session, fd, token);
	/* LUO holds its own reference on a preserved file. */
	close(fd);
	return ret;
}

int pci_lu_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int pci_lu_read(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	size_t off = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	while (off + 1 < len && (n = read(fd, buf + off, len - 1 - off)) > 0)
		off += n;
	buf[off] = '\0';
	close(fd);
	return 0;
}

int pci_lu_inject(int fault)
{
	char v[16];

	snprintf(v, sizeof(v), "%d", fault);
	return pci_lu_write(PCI_LU_DEBUGFS "/inject", v);
}

int pci_lu_table(const char *which, struct pci_lu_entry *e, int max)
{
	static char buf[1 << 20];
	char path[128], *line, *save;
	int n = 0, count = -1, err;

	snprintf(path, sizeof(path), PCI_LU_DEBUGFS "/%s", which);
	err = pci_lu_read(path, buf, sizeof(buf));
	if (err)
		return err;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "error %d", &err) == 1)
			return err;
		if (sscanf(line, "count %d", &count) == 1)
			continue;
		if (n < max &&
		    sscanf(line, "%15s refcount=%u vendor=%x device=%x class=%x flags=%x",
			   e[n].bdf, &e[n].refcount, &e[n].vendor, &e[n].device,
			   &e[n].class, &e[n].flags) == 6)
			n++;
	}
	return count < 0 ? -EIO : count;
}

const struct pci_lu_entry *pci_lu_find(const struct pci_lu_entry *e, int n,
				       const char *bdf)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(e[i].bdf, bdf))
			return &e[i];
	return NULL;
}

static int pci_lu_status(const char *bdf, int *count)
{
	static char buf[1 << 16];
	char *line, *save, name[32];
	int incoming, ret = -ENOENT;

	*count = 0;
	if (pci_lu_read(PCI_LU_DEBUGFS "/status", buf, sizeof(buf)))
		return -EIO;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "%31s %*x:%*x incoming=%d", name, &incoming) != 2)
			continue;
		*count += incoming;
		if (bdf && !strcmp(name, bdf))
			ret = incoming;
	}
	return ret;
}

int pci_lu_incoming(const char *bdf)
{
	int count;

	return pci_lu_status(bdf, &count);
}

int pci_lu_incoming_count(void)
{
	int count;

	pci_lu_status(NULL, &count);
	return count;
}

const char *const pci_lu_edu_sw_path[EDU_SW_PATH_LEN] = {
	EDU_SW, SWITCH_DN1, SWITCH_UP, ROOT_PORT2,
};

void pci_lu_preserve_edu_mastering(struct pci_lu_ctx *ctx, int session, uint64_t token)
{
	for (int i = 0; i < EDU_SW_PATH_LEN; i++)
		CHECK(ctx, pci_lu_set_bus_master(pci_lu_edu_sw_path[i]) == 0, "Bus Master on %s",
		      pci_lu_edu_sw_path[i]);
	CHECK(ctx, pci_lu_preserve(session, EDU_SW, token) == 0, "preserve %s", EDU_SW);
}

void pci_lu_check_edu_stopped_by_kexec(struct pci_lu_ctx *ctx)
{
	for (int i = 0; i < EDU_SW_PATH_LEN; i++)
		CHECK(ctx, pci_lu_status_field(pci_lu_edu_sw_path[i], "bm_at_enum") == 0,
		      "%s arrived with Bus Master off: the old kernel stopped it",
		      pci_lu_edu_sw_path[i]);
}

/* The kernel log so far, NUL-terminated (empty if unreadable). */
static const char *dmesg(void)
{
	static char buf[1 << 20];
	int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, sizeof(buf) - 1);

	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

bool pci_lu_dmesg_has(const char *needle)
{
	return strstr(dmesg(), needle);
}

bool pci_lu_dmesg_before(const char *first, const char *then)
{
	const char *log = dmesg();
	const char *a = strstr(log, first), *b = strstr(log, then);

	return a && b && a < b;
}

int pci_lu_config_word(const char *bdf, int off)
{
	char path[128];
	uint16_t v;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	if (pread(fd, &v, 2, off) != 2) {
		close(fd);
		return -EIO;
	}
	close(fd);
	return v;
}

int pci_lu_config_write_word(const char *bdf, int off, uint16_t val)
{
	char path[128];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	if (pwrite(fd, &val, 2, off) != 2)
		ret = -EIO;
	close(fd);
	return ret;
}

int pci_lu_bridge_buses(const char *bdf, int *secondary, int *subordinate)
{
	int v = pci_lu_config_word(bdf, 0x18);	/* primary, secondary */
	int w = pci_lu_config_word(bdf, 0x1a);	/* subordinate, latency */

	if (v < 0 || w < 0)
		return v < 0 ? v : w;
	*secondary = (v >> 8) & 0xff;
	*subordinate = w & 0xff;
	return 0;
}

int pci_lu_bus_triple(const char *bdf)
{
	int err = 0;
	uint32_t v = pci_lu_config_dword(bdf, 0x18, &err);

	return err ? err : (int)(v & 0xffffff);
}

uint32_t pci_lu_config_dword(const char *bdf, int off, int *err)
{
	char path[128];
	uint32_t v = 0;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/config", bdf);
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		*err = -errno;
		return 0;
	}
	if (pread(fd, &v, 4, off) != 4)
		*err = -EIO;
	close(fd);
	return v;
}

int pci_lu_find_cap(const char *bdf, int id)
{
	int err = 0, pos, n;

	if (!(pci_lu_config_word(bdf, 0x06) & 0x10))	/* no capability list */
		return 0;
	pos = pci_lu_config_dword(bdf, 0x34, &err) & 0xfc;
	for (n = 0; pos && !err && n < 48; n++) {
		uint32_t v = pci_lu_config_dword(bdf, pos, &err);

		if ((v & 0xff) == (uint32_t)id)
			return pos;
		pos = (v >> 8) & 0xfc;
	}
	return 0;
}

int pci_lu_find_ext_cap(const char *bdf, int id)
{
	int err = 0, pos = 0x100, n;

	for (n = 0; pos && !err && n < 480; n++) {
		uint32_t v = pci_lu_config_dword(bdf, pos, &err);

		if (!v || v == 0xffffffff)
			return 0;
		if ((v & 0xffff) == (uint32_t)id)
			return pos;
		pos = (v >> 20) & 0xffc;
	}
	return 0;
}

void pci_lu_driver(const char *bdf, char *name, size_t len)
{
	char path[128], link[256];
	ssize_t l;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
	l = readlink(path, link, sizeof(link) - 1);
	name[0] = '\0';
	if (l <= 0)
		return;
	link[l] = '\0';
	snprintf(name, len, "%s", strrchr(link, '/') ? strrchr(link, '/') + 1 : link);
}

int pci_lu_unbind(const char *bdf)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind", bdf);
	if (access(path, F_OK))
		return 0;
	return pci_lu_write(path, bdf);
}

volatile uint8_t *pci_lu_map_bar0(const char *bdf)
{
	char path[128];
	void *p;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource0", bdf);
	fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0)
		return NULL;
	p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

int pci_lu_status_field(const char *bdf, const char *field)
{
	static char buf[1 << 16];
	char *line, *save, *f, key[32];
	size_t n = strlen(bdf);
	int v;

	if (pci_lu_read(PCI_LU_DEBUGFS "/status", buf, sizeof(buf)))
		return -EIO;
	snprintf(key, sizeof(key), " %s=", field);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, bdf, n) || line[n] != ' ')
			continue;
		f = strstr(line, key);
		if (f && sscanf(f + strlen(key), "%d", &v) == 1)
			return v;
	}
	return -ENOENT;
}

#define PCI_COMMAND		0x04
#define PCI_COMMAND_MEMORY	0x2
#define PCI_COMMAND_MASTER	0x4
#define PCI_CAP_ID_EXP		0x10
#define PCI_EXP_DEVCTL2		0x28
#define PCI_EXP_DEVCTL2_ARI	0x20
#define PCI_EXT_CAP_ID_ACS	0x0d
#define PCI_ACS_CTRL		0x06

int pci_lu_bus_master(const char *bdf)
{
	int cmd = pci_lu_config_word(bdf, PCI_COMMAND);

	return cmd < 0 ? cmd : !!(cmd & PCI_COMMAND_MASTER);
}

int pci_lu_set_bus_master(const char *bdf)
{
	int cmd = pci_lu_config_word(bdf, PCI_COMMAND);
	int err;

	if (cmd < 0)
		return cmd;
	err = pci_lu_config_write_word(bdf, PCI_COMMAND,
				       cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	if (err)
		return err;
	/* A bit the device does not implement would read back as 0. */
	return pci_lu_bus_master(bdf) == 1 ? 0 : -EIO;
}

int pci_lu_acs_ctrl(const char *bdf)
{
	int pos = pci_lu_find_ext_cap(bdf, PCI_EXT_CAP_ID_ACS);

	return pos ? pci_lu_config_word(bdf, pos + PCI_ACS_CTRL) : -ENOENT;
}

int pci_lu_ari_fwd(const char *bdf)
{
	int pos = pci_lu_find_cap(bdf, PCI_CAP_ID_EXP);
	int ctl;

	if (!pos)
		return -ENOENT;
	ctl = pci_lu_config_word(bdf, pos + PCI_EXP_DEVCTL2);
	return ctl < 0 ? ctl : !!(ctl & PCI_EXP_DEVCTL2_ARI);
}

/* SeaBIOS numbers buses depth-first in slot order. */
static const struct {
	const char *bdf;
	int triple;	/* subordinate << 16 | secondary << 8 | primary */
} firmware_buses[] = {
	{ ROOT_PORT1, 0x010100 }, { ROOT_PORT2, 0x050200 }, { SWITCH_UP, 0x050302 },
	{ SWITCH_DN1, 0x040403 }, { SWITCH_DN2, 0x050503 }, { ROOT_PORT3, 0x060600 },
	{ ROOT_PORT4, 0x070700 }, { ROOT_PORT5, 0x080800 },
};

void pci_lu_check_firmware_buses(struct pci_lu_ctx *ctx, const char *when)
{
	for (size_t i = 0; i < ARRAY_SIZE(firmware_buses); i++) {
		int t = pci_lu_bus_triple(firmware_buses[i].bdf);

		CHECK(ctx, t == firmware_buses[i].triple, "%s: %s buses %06x (want %06x)",
		      when, firmware_buses[i].bdf, t, firmware_buses[i].triple);
	}
}

int pci_lu_stage2_cmdline(const char *args)
{
	int fd = open("/stage2-cmdline", O_WRONLY | O_CREAT | O_TRUNC, 0644);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, args, strlen(args)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

bool pci_lu_cmdline_has(const char *needle)
{
	char buf[4096];

	return !pci_lu_read("/proc/cmdline", buf, sizeof(buf)) && strstr(buf, needle);
}

/* The state session carries the test name; its presence marks stage 2. */
static int detect_stage(struct pci_lu_ctx *ctx, int *state)
{
	char buf[160] = "";
	char *p;
	int fd;

	*state = luo_retrieve_session(ctx, STATE_SESSION);
	if (*state == -ENOENT)
		return 1;
	if (*state < 0) {
		pci_lu_log("retrieving %s failed: %s", STATE_SESSION, strerror(-*state));
		return -1;
	}
	fd = luo_retrieve_fd(*state, STATE_TOKEN);
	if (fd < 0 || pread(fd, buf, sizeof(buf) - 1, 0) < 0) {
		pci_lu_log("state session has no readable memfd");
		return -1;
	}
	close(fd);
	/* "NAME STAGE": the test, and the stage this kernel must run. */
	p = strrchr(buf, ' ');
	if (!p || strncmp(buf, ctx->name, p - buf) || strlen(ctx->name) != (size_t)(p - buf)) {
		pci_lu_log("state session belongs to another test: '%s'", buf);
		return -1;
	}
	return atoi(p + 1);
}

/* The state session handed to the next kernel, which runs stage @next. */
static int create_state(struct pci_lu_ctx *ctx, int next)
{
	int session = luo_create_session(ctx, STATE_SESSION);
	char buf[160];
	int fd, ret;

	if (session < 0)
		return session;
	fd = memfd_create("pci-lu-state", 0);
	if (fd < 0)
		return -errno;
	snprintf(buf, sizeof(buf), "%s %d", ctx->name, next);
	if (write(fd, buf, strlen(buf) + 1) < 0)
		return -errno;
	ret = luo_preserve_fd(session, fd, STATE_TOKEN);
	close(fd);
	return ret;
}

/*
 * The verdict line, also through /dev/kmsg: on the serial console a kernel
 * message may land in the middle of the stdout copy, never of that one.
 */
static void __attribute__((format(printf, 1, 2))) result(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int fd;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fputs(line, stdout);
	fflush(stdout);
	fd = open("/dev/kmsg", O_WRONLY);
	if (fd >= 0) {
		if (write(fd, line, strlen(line)) < 0)
			perror("/dev/kmsg");
		close(fd);
	}
}

/* Keep every session fd open across the kexec: the parent returns to init. */
static void hold_and_exit(void)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid != 0)
		exit(pid < 0 ? 1 : 0);
	setsid();
	for (;;)
		pause();
}

int pci_lu_main(int argc, char **argv, const char *name,
		pci_lu_stage_fn stage1, pci_lu_stage_fn stage2)
{
	struct pci_lu_ctx ctx = { .name = name };
	int want = argc > 1 ? atoi(argv[1]) : 0;
	int state, ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	/*
	 * A second kernel whose test loads the modules itself (init.c) must
	 * not have LUO restore its sessions before that: the test opens
	 * /dev/liveupdate when it wants to (vfio_module).
	 */
	if (want == 2 && pci_lu_cmdline_has(" " PCI_LU_MODULES_BY_TEST)) {
		ctx.luo_fd = -1;
		ctx.stage = 2;
		ret = stage2(&ctx);
		goto verdict;
	}
	ctx.luo_fd = open("/dev/liveupdate", O_RDWR);
	/*
	 * A second kernel booted with liveupdate=off on purpose has no LUO
	 * and no state session: /init's stage (from the command line, checked
	 * against KHO) is all there is.
	 */
	if (ctx.luo_fd < 0 && errno == ENOENT && want == 2 &&
	    pci_lu_cmdline_has("liveupdate=off")) {
		ctx.stage = 2;
		ret = stage2(&ctx);
		goto verdict;
	}
	/* Nor has one started by a plain kexec_load() (init.c). */
	if (want == 2 && pci_lu_cmdline_has(" pci_lu_kexec_load")) {
		ctx.stage = 2;
		ret = stage2(&ctx);
		goto verdict;
	}
	if (ctx.luo_fd < 0) {
		result("PCI_LU_RESULT %s stage%d FAIL: /dev/liveupdate: %s\n",
		       name, want, strerror(errno));
		return 1;
	}
	ctx.stage = detect_stage(&ctx, &state);
	if (ctx.stage != want) {
		result("PCI_LU_RESULT %s stage%d FAIL: LUO state says stage %d\n",
		       name, want, ctx.stage);
		return 1;
	}
	if (ctx.stage == 1) {
		ret = create_state(&ctx, 2);
		if (ret) {
			result("PCI_LU_RESULT %s stage1 FAIL: state session: %s\n",
			       name, strerror(-ret));
			return 1;
		}
		ret = stage1(&ctx);
	} else {
		ret = stage2(&ctx);
		CHECK(&ctx, luo_finish_session(state) == 0, "state session finishes");
		close(state);
		if (ctx.next_hop) {
			/* One more Live Update: /init kexecs again. */
			int fd = open("/next-hop", O_WRONLY | O_CREAT, 0644);

			CHECK(&ctx, create_state(&ctx, ctx.stage + 1) == 0 && fd >= 0,
			      "state session for stage %d", ctx.stage + 1);
			close(fd);
		}
	}
verdict:
	if (ret || ctx.failed || !ctx.checks) {
		result("PCI_LU_RESULT %s stage%d FAIL: %d of %d checks failed%s\n",
		       name, ctx.stage, ctx.failed, ctx.checks,
		       ctx.checks ? "" : " (no checks ran)");
		return 1;
	}
	result("PCI_LU_RESULT %s stage%d PASS (%d checks)\n", name, ctx.stage, ctx.checks);
	if (ctx.luo_fd >= 0 && (ctx.stage == 1 || ctx.next_hop)) {
		close(ctx.luo_fd);
		hold_and_exit();
	}
	return 0;
}

void pci_lu_next_hop(struct pci_lu_ctx *ctx)
{
	ctx->next_hop = true;
}

void pci_lu_declare_stages(struct pci_lu_ctx *ctx, int n)
{
	printf("PCI_LU_STAGES %s %d\n", ctx->name, n);
}

bool pci_lu_is_edu(const char *bdf)
{
	return pci_lu_config_word(bdf, 0x00) == 0x1234 && pci_lu_config_word(bdf, 0x02) == 0x11e8;
}

int pci_lu_scale_edus(char bdf[][16], int max)
{
	struct dirent **names;
	int n = scandir("/sys/bus/pci/devices", &names, NULL, alphasort), found = 0;

	for (int i = 0; i < n; i++) {
		const char *d = names[i]->d_name;

		/* Except the two edus of the base topology */
		if (d[0] != '.' && found < max && pci_lu_is_edu(d) && strcmp(d, EDU_SW) &&
		    strcmp(d, EDU_RP))
			snprintf(bdf[found++], 16, "%.15s", d);
		free(names[i]);
	}
	free(names);
	return found;
}

int pci_lu_capacity(void)
{
	static char buf[1 << 20];
	char *p;

	if (pci_lu_read(PCI_LU_DEBUGFS "/outgoing", buf, sizeof(buf)))
		return -EIO;
	p = strstr(buf, "capacity ");
	return p ? atoi(p + strlen("capacity ")) : -ENOENT;
}

double pci_lu_tsc_per_us(void)
{
	struct timespec a, b, nap = { 0, 200 * 1000 * 1000 };
	unsigned long long t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &a);
	t0 = pci_lu_tsc();
	nanosleep(&nap, NULL);
	t1 = pci_lu_tsc();
	clock_gettime(CLOCK_MONOTONIC, &b);
	return (t1 - t0) / ((b.tv_sec - a.tv_sec) * 1e6 + (b.tv_nsec - a.tv_nsec) / 1e3);
}

int pci_lu_config_writes(const char *bdf)
{
	static char buf[1 << 16];
	char *line, *save;
	int n = -1;
	bool mine = false;

	if (pci_lu_read(PCI_LU_DEBUGFS "/config_writes", buf, sizeof(buf)) < 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] != ' ') {
			mine = !strncmp(line, bdf, strlen(bdf));
			if (mine)
				n = atoi(strstr(line, "writes=") + 7);
		} else if (mine) {
			pci_lu_log("%s:%s", bdf, line);
		}
	}
	return n;
}

int pci_lu_probe_record(const char *which, const char *bdf, unsigned int *probe,
			char *bars, size_t len)
{
	static char buf[1 << 20];
	char path[128], *line, *save, *p;

	snprintf(path, sizeof(path), PCI_LU_DEBUGFS "/%s", which);
	if (pci_lu_read(path, buf, sizeof(buf)) < 0)
		return -EIO;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, bdf, strlen(bdf)))
			continue;
		p = strstr(line, " probe=");
		if (!p || sscanf(p, " probe=%x bars=%63s", probe, path) != 2)
			return -EIO;
		snprintf(bars, len, "%s", path);
		return 0;
	}
	return -ENOENT;
}
