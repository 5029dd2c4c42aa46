/* SPDX-License-Identifier: GPL-2.0-or-later */
/* detect.h - is a TCP connection SMTP? Its first bytes, tunnels stepped over.
 */
#ifndef SMTPSCOPE_DETECT_H
#define SMTPSCOPE_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DET_BUF	   2048 /* bytes held per side while a connection is looked at */
#define DET_LINE   512	/* an SMTP first line must be told apart within this */
#define DET_CHUNKS 32	/* turns of the sides remembered, to replay in order */
#define DET_TARGET 272	/* "host:port" of a tunnel, NUL included */

/* What the bytes so far say. */
enum det_verdict {
	DET_MORE,     /* undecided: more bytes needed */
	DET_SMTP,     /* decode it: det.client is the SMTP client's side */
	DET_NOT_SMTP, /* drop it */
};

/* A tunnel stepped over: enum name, JSON string. */
#define DET_TUNNEL_LIST(X)                                                     \
	X(DET_TUNNEL_NONE, NULL)                                               \
	X(DET_TUNNEL_HTTP, "http-connect")                                     \
	X(DET_TUNNEL_SOCKS4, "socks4")                                         \
	X(DET_TUNNEL_SOCKS5, "socks5")

enum det_tunnel {
#define X(e, s) e,
	DET_TUNNEL_LIST(X)
#undef X
};

/*
 * One connection being looked at. Sides are 0 and 1 (the caller's
 * directions); nothing here knows about libnids. Zeroed, then det_init().
 */
struct det {
	bool listed;   /* a port says SMTP: only a tunnel is looked for */
	int8_t client; /* side of the (tunnel's, then SMTP) client; -1 */
	int8_t first;  /* side whose bytes came first; -1 */
	bool stepped;  /* the tunnel stage is over */
	enum det_tunnel tunnel;
	char target[DET_TARGET]; /* printable ASCII; "" if none */
	uint16_t len[2];	 /* bytes held */
	uint16_t skip[2];	 /* bytes of a tunnel handshake, not replayed */
	bool full[2];		 /* bytes were lost for want of room */
	size_t kept;		 /* bytes of the last det_push() held */
	uint8_t nchunks;
	bool chunks_full;
	struct {
		uint8_t side;
		uint16_t end; /* end offset in buf[side] */
		int64_t ts;   /* when its last byte came, and in which packet */
		uint64_t pkt;
	} chunk[DET_CHUNKS];
	uint8_t buf[2][DET_BUF];
};

/* listed: the port is an SMTP one and side client (0 or 1) its client. */
void det_init(struct det *d, bool listed, int client);
/*
 * Bytes of one side, in order, and what they say so far. The first
 * d->kept bytes are held (det_replay); on DET_SMTP the caller passes the
 * rest on itself.
 */
enum det_verdict det_push(struct det *d, int side, const uint8_t *p, size_t n,
			  int64_t ts, uint64_t pkt);
/* What to make of a connection that ends or has a hole while undecided. */
enum det_verdict det_give_up(const struct det *d);
/* Call fn with every byte held, sides interleaved as they came, the tunnel
 * handshake left out. */
void det_replay(const struct det *d,
		void (*fn)(void *user, int side, const uint8_t *p, size_t n,
			   int64_t ts, uint64_t pkt),
		void *user);
/* "http-connect", "socks4", "socks5"; NULL for none. */
const char *det_tunnel_str(enum det_tunnel t);
/* Could a connection whose first client byte is c be a tunnel? */
bool det_tunnel_start(uint8_t c);

#endif
