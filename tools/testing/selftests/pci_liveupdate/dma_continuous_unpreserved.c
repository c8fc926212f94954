// SPDX-License-Identifier: GPL-2.0
/*
 * dma_continuous with an anonymous buffer in the device's IOAS as well:
 * part of what the device can reach is memory no kernel hands over, so the
 * old kernel carries none of its translation. Its DMA through the kexec
 * and before the new attach is blocked and logged as faults; guest memory
 * keeps only what kernel 1 wrote, and DMA works again after attach.
 */
#define DMA_UNPRESERVED
#include "dma_continuous.c"
