// SPDX-License-Identifier: GPL-2.0
/*
 * dma_continuous with the device's page tables changed at the very end of
 * the kexec, after they were checked and preserved (test knob): the IOMMU
 * shutdown compares them again, drops the carried context, and the DMA in
 * the kexec and before the attach is blocked (faults logged), never
 * translated by tables that were not checked.
 */
#define DMA_TABLES_CHANGED
#include "dma_continuous.c"
