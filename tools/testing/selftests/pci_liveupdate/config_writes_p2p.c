// SPDX-License-Identifier: GPL-2.0
/*
 * config_writes with the peer-to-peer MPS policy in the second kernel,
 * which programs MPS differently from the performance one.
 */
#define BUS_POLICY	"pcie_bus_peer2peer"
#include "config_writes.c"
