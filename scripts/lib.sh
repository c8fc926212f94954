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
