// SPDX-License-Identifier: GPL-2.0
/*
 * dma_window with the VT-d handover record damaged after the old kernel
 * prepared it: the next kernel refuses the record (logged), so it cannot
 * trust a device that arrives mastering; it stops edu at enumeration
 * (reason logged) before its IOMMU driver, finding translation on without
 * a valid handover, turns translation off. The DMA in the window is still
 * blocked (the hardware state does not depend on the record): the canary
 * stays intact and the fault is logged.
 */
#define DMA_WINDOW_CORRUPT
#include "dma_window.c"
