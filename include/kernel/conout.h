/* Process console output: whole, tagged, escaped lines (kernel/conout.c). */
#pragma once

#include <kernel/types.h>

#define CONOUT_LINE_MAX 256 /* escaped bytes held per line; longer lines are split */

/* The unfinished line of one process. Its owner serialises calls. */
struct conout {
	char line[CONOUT_LINE_MAX];
	size_t len;
};

/* Receives one finished line: tag, escaped text, no newline (the callee
 * ends the line). */
typedef void (*conout_emit_fn)(const char *tag, const char *text, size_t len, void *ctx);

/* Add process output; every finished (or full) line goes to emit. */
void conout_write(struct conout *o, const char *buf, size_t n, const char *tag, conout_emit_fn emit,
		  void *ctx);
/* Emit the unfinished line, if any (the process is going away). */
void conout_flush(struct conout *o, const char *tag, conout_emit_fn emit, void *ctx);
