// SPDX-License-Identifier: GPL-2.0
/*
 * A VF assigned through vfio-pci survives two Live Updates with its PF,
 * VF Enable never dropping.
 *
 * Stage 1 opens the nvme PF through vfio-pci as the other tests do
 * (canary, Bus Master), enables two VFs (vfio-pci takes them), sets the
 * PF's VF token and opens VF 01:00.1 with it. On the VF: Bus Master and an
 * Interrupt Line canary, which QEMU clears on a VF FLR and loses when VF
 * Enable drops (the VFs are destroyed then). Preserving the VF before its
 * PF is refused; closing the PF's session while the VF is preserved keeps
 * the PF preserved until the VF's closes, and a kexec in between fails
 * (EBUSY, VF and PF named). Then the PF and the VF are preserved, each in
 * its own session.
 *
 * After each update, before anything opens them: both VFs exist at the
 * same BDFs, the preserved one incoming with Bus Master and its canary, the
 * other one not incoming and left to the PF's driver; neither has a driver
 * until the PF is back; SR-IOV Control, NumVFs and the VF BARs are as in
 * stage 1 and no config write reached the PF or the VF (a VF Enable toggle
 * would be one). Then the VMMs: the PF is retrieved and its VF token set
 * (vfio-pci takes the other VF then), the VF is retrieved (after the
 * second update first, which binds the PF) and binds only with that
 * token; both finish. The same files carry both into the second update,
 * after which sriov_numvfs can be changed again.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/reboot.h>
#include <unistd.h>

#include "nvme.h"
#include "pci_lu.h"
#include "vfio_lu.h"

#define NVME_VF2	"0000:01:00.2"
#define SRIOV_CTRL	0x08
#define SRIOV_NUM_VF	0x10
#define SRIOV_BAR	0x24
#define CTRL_KEPT	0x19	/* VF Enable, VF MSE, ARI Capable Hierarchy */
#define LINE_CANARY	0x5a
#define NUMVFS		"/sys/bus/pci/devices/" NVME_PF "/sriov_numvfs"
#define PF_NOT_PRESERVED_MSG \
	"0000:01:00.1: preserve refused: its PF 0000:01:00.0 is not preserved with VF Enable set"
#define PF_NO_SESSION_MSG \
	"0000:01:00.1: Live Update: freeze refused: its PF 0000:01:00.0 is no longer preserved in a session"
#define FEATURES_MSG \
	"invalid handover data from the previous kernel (unknown incompatible features 0x2): no device is treated as preserved"
#define REFUSED_BM_MSG \
	"0000:01:00.0: cleared Bus Master left set by the previous kernel (handover data refused)"

#if defined(SRIOV_NO_SUPPORT)
#define LAST_STAGE	2
#define NEXT_ARGS	"%s", " pci_liveupdate_test.no_vfs=1"
#elif defined(SRIOV_CONFLICT)
#define LAST_STAGE	2
#define NEXT_ARGS	" pci_liveupdate_test.conflict=0x%x", r.bar0 & ~0xfU
#else
#define LAST_STAGE	3	/* two Live Updates */
#define NEXT_ARGS	"%s", ""
#endif

static const uint8_t token[16] = {
	0x6c, 0x75, 0x2d, 0x76, 0x66, 0x2d, 0x74, 0x6f,
	0x6b, 0x65, 0x6e, 0x2d, 0x30, 0x30, 0x30, 0x31,
};

/* What stage 2 compares: SR-IOV Control, NumVFs, VF BAR 0 and 1. */
struct sriov_regs {
	unsigned int ctrl, num_vfs, bar0, bar1;
};

static int read_regs(struct sriov_regs *r)
{
	int pos = pci_lu_find_ext_cap(NVME_PF, 0x10);
	int err = 0;

	if (pos <= 0)
		return -ENOENT;
	r->ctrl = pci_lu_config_word(NVME_PF, pos + SRIOV_CTRL);
	r->num_vfs = pci_lu_config_word(NVME_PF, pos + SRIOV_NUM_VF);
	r->bar0 = pci_lu_config_dword(NVME_PF, pos + SRIOV_BAR, &err);
	r->bar1 = pci_lu_config_dword(NVME_PF, pos + SRIOV_BAR + 4, &err);
	return err;
}

static int line_of(const char *bdf)
{
	int v = pci_lu_config_word(bdf, 0x3c);

	return v < 0 ? v : (v & 0xff);
}

static int stage1(struct pci_lu_ctx *ctx)
{
	struct vfio_lu_dev pf = VFIO_LU_DEV_INIT;
	struct vfio_lu_dev vf = VFIO_LU_DEV_INIT;
	struct sriov_regs r = {};
	char args[128];
	int s_pf, s_vf, ret;

	pci_lu_declare_stages(ctx, LAST_STAGE);
	/* The first open resets the PF, and a PF reset clears VF Enable. */
	nvme_vmm_start(ctx, &pf);
	CHECK(ctx, pci_lu_write(NUMVFS, "2") == 0, "two VFs enabled on %s through vfio-pci",
	      NVME_PF);
	CHECK(ctx, vfio_lu_set_vf_token(pf.fd, token) == 0, "VF token set on %s", NVME_PF);
	vf.vf_token = token;
	vf.fd = vfio_lu_bind_driver(NVME_VF) ?: vfio_lu_cdev_open(NVME_VF);
	if (!CHECK(ctx, vf.fd >= 0 && vfio_lu_attach(&vf) == 0,
		   "VF %s opened through vfio-pci with the PF's token", NVME_VF))
		return 1;
	CHECK(ctx, vfio_lu_set_master(&vf) == 0 && pci_lu_bus_master(NVME_VF) == 1,
	      "Bus Master on VF %s", NVME_VF);
	ret = pci_lu_config_word(NVME_VF, 0x3c);	/* Interrupt Pin kept */
	CHECK(ctx, ret >= 0 &&
	      pci_lu_config_write_word(NVME_VF, 0x3c, (ret & 0xff00) | LINE_CANARY) == 0 &&
	      line_of(NVME_VF) == LINE_CANARY, "Interrupt Line canary on VF %s", NVME_VF);
	ret = read_regs(&r);
	if (!CHECK(ctx, ret == 0 && (r.ctrl & 0x9) == 0x9 && r.num_vfs == 2,
		   "SR-IOV Control %#x (VF Enable, VF MSE), NumVFs %u", r.ctrl, r.num_vfs))
		return 1;
	ret = snprintf(args, sizeof(args), "pci_lu_sriov=%x,%x,%x,%x", r.ctrl, r.num_vfs, r.bar0,
		       r.bar1);
	snprintf(args + ret, sizeof(args) - ret, NEXT_ARGS);
	CHECK(ctx, pci_lu_stage2_cmdline(args) == 0, "SR-IOV registers handed to stage 2");

	s_pf = luo_create_session(ctx, "sriov-pf");
	s_vf = luo_create_session(ctx, "sriov-vf");
	if (!CHECK(ctx, s_pf >= 0 && s_vf >= 0, "create two sessions"))
		return 1;
	ret = luo_preserve_fd(s_vf, vf.fd, 2);
	CHECK(ctx, ret == -EINVAL, "the VF is refused before its PF is preserved (%d)", ret);
	CHECK(ctx, pci_lu_dmesg_has(PF_NOT_PRESERVED_MSG),
	      "kernel named the VF and its PF");

	/* The PF's session closed first: the PF stays preserved for its VF. */
	CHECK(ctx, luo_preserve_fd(s_pf, pf.fd, 1) == 0 && luo_preserve_fd(s_vf, vf.fd, 2) == 0,
	      "preserve the PF and the VF");
	close(s_pf);
	CHECK(ctx,
	      pci_lu_dmesg_has("0000:01:00.0: unpreserve refused: VFs of this PF are preserved") &&
	      pci_lu_status_field(NVME_PF, "outgoing") == 1,
	      "closing the PF's session first keeps the PF preserved for its VF");
	/* The held PF is in no session: a kexec now would strand it. */
	CHECK(ctx, vfio_lu_load_next_kernel() == 0, "next kernel loaded");
	errno = 0;
	ret = reboot(RB_KEXEC);
	CHECK(ctx, ret == -1 && errno == EBUSY, "kexec fails with EBUSY (%d, errno %d)", ret,
	      errno);
	CHECK(ctx, pci_lu_dmesg_has(PF_NO_SESSION_MSG),
	      "kernel named the VF and its PF");
	close(s_vf);
	CHECK(ctx, pci_lu_status_field(NVME_PF, "outgoing") == 0 &&
	      pci_lu_status_field(NVME_VF, "outgoing") == 0,
	      "closing the VF's session then releases both");

	s_pf = luo_create_session(ctx, "sriov-pf");
	s_vf = luo_create_session(ctx, "sriov-vf");
	CHECK(ctx, s_pf >= 0 && luo_preserve_fd(s_pf, pf.fd, 1) == 0,
	      "preserve the VFIO file of %s", NVME_PF);
	CHECK(ctx, s_vf >= 0 && luo_preserve_fd(s_vf, vf.fd, 2) == 0,
	      "preserve the VFIO file of VF %s", NVME_VF);
	CHECK(ctx, pci_lu_status_field(NVME_PF, "outgoing") == 1 &&
	      pci_lu_status_field(NVME_VF, "outgoing") == 1 &&
	      pci_lu_status_field(NVME_VF2, "outgoing") == 0,
	      "the PF and one VF are outgoing, the other VF is not");
	return 0;
}

/* Before anything opens them: what the kernel made of the PF and its VFs. */
static void stage2_found(struct pci_lu_ctx *ctx)
{
	struct sriov_regs was = {}, now = {};
	const char *cmd = NULL;
	char buf[1024], drv[64];
	int ret;

	if (pci_lu_read("/proc/cmdline", buf, sizeof(buf)) >= 0)
		cmd = strstr(buf, "pci_lu_sriov=");
	CHECK(ctx, cmd && sscanf(cmd, "pci_lu_sriov=%x,%x,%x,%x", &was.ctrl, &was.num_vfs,
				 &was.bar0, &was.bar1) == 4, "stage 1 handed its SR-IOV registers");
	ret = read_regs(&now);
	CHECK(ctx, ret == 0 && (now.ctrl & CTRL_KEPT) == (was.ctrl & CTRL_KEPT) &&
	      now.num_vfs == was.num_vfs && now.bar0 == was.bar0 && now.bar1 == was.bar1,
	      "SR-IOV Control %#x, NumVFs %u, VF BARs %#x %#x as in stage 1", now.ctrl,
	      now.num_vfs, now.bar0, now.bar1);
	CHECK(ctx, pci_lu_config_writes(NVME_PF) == 0 && pci_lu_config_writes(NVME_VF) == 0,
	      "no config write to %s or %s (VF Enable never cleared)", NVME_PF, NVME_VF);
	CHECK(ctx, pci_lu_dmesg_has("0000:01:00.0: Live Update: kept 2 VFs enabled"),
	      "kernel kept the VFs at PF enumeration");
	CHECK(ctx, pci_lu_incoming(NVME_PF) == 1 && pci_lu_incoming(NVME_VF) == 1,
	      "%s and VF %s are incoming", NVME_PF, NVME_VF);
	CHECK(ctx, access("/sys/bus/pci/devices/" NVME_VF2 "/physfn", F_OK) == 0 &&
	      pci_lu_incoming(NVME_VF2) == 0, "VF %s exists and is not incoming", NVME_VF2);
	CHECK(ctx, pci_lu_status_field(NVME_VF, "bm_at_enum") == 1 &&
	      pci_lu_bus_master(NVME_VF) == 1, "VF %s arrived and stays with Bus Master set",
	      NVME_VF);
	CHECK(ctx, line_of(NVME_VF) == LINE_CANARY, "VF %s Interrupt Line canary intact (%#x)",
	      NVME_VF, line_of(NVME_VF));
	CHECK(ctx, nvme_has_canary(NVME_PF), "%s canary intact", NVME_PF);
	/* vfio-pci takes VFs only once their PF is bound: its VF token rules. */
	for (int i = 0; i < 2; i++) {
		const char *bdf = i ? NVME_VF2 : NVME_VF;

		pci_lu_driver(bdf, drv, sizeof(drv));
		CHECK(ctx, !drv[0], "VF %s has no driver before its PF is back ('%s')", bdf, drv);
	}
	CHECK(ctx, pci_lu_read("/sys/bus/pci/devices/" NVME_VF2 "/driver_override", buf,
			       sizeof(buf)) >= 0 && !strncmp(buf, "vfio-pci", 8),
	      "VF %s is left to the PF's driver, vfio-pci", NVME_VF2);
	CHECK(ctx, pci_lu_read(NUMVFS, buf, sizeof(buf)) >= 0 && buf[0] == '2',
	      "sriov_numvfs reports 2");
}

/* The same files carry the PF and the VF into one more Live Update. */
static int next_update(struct pci_lu_ctx *ctx, struct vfio_lu_dev *pf, struct vfio_lu_dev *vf)
{
	char buf[1024];
	const char *arg = NULL;
	int s_pf, s_vf;

	if (pci_lu_read("/proc/cmdline", buf, sizeof(buf)) >= 0)
		arg = strstr(buf, "pci_lu_sriov=");
	CHECK(ctx, arg && pci_lu_stage2_cmdline(arg) == 0,
	      "stage 1's SR-IOV registers handed on");
	s_pf = luo_create_session(ctx, "sriov-pf");
	s_vf = luo_create_session(ctx, "sriov-vf");
	CHECK(ctx, s_pf >= 0 && s_vf >= 0 && luo_preserve_fd(s_pf, pf->fd, 1) == 0 &&
	      luo_preserve_fd(s_vf, vf->fd, 2) == 0 &&
	      pci_lu_status_field(NVME_VF, "outgoing") == 1,
	      "PF and VF preserved again for update %d", ctx->stage);
	pci_lu_next_hop(ctx);
	return 0;
}

#ifdef SRIOV_CONFLICT
/*
 * Memory taken inside the VF BAR before enumeration: the path's windows and
 * the VF BAR cannot be claimed where they were. The PF is abandoned and
 * its kept VFs disabled before anything assigns the VF BAR anew (the PCI
 * core warns if it must move an enabled VF BAR).
 */
static int stage2_conflict(struct pci_lu_ctx *ctx)
{
	struct sriov_regs now = {};
	int ret;

	CHECK(ctx, pci_lu_dmesg_has("cannot be claimed where the previous kernel left it"),
	      "the conflict was found and named");
	CHECK(ctx, pci_lu_dmesg_has("0000:01:00.0: Live Update: its kept VFs are disabled"),
	      "kernel disabled the kept VFs of %s", NVME_PF);
	CHECK(ctx, pci_lu_incoming(NVME_PF) == 0 && pci_lu_incoming_count() == 0,
	      "nothing is incoming");
	ret = read_regs(&now);
	CHECK(ctx, ret == 0 && !(now.ctrl & 0x1) &&
	      access("/sys/bus/pci/devices/" NVME_VF "/physfn", F_OK) != 0,
	      "VF Enable clear and no VF (ctrl %#x)", now.ctrl);
	CHECK(ctx, !pci_lu_dmesg_has("can't update enabled VF BAR"),
	      "no VF BAR was moved under enabled VFs");
	CHECK(ctx, !pci_lu_dmesg_has("WARNING:"), "no kernel warning");
	return 0;
}
#endif

#ifdef SRIOV_NO_SUPPORT
/* A kernel that does not know VFs refuses the table and boots as usual. */
static int stage2_refused(struct pci_lu_ctx *ctx)
{
	struct sriov_regs now = {};
	int ret;

	CHECK(ctx, pci_lu_dmesg_has(FEATURES_MSG),
	      "the table with VFs is refused, naming the feature");
	CHECK(ctx, pci_lu_incoming(NVME_PF) == 0 && pci_lu_incoming_count() == 0,
	      "nothing is incoming");
	CHECK(ctx, pci_lu_dmesg_has(REFUSED_BM_MSG),
	      "Bus Master cleared on %s at enumeration", NVME_PF);
	ret = read_regs(&now);
	CHECK(ctx, ret == 0 && !(now.ctrl & 0x1) && now.num_vfs == 0 &&
	      access("/sys/bus/pci/devices/" NVME_VF "/physfn", F_OK) != 0,
	      "SR-IOV set up anew: VF Enable clear, NumVFs 0, no VF (ctrl %#x)", now.ctrl);
	CHECK(ctx, wait_driver(NVME_PF, "nvme", 10000), "%s taken by its own driver, nvme",
	      NVME_PF);
	CHECK(ctx, !pci_lu_dmesg_has("WARNING:"), "no kernel warning");
	return 0;
}
#endif

static int stage2(struct pci_lu_ctx *ctx)
{
	struct vfio_lu_dev pf = VFIO_LU_DEV_INIT;
	struct vfio_lu_dev vf = VFIO_LU_DEV_INIT;
	struct vfio_device_info info;
	char buf[16], drv[64];
	int s_pf, s_vf, fd, ret;

#if defined(SRIOV_NO_SUPPORT)
	return stage2_refused(ctx);
#elif defined(SRIOV_CONFLICT)
	return stage2_conflict(ctx);
#endif
	stage2_found(ctx);
	fd = vfio_lu_cdev_open(NVME_VF);
	CHECK(ctx, fd < 0, "VF %s cannot be opened before retrieve (%d)", NVME_VF, fd);
	if (fd >= 0)
		close(fd);

	/*
	 * After the first update the PF's VMM comes first; after the second
	 * the VF's: its retrieve binds the PF, and it binds with the token
	 * once the PF's VMM set it.
	 */
	s_pf = luo_retrieve_session(ctx, "sriov-pf");
	s_vf = luo_retrieve_session(ctx, "sriov-vf");
	if (!CHECK(ctx, s_pf >= 0 && s_vf >= 0, "retrieve both sessions"))
		return 1;
	if (ctx->stage == LAST_STAGE) {
		vf.fd = luo_retrieve_fd(s_vf, 2);
		pci_lu_driver(NVME_PF, drv, sizeof(drv));
		CHECK(ctx, vf.fd >= 0 && !strcmp(drv, "vfio-pci"),
		      "VF %s retrieved before its PF, which retrieve bound to vfio-pci (%d)",
		      NVME_VF, vf.fd);
	}
	pf.fd = luo_retrieve_fd(s_pf, 1);
	CHECK(ctx, pf.fd >= 0 && vfio_lu_attach(&pf) == 0 && nvme_vfio_has_canary(&pf),
	      "PF %s retrieved, bound to iommufd, canary intact", NVME_PF);
	CHECK(ctx, pf.fd >= 0 && vfio_lu_set_vf_token(pf.fd, token) == 0,
	      "VF token set on the retrieved PF");
	CHECK(ctx, wait_driver(NVME_VF2, "vfio-pci", 5000),
	      "VF %s bound to vfio-pci once its PF is", NVME_VF2);
	if (ctx->stage < LAST_STAGE) {
		CHECK(ctx, vfio_lu_bind_driver(NVME_VF) == 0, "vfio-pci binds incoming VF %s",
		      NVME_VF);
		fd = vfio_lu_cdev_open(NVME_VF);
		CHECK(ctx, fd == -EBUSY,
		      "opening the cdev of incoming VF %s fails with EBUSY (%d)", NVME_VF, fd);
		if (fd >= 0)
			close(fd);
		vf.fd = luo_retrieve_fd(s_vf, 2);
	}
	if (!CHECK(ctx, vf.fd >= 0, "retrieve the VFIO file of VF %s (%d)", NVME_VF, vf.fd))
		return 1;
	ret = vfio_lu_bind(&vf);
	CHECK(ctx, ret == -EACCES, "the retrieved VF does not bind without the VF token (%d)",
	      ret);
	close(vf.iommufd);
	vf.vf_token = token;
	CHECK(ctx, vfio_lu_attach(&vf) == 0 && vfio_lu_get_info(vf.fd, &info) == 0,
	      "the retrieved VF binds with the token and answers VFIO_DEVICE_GET_INFO");
	CHECK(ctx, pci_lu_bus_master(NVME_VF) == 1 && (vfio_lu_cfg_word(&vf, 0x04) & 0x4),
	      "VF %s keeps Bus Master after the first open", NVME_VF);
	CHECK(ctx, luo_finish_session(s_vf) == 0 && luo_finish_session(s_pf) == 0,
	      "finish both sessions");
	CHECK(ctx, pci_lu_incoming(NVME_VF) == 0 && pci_lu_incoming(NVME_PF) == 0,
	      "neither is incoming after finish");
	close(s_vf);
	close(s_pf);
	if (ctx->stage < LAST_STAGE)
		return next_update(ctx, &pf, &vf);

	/* SR-IOV is the PF driver's again, as on any boot. */
	vfio_lu_close(&vf);
	CHECK(ctx, pci_lu_write(NUMVFS, "0") == 0 &&
	      access("/sys/bus/pci/devices/" NVME_VF "/physfn", F_OK) != 0,
	      "sriov_numvfs set to 0 removes the VFs");
	CHECK(ctx, pci_lu_write(NUMVFS, "1") == 0 && pci_lu_read(NUMVFS, buf, sizeof(buf)) >= 0 &&
	      buf[0] == '1', "and set to 1 enables one again");
	/* The control: a VF Enable toggle is what the canary would not survive. */
	CHECK(ctx, line_of(NVME_VF) >= 0 && line_of(NVME_VF) != LINE_CANARY,
	      "the toggle lost the canary of VF %s (Interrupt Line %#x)", NVME_VF,
	      line_of(NVME_VF));
	vfio_lu_close(&pf);
	CHECK(ctx, !pci_lu_dmesg_has("WARNING:"), "no kernel warning");
	return 0;
}

PCI_LU_TEST(stage1, stage2)
