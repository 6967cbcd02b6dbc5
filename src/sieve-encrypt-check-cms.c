/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"

#include "sieve-encrypt-check-cms.h"

/* X.690 identifier octets */
#define BER_SEQUENCE 0x30
#define BER_OID 0x06
#define BER_CONSTRUCTED 0x20
#define BER_HIGH_TAG 0x1f
/* Length octets: the indefinite form, and the most octets of the long
   form read here (4 GiB is more than any message) */
#define BER_INDEFINITE 0x80
#define BER_MAX_LENGTH_OCTETS 4
#define BER_MAX_TAG_OCTETS 4

/* The contentType values of encrypted content, DER-encoded */
static const unsigned char cms_oid_enveloped_data[] = {
	/* 1.2.840.113549.1.7.3 */
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03
};
static const unsigned char cms_oid_auth_enveloped_data[] = {
	/* 1.2.840.113549.1.9.16.1.23 */
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x17
};
#define CMS_OID_MAX sizeof(cms_oid_auth_enveloped_data)

enum cms_state {
	/* an element's identifier octet(s) */
	CMS_TAG = 0,
	CMS_TAG_MORE,
	/* its length octet(s) */
	CMS_LENGTH,
	CMS_LENGTH_MORE,
	/* the contentType's value */
	CMS_OID,
	/* an element's value, skipped */
	CMS_VALUE,
	/* the rest of a definite-length ContentInfo, skipped */
	CMS_REST,
	/* after the ContentInfo: nothing may follow */
	CMS_END
};

struct cms_check {
	struct sieve_encrypt_sink sink;
	enum cms_state state;

	/* elements begun: 1 is the ContentInfo, 2 its contentType */
	unsigned int elements;
	/* open indefinite-length elements */
	unsigned int depth;
	/* the ContentInfo's length when definite */
	uoff_t content_info_length;
	bool content_info_definite;

	/* the current element */
	unsigned char tag;
	unsigned int tag_octets, length_octets, length_have;
	uoff_t length;

	unsigned char oid[CMS_OID_MAX];
	size_t oid_have;
};

static bool cms_oid_is_encrypted(const struct cms_check *check)
{
	return ((check->length == sizeof(cms_oid_enveloped_data) &&
		 memcmp(check->oid, cms_oid_enveloped_data,
			check->length) == 0) ||
		(check->length == sizeof(cms_oid_auth_enveloped_data) &&
		 memcmp(check->oid, cms_oid_auth_enveloped_data,
			check->length) == 0));
}

static bool cms_tag(struct cms_check *check, unsigned char c)
{
	check->elements++;
	if (check->elements == 1 && c != BER_SEQUENCE)
		return FALSE;
	if (check->elements == 2 && c != BER_OID)
		return FALSE;
	check->tag = c;
	check->tag_octets = 1;
	check->state = ((c & BER_HIGH_TAG) == BER_HIGH_TAG ?
			CMS_TAG_MORE : CMS_LENGTH);
	return TRUE;
}

static bool cms_tag_more(struct cms_check *check, unsigned char c)
{
	if (++check->tag_octets > BER_MAX_TAG_OCTETS)
		return FALSE;
	if ((c & 0x80) == 0)
		check->state = CMS_LENGTH;
	return TRUE;
}

/* An indefinite-length element begins: its elements follow */
static bool cms_open_indefinite(struct cms_check *check)
{
	/* only constructed elements have the indefinite form; the
	   contentType is primitive */
	if ((check->tag & BER_CONSTRUCTED) == 0)
		return FALSE;
	check->depth++;
	check->state = CMS_TAG;
	return TRUE;
}

/* The end-of-contents octets (tag 0, length 0) */
static bool cms_end_of_contents(struct cms_check *check)
{
	if (check->length != 0 || check->depth == 0)
		return FALSE;
	check->depth--;
	check->state = (check->depth == 0 ? CMS_END : CMS_TAG);
	return TRUE;
}

/* The contentType has been read: skip the rest */
static bool cms_oid_done(struct cms_check *check)
{
	/* the contentType element: tag, length octets, value */
	uoff_t oid_size = 1 + 1 + check->length_octets + check->length;

	if (!cms_oid_is_encrypted(check))
		return FALSE;
	if (!check->content_info_definite) {
		check->state = CMS_TAG;
		return TRUE;
	}
	if (check->content_info_length < oid_size)
		return FALSE;
	check->length = check->content_info_length - oid_size;
	check->state = CMS_REST;
	if (check->length == 0)
		check->state = CMS_END;
	return TRUE;
}

/* The length of an element with a definite length is known */
static bool cms_length_done(struct cms_check *check)
{
	if (check->tag == 0)
		return cms_end_of_contents(check);
	switch (check->elements) {
	case 1:
		check->content_info_definite = TRUE;
		check->content_info_length = check->length;
		check->state = CMS_TAG;
		return TRUE;
	case 2:
		check->oid_have = 0;
		check->state = CMS_OID;
		return (check->length == sizeof(cms_oid_enveloped_data) ||
			check->length == sizeof(cms_oid_auth_enveloped_data));
	}
	check->state = (check->length == 0 ? CMS_TAG : CMS_VALUE);
	return TRUE;
}

static bool cms_length(struct cms_check *check, unsigned char c)
{
	check->length_octets = 0;
	check->length = 0;
	if (c == BER_INDEFINITE)
		return (check->tag != 0 && cms_open_indefinite(check));
	if (c < 0x80) {
		check->length = c;
		return cms_length_done(check);
	}
	check->length_octets = c & 0x7f;
	check->length_have = 0;
	check->state = CMS_LENGTH_MORE;
	return (check->length_octets <= BER_MAX_LENGTH_OCTETS);
}

static bool cms_length_more(struct cms_check *check, unsigned char c)
{
	check->length = (check->length << 8) | c;
	if (++check->length_have < check->length_octets)
		return TRUE;
	return cms_length_done(check);
}

static bool cms_oid(struct cms_check *check, unsigned char c)
{
	check->oid[check->oid_have++] = c;
	if (check->oid_have < check->length)
		return TRUE;
	return cms_oid_done(check);
}

static bool cms_octet(struct cms_check *check, unsigned char c)
{
	switch (check->state) {
	case CMS_TAG:
		return cms_tag(check, c);
	case CMS_TAG_MORE:
		return cms_tag_more(check, c);
	case CMS_LENGTH:
		return cms_length(check, c);
	case CMS_LENGTH_MORE:
		return cms_length_more(check, c);
	case CMS_OID:
		return cms_oid(check, c);
	case CMS_VALUE:
	case CMS_REST:
	case CMS_END:
		break;
	}
	i_unreached();
}

/* Skip up to size bytes of the value being skipped; returns how many */
static size_t cms_skip(struct cms_check *check, size_t size)
{
	size_t n = I_MIN(check->length, size);

	check->length -= n;
	if (check->length == 0)
		check->state = (check->state == CMS_REST ? CMS_END : CMS_TAG);
	return n;
}

static bool
cms_check_write(struct sieve_encrypt_sink *sink,
		const unsigned char *data, size_t size)
{
	struct cms_check *check = (struct cms_check *)sink;
	size_t n;

	while (size > 0) {
		switch (check->state) {
		case CMS_END:
			return FALSE;
		case CMS_VALUE:
		case CMS_REST:
			n = cms_skip(check, size);
			break;
		default:
			if (!cms_octet(check, *data))
				return FALSE;
			n = 1;
			break;
		}
		data += n;
		size -= n;
	}
	return TRUE;
}

static bool cms_check_finish(struct sieve_encrypt_sink *sink)
{
	struct cms_check *check = (struct cms_check *)sink;

	return (check->state == CMS_END);
}

struct sieve_encrypt_sink *sieve_encrypt_cms_check_create(void)
{
	struct cms_check *check = t_new(struct cms_check, 1);

	check->sink.write = cms_check_write;
	check->sink.finish = cms_check_finish;
	return &check->sink;
}
