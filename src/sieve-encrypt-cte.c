/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "base64.h"

#include "sieve-encrypt-cte.h"

/* Decoded bytes are passed on in pieces of up to this size */
#define CTE_OUT_SIZE 256
/* The most spaces and tabs between "=" and the line end of a soft line
   break (a quoted-printable line's worth) */
#define QP_MAX_PADDING 76

enum qp_state {
	QP_TEXT = 0,
	/* after "=" */
	QP_EQUALS,
	/* after "=" and a hex digit */
	QP_HEX,
	/* after "=" and white space */
	QP_SPACE,
	/* after "=", maybe white space, and CR */
	QP_CR
};

struct sieve_encrypt_cte_decoder {
	struct sieve_encrypt_sink sink;
	struct sieve_encrypt_sink *next;

	unsigned char out[CTE_OUT_SIZE];
	size_t out_used;

	/* base64: the sextets of the current group, and the "=" after them */
	uint32_t group;
	unsigned int sextets, padding;

	/* quoted-printable: what follows a "=" until it is clear what the
	   "=" means */
	enum qp_state qp_state;
	/* "=", the padding, CR */
	unsigned char qp_pending[1 + QP_MAX_PADDING + 1];
	size_t qp_pending_used;
};

enum sieve_encrypt_cte sieve_encrypt_cte_from_name(const char *name)
{
	if (name == NULL || strcasecmp(name, "7bit") == 0 ||
	    strcasecmp(name, "8bit") == 0 || strcasecmp(name, "binary") == 0)
		return SIEVE_ENCRYPT_CTE_IDENTITY;
	if (strcasecmp(name, "base64") == 0)
		return SIEVE_ENCRYPT_CTE_BASE64;
	if (strcasecmp(name, "quoted-printable") == 0)
		return SIEVE_ENCRYPT_CTE_QUOTED_PRINTABLE;
	return SIEVE_ENCRYPT_CTE_UNKNOWN;
}

static bool cte_flush(struct sieve_encrypt_cte_decoder *dec)
{
	size_t size = dec->out_used;

	dec->out_used = 0;
	return (size == 0 ||
		sieve_encrypt_sink_write(dec->next, dec->out, size));
}

static bool cte_emit(struct sieve_encrypt_cte_decoder *dec, unsigned char c)
{
	dec->out[dec->out_used++] = c;
	return (dec->out_used < sizeof(dec->out) || cte_flush(dec));
}

static bool cte_finish(struct sieve_encrypt_cte_decoder *dec)
{
	return cte_flush(dec) && sieve_encrypt_sink_finish(dec->next);
}

/*
 * base64
 */

static bool cte_base64_pad(struct sieve_encrypt_cte_decoder *dec)
{
	if (dec->padding > 0) {
		/* more "=" than the group has room for */
		if (dec->sextets + dec->padding >= 4)
			return FALSE;
		dec->padding++;
		return TRUE;
	}
	/* "xx==" holds one byte, "xxx=" two */
	if (dec->sextets < 2)
		return FALSE;
	dec->padding = 1;
	if (dec->sextets == 2)
		return cte_emit(dec, (dec->group >> 4) & 0xff);
	return (cte_emit(dec, (dec->group >> 10) & 0xff) &&
		cte_emit(dec, (dec->group >> 2) & 0xff));
}

static bool
cte_base64_char(struct sieve_encrypt_cte_decoder *dec, unsigned char c)
{
	unsigned char value;

	if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
		return TRUE;
	if (c == '=')
		return cte_base64_pad(dec);
	value = base64_scheme.decmap[c];
	if (value == 0xff || dec->padding > 0)
		return FALSE;
	dec->group = (dec->group << 6) | value;
	if (++dec->sextets < 4)
		return TRUE;
	dec->sextets = 0;
	return (cte_emit(dec, (dec->group >> 16) & 0xff) &&
		cte_emit(dec, (dec->group >> 8) & 0xff) &&
		cte_emit(dec, dec->group & 0xff));
}

static bool
cte_base64_write(struct sieve_encrypt_sink *sink,
		 const unsigned char *data, size_t size)
{
	struct sieve_encrypt_cte_decoder *dec =
		(struct sieve_encrypt_cte_decoder *)sink;
	size_t i;

	for (i = 0; i < size; i++) {
		if (!cte_base64_char(dec, data[i]))
			return FALSE;
	}
	return cte_flush(dec);
}

static bool cte_base64_finish(struct sieve_encrypt_sink *sink)
{
	struct sieve_encrypt_cte_decoder *dec =
		(struct sieve_encrypt_cte_decoder *)sink;
	bool complete = (dec->padding > 0 ?
			 dec->sextets + dec->padding == 4 :
			 dec->sextets == 0);

	return complete && cte_finish(dec);
}

/*
 * quoted-printable
 */

static int qp_hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static void cte_qp_pend(struct sieve_encrypt_cte_decoder *dec,
			unsigned char c, enum qp_state state)
{
	i_assert(dec->qp_pending_used < sizeof(dec->qp_pending));
	dec->qp_pending[dec->qp_pending_used++] = c;
	dec->qp_state = state;
}

/* The pending "=..." is no escape: it stands for itself */
static bool cte_qp_literal(struct sieve_encrypt_cte_decoder *dec)
{
	size_t i;

	dec->qp_state = QP_TEXT;
	for (i = 0; i < dec->qp_pending_used; i++) {
		if (!cte_emit(dec, dec->qp_pending[i]))
			return FALSE;
	}
	dec->qp_pending_used = 0;
	return TRUE;
}

/* Back to text, nothing pending: after an escape and after a soft line
   break (which stands for nothing) */
static void cte_qp_reset(struct sieve_encrypt_cte_decoder *dec)
{
	dec->qp_state = QP_TEXT;
	dec->qp_pending_used = 0;
}

static bool
cte_qp_char(struct sieve_encrypt_cte_decoder *dec, unsigned char c);

/* c follows "=" and maybe white space */
static bool
cte_qp_after_equals(struct sieve_encrypt_cte_decoder *dec, unsigned char c)
{
	switch (c) {
	case ' ':
	case '\t':
		if (dec->qp_pending_used - 1 < QP_MAX_PADDING) {
			cte_qp_pend(dec, c, QP_SPACE);
			return TRUE;
		}
		break;
	case '\r':
		cte_qp_pend(dec, c, QP_CR);
		return TRUE;
	case '\n':
		cte_qp_reset(dec);
		return TRUE;
	}
	return cte_qp_literal(dec) && cte_qp_char(dec, c);
}

static bool
cte_qp_char(struct sieve_encrypt_cte_decoder *dec, unsigned char c)
{
	unsigned char value;

	switch (dec->qp_state) {
	case QP_TEXT:
		if (c != '=')
			return cte_emit(dec, c);
		cte_qp_pend(dec, c, QP_EQUALS);
		return TRUE;
	case QP_EQUALS:
		if (qp_hex_value(c) >= 0) {
			cte_qp_pend(dec, c, QP_HEX);
			return TRUE;
		}
		return cte_qp_after_equals(dec, c);
	case QP_HEX:
		if (qp_hex_value(c) < 0)
			return cte_qp_literal(dec) && cte_qp_char(dec, c);
		value = (qp_hex_value(dec->qp_pending[1]) << 4) |
			qp_hex_value(c);
		cte_qp_reset(dec);
		return cte_emit(dec, value);
	case QP_SPACE:
		return cte_qp_after_equals(dec, c);
	case QP_CR:
		if (c == '\n') {
			cte_qp_reset(dec);
			return TRUE;
		}
		return cte_qp_literal(dec) && cte_qp_char(dec, c);
	}
	i_unreached();
}

static bool
cte_qp_write(struct sieve_encrypt_sink *sink,
	     const unsigned char *data, size_t size)
{
	struct sieve_encrypt_cte_decoder *dec =
		(struct sieve_encrypt_cte_decoder *)sink;
	size_t i;

	for (i = 0; i < size; i++) {
		if (!cte_qp_char(dec, data[i]))
			return FALSE;
	}
	return cte_flush(dec);
}

static bool cte_qp_finish(struct sieve_encrypt_sink *sink)
{
	struct sieve_encrypt_cte_decoder *dec =
		(struct sieve_encrypt_cte_decoder *)sink;

	switch (dec->qp_state) {
	case QP_TEXT:
		break;
	case QP_EQUALS:
	case QP_SPACE:
		/* a soft line break at the end of the data */
		cte_qp_reset(dec);
		break;
	case QP_HEX:
	case QP_CR:
		if (!cte_qp_literal(dec))
			return FALSE;
		break;
	}
	return cte_finish(dec);
}

struct sieve_encrypt_sink *
sieve_encrypt_cte_decoder_create(enum sieve_encrypt_cte cte,
				 struct sieve_encrypt_sink *next)
{
	struct sieve_encrypt_cte_decoder *dec;

	i_assert(cte != SIEVE_ENCRYPT_CTE_UNKNOWN);
	if (cte == SIEVE_ENCRYPT_CTE_IDENTITY)
		return next;

	dec = t_new(struct sieve_encrypt_cte_decoder, 1);
	dec->next = next;
	if (cte == SIEVE_ENCRYPT_CTE_BASE64) {
		dec->sink.write = cte_base64_write;
		dec->sink.finish = cte_base64_finish;
	} else {
		dec->sink.write = cte_qp_write;
		dec->sink.finish = cte_qp_finish;
	}
	return &dec->sink;
}
