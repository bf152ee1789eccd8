/* hostile's modes that live outside hostile.c. */
#pragma once

/* dma.c: a queue owner aiming its NIC outside what it was given, and its victim. */
int dma_attack(int argc, char **argv);
int dma_victim(int argc, char **argv);
