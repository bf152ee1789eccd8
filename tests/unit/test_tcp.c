/* Unit tests of TCP (RFC 9293 and friends) against a scripted peer: every state, close path, recovery and defence. */
/* unit-sources: usr/lib/net/[a-z]*.c */
/* unit-cflags: -Iusr/lib */
#include "tcp_peer.h"

#define PORT  8080
#define PPORT 40000

static const uint8_t hello[] __attribute__((unused)) = "hello, manticore";

/* ---------------------------------------------------------------- opening */

/* LISTEN -> SYN-RECEIVED -> ESTABLISHED: the SYN-ACK's options, the accept queue. */
static void test_passive_open(void **state)
{
	struct tcp_listener *l;
	struct tcp_conn *c;
	struct peer p;
	struct seg s;

	(void)state;
	stack_new(NULL);
	assert_int_equal(tcp_listen(&stack, PORT, 8, &l), 0);
	assert_int_equal(tcp_listen(&stack, PORT, 8, &l), -EADDRINUSE);
	peer_init(&p, PPORT, PORT);
	assert_int_equal(peer_send(&p, F_SYN, NULL, 0), NET_RX_CONSUMED);
	assert_int_equal(tstats()->conns, 1);
	pump();
	expect_seg(&p, &s, F_SYN | F_ACK);
	assert_memory_equal(s.mac, peer_mac, 6);
	assert_int_equal(s.ack, p.seq);
	assert_true(s.mss_ok && s.mss == 1460);
	assert_true(s.ws_ok && s.ws == 1); /* 65536-byte buffer: a shift of one */
	assert_true(s.ts_ok);
	assert_int_equal(s.tsecr, p.tsval);
	assert_int_equal(s.win, 65535); /* a SYN's window is not scaled */
	p.ack = s.seq + 1;
	assert_int_equal(peer_send(&p, F_ACK, NULL, 0), NET_RX_CONSUMED);
	pump();
	expect_none();
	assert_int_equal(tcp_accept(l, &c), 1);
	assert_int_equal(tcp_state(c), TCP_ESTABLISHED);
	assert_int_equal(tcp_accept(l, &c), 0);
	stack_free();
}

/* SYN-SENT -> ESTABLISHED: our SYN's options, the peer's SYN-ACK, our ACK, CONNECTED. */
static void test_active_open(void **state)
{
	struct tcp_conn *c;
	struct peer p;
	struct seg s;

	(void)state;
	stack_new(NULL);
	peer_init(&p, 80, 0);
	assert_int_equal(tcp_connect(&stack, PEER_IP, 0, now_ns, &c), -EINVAL);
	assert_int_equal(tcp_connect(&stack, 0xffffffffu, 80, now_ns, &c), -EINVAL);
	assert_int_equal(tcp_connect(&stack, OUR_IP, 80, now_ns, &c), -EINVAL);
	c = open_active(&p);
	assert_true(p.lport >= 49152);
	assert_int_equal(tcp_sendable(c), 65536);
	/* What it sends now uses the peer's MSS less the timestamp option. */
	assert_int_equal(tcp_send(c, hello, sizeof(hello)), sizeof(hello));
	pump();
	expect_seg(&p, &s, F_ACK | F_PSH);
	assert_int_equal(s.len, sizeof(hello));
	assert_memory_equal(s.data, hello, sizeof(hello));
	assert_true(s.ts_ok);
	tcp_abort(c);
	expect_seg(&p, &s, F_RST | F_ACK);
	check_all_free();
	stack_free();
}

/* Our SYN unanswered: retransmitted with back-off, then ETIMEDOUT. */
static void test_connect_timeout(void **state)
{
	struct tcp_config cfg = {.syn_retries = 3, .rto_init_ns = 100 * MS};
	uint64_t t[5];
	struct tcp_conn *c;
	struct peer p;
	struct seg s;
	int n = 0;

	(void)state;
	stack_new(&cfg);
	peer_init(&p, 80, 0);
	assert_int_equal(tcp_connect(&stack, PEER_IP, 80, now_ns, &c), 0);
	pump();
	while (wire_get(&s) || n < 4) {
		if (s.flags == F_SYN) {
			t[n++] = now_ns;
			memset(&s, 0, sizeof(s));
			continue;
		}
		advance(10 * MS);
		if (now_ns > T0 + 10 * SEC)
			break;
	}
	assert_int_equal(n, 4); /* the first and three more */
	assert_true(t[1] - t[0] >= 100 * MS && t[1] - t[0] < 120 * MS);
	assert_true(t[2] - t[1] >= 200 * MS && t[2] - t[1] < 220 * MS);
	assert_true(t[3] - t[2] >= 400 * MS && t[3] - t[2] < 420 * MS);
	advance(2 * SEC);
	expect_event(c, TCP_EV_CLOSED);
	assert_int_equal(tcp_error(c), -ETIMEDOUT);
	assert_int_equal(tcp_state(c), TCP_CLOSED);
	assert_int_equal(tcp_send(c, "x", 1), -ETIMEDOUT);
	tcp_close(c);
	check_all_free();
	stack_free();
}

/* A RST answering our SYN: ECONNREFUSED. */
static void test_connect_refused(void **state)
{
	struct tcp_conn *c;
	struct peer p;
	struct seg s;

	(void)state;
	stack_new(NULL);
	peer_init(&p, 80, 0);
	assert_int_equal(tcp_connect(&stack, PEER_IP, 80, now_ns, &c), 0);
	pump();
	expect_seg(&p, &s, F_SYN);
	p.lport = s.sport;
	/* A RST whose ACK is not for our SYN is ignored (RFC 9293 §3.10.7.3). */
	assert_int_equal(peer_send_at(&p, F_RST | F_ACK, 0, s.seq + 5, NULL, 0), NET_RX_DROP);
	assert_int_equal(tcp_state(c), TCP_SYN_SENT);
	assert_int_equal(peer_send_at(&p, F_RST | F_ACK, 0, s.seq + 1, NULL, 0), NET_RX_CONSUMED);
	expect_event(c, TCP_EV_CLOSED);
	assert_int_equal(tcp_error(c), -ECONNREFUSED);
	assert_int_equal(tstats()->refused, 1);
	tcp_close(c);
	check_all_free();
	stack_free();
}

/* Both ends send SYN at once (RFC 9293 §3.5, figure 7). */
static void test_simultaneous_open(void **state)
{
	struct tcp_conn *c;
	struct peer p;
	struct seg s;
	uint32_t iss;

	(void)state;
	stack_new(NULL);
	peer_init(&p, 80, 0);
	assert_int_equal(tcp_connect(&stack, PEER_IP, 80, now_ns, &c), 0);
	pump();
	expect_seg(&p, &s, F_SYN);
	iss = s.seq;
	p.lport = s.sport;
	/* Its SYN crosses ours. */
	assert_int_equal(peer_send(&p, F_SYN, NULL, 0), NET_RX_CONSUMED);
	assert_int_equal(tcp_state(c), TCP_SYN_RECEIVED);
	pump();
	expect_seg(&p, &s, F_SYN | F_ACK);
	assert_int_equal(s.seq, iss);
	assert_int_equal(s.ack, p.seq);
	/* Its SYN-ACK (our SYN acknowledged) arrives. */
	p.ack = iss + 1;
	assert_int_equal(peer_send_at(&p, F_SYN | F_ACK, p.seq - 1, p.ack, NULL, 0),
			 NET_RX_DROP); /* a SYN again: challenged */
	assert_int_equal(peer_send(&p, F_ACK, NULL, 0), NET_RX_CONSUMED);
	assert_int_equal(tcp_state(c), TCP_ESTABLISHED);
	expect_event(c, TCP_EV_CONNECTED);
	tcp_abort(c);
	stack_free();
}

/* ---------------------------------------------------------------- data */

/* Data both ways: zero-copy receive, delayed and every-second-segment ACKs, send window. */
static void test_data_both_ways(void **state)
{
	static uint8_t big[20000], got[20000];
	struct tcp_listener *l;
	struct tcp_conn *c;
	const uint8_t *ptr;
	struct peer p;
	struct seg s;
	size_t n, total;

	(void)state;
	stack_new(NULL);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + (i >> 8));
	assert_int_equal(tcp_listen(&stack, PORT, 8, &l), 0);
	peer_init(&p, PPORT, PORT);
	c = open_passive(&p, l);

	/* One small segment: kept in its buffer, no ACK until the delayed-ACK timer. */
	assert_int_equal(peer_send(&p, F_ACK | F_PSH, hello, sizeof(hello)), NET_RX_KEPT);
	pump();
	expect_none();
	expect_event(c, TCP_EV_READ);
	n = tcp_peek(c, &ptr);
	assert_int_equal(n, sizeof(hello));
	assert_memory_equal(ptr, hello, n);
	assert_true(ptr >= pool && ptr < pool + (size_t)POOL_N * BUF_SZ); /* zero copy */
	assert_int_equal(tstats()->rx_held, 1);
	advance(39 * MS);
	expect_none();
	advance(2 * MS);
	expect_seg(&p, &s, F_ACK);
	assert_int_equal(s.ack, p.seq);
	assert_int_equal(tstats()->delayed_acks, 1);
	tcp_consume(c, 5);
	n = tcp_peek(c, &ptr);
	assert_int_equal(n, sizeof(hello) - 5);
	assert_memory_equal(ptr, hello + 5, n);
	tcp_consume(c, n);
	assert_int_equal(tstats()->rx_held, 0);
	assert_int_equal(tcp_peek(c, &ptr), 0);

	/* Full segments: an ACK for every second one. */
	for (int i = 0; i < 4; i++) {
		assert_int_equal(peer_send(&p, F_ACK, big + i * 1448, 1448), NET_RX_KEPT);
		pump();
		if (i % 2) {
			expect_seg(&p, &s, F_ACK);
			assert_int_equal(s.ack, p.seq);
		} else {
			expect_none();
		}
	}
	assert_int_equal(tcp_readable(c), 4 * 1448);
	assert_int_equal(read_all(c, got, sizeof(got)), 4 * 1448);
	assert_memory_equal(got, big, 4 * 1448);
	drain_events();

	/* Sending 20000 bytes: the initial window is 10 segments of 1448. */
	assert_int_equal(tcp_send(c, big, sizeof(big)), sizeof(big));
	pump();
	total = 0;
	for (int i = 0; i < 10; i++) {
		expect_seg(&p, &s, i == 9 ? F_ACK : F_ACK);
		assert_int_equal(s.seq, p.ack + total);
		assert_int_equal(s.len, 1448);
		assert_memory_equal(s.data, big + total, s.len);
		total += s.len;
	}
	expect_none();
	/* The peer acknowledges it all: the rest goes out, the last piece pushed. */
	p.ack += (uint32_t)total;
	assert_int_equal(peer_send(&p, F_ACK, NULL, 0), NET_RX_CONSUMED);
	assert_int_equal(tstats()->snd_bytes, sizeof(big) - total);
	pump();
	/* Three full segments; Nagle holds the last 1176 bytes while they are unacknowledged. */
	for (n = 0; n < 3 * 1448; n += s.len) {
		expect_seg(&p, &s, F_ACK);
		assert_int_equal(s.seq, p.ack + n);
		assert_int_equal(s.len, 1448);
		assert_memory_equal(s.data, big + total + n, 1448);
	}
	expect_none();
	p.ack += (uint32_t)n;
	total += n;
	assert_int_equal(peer_send(&p, F_ACK, NULL, 0), NET_RX_CONSUMED);
	pump();
	expect_seg(&p, &s, F_ACK | F_PSH);
	assert_int_equal(s.seq, p.ack);
	assert_int_equal(s.len, sizeof(big) - total);
	assert_memory_equal(s.data, big + total, s.len);
	n = s.len;
	p.ack += (uint32_t)n;
	assert_int_equal(peer_send(&p, F_ACK, NULL, 0), NET_RX_CONSUMED);
	assert_int_equal(tstats()->snd_bytes, 0);
	assert_int_equal(tstats()->snd_chunks, 0);
	tcp_abort(c);
	stack_free();
}

/* ---------------------------------------------------------------- closing */

/* A passive-open connection and its peer, established, events drained. */
static struct tcp_conn *setup_conn(struct peer *p, struct tcp_listener **l)
{
	struct tcp_conn *c;

	assert_int_equal(tcp_listen(&stack, PORT, 8, l), 0);
	peer_init(p, PPORT, PORT);
	c = open_passive(p, *l);
	drain_events();
	return c;
}

/*
 * We close first (RFC 9293 §3.6 figure 12, left): FIN-WAIT-1, FIN-WAIT-2,
 * TIME-WAIT for 2 MSL, then gone; the handle, kept, is told CLOSED.
 */
static void test_active_close(void **state)
{
	struct tcp_config cfg = {.time_wait_ns = 2 * SEC};
	struct tcp_listener *l;
	struct tcp_conn *c;
	struct peer p;
	struct seg s;
	uint8_t buf[64];

	(void)state;
	stack_new(&cfg);
	c = setup_conn(&p, &l);
	assert_int_equal(tcp_send(c, hello, sizeof(hello)), sizeof(hello));
	assert_int_equal(tcp_shutdown(c), 0);
	assert_int_equal(tcp_send(c, hello, 1), -EPIPE);
	pump();
	/* The data and the FIN ride in one segment. */
	expect_seg(&p, &s, F_ACK | F_PSH | F_FIN);
	assert_int_equal(s.len, sizeof(hello));
	assert_int_equal(tcp_state(c), TCP_FIN_WAIT_1);
	p.ack = s.seq + s.len + 1;
	assert_int_equal(peer_send(&p, F_ACK, NULL, 0), NET_RX_CONSUMED);
	assert_int_equal(tcp_state(c), TCP_FIN_WAIT_2);
	/* Half-closed: the peer still sends, we still receive. */
	assert_int_equal(peer_send(&p, F_ACK, hello, 10), NET_RX_KEPT);
	assert_int_equal(tcp_recv(c, buf, sizeof(buf)), 10);
	assert_int_equal(peer_send(&p, F_ACK | F_FIN, NULL, 0), NET_RX_CONSUMED);
	assert_int_equal(tcp_state(c), TCP_TIME_WAIT);
	assert_true(tcp_eof(c));
	assert_int_equal(tstats()->time_wait, 1);
	pump();
	expect_seg(&p, &s, F_ACK);
	assert_int_equal(s.ack, p.seq);
	/* The FIN again (our ACK was lost): ACKed again, 2 MSL from now. */
	advance(SEC);
	assert_int_equal(peer_send_at(&p, F_ACK | F_FIN, p.seq - 1, p.ack, NULL, 0),
			 NET_RX_CONSUMED);
	expect_seg(&p, &s, F_ACK);
	advance(SEC + 500 * MS);
	assert_int_equal(tcp_state(c), TCP_TIME_WAIT);
	advance(600 * MS);
	assert_int_equal(tcp_state(c), TCP_CLOSED);
	assert_int_equal(tstats()->time_wait, 0);
	expect_event(c, TCP_EV_CLOSED);
	assert_int_equal(tcp_error(c), 0);
	tcp_close(c);
	check_all_free();
	stack_free();
}

/*
 * The peer closes first (figure 12, right): CLOSE-WAIT with EOF, our close
 * sends the FIN, LAST-ACK, gone when it is acknowledged.
 */
static void test_passive_close(void **state)
{
	struct tcp_listener *l;
	struct tcp_conn *c;
	struct peer p;
	struct seg s;
	uint8_t buf[64];

	(void)state;
	stack_new(NULL);
	c = setup_conn(&p, &l);
	assert_int_equal(peer_send(&p, F_ACK | F_PSH | F_FIN, hello, sizeof(hello)), NET_RX_KEPT);
	assert_int_equal(tcp_state(c), TCP_CLOSE_WAIT);
	pump();
	expect_seg(&p, &s, F_ACK); /* the FIN is acknowledged at once */
	assert_int_equal(s.ack, p.seq);
	expect_event(c, TCP_EV_READ);
	assert_false(tcp_eof(c));
	assert_int_equal(tcp_recv(c, buf, sizeof(buf)), sizeof(hello));
	assert_true(tcp_eof(c));
	/* Half-closed the other way: we may still send. */
	assert_int_equal(tcp_send(c, "reply", 5), 5);
	tcp_close(c);
	pump();
	expect_seg(&p, &s, F_ACK | F_PSH | F_FIN);
	assert_int_equal(s.len, 5);
	assert_int_equal(tstats()->conns, 1);
	p.ack = s.seq + 6;
	assert_int_equal(peer_send(&p, F_ACK, NULL, 0), NET_RX_CONSUMED);
	check_all_free();
	stack_free();
}

/* Both FINs cross (figure 13): CLOSING, then TIME-WAIT. */
static void test_simultaneous_close(void **state)
{
	struct tcp_config cfg = {.time_wait_ns = SEC};
	struct tcp_listener *l;
	struct tcp_conn *c;
	struct peer p;
	struct seg s;

	(void)state;
	stack_new(&cfg);
	c = setup_conn(&p, &l);
	tcp_close(c);
	pump();
	expect_seg(&p, &s, F_ACK | F_FIN);
	/* The peer's FIN, not acknowledging ours. */
	assert_int_equal(peer_send(&p, F_ACK | F_FIN, NULL, 0), NET_RX_CONSUMED);
	pump();
	expect_seg(&p, &s, F_ACK);
	assert_int_equal(s.ack, p.seq);
	/* Its ACK of our FIN. */
	p.ack = s.seq;
	assert_int_equal(peer_send(&p, F_ACK, NULL, 0), NET_RX_CONSUMED);
	assert_int_equal(tstats()->time_wait, 1);
	advance(SEC + 10 * MS);
	check_all_free();
	stack_free();
}

/* FIN-WAIT-1 receives FIN and the ACK of ours together: straight to TIME-WAIT. */
static void test_fin_ack_together(void **state)
{
	struct tcp_config cfg = {.time_wait_ns = SEC};
	struct tcp_listener *l;
	struct tcp_conn *c;
	struct peer p;
	struct seg s;

	(void)state;
	stack_new(&cfg);
	c = setup_conn(&p, &l);
	assert_int_equal(tcp_shutdown(c), 0);
	pump();
	expect_seg(&p, &s, F_ACK | F_FIN);
	p.ack = s.seq + 1;
	assert_int_equal(peer_send(&p, F_ACK | F_FIN, NULL, 0), NET_RX_CONSUMED);
	assert_int_equal(tcp_state(c), TCP_TIME_WAIT);
	tcp_close(c);
	pump();
	expect_seg(&p, &s, F_ACK);
	advance(SEC + 10 * MS);
	check_all_free();
	stack_free();
}

/* Closing with unread data, and data arriving after a close: RST (RFC 2525 §2.17). */
static void test_close_resets(void **state)
{
	struct tcp_listener *l;
	struct tcp_conn *c;
	struct peer p, q;
	struct seg s;

	(void)state;
	stack_new(NULL);
	c = setup_conn(&p, &l);
	assert_int_equal(peer_send(&p, F_ACK, hello, sizeof(hello)), NET_RX_KEPT);
	tcp_close(c);
	expect_seg(&p, &s, F_RST | F_ACK);
	assert_int_equal(s.seq, p.ack);
	check_all_free();

	peer_init(&q, PPORT + 1, PORT);
	c = open_passive(&q, l);
	tcp_close(c);
	pump();
	expect_seg(&q, &s, F_ACK | F_FIN);
	q.ack = s.seq + 1;
	assert_int_equal(peer_send(&q, F_ACK, hello, 5), NET_RX_DROP);
	assert_int_equal(stack.stats.rx_tcp_closing, 1);
	expect_seg(&q, &s, F_RST | F_ACK);
	check_all_free();
	tcp_unlisten(l);
	stack_free();
}

/* An orphaned FIN-WAIT-2 (the peer never closes) is given up after fin_wait_ns. */
static void test_fin_wait_2_timeout(void **state)
{
	struct tcp_config cfg = {.fin_wait_ns = 3 * SEC};
	struct tcp_listener *l;
	struct tcp_conn *c;
	struct peer p;
	struct seg s;

	(void)state;
	stack_new(&cfg);
	c = setup_conn(&p, &l);
	tcp_close(c);
	pump();
	expect_seg(&p, &s, F_ACK | F_FIN);
	p.ack = s.seq + 1;
	assert_int_equal(peer_send(&p, F_ACK, NULL, 0), NET_RX_CONSUMED);
	assert_int_equal(tstats()->conns, 1);
	advance(2 * SEC);
	assert_int_equal(tstats()->conns, 1);
	advance(SEC + 10 * MS);
	check_all_free();
	stack_free();
}

/* ---------------------------------------------------------------- resets */

/* RFC 5961 §3.2: only a RST at exactly rcv_nxt resets; one in the window is challenged. */
static void test_rst_checks(void **state)
{
	struct tcp_listener *l;
	struct tcp_conn *c;
	struct peer p;
	struct seg s;

	(void)state;
	stack_new(NULL);
	c = setup_conn(&p, &l);
	/* Outside the window: ignored, no answer. */
	assert_int_equal(peer_send_at(&p, F_RST, p.seq + 200000, 0, NULL, 0), NET_RX_DROP);
	assert_int_equal(stack.stats.rx_tcp_rst_ignored, 1);
	pump();
	expect_none();
	/* In the window, not exact: a challenge ACK, no reset. */
	assert_int_equal(peer_send_at(&p, F_RST, p.seq + 100, 0, NULL, 0), NET_RX_DROP);
	assert_int_equal(stack.stats.rx_tcp_rst_challenged, 1);
	expect_seg(&p, &s, F_ACK);
	assert_int_equal(s.ack, p.seq);
	assert_int_equal(tcp_state(c), TCP_ESTABLISHED);
	assert_int_equal(tstats()->challenge_acks, 1);
	/* Exact: reset. */
	assert_int_equal(peer_send_at(&p, F_RST, p.seq, 0, NULL, 0), NET_RX_CONSUMED);
	expect_event(c, TCP_EV_CLOSED);
	assert_int_equal(tcp_error(c), -ECONNRESET);
	assert_int_equal(tcp_recv(c, s.data, 1), -ECONNRESET);
	assert_int_equal(tstats()->resets_rx, 1);
	tcp_close(c);
	check_all_free();
	stack_free();
}

/* RFC 5961 §4.2: a SYN on an established connection gets a challenge ACK, whatever its seq. */
static void test_syn_challenge(void **state)
{
	struct tcp_listener *l;
	struct tcp_conn *c;
	struct peer p;
	struct seg s;

	(void)state;
	stack_new(NULL);
	c = setup_conn(&p, &l);
	assert_int_equal(peer_send_at(&p, F_SYN, p.seq + 10, 0, NULL, 0), NET_RX_DROP);
	assert_int_equal(stack.stats.rx_tcp_syn_challenged, 1);
	expect_seg(&p, &s, F_ACK);
	assert_int_equal(s.ack, p.seq);
	assert_int_equal(peer_send_at(&p, F_SYN, p.seq - 1000, 0, NULL, 0), NET_RX_DROP);
	expect_seg(&p, &s, F_ACK); /* out of the window: an ACK as for any bad segment */
	assert_int_equal(tcp_state(c), TCP_ESTABLISHED);
	tcp_abort(c);
	stack_free();
}

/* RFC 9293 §3.10.7.1: no connection, no listener: RST, built in the segment's own buffer. */
static void test_closed_port(void **state)
{
	struct peer p;
	struct seg s;

	(void)state;
	stack_new(NULL);
	peer_init(&p, PPORT, 9999);
	assert_int_equal(peer_send(&p, F_SYN, NULL, 0), NET_RX_REPLY);
	expect_seg(&p, &s, F_RST | F_ACK);
	assert_int_equal(s.seq, 0);
	assert_int_equal(s.ack, p.seq);
	assert_int_equal(peer_send_at(&p, F_ACK, 777, 12345, "x", 1), NET_RX_REPLY);
	expect_seg(&p, &s, F_RST);
	assert_int_equal(s.seq, 12345);
	assert_int_equal(peer_send_at(&p, F_RST, 777, 0, NULL, 0), NET_RX_DROP);
	assert_int_equal(stack.stats.rx_tcp_no_port, 1);
	expect_none();
	assert_int_equal(tstats()->resets_tx, 2);
	/* Without TCP at all, the same. */
	net_fini(&stack);
	assert_null(stack.tcp);
	assert_int_equal(peer_send(&p, F_SYN, NULL, 0), NET_RX_REPLY);
	expect_seg(&p, &s, F_RST | F_ACK);
	stack_free();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_passive_open),
	    cmocka_unit_test(test_active_open),
	    cmocka_unit_test(test_connect_timeout),
	    cmocka_unit_test(test_connect_refused),
	    cmocka_unit_test(test_simultaneous_open),
	    cmocka_unit_test(test_data_both_ways),
	    cmocka_unit_test(test_active_close),
	    cmocka_unit_test(test_passive_close),
	    cmocka_unit_test(test_simultaneous_close),
	    cmocka_unit_test(test_fin_ack_together),
	    cmocka_unit_test(test_close_resets),
	    cmocka_unit_test(test_fin_wait_2_timeout),
	    cmocka_unit_test(test_rst_checks),
	    cmocka_unit_test(test_syn_challenge),
	    cmocka_unit_test(test_closed_port),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
