// SPDX-License-Identifier: GPL-2.0
/*
 * dma_continuous with a VMM that closes the retrieved guest memfd before it
 * attaches the device again: the memory the carried translation reaches
 * stays allocated (KHO holds it) until the translation ends, so a new
 * memfd that would reuse it is never written by the device.
 */
#define DMA_MEMFD_CLOSED
#include "dma_continuous.c"
