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
