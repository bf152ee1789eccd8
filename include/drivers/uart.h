/* 8250/16550 UART: the serial console. */
#pragma once

#include <kernel/types.h>

#define UART_COM1 0x3f8

void uart_init(uint16_t port);
void uart_putc(char c);
void uart_write(const char *s, size_t n);
/* Returns the next received byte, or -1 if none is waiting. */
int uart_getc(void);
