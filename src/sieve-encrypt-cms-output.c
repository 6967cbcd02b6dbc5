/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "array.h"
#include "buffer.h"
#include "hex-binary.h"

#include "sieve-encrypt-sink.h"
#include "sieve-encrypt-check-cms.h"
#include "sieve-encrypt-cms-output.h"

/* X.690 identifier octets */
#define BER_INTEGER 0x02
#define BER_OCTET_STRING 0x04
#define BER_OID 0x06
#define BER_SEQUENCE 0x30
#define BER_SET 0x31
#define BER_CONTEXT_0 0xa0
#define BER_INDEFINITE 0x80

/* id-envelopedData, 1.2.840.113549.1.7.3 */
static const unsigned char cms_oid_enveloped_data[] = {
	0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03
};

struct cms_expected {
	buffer_t *serial;
	bool found;
};

struct sieve_encrypt_cms_output {
	/* the whole structure: complete, enveloped-data, nothing after */
	struct sieve_encrypt_sink *structure;
	bool structure_failed;
	/* the first bytes, with the RecipientInfos */
	buffer_t *head;
	ARRAY(struct cms_expected) expected;
};

/* One BER element within [p, end) */
struct ber_element {
	unsigned char tag;
	/* the value; end is the enclosing end when indefinite */
	const unsigned char *value, *end;
	bool indefinite;
};

struct sieve_encrypt_cms_output *sieve_encrypt_cms_output_create(void)
{
	struct sieve_encrypt_cms_output *check;

	check = i_new(struct sieve_encrypt_cms_output, 1);
	check->structure = sieve_encrypt_cms_check_create();
	check->head = buffer_create_dynamic(default_pool, 4096);
	i_array_init(&check->expected, 4);
	return check;
}

void sieve_encrypt_cms_output_free(struct sieve_encrypt_cms_output **_check)
{
	struct sieve_encrypt_cms_output *check = *_check;
	struct cms_expected *exp;

	if (check == NULL)
		return;
	*_check = NULL;
	array_foreach_modifiable(&check->expected, exp)
		buffer_free(&exp->serial);
	array_free(&check->expected);
	buffer_free(&check->head);
	i_free(check);
}

/* The serial number's octets without leading zero octets (DER adds one
   before a high bit; listings may or may not show it) */
static void serial_normalize(buffer_t *serial)
{
	const unsigned char *p = serial->data;
	size_t skip = 0;

	while (skip + 1 < serial->used && p[skip] == 0)
		skip++;
	buffer_delete(serial, 0, skip);
}

void sieve_encrypt_cms_output_expect(struct sieve_encrypt_cms_output *check,
				     const char *serial_hex)
{
	struct cms_expected *exp = array_append_space(&check->expected);

	exp->serial = buffer_create_dynamic(default_pool, 32);
	/* an odd or invalid hex string matches no serial number */
	if (hex_to_binary(serial_hex, exp->serial) < 0)
		buffer_set_used_size(exp->serial, 0);
	serial_normalize(exp->serial);
}

void sieve_encrypt_cms_output_feed(struct sieve_encrypt_cms_output *check,
				   const void *data, size_t size)
{
	size_t room = SIEVE_ENCRYPT_CMS_OUTPUT_HEAD_MAX - check->head->used;

	if (room > 0)
		buffer_append(check->head, data, I_MIN(room, size));
	if (!check->structure_failed &&
	    !sieve_encrypt_sink_write(check->structure, data, size))
		check->structure_failed = TRUE;
}

/*
 * The RecipientInfos
 */

/* Read the element at *p; FALSE when it does not fit before end */
static bool
ber_read(const unsigned char **p, const unsigned char *end,
	 struct ber_element *elem_r)
{
	const unsigned char *q = *p;
	size_t len = 0;
	unsigned int n;

	if (end - q < 2)
		return FALSE;
	elem_r->tag = *q++;
	/* no high tag numbers in the elements looked at */
	if ((elem_r->tag & 0x1f) == 0x1f)
		return FALSE;
	if (*q == BER_INDEFINITE) {
		if ((elem_r->tag & 0x20) == 0)
			return FALSE;
		elem_r->indefinite = TRUE;
		elem_r->value = q + 1;
		elem_r->end = end;
		*p = end;
		return TRUE;
	}
	elem_r->indefinite = FALSE;
	if ((*q & 0x80) == 0) {
		len = *q++;
	} else {
		n = *q++ & 0x7f;
		if (n == 0 || n > 4 || (size_t)(end - q) < n)
			return FALSE;
		for (; n > 0; n--)
			len = (len << 8) | *q++;
	}
	if ((size_t)(end - q) < len)
		return FALSE;
	elem_r->value = q;
	elem_r->end = q + len;
	*p = q + len;
	return TRUE;
}

/* Read an element of the given tag; a definite one only, unless
   indefinite_ok */
static bool
ber_expect(const unsigned char **p, const unsigned char *end,
	   unsigned char tag, bool indefinite_ok, struct ber_element *elem_r)
{
	return (ber_read(p, end, elem_r) && elem_r->tag == tag &&
		(indefinite_ok || !elem_r->indefinite));
}

static bool
cms_output_match_serial(struct sieve_encrypt_cms_output *check,
			const struct ber_element *serial)
{
	struct cms_expected *exp;
	buffer_t *got;
	bool found = FALSE;

	got = t_buffer_create(serial->end - serial->value);
	buffer_append(got, serial->value, serial->end - serial->value);
	serial_normalize(got);
	array_foreach_modifiable(&check->expected, exp) {
		if (!exp->found && buffer_cmp(exp->serial, got)) {
			exp->found = TRUE;
			found = TRUE;
			break;
		}
	}
	return found;
}

/* KeyTransRecipientInfo ::= SEQUENCE { version (0), rid
   (IssuerAndSerialNumber ::= SEQUENCE { issuer Name, serialNumber }),
   keyEncryptionAlgorithm, encryptedKey OCTET STRING } */
static int
cms_output_recipient(struct sieve_encrypt_cms_output *check,
		     const struct ber_element *ri, const char **error_r)
{
	const unsigned char *p = ri->value, *q;
	struct ber_element version, rid, issuer, serial, alg, key;

	if (!ber_expect(&p, ri->end, BER_INTEGER, FALSE, &version) ||
	    version.end - version.value != 1 || version.value[0] != 0 ||
	    !ber_expect(&p, ri->end, BER_SEQUENCE, FALSE, &rid)) {
		*error_r = "a RecipientInfo is no KeyTransRecipientInfo "
			"with issuer and serial number";
		return -1;
	}
	q = rid.value;
	if (!ber_expect(&q, rid.end, BER_SEQUENCE, FALSE, &issuer) ||
	    !ber_expect(&q, rid.end, BER_INTEGER, FALSE, &serial) ||
	    q != rid.end ||
	    !ber_expect(&p, ri->end, BER_SEQUENCE, FALSE, &alg) ||
	    !ber_expect(&p, ri->end, BER_OCTET_STRING, FALSE, &key) ||
	    key.end == key.value || p != ri->end) {
		*error_r = "a RecipientInfo is malformed";
		return -1;
	}
	if (!cms_output_match_serial(check, &serial)) {
		*error_r = t_strdup_printf(
			"a RecipientInfo is for serial number %s, which is "
			"not that of a certificate asked for (or twice)",
			binary_to_hex(serial.value,
				      serial.end - serial.value));
		return -1;
	}
	return 0;
}

/* Down to the RecipientInfos: ContentInfo ::= SEQUENCE { contentType
   (id-envelopedData), [0] EnvelopedData ::= SEQUENCE { version,
   recipientInfos SET, ... } } (no originatorInfo) */
static bool
cms_output_find_recipients(const buffer_t *head, struct ber_element *set_r)
{
	const unsigned char *p = head->data, *end = p + head->used;
	struct ber_element ci, oid, explicit, env, version;

	if (!ber_expect(&p, end, BER_SEQUENCE, TRUE, &ci))
		return FALSE;
	p = ci.value;
	if (!ber_expect(&p, ci.end, BER_OID, FALSE, &oid) ||
	    (size_t)(oid.end - oid.value) != sizeof(cms_oid_enveloped_data) ||
	    memcmp(oid.value, cms_oid_enveloped_data,
		   sizeof(cms_oid_enveloped_data)) != 0 ||
	    !ber_expect(&p, ci.end, BER_CONTEXT_0, TRUE, &explicit))
		return FALSE;
	p = explicit.value;
	if (!ber_expect(&p, explicit.end, BER_SEQUENCE, TRUE, &env))
		return FALSE;
	p = env.value;
	return (ber_expect(&p, env.end, BER_INTEGER, FALSE, &version) &&
		ber_expect(&p, env.end, BER_SET, FALSE, set_r));
}

static int
cms_output_check_recipients(struct sieve_encrypt_cms_output *check,
			    const char **error_r)
{
	struct ber_element set, ri;
	const unsigned char *p;
	unsigned int count = 0;

	if (!cms_output_find_recipients(check->head, &set)) {
		*error_r = t_strdup_printf(
			"no enveloped-data with its RecipientInfos within the "
			"first %u bytes", SIEVE_ENCRYPT_CMS_OUTPUT_HEAD_MAX);
		return -1;
	}
	for (p = set.value; p < set.end; count++) {
		if (!ber_expect(&p, set.end, BER_SEQUENCE, FALSE, &ri)) {
			*error_r = "a RecipientInfo is malformed";
			return -1;
		}
		if (cms_output_recipient(check, &ri, error_r) < 0)
			return -1;
	}
	if (count != array_count(&check->expected)) {
		*error_r = t_strdup_printf(
			"%u RecipientInfos for %u certificates", count,
			array_count(&check->expected));
		return -1;
	}
	return 0;
}

int sieve_encrypt_cms_output_finish(struct sieve_encrypt_cms_output *check,
				    const char **error_r)
{
	if (check->structure_failed ||
	    !sieve_encrypt_sink_finish(check->structure)) {
		*error_r = "not one complete CMS enveloped-data object";
		return -1;
	}
	return cms_output_check_recipients(check, error_r);
}
