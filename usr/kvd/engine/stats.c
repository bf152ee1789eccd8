/* kvd statistics: memcached's "stats" groups that apply here, merged over the workers. */
#include "kvd_impl.h"

static void emit_u(struct kvd_conn *c, kvd_stat_emit emit, const char *name, uint64_t v)
{
	char buf[24];

	emit(c, name, strlen(name), buf, (size_t)(kvd_fmt_u64(buf, v) - buf));
}

static void emit_s(struct kvd_conn *c, kvd_stat_emit emit, const char *name, const char *v)
{
	emit(c, name, strlen(name), v, strlen(v));
}

static uint64_t gauge(int64_t v)
{
	return v < 0 ? 0 : (uint64_t)v;
}

/* protocol.txt "General-purpose statistics", and kvd_* counters of refused input. */
static void general(struct kvd_conn *c, kvd_stat_emit emit)
{
	struct kvd_worker *w = c->w;
	struct kvd_store *s = w->s;
	struct kvd_counters t;
	uint64_t uptime = w->now_s - KVD_TIME_BASE;

	kvd_stats_sum(s, &t);
	emit_u(c, emit, "pid", s->cfg.pid);
	emit_u(c, emit, "uptime", uptime);
	emit_u(c, emit, "time", w->unix_now ? w->unix_now : s->cfg.start_unix + uptime);
	emit_s(c, emit, "version", KVD_VERSION);
	emit_u(c, emit, "pointer_size", sizeof(void *) * 8);
	emit_u(c, emit, "max_connections", s->cfg.max_conns);
	emit_u(c, emit, "curr_connections", gauge(t.curr_connections));
	emit_u(c, emit, "total_connections", t.total_connections);
	emit_u(c, emit, "connection_structures", gauge(t.curr_connections));
#define KVD_EMIT(n) emit_u(c, emit, #n, t.n);
	KVD_EMIT(cmd_get)
	KVD_EMIT(cmd_set)
	KVD_EMIT(cmd_flush)
	KVD_EMIT(cmd_touch)
	KVD_EMIT(cmd_meta)
	KVD_EMIT(get_hits)
	KVD_EMIT(get_misses)
	KVD_EMIT(get_expired)
	KVD_EMIT(get_flushed)
	KVD_EMIT(delete_misses)
	KVD_EMIT(delete_hits)
	KVD_EMIT(incr_misses)
	KVD_EMIT(incr_hits)
	KVD_EMIT(decr_misses)
	KVD_EMIT(decr_hits)
	KVD_EMIT(cas_misses)
	KVD_EMIT(cas_hits)
	KVD_EMIT(cas_badval)
	KVD_EMIT(touch_hits)
	KVD_EMIT(touch_misses)
	KVD_EMIT(store_too_large)
	KVD_EMIT(store_no_memory)
	emit_u(c, emit, "auth_cmds", 0);
	emit_u(c, emit, "auth_errors", 0);
	KVD_EMIT(bytes_read)
	KVD_EMIT(bytes_written)
	emit_u(c, emit, "limit_maxbytes", s->cfg.maxbytes);
	emit_u(c, emit, "accepting_conns", 1);
	emit_u(c, emit, "threads", s->nworkers);
	emit_u(c, emit, "hash_power_level", s->hash_power);
	emit_u(c, emit, "hash_bytes", ((uint64_t)1 << s->hash_power) * sizeof(void *));
	emit_u(c, emit, "hash_is_expanding", 0);
	emit_u(c, emit, "bytes", gauge(t.bytes));
	emit_u(c, emit, "curr_items", gauge(t.curr_items));
	KVD_EMIT(total_items)
	KVD_EMIT(expired_unfetched)
	KVD_EMIT(evicted_unfetched)
	KVD_EMIT(evicted_active)
	KVD_EMIT(evictions)
	KVD_EMIT(reclaimed)
#undef KVD_EMIT
	/* kvd's own: memory and every reason input was refused */
	emit_u(c, emit, "kvd_worker", w->id); /* the core's worker serving this connection */
	emit_u(c, emit, "kvd_arena_regions", s->arena.regions);
	emit_u(c, emit, "kvd_arena_used", s->arena.used);
	emit_u(c, emit, "kvd_outofmemory", t.outofmemory);
	emit_u(c, emit, "kvd_conn_backpressure", t.conn_backpressure);
	emit_u(c, emit, "kvd_err_unknown_command", t.err_unknown_command);
	emit_u(c, emit, "kvd_err_bad_format", t.err_bad_format);
	emit_u(c, emit, "kvd_err_bad_data_chunk", t.err_bad_data_chunk);
	emit_u(c, emit, "kvd_err_line_too_long", t.err_line_too_long);
	emit_u(c, emit, "kvd_err_binary_invalid", t.err_binary_invalid);
	emit_u(c, emit, "kvd_err_binary_magic", t.err_binary_magic);
}

static void settings(struct kvd_conn *c, kvd_stat_emit emit)
{
	struct kvd_store *s = c->w->s;

	emit_u(c, emit, "maxbytes", s->cfg.maxbytes);
	emit_u(c, emit, "maxconns", s->cfg.max_conns);
	emit_u(c, emit, "tcpport", s->cfg.tcp_port);
	emit_u(c, emit, "udpport", 0);
	emit_u(c, emit, "verbosity", atomic_load_explicit(&s->verbosity, memory_order_relaxed));
	emit_s(c, emit, "evictions", "on");
	emit_u(c, emit, "num_threads", s->nworkers);
	emit_s(c, emit, "cas_enabled", "yes");
	emit_s(c, emit, "binding_protocol", "auto-negotiate");
	emit_u(c, emit, "item_size_max", KVD_ITEM_SIZE_MAX);
	emit_u(c, emit, "hashpower_init", s->hash_power);
	emit_s(c, emit, "hash_algorithm", "kvd-mix64");
	emit_s(c, emit, "lru_segmented", "per-worker");
	emit_u(c, emit, "slab_chunk_max", KVD_CHUNK_SIZE);
	emit_s(c, emit, "flush_enabled", "yes");
}

/* One "class" per worker's LRU segment: items are not binned by size here. */
static void items(struct kvd_conn *c, kvd_stat_emit emit)
{
	struct kvd_store *s = c->w->s;
	char name[48], *p;

	for (unsigned i = 0; i < s->nworkers; i++) {
		const struct kvd_counters *st = &s->workers[i].st;
		uint64_t count;
		uint32_t age;
		static const char *const names[] = {"number",
						    "age",
						    "evicted",
						    "evicted_nonzero",
						    "evicted_time",
						    "outofmemory",
						    "reclaimed",
						    "expired_unfetched",
						    "evicted_unfetched",
						    "evicted_active"};
		uint64_t vals[10];

		kvd_lru_stats(s, i, &count, &age, c->w);
		if (!count)
			continue;
		vals[0] = count;
		vals[1] = age;
		vals[2] = __atomic_load_n(&st->evictions, __ATOMIC_RELAXED);
		vals[3] = __atomic_load_n(&st->evicted_nonzero, __ATOMIC_RELAXED);
		vals[4] = __atomic_load_n(&st->evicted_time, __ATOMIC_RELAXED);
		vals[5] = __atomic_load_n(&st->outofmemory, __ATOMIC_RELAXED);
		vals[6] = __atomic_load_n(&st->reclaimed, __ATOMIC_RELAXED);
		vals[7] = __atomic_load_n(&st->expired_unfetched, __ATOMIC_RELAXED);
		vals[8] = __atomic_load_n(&st->evicted_unfetched, __ATOMIC_RELAXED);
		vals[9] = __atomic_load_n(&st->evicted_active, __ATOMIC_RELAXED);
		for (unsigned k = 0; k < 10; k++) {
			p = name;
			memcpy(p, "items:", 6);
			p = kvd_fmt_u64(p + 6, i + 1);
			*p++ = ':';
			memcpy(p, names[k], strlen(names[k]) + 1);
			emit_u(c, emit, name, vals[k]);
		}
	}
}

/* The arena in memcached's words: regions are its pages. */
static void slabs(struct kvd_conn *c, kvd_stat_emit emit)
{
	struct kvd_store *s = c->w->s;

	emit_u(c, emit, "active_slabs", s->arena.regions ? 1 : 0);
	emit_u(c, emit, "total_malloced", (uint64_t)s->arena.regions * KVD_REGION_SIZE);
	emit_u(c, emit, "kvd_page_size", KVD_REGION_SIZE);
	emit_u(c, emit, "kvd_total_pages", s->arena.regions);
	emit_u(c, emit, "kvd_max_pages", s->arena.max_regions);
	emit_u(c, emit, "kvd_used_bytes", s->arena.used);
}

bool kvd_stats_report(struct kvd_conn *c, const char *group, size_t ngroup, kvd_stat_emit emit)
{
	struct kvd_tok g = {group, ngroup};

	if (ngroup == 0)
		general(c, emit);
	else if (kvd_tok_eq(&g, "settings"))
		settings(c, emit);
	else if (kvd_tok_eq(&g, "items"))
		items(c, emit);
	else if (kvd_tok_eq(&g, "slabs"))
		slabs(c, emit);
	else if (kvd_tok_eq(&g, "sizes"))
		emit_s(c, emit, "sizes_status", "disabled");
	else
		return false;
	return true;
}

void kvd_worker_stats(const struct kvd_worker *w, struct kvd_worker_stats *out)
{
	out->total_connections = __atomic_load_n(&w->st.total_connections, __ATOMIC_RELAXED);
	out->cmd_get = __atomic_load_n(&w->st.cmd_get, __ATOMIC_RELAXED);
	out->get_hits = __atomic_load_n(&w->st.get_hits, __ATOMIC_RELAXED);
	out->cmd_set = __atomic_load_n(&w->st.cmd_set, __ATOMIC_RELAXED);
}
