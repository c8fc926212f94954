#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Runs the PCI Live Update kexec selftests in QEMU and prints KTAP.
#
# Every test boots the project kernel, runs stage 1, kexecs (KHO) into the
# same kernel and runs stage 2. A test passes only if both stages print
# their PASS line; the verdict of stage 2 comes from the second kernel.
. "$(dirname "$0")/../../../../scripts/lib.sh"

usage() {
	cat <<USAGE
usage: run_vmtests.sh [-t TEST]... [-T seconds] [-K] [-k] [-S]
  -t TEST     run only TEST (repeatable); default: every test in the Makefile
  -T seconds  per-test VM timeout (default 300)
  -K          also run the KUnit suite pci_liveupdate at boot (one extra VM)
  -k          run only the KUnit suite
  -S          also check the runner itself: a VM that prints every PASS line
              and then hangs must fail (one extra VM, 60 s timeout)
Serial logs go to \$PCI_LU_CACHE/out/logs/TEST.log; a failed test names its log.
A test passes only if every stage printed PASS, the VM powered off by itself
(QEMU exit 0, no timeout) and the serial log holds no kernel splat. The
kernel's own vfio and liveupdate selftests (upstream_*) are built from the
kernel tree in use; their results appear as nested KTAP lines.
USAGE
}

HERE=$(cd "$(dirname "$0")" && pwd)
tests=()
tmo=300
kunit=0
only_kunit=0
selfcheck=0
while getopts "t:T:KkSh" o; do
	case $o in
	t) tests+=("$OPTARG") ;;
	T) tmo=$OPTARG ;;
	K) kunit=1 ;;
	k) kunit=1 only_kunit=1 ;;
	S) selfcheck=1 ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done

bz=${PCI_LU_BZIMAGE:-$BUILD/arch/x86/boot/bzImage}
[ -f "$bz" ] || die "no kernel at $bz (run make kernel)"
[ -d "$BUILD/usr/include/linux" ] || die "no UAPI headers in $BUILD/usr/include (run make kernel)"
bin=$OUT/selftests
logs=${PCI_LU_LOGS:-$OUT/logs}
mkdir -p "$bin" "$logs"

# Always rebuild: another checkout may have built into the same cache.
make -s -B -C "$HERE" OUTPUT="$bin" KHDR_INCLUDES="-isystem $BUILD/usr/include" \
	>"$OUT/selftests-build.log" 2>&1 ||
	die "building the selftests failed: $(grep -m1 error "$OUT/selftests-build.log")"
[ ${#tests[@]} -gt 0 ] || [ $only_kunit = 1 ] || read -r -a tests < <(make -s -C "$HERE" list)

# The kernel's own vfio and liveupdate selftests, built from the tree in use
# into the cache (never into the tree): /upstream/{vfio,liveupdate}/.
up=$OUT/upstream
ksrc=$(ktree)/tools/testing/selftests
rm -rf "$up" && mkdir -p "$up/vfio" "$up/liveupdate"
make -s -C "$ksrc/vfio" OUTPUT="$up/vfio" KHDR_INCLUDES="-isystem $BUILD/usr/include" \
	CC="gcc -static" >"$OUT/upstream-build.log" 2>&1 ||
	die "building $ksrc/vfio failed: $(grep -m1 -E 'error|Error' "$OUT/upstream-build.log")"
for t in liveupdate luo_kexec_simple luo_multi_session luo_stress_sessions luo_stress_files; do
	gcc -static -O2 -Wall -D_GNU_SOURCE= -isystem "$BUILD/usr/include" \
		-I"$ksrc/liveupdate/lib/include" \
		-o "$up/liveupdate/$t" "$ksrc/liveupdate/$t.c" "$ksrc/liveupdate/lib/lu_utils.c" \
		>>"$OUT/upstream-build.log" 2>&1 ||
		die "building $ksrc/liveupdate/$t failed:" \
			"$(grep -m1 error "$OUT/upstream-build.log")"
done

# Text ranges of the component and of vfio-pci's handler, for the stack
# filter of fault injection, as linked (System.map; a module's below).
kdir=${bz%/arch/x86/boot/bzImage}
map=$kdir/System.map
if [ ! -f "$map" ]; then
	echo "# no System.map next to $bz: fault injection cannot aim" >&2
	map=/dev/null
fi
awk '
	$3 == "_stext" { st = $1 } $3 == "_etext" { et = $1 }
	{ a[NR] = $1; t[NR] = $2; s[NR] = $3 }
	END {
		for (i = 1; i <= NR; i++) {
			if (a[i] < st || a[i] >= et || (t[i] != "t" && t[i] != "T")) continue
			n = ""
			if (s[i] ~ /^pci_liveupdate_|_10liveupdate/)
				n = "pci_liveupdate"
			else if (s[i] ~ /^vfio_pci_lu_|^vfio_pci_liveupdate_/)
				n = "vfio_pci_liveupdate"
			if (n != "") { if (!(n in lo)) lo[n] = a[i]; last[n] = i }
		}
		# A range ends where the next symbol after its last one starts.
		for (n in lo) print n, lo[n], a[last[n] + 1]
	}' "$map" >"$OUT/text_ranges"
# KASLR moves them all by the offset this symbol shows in debugfs.
awk '$3 == "pci_liveupdate_preserve" { print "anchor", $1 }' "$map" >>"$OUT/text_ranges"
# A kernel without the component (make bench's baseline) has none; the
# fault injection test then fails, naming the missing range.
# vfio-pci as a module: where the handler starts in the module's .text
# (a symbol the guest finds in /proc/kallsyms) and how long it is.
if [ -f "$kdir/modules.order" ]; then
	# sed, not grep: no vfio-pci.o (built in) is no error under pipefail.
	sed -n 's|^\(.*/vfio-pci\)\.o$|\1.ko|p' "$kdir/modules.order" | while read -r m; do
		objdump -t "$kdir/$m" | awk '
			function hex(s, i, v) {
				for (i = 1; i <= length(s); i++)
					v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
				return v
			}
			$4 == ".text" && $3 == "F" && $6 ~ /^vfio_pci_lu_|^vfio_pci_liveupdate_/ {
				a = hex($1); e = a + hex($5)
				if (first == "" || a < lo) { lo = a; first = $6 }
				if (e > hi) hi = e
			}
			END { if (first != "") print "vfio_pci_liveupdate module", first, hi - lo }'
	done >>"$OUT/text_ranges"
fi

# One initramfs for every test: /init, the kernel to kexec, the tests.
initrd=$OUT/initramfs.cpio
{
	echo "dir /dev 0755 0 0"
	echo "nod /dev/console 0600 0 0 c 5 1"
	echo "dir /proc 0755 0 0"
	echo "dir /sys 0755 0 0"
	echo "dir /tests 0755 0 0"
	echo "file /init $bin/init 0755 0 0"
	echo "file /kernel $bz 0644 0 0"
	echo "file /text_ranges $OUT/text_ranges 0644 0 0"
	for f in "$bin"/*; do
		case $(basename "$f") in init) continue ;; esac
		echo "file /tests/$(basename "$f") $f 0755 0 0"
	done
	echo "dir /tmp 01777 0 0"
	# The modules of this kernel's build (modules.order: none stale), which
	# /init loads (lib/modules.h).
	echo "dir /lib 0755 0 0"
	echo "dir /lib/modules 0755 0 0"
	if [ -f "$kdir/modules.order" ]; then
		sed 's/\.o$/.ko/' "$kdir/modules.order" | while read -r m; do
			echo "file /lib/modules/$(basename "$m") $kdir/$m 0644 0 0"
		done
	fi
	# kexec-tools and its libraries, for plain kexec_load() (dma_kexec_load).
	kexec=$TOOLS/kexec-tools/sbin/kexec
	[ -x "$kexec" ] || die "no $kexec (run scripts/deps)"
	echo "dir /sbin 0755 0 0"
	echo "file /sbin/kexec $kexec 0755 0 0"
	echo "dir /lib/x86_64-linux-gnu 0755 0 0"
	echo "dir /lib64 0755 0 0"
	LD_LIBRARY_PATH=$TOOLS/kexec-tools/usr/lib/x86_64-linux-gnu ldd "$kexec" | awk '
		$2 == "=>" && $3 !~ /^\// { exit 1 }	# "not found"
		$2 == "=>" { print "/lib/x86_64-linux-gnu/" $1, $3 }
		$1 ~ /^\/lib64\// { print $1, $1 }' |
		while read -r dst src; do echo "file $dst $(readlink -f "$src") 0755 0 0"; done
	echo "dir /upstream 0755 0 0"
	for d in vfio liveupdate; do
		echo "dir /upstream/$d 0755 0 0"
		find "$up/$d" -maxdepth 1 -type f -perm -u+x | sort |
			while read -r f; do
				echo "file /upstream/$d/$(basename "$f") $f 0755 0 0"
			done
	done
} >"$OUT/initramfs.list"
"$BUILD/usr/gen_init_cpio" "$OUT/initramfs.list" >"$initrd" || die "gen_init_cpio failed"

# What fails a test whatever its checks said: any $SPLAT (scripts/lib.sh).
# KCSAN reports races all over a TCG guest; those between two functions
# outside PCI, VFIO, LUO and KHO are counted, not failed.
KCSAN_OURS='pci|vfio|liveupdate|luo_|kho_'

# verdict TEST LOG QEMU_STATUS: 0 if the test passed. Prints why not.
verdict() {
	local t=$1 log=$2 rc=$3 last splat races
	# A multi-hop test declares its last stage; every stage must pass.
	last=$(sed -n "s/^PCI_LU_STAGES $t \([0-9]*\).*/\1/p" "$log" | tr -d '\r' | head -1)
	# Any splat fails the test; KCSAN only for races in code on our path.
	splat=$(tr -d '\r' <"$log" | grep -E "$SPLAT" |
		awk -v ours="$KCSAN_OURS" '!/BUG: KCSAN: / || $0 ~ ours' | head -5) || true
	races=$(tr -d '\r' <"$log" | grep -c "BUG: KCSAN: ") || true
	[ "${races:-0}" -gt 0 ] &&
		echo "# $t: $races KCSAN reports in the serial log" \
			"(races on our path fail the test)"
	# A VM that did not power off by itself (timeout, QEMU error) fails
	# even after printing PASS: a hang at power-off runs the shutdown hooks.
	if [ "$rc" = 0 ] && [ -z "$splat" ] && grep -q "PCI_LU_RESULT $t stage1 PASS" "$log" &&
		grep -q "PCI_LU_RESULT $t stage${last:-2} PASS" "$log" &&
		grep -q "PCI_LU_RESULT $t stage2 PASS" "$log" &&
		! grep -q "PCI_LU_RESULT $t stage[0-9]* FAIL" "$log"; then
		return 0
	fi
	grep -E "^not ok |PCI_LU_RESULT .* FAIL" "$log" | head -20 | sed 's/^/# /' || true
	[ -n "$splat" ] && sed 's/^/# splat: /' <<<"$splat"
	[ "$rc" != 0 ] && echo "# VM did not power off by itself: QEMU status $rc"
	return 1
}

# Nested KTAP: every in-guest check of both kernels ("ok 3 <test> stage2:
# ..."), then the results a test reported per upstream suite and device.
subtests() {
	local t=$1 log=$2 k=0 res
	local -a lines
	mapfile -t lines < <(tr -d '\r' <"$log" | sed -n -E \
		-e "s/^(not )?ok [0-9]+ $t (stage[0-9]+: )/\\1ok \\2/p" \
		-e "s/^PCI_LU_SUB $t //p")
	[ ${#lines[@]} = 0 ] && return 0
	echo "    # Subtest: $t"
	echo "    1..${#lines[@]}"
	for res in "${lines[@]}"; do
		k=$((k + 1))
		case $res in
		"not ok "*) echo "    not ok $k ${res#not ok }" ;;
		*) echo "    ok $k ${res#ok }" ;;
		esac
	done
}

n=${#tests[@]}
[ $kunit = 1 ] && n=$((n + 1))
[ $selfcheck = 1 ] && n=$((n + 1))
echo "TAP version 13"
echo "1..$n"
pass=0 fail=0 i=0
for t in ${tests[@]+"${tests[@]}"}; do
	i=$((i + 1))
	log=$logs/$t.log
	start=$(date +%s)
	topo=() ttmo=$tmo append=""
	case $t in
	scale* | faults | leaks) topo=(-x) ;;	# 64 more endpoints
	sibling_*) topo=(-p) ;;	# two functions of one slot
	vfio_variant) topo=(-v) ;;	# a virtio-blk device for virtio_vfio_pci
	config_writes*) topo=(-r) ;;	# an expansion ROM on the edu behind the switch
	# Room for the 1 GiB hugepage the test reserves (above 4 GiB on q35; in
	# 6 GiB the KHO scratch areas left no free 1 GiB range now and then);
	# about 30 suite runs in two kernels: twice the time.
	upstream_vfio) topo=(-m 8G) ttmo=$((tmo * 2)) ;;
	# The first kernel has no IOMMU translating (the second inherits it).
	dma_no_iommu) append="intel_iommu=off" ;;
	esac
	# make bench: another kernel, topology or command line.
	# shellcheck disable=SC2086
	# A run that hit the stock x86 boot race (boot_race in scripts/lib.sh)
	# proves nothing either way: keep its log, run the test once more. A
	# kept log belongs to this run only.
	rm -f "$log.boot-race"
	for try in 1 2; do
		rc=0
		err=$("$TOP/scripts/vm" ${PCI_LU_VM_EXTRA:-} "${topo[@]}" -k "$bz" \
			-i "$initrd" -a "pci_lu_test=$t $append ${PCI_LU_APPEND:-}" \
			-t "$ttmo" -l "$log" 2>&1) || rc=$?
		[ $try = 1 ] && boot_race "$log" || break
		mv "$log" "$log.boot-race"
		echo "# $t: the stock x86 IRQ 0 race in setup_IO_APIC() oopsed a boot" \
			"(log: $log.boot-race); running $t again"
	done
	secs=$(($(date +%s) - start))
	subtests "$t" "$log"
	if verdict "$t" "$log" "$rc"; then
		echo "ok $i $t # ${secs}s"
		pass=$((pass + 1))
	else
		[ -n "$err" ] && echo "# $err"
		echo "not ok $i $t # ${secs}s, serial log: $log"
		fail=$((fail + 1))
	fi
done

# The runner must not pass a VM that printed every PASS line and then hung.
if [ $selfcheck = 1 ]; then
	i=$((i + 1))
	t=selfcheck_hang
	log=$logs/$t.log
	rc=0
	"$TOP/scripts/vm" -k "$bz" -i "$initrd" -a "pci_lu_test=$t" -t 60 -l "$log" \
		>/dev/null 2>&1 || rc=$?
	if [ "$rc" = 124 ] && grep -q "PCI_LU_RESULT $t stage2 PASS" "$log" &&
		! verdict "$t" "$log" "$rc" >/dev/null; then
		echo "ok $i runner_fails_a_hung_vm # stage 2 printed PASS, the VM hung, verdict: fail"
		pass=$((pass + 1))
	else
		echo "# QEMU status $rc (want 124, a timeout after stage 2 printed PASS)"
		echo "not ok $i runner_fails_a_hung_vm # serial log: $log"
		fail=$((fail + 1))
	fi
fi

if [ $kunit = 1 ]; then
	i=$((i + 1))
	log=$logs/kunit.log
	rc=0
	err=$("$TOP/scripts/vm" -i "$initrd" -a "pci_lu_test=none kunit.enable=1" -t "$tmo" \
		-l "$log" 2>&1) || rc=$?
	tr -d '\r' <"$log" >"$log.txt"
	# Only the project's suite decides; the kernel may build in others.
	sed -n '/# Subtest: pci_liveupdate$/,/ok [0-9]* pci_liveupdate$/p' "$log.txt" |\
		grep -E '^\s*(# |ok |not ok )|bench kernel' | sed 's/^/# kunit: /'
	if [ "$rc" = 0 ] && grep -qE "^\s*ok [0-9]+ pci_liveupdate$" "$log.txt" &&
		grep -qE "# pci_liveupdate: pass:[1-9][0-9]* fail:0 skip:0" "$log.txt"; then
		echo "ok $i kunit_pci_liveupdate"
		pass=$((pass + 1))
	else
		[ -n "$err" ] && echo "# $err"
		echo "not ok $i kunit_pci_liveupdate # serial log: $log"
		fail=$((fail + 1))
	fi
fi
echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:0 error:0"
[ $fail -eq 0 ]
