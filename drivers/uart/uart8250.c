/* 8250/16550 UART driver, polled, used as the kernel console on COM1. */
#include <arch/cpu.h>
#include <drivers/uart.h>

/* Register offsets from the base port (16550 datasheet). */
#define UART_DATA	      0 /* RBR/THR, or DLL when DLAB=1 */
#define UART_IER	      1 /* interrupt enable, or DLM when DLAB=1 */
#define UART_FCR	      2 /* FIFO control */
#define UART_LCR	      3 /* line control */
#define UART_LCR_8N1	      0x03
#define UART_LCR_DLAB	      0x80
#define UART_MCR	      4 /* modem control */
#define UART_MCR_DTR_RTS_OUT2 0x0b
#define UART_LSR	      5	   /* line status */
#define UART_LSR_DR	      0x01 /* data ready */
#define UART_LSR_THRE	      0x20 /* transmit holding register empty */

#define UART_CLOCK 115200
#define UART_BAUD  115200
/* Bounded wait for the transmitter so a missing UART cannot hang the kernel. */
#define UART_TX_SPINS 100000

static uint16_t uart_port;

void uart_init(uint16_t port)
{
	uint16_t div = UART_CLOCK / UART_BAUD;

	outb(port + UART_IER, 0);
	outb(port + UART_LCR, UART_LCR_DLAB);
	outb(port + UART_DATA, div & 0xff);
	outb(port + UART_IER, div >> 8);
	outb(port + UART_LCR, UART_LCR_8N1);
	outb(port + UART_FCR, 0x07); /* enable and clear both FIFOs */
	outb(port + UART_MCR, UART_MCR_DTR_RTS_OUT2);
	uart_port = port;
}

static void uart_tx(uint8_t b)
{
	for (int i = 0; i < UART_TX_SPINS; i++) {
		if (inb(uart_port + UART_LSR) & UART_LSR_THRE)
			break;
		cpu_relax();
	}
	outb(uart_port + UART_DATA, b);
}

void uart_putc(char c)
{
	if (!uart_port)
		return;
	if (c == '\n')
		uart_tx('\r');
	uart_tx((uint8_t)c);
}

void uart_write(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		uart_putc(s[i]);
}

int uart_getc(void)
{
	if (!uart_port || !(inb(uart_port + UART_LSR) & UART_LSR_DR))
		return -1;
	return inb(uart_port + UART_DATA);
}
