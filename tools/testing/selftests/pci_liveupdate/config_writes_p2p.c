// SPDX-License-Identifier: GPL-2.0
/*
 * config_writes with the peer-to-peer MPS policy in the second kernel,
 * which programs MPS differently from the performance one, and pci=rom,
 * with which x86 leaves expansion ROMs to the later assignment instead of
 * claiming them where they are.
 */
#define BUS_POLICY	"pcie_bus_peer2peer"
#define PCI_EXTRA	"rom,"
#include "config_writes.c"
