# SPDX-License-Identifier: GPL-2.0
# Shared shell helpers for the project scripts. Source it, do not run it.

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${PCI_LU_CACHE:-$HOME/.cache/pci-liveupdate}
mkdir -p "$CACHE"

# Where each piece lives inside the cache dir.
TOOLS=$CACHE/tools                 # bindgen, libclang venv
SRC_DIR=$CACHE/src                 # pristine kernel source
WORK_TREE=$CACHE/linux             # source + overlay + patches
BUILD=$CACHE/build                 # kernel O= dir
if [ -n "${KDIR:-}" ]; then
	# A user's tree gets its own build dir, so both stay incremental.
	BUILD=$CACHE/build-kdir-$(printf '%s' "$(cd "$KDIR" 2>/dev/null && pwd || echo "$KDIR")" | sha256sum | cut -c1-12)
fi
OUT=$CACHE/out                     # test outputs (logs, initramfs)

export PATH="$TOOLS/cargo/bin:$HOME/.cargo/bin:$PATH"
export LIBCLANG_PATH="$TOOLS/libclang/lib/python3/site-packages/clang/native"

step() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Kernel source in use: a user's tree (KDIR) or the integrated work tree.
ktree() {
	if [ -n "${KDIR:-}" ]; then echo "$KDIR"; else echo "$WORK_TREE"; fi
}

kmake() {
	make -C "$(ktree)" O="$BUILD" ARCH=x86_64 -j"$(nproc)" "$@"
}

# check_fragment FRAGMENT CONFIG: dies naming every option of FRAGMENT that
# did not survive olddefconfig in CONFIG.
check_fragment() {
	local frag=$1 config=$2 line opt bad=()
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*)
			opt=${line%%=*}
			grep -qx -- "$line" "$config" ||
				bad+=("$line (got: $(grep -E "^$opt=|# $opt is not set" "$config" || echo unset))")
			;;
		"# CONFIG_"*" is not set")
			opt=${line#\# }; opt=${opt%% *}
			grep -qE "^$opt=[ym]" "$config" && bad+=("$opt should be unset")
			;;
		esac
	done <"$frag"
	if [ ${#bad[@]} -gt 0 ]; then
		printf 'error: requested config options did not survive olddefconfig:\n' >&2
		printf '  %s\n' "${bad[@]}" >&2
		die "fix $frag (missing dependency?)"
	fi
}

# build_failure LOG: the first error of a failed kernel build, with the
# file a Rust error names on its following "-->" line.
build_failure() {
	local log=$1 cause loc
	cause=$(grep -m1 -E '(error|Error)(\[E[0-9]+\])?:' "$log" || grep -m1 -E '\*\*\* ' "$log" || tail -1 "$log")
	loc=$(grep -m1 -A4 -F -- "$cause" "$log" | grep -m1 -- '-->' | sed 's/^ *--> *//' || true)
	echo "$cause${loc:+ at $loc}"
}

# A kernel splat in a serial log: oopses, lockdep, list debugging, KFENCE,
# UBSAN, KCSAN (make stress). Any of them fails a kexec selftest.
SPLAT='Kernel panic|BUG:|WARNING:|Oops|general protection fault'
SPLAT+='|possible (circular|recursive) locking|inconsistent lock state'
SPLAT+='|suspicious RCU usage|list_(add|del) corruption|KFENCE:|UBSAN:'

# boot_race LOG: true if the first kernel splat in LOG is the x86 boot race
# below, in code that runs before any PCI or Live Update code of that boot.
# setup_IO_APIC() moves the legacy IRQs from the 8259 to the IO-APIC with
# interrupts on; mp_irqdomain_alloc() sets an IRQ's chip before its chip
# data, and a timer tick that the 8259 delivers in between oopses in
# io_apic_modify_irq() from handle_level_irq(). Seen once in about 60
# boots of the debug kernel under TCG (its instrumentation widens the
# window); a stock kernel has it.
boot_race() {
	tr -d '\r' <"$1" | awk -v splat="$SPLAT" '
		!on && $0 ~ splat {
			on = 1; if (!/BUG: kernel NULL pointer dereference/) exit
		}
		on && /---\[ end trace/ { exit }
		on && /mp_irqdomain_alloc/ { mp = 1 }
		on && /io_apic_modify_irq/ { rip = 1 }
		on && /handle_level_irq/ { lvl = 1 }
		on && /setup_IO_APIC/ { io = 1 }
		on && /start_kernel/ { sk = 1 }
		END { exit !(mp && io && sk && rip && lvl) }'
}
