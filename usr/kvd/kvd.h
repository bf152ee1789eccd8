/* kvd: a memcached-protocol key-value engine, independent of the transport that feeds it. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The engine speaks memcached 1.6's protocols (protocol.txt: the text
 * commands, the meta commands mg/ms/md/ma/mn/me, and the binary protocol
 * with its quiet variants) over byte streams that somebody else carries.
 * It never blocks, never calls the network and keeps no thread: a transport
 * (the TCP stack in the guest, a test's epoll loop on the host) hands it
 * bytes and takes its replies.
 *
 *	struct kvd_config cfg = {.maxbytes = 64 << 20, .workers = 1};
 *	kvd_store_create(&cfg, &store);
 *	w = kvd_store_worker(store, 0);          // one per core, used by that core only
 *	c = kvd_conn_open(w);                    // per connection
 *	for (each event) {
 *		kvd_worker_clock(w, mono_ns, unix_s);
 *		used = kvd_conn_input(c, bytes, len);  // < len: the rest waits (backpressure)
 *		n = kvd_conn_output(c, iov, 16);       // reply as an iovec list, zero copy
 *		sent = transport_send(iov, n);
 *		kvd_conn_output_done(c, sent);         // releases what went out
 *		if (kvd_conn_want_close(c) && !kvd_conn_pending(c))
 *			kvd_conn_close(c), transport_close();
 *	}
 *
 * Ownership: input bytes belong to the caller and are not kept after
 * kvd_conn_input returns (partial commands are copied into the
 * connection). Output iovecs point into the connection's reply buffers and
 * into stored items, which stay valid (even if the item is deleted or
 * evicted meanwhile) until kvd_conn_output_done releases them.
 *
 * Concurrency: one store is shared by every worker; each worker (core) has
 * its own clock, statistics, CAS sequence and LRU segment and serves its
 * own connections. The GET path takes only the spinlock of the key's hash
 * stripe. A connection is used by one worker at a time.
 */

#define KVD_KEY_MAX	  250	     /* memcached's key length limit */
#define KVD_ITEM_SIZE_MAX (1u << 20) /* memcached's -I default: item including overhead */
#define KVD_WORKERS_MAX	  64
#define KVD_VERSION	  "1.6.18-kvd" /* the protocol level of memcached it follows */
#define KVD_OUT_HIGH	  (4u << 20)   /* stop taking commands while this much output waits */

struct kvd_store;
struct kvd_worker;
struct kvd_conn;

struct kvd_config {
	size_t maxbytes;	/* item memory budget (limit_maxbytes); >= 2 MiB */
	unsigned workers;	/* cores that will serve (1..KVD_WORKERS_MAX) */
	unsigned hash_power;	/* log2 of hash buckets; 0: derived from maxbytes */
	uint64_t start_mono_ns; /* monotonic clock at start: uptime, expiry */
	uint64_t start_unix;	/* wall clock at start (0 if unknown): absolute exptimes */
	uint64_t seed;		/* hash seed (keep it secret: flooding defence) */
	uint32_t pid;		/* reported by stats */
	uint16_t tcp_port;	/* reported by stats settings */
	unsigned max_conns;	/* reported by stats; 0: 1024 */
	/* Memory for items, in KVD_REGION_SIZE pieces: NULL when the budget is
	 * spent. NULL here: malloc. */
	void *(*region_alloc)(size_t len);
};

#define KVD_REGION_SIZE (1u << 20)

struct kvd_iov {
	const void *base;
	size_t len;
};

/* 0, -EINVAL (bad config) or -ENOMEM. */
int kvd_store_create(const struct kvd_config *cfg, struct kvd_store **out);
/* Frees everything; every connection must be closed first. */
void kvd_store_destroy(struct kvd_store *s);
/*
 * With every connection closed: check that each stored item is held by the
 * table alone and that the arena holds exactly the stored items (no
 * reference or byte outlived its user). 0, or a negative code naming the
 * first broken rule.
 */
int kvd_store_audit(struct kvd_store *s);
struct kvd_worker *kvd_store_worker(struct kvd_store *s, unsigned id);

/*
 * Tell worker w the time: call it whenever the transport wakes up (the
 * engine never reads a clock). mono_ns is monotonic; unix_s may be 0.
 */
void kvd_worker_clock(struct kvd_worker *w, uint64_t mono_ns, uint64_t unix_s);

/* What one worker's connections did (the rest of `stats` is merged over all). */
struct kvd_worker_stats {
	uint64_t total_connections, cmd_get, get_hits, cmd_set;
};
/* A snapshot of w's counters; any thread may call it while w works. */
void kvd_worker_stats(const struct kvd_worker *w, struct kvd_worker_stats *out);

/* A new connection served by w, or NULL if memory is short. */
struct kvd_conn *kvd_conn_open(struct kvd_worker *w);
/* Drop the connection and whatever output it still holds. */
void kvd_conn_close(struct kvd_conn *c);

/*
 * Feed len bytes. Returns how many were taken: all of them unless the
 * connection's output backlog passed KVD_OUT_HIGH (the caller keeps the
 * rest and offers it again after sending) or the connection wants to
 * close. Commands may be split anywhere and pipelined.
 */
size_t kvd_conn_input(struct kvd_conn *c, const void *buf, size_t len);

/* Up to max iovecs of pending output, oldest first; returns how many. */
unsigned kvd_conn_output(struct kvd_conn *c, struct kvd_iov *iov, unsigned max);
/*
 * n bytes of that output went out: release them. A multi-get held back by
 * backpressure goes on here, so more output may be pending afterwards: send
 * until kvd_conn_pending says 0.
 */
void kvd_conn_output_done(struct kvd_conn *c, size_t n);
/* Copy up to cap bytes of output into buf and release them; returns bytes. */
size_t kvd_conn_output_copy(struct kvd_conn *c, void *buf, size_t cap);
/* Bytes of output waiting. */
size_t kvd_conn_pending(const struct kvd_conn *c);
/* quit, or an error after which memcached hangs up: close once output is out. */
bool kvd_conn_want_close(const struct kvd_conn *c);
