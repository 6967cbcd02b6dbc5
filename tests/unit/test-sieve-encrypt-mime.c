/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "str.h"
#include "istream.h"
#include "ostream.h"
#include "test-common.h"

#include "sieve-encrypt-armor.h"
#include "sieve-encrypt-hp.h"
#include "sieve-encrypt-legacy.h"
#include "sieve-encrypt-mime.h"

#define BEGIN "-----BEGIN PGP MESSAGE-----\n"
#define END "-----END PGP MESSAGE-----\n"
/* An encrypted session key packet and an encrypted data packet */
#define DATA \
	"wQwBAgMEBQYHCAkKCwzSMEBBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5f\n" \
	"YGFiY2RlZmdoaWprbG1ubw==\n"
#define ARMOR BEGIN "\n" DATA "=AAAA\n" END
/* DATA in quoted-printable */
#define QP_DATA \
	"wQwBAgMEBQYHCAkKCwzSMEBBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5f\n" \
	"YGFiY2RlZmdoaWprbG1ubw=3D=3D\n"
/* CMS ContentInfo of enveloped-data and of signed-data */
#define CMS_ENVELOPED "MA8GCSqGSIb3DQEHA6ACBAA=\n"
#define CMS_SIGNED "MA8GCSqGSIb3DQEHAqACBAA=\n"

struct mime_case {
	const char *input;
	/* what goes into the ciphertext */
	const char *entity;
	/* the new header up to the boundary, "" when encrypted already */
	const char *outer;
	/* the lines after the new Content-Type (NULL: none) */
	const char *late;
};

static const struct mime_case mime_cases[] = {
	/* Content-* fields move inside, in order, with their folding */
	{ .input = "From: a@example.org\n"
		   "Content-Type: text/plain;\n charset=utf-8\n"
		   "Subject: s\n"
		   "content-transfer-encoding: 8bit\n"
		   "\n"
		   "body\n",
	  .entity = "Content-Type: text/plain;\n charset=utf-8\n"
		    "content-transfer-encoding: 8bit\n"
		    "\n"
		    "body\n",
	  .outer = "From: a@example.org\n"
		   "Subject: s\n"
		   "MIME-Version: 1.0\n" },
	/* CRLF stays CRLF, MIME-Version is not repeated */
	{ .input = "Subject: s\r\nMIME-Version: 1.0\r\n"
		   "Content-Type: text/plain\r\n\r\nbody\r\n",
	  .entity = "Content-Type: text/plain\r\n\r\nbody\r\n",
	  .outer = "Subject: s\r\nMIME-Version: 1.0\r\n" },
	/* No Content-* fields at all */
	{ .input = "Subject: s\n\nbody",
	  .entity = "\nbody",
	  .outer = "Subject: s\nMIME-Version: 1.0\n" },
	/* Header only, no blank line, no final newline */
	{ .input = "Subject: s\nContent-Type: text/plain",
	  .entity = "Content-Type: text/plain\n\n",
	  .outer = "Subject: s\nMIME-Version: 1.0\n" },
	{ .input = "Content-Type: text/plain\nSubject: s",
	  .entity = "Content-Type: text/plain\n\n",
	  .outer = "Subject: s\nMIME-Version: 1.0\n" },
	/* Empty message */
	{ .input = "",
	  .entity = "\n",
	  .outer = "MIME-Version: 1.0\n" },
	/* Lines that are no field (no colon, a bad name, white space
	   before the colon) go after the new Content-Type */
	{ .input = "Subject: s\nbroken line\nContent-Type: text/plain\n\nb\n",
	  .entity = "Content-Type: text/plain\n\nb\n",
	  .outer = "Subject: s\nMIME-Version: 1.0\n",
	  .late = "broken line\n" },
	{ .input = "To: t\nX A: a\nSubject: s\n\nbody",
	  .entity = "\nbody",
	  .outer = "To: t\nSubject: s\nMIME-Version: 1.0\n",
	  .late = "X A: a\n" },
	{ .input = "Subject : s\n: x\nTo: t\nX-\xe9: 8\n\tmore\n\nbody",
	  .entity = "\nbody",
	  .outer = "To: t\nMIME-Version: 1.0\n",
	  .late = "Subject : s\n: x\nX-\xe9: 8\n\tmore\n" },
	/* "MIME-Version :" is no MIME-Version field */
	{ .input = "MIME-Version : 1.0\nTo: t\n\nbody",
	  .entity = "\nbody",
	  .outer = "To: t\nMIME-Version: 1.0\n",
	  .late = "MIME-Version : 1.0\n" },
	/* A first line that starts with white space stays first */
	{ .input = " x\nTo: t\n\nbody",
	  .entity = "\nbody",
	  .outer = " x\nTo: t\nMIME-Version: 1.0\n" },
	/* Without a blank line they are the body */
	{ .input = "To: t\nContent-Type: text/plain\nHello Bob,\nsecret",
	  .entity = "Content-Type: text/plain\n\nHello Bob,\nsecret",
	  .outer = "To: t\nMIME-Version: 1.0\n" },
	/* A field with a bare CR goes to the start of the entity's body,
	   unless it is a Content-* field */
	{ .input = "From: a\rSubject: s\r\rsecret body\r",
	  .entity = "\nFrom: a\rSubject: s\r\rsecret body\r",
	  .outer = "MIME-Version: 1.0\n" },
	{ .input = "To: t\nX-A: a\r b\n\tmore\nSubject: s\n\nbody",
	  .entity = "\nX-A: a\r b\n\tmore\nbody",
	  .outer = "To: t\nSubject: s\nMIME-Version: 1.0\n" },
	{ .input = "To: t\nContent-Type: text/plain;\r charset=x\n\nbody",
	  .entity = "Content-Type: text/plain;\r charset=x\n\nbody",
	  .outer = "To: t\nMIME-Version: 1.0\n" },
	/* Content-* fields after others, twice */
	{ .input = "Content-ID: <x>\nTo: t\nContent-Type: text/plain\n"
		   "X-A: 1\nContent-Language: de\n\nb",
	  .entity = "Content-ID: <x>\nContent-Type: text/plain\n"
		    "Content-Language: de\n\nb",
	  .outer = "To: t\nX-A: 1\nMIME-Version: 1.0\n" },
	/* Encrypted as a whole already (the rules in detail:
	   test-sieve-encrypt-check.c), with the Content-* fields where the
	   header parse finds them: folded, after others, the first of two */
	{ .input = "Subject: s\nContent-Type: multipart/encrypted;\n"
		   " boundary=x;\n"
		   " protocol=\"application/pgp-encrypted\"\n\n"
		   "--x\nContent-Type: application/pgp-encrypted\n\n"
		   "Version: 1\n\n"
		   "--x\nContent-Type: application/octet-stream\n\n"
		   ARMOR "\n--x--\n",
	  .outer = "" },
	{ .input = "Content-Type: application/pkcs7-mime;"
		   " smime-type=enveloped-data\n"
		   "Content-Transfer-Encoding: base64\n\n" CMS_ENVELOPED,
	  .outer = "" },
	{ .input = "Content-Type: application/x-pkcs7-mime\n"
		   "Subject: s\n"
		   "Content-Transfer-Encoding: base64\n\n" CMS_ENVELOPED,
	  .outer = "" },
	{ .input = "Subject: s\n\n \n" ARMOR "\n",
	  .outer = "" },
	{ .input = "Content-Type: text/plain\nContent-Type: text/html\n\n"
		   ARMOR,
	  .outer = "" },
	{ .input = "Content-Type: text/plain\n"
		   "Content-Transfer-Encoding: quoted-printable\n\n"
		   "-----BEGIN PGP MESSAGE=\n-----\n\n" QP_DATA END,
	  .outer = "" },
	/* Quoted-printable text/plain shorter than the PGP marker (found
	   by fuzzing when Dovecot's QP decoder read the body) */
	{ .input = "Content-Type: text/plain\n"
		   "Content-Transfer-Encoding: quoted-printable\n\ntest\n",
	  .entity = "Content-Type: text/plain\n"
		    "Content-Transfer-Encoding: quoted-printable\n\ntest\n",
	  .outer = "MIME-Version: 1.0\n" },
	/* Inline PGP in quoted-printable with an armor checksum line that
	   is not valid quoted-printable (and so stands for itself) */
	{ .input = "Content-Transfer-Encoding: quoted-printable\n\n"
		   BEGIN "\n" QP_DATA "=Fijx\n" END,
	  .outer = "" },
	/* Not encrypted as a whole: looking encrypted is not enough */
	{ .input = "Content-Type: application/pkcs7-mime;"
		   " smime-type=signed-data\n\nMIAG\n",
	  .entity = "Content-Type: application/pkcs7-mime;"
		    " smime-type=signed-data\n\nMIAG\n",
	  .outer = "MIME-Version: 1.0\n" },
	{ .input = "Content-Type: application/x-pkcs7-mime\n"
		   "Content-Transfer-Encoding: base64\n\n" CMS_SIGNED,
	  .entity = "Content-Type: application/x-pkcs7-mime\n"
		    "Content-Transfer-Encoding: base64\n\n" CMS_SIGNED,
	  .outer = "MIME-Version: 1.0\n" },
	{ .input = "Subject: s\n\n" ARMOR "\nplaintext\n",
	  .entity = "\n" ARMOR "\nplaintext\n",
	  .outer = "Subject: s\nMIME-Version: 1.0\n" },
	{ .input = "Content-Type: multipart/encrypted; boundary=x;\n"
		   " protocol=\"application/pgp-encrypted\"\n\n--x--\n",
	  .entity = "Content-Type: multipart/encrypted; boundary=x;\n"
		    " protocol=\"application/pgp-encrypted\"\n\n--x--\n",
	  .outer = "MIME-Version: 1.0\n" },
	{ .input = "Content-Type: text/html\n\n" ARMOR,
	  .entity = "Content-Type: text/html\n\n" ARMOR,
	  .outer = "MIME-Version: 1.0\n" },
	{ .input = "Content-Type: text/html\nContent-Type: text/plain\n\n"
		   ARMOR,
	  .entity = "Content-Type: text/html\nContent-Type: text/plain\n\n"
		    ARMOR,
	  .outer = "MIME-Version: 1.0\n" },
	{ .input = "Subject: s\n\nx-----BEGIN PGP MESSAGE-----\n",
	  .entity = "\nx-----BEGIN PGP MESSAGE-----\n",
	  .outer = "Subject: s\nMIME-Version: 1.0\n" },
	/* A header without body (the line that is no field is the body) */
	{ .input = "Subject: s\n" BEGIN,
	  .entity = "\n" BEGIN,
	  .outer = "Subject: s\nMIME-Version: 1.0\n" },
};

static const char *read_all(struct istream *input)
{
	string_t *str = t_str_new(256);
	const unsigned char *data;
	size_t size;

	while (i_stream_read_more(input, &data, &size) > 0) {
		str_append_data(str, data, size);
		i_stream_skip(input, size);
	}
	test_assert(input->stream_errno == 0);
	return str_c(str);
}

/* The new header: the part before the Content-Type we add, and the lines
   after it (up to the blank line) */
static const char *
write_head(const struct sieve_encrypt_mime *mime, struct istream *input,
	   const char **late_r)
{
	buffer_t *buf = t_buffer_create(512);
	struct ostream *output = o_stream_create_buffer(buf);
	const char *str, *ct, *late, *preamble;

	sieve_encrypt_mime_write_head(mime, input, output, "BOUNDARY");
	test_assert(o_stream_finish(output) > 0);
	o_stream_destroy(&output);
	str = t_strndup(buf->data, buf->used);
	*late_r = "";
	ct = strstr(str, "Content-Type: multipart/encrypted;");
	late = strstr(str, "boundary=\"BOUNDARY\"");
	preamble = strstr(str, "This is an OpenPGP/MIME");
	test_assert(ct != NULL && late != NULL && preamble != NULL);
	if (ct == NULL || late == NULL || preamble == NULL)
		return str;
	late = strchr(late, '\n') + 1;
	/* the blank line before the preamble */
	preamble -= (preamble[-2] == '\r' ? 2 : 1);
	test_assert(preamble >= late);
	if (preamble >= late)
		*late_r = t_strdup_until(late, preamble);
	return t_strdup_until(str, ct);
}

static void test_mime_cases(void)
{
	unsigned int i;

	test_begin("mime: header split, entity and encryption status");
	for (i = 0; i < N_ELEMENTS(mime_cases); i++) T_BEGIN {
		const struct mime_case *c = &mime_cases[i];
		pool_t pool = pool_alloconly_create("test", 512);
		struct sieve_encrypt_mime *mime;
		struct istream *input, *entity;
		bool encrypted = (*c->outer == '\0');

		input = i_stream_create_from_data(c->input, strlen(c->input));
		test_assert_idx(sieve_encrypt_mime_parse(pool, input, NULL,
							 &mime) == 0, i);
		test_assert_idx(sieve_encrypt_mime_is_encrypted(mime) ==
				encrypted, i);
		if (!encrypted) {
			entity = sieve_encrypt_mime_entity(mime, input);
			test_assert_strcmp_idx(read_all(entity), c->entity, i);
			i_stream_unref(&entity);
			const char *late;

			test_assert_strcmp_idx(write_head(mime, input, &late),
					       c->outer, i);
			test_assert_strcmp_idx(late, c->late == NULL ? "" :
					       c->late, i);
		}
		i_stream_unref(&input);
		pool_unref(&pool);
	} T_END;
	test_end();
}

/* Header protection (RFC 9788) */
struct hp_case {
	const char *input;
	bool hide_subject;
	const char *entity;
	/* the new header up to the Content-Type we add, and after it */
	const char *outer, *late;
};

#define HP_PARAMS(nl) nl " hp=\"cipher\";" nl " protected-headers=\"v1\""

static const struct hp_case hp_cases[] = {
	/* Copies in order with their folding, HP-Outer, the parameters
	   after the value of a folded Content-Type */
	{ .input = "From: a@example.org\n"
		   "Subject: s\n"
		   "To: b@example.org,\n c@example.org\n"
		   "X-Other: x\n"
		   "Content-Type: text/plain;\n charset=utf-8\n"
		   "Content-Transfer-Encoding: 8bit\n"
		   "\n"
		   "body\n",
	  .entity = "From: a@example.org\n"
		    "Subject: s\n"
		    "To: b@example.org,\n c@example.org\n"
		    "HP-Outer: From: a@example.org\n"
		    "HP-Outer: Subject: s\n"
		    "HP-Outer: To: b@example.org,\n c@example.org\n"
		    "Content-Type: text/plain;" HP_PARAMS("\n")
		    ";\n charset=utf-8\n"
		    "Content-Transfer-Encoding: 8bit\n"
		    "\n"
		    "body\n",
	  .outer = "From: a@example.org\n"
		   "Subject: s\n"
		   "To: b@example.org,\n c@example.org\n"
		   "X-Other: x\n"
		   "MIME-Version: 1.0\n" },
	/* hide_subject: one "Subject: [...]" for two; CRLF; no
	   Content-Type: the default one */
	{ .input = "Subject: one\r\nDate: d\r\nSubject: two\r\n"
		   "MIME-Version: 1.0\r\n\r\nbody\r\n",
	  .hide_subject = TRUE,
	  .entity = "Subject: one\r\nDate: d\r\nSubject: two\r\n"
		    "HP-Outer: Subject: [...]\r\n"
		    "HP-Outer: Date: d\r\n"
		    "Content-Type: text/plain; charset=us-ascii;"
		    HP_PARAMS("\r\n") "\r\n"
		    "\r\nbody\r\n",
	  .outer = "Subject: [...]\r\nDate: d\r\nMIME-Version: 1.0\r\n" },
	/* hide_subject without a Subject: none */
	{ .input = "From: f\nContent-Type: text/plain\n\nb",
	  .hide_subject = TRUE,
	  .entity = "From: f\nHP-Outer: From: f\n"
		    "Content-Type: text/plain;" HP_PARAMS("\n") "\n\nb",
	  .outer = "From: f\nMIME-Version: 1.0\n" },
	/* Right after the type/subtype: a trailing ';', damage after it
	   (open comments and quoted strings) stay after the parameters */
	{ .input = "Content-Type: text/plain;\n\nb",
	  .entity = "Content-Type: text/plain;" HP_PARAMS("\n") ";\n\nb",
	  .outer = "MIME-Version: 1.0\n" },
	{ .input = "Content-Type: text/plain (a; (b\n\nb",
	  .entity = "Content-Type: text/plain;" HP_PARAMS("\n")
		    " (a; (b\n\nb",
	  .outer = "MIME-Version: 1.0\n" },
	{ .input = "Content-Type: text/plain; name=\"x;\\\n\nb",
	  .entity = "Content-Type: text/plain;" HP_PARAMS("\n")
		    "; name=\"x;\\\n\nb",
	  .outer = "MIME-Version: 1.0\n" },
	/* Comments and folding around the type and the '/' */
	{ .input = "Content-Type:  (c)\n text (d) / html ; x=y\n\nb",
	  .entity = "Content-Type:  (c)\n text (d) / html;" HP_PARAMS("\n")
		    " ; x=y\n\nb",
	  .outer = "MIME-Version: 1.0\n" },
	/* No type/subtype: at the end; open comments are closed, ';' in a
	   comment does not count */
	{ .input = "Content-Type: text (a; (b\n\nb",
	  .entity = "Content-Type: text (a; (b));"
		    HP_PARAMS("\n") "\n\nb",
	  .outer = "MIME-Version: 1.0\n" },
	/* ... an open quoted string, its escape taking a space */
	{ .input = "Content-Type: text; name=\"x;\\\n\nb",
	  .entity = "Content-Type: text; name=\"x;\\ \";"
		    HP_PARAMS("\n") "\n\nb",
	  .outer = "MIME-Version: 1.0\n" },
	/* ... a value that ends with ';' */
	{ .input = "Content-Type: text/;\n\nb",
	  .entity = "Content-Type: text/;" HP_PARAMS("\n") "\n\nb",
	  .outer = "MIME-Version: 1.0\n" },
	/* No value: the default type */
	{ .input = "Content-Type:\n\nb",
	  .entity = "Content-Type: text/plain; charset=us-ascii;"
		    HP_PARAMS("\n") "\n\nb",
	  .outer = "MIME-Version: 1.0\n" },
	/* Two Content-Type fields: both */
	{ .input = "Content-Type: text/plain\n"
		   "Content-type: text/html\n\nb",
	  .entity = "Content-Type: text/plain;" HP_PARAMS("\n") "\n"
		    "Content-type: text/html;" HP_PARAMS("\n") "\n\nb",
	  .outer = "MIME-Version: 1.0\n" },
	/* Obsolete syntax "Subject :": copied as "Subject:", HP-Outer
	   says what follows the colon */
	{ .input = "Subject : secret\nFrom: f\n"
		   "Content-Type: text/plain\n\nb",
	  .entity = "Subject: secret\nFrom: f\n"
		    "HP-Outer: Subject: secret\nHP-Outer: From: f\n"
		    "Content-Type: text/plain;" HP_PARAMS("\n") "\n\nb",
	  .outer = "From: f\nMIME-Version: 1.0\n",
	  .late = "Subject : secret\n" },
	/* ... and with hide_subject, replaced after the Content-Type */
	{ .input = "Subject : secret\nFrom: f\n"
		   "Content-Type: text/plain\n\nb",
	  .hide_subject = TRUE,
	  .entity = "Subject: secret\nFrom: f\n"
		    "HP-Outer: Subject: [...]\nHP-Outer: From: f\n"
		    "Content-Type: text/plain;" HP_PARAMS("\n") "\n\nb",
	  .outer = "From: f\nMIME-Version: 1.0\n",
	  .late = "Subject: [...]\n" },
	/* A Subject field in place comes first for the replacement */
	{ .input = "Subject : old\nSubject: secret\n\nb",
	  .hide_subject = TRUE,
	  .entity = "Subject: old\nSubject: secret\n"
		    "HP-Outer: Subject: [...]\n"
		    "Content-Type: text/plain; charset=us-ascii;"
		    HP_PARAMS("\n") "\n\nb",
	  .outer = "Subject: [...]\nMIME-Version: 1.0\n" },
	/* A message that ends in its header without a newline */
	{ .input = "Subject: s",
	  .hide_subject = TRUE,
	  .entity = "Subject: s\nHP-Outer: Subject: [...]\n"
		    "Content-Type: text/plain; charset=us-ascii;"
		    HP_PARAMS("\n") "\n\n",
	  .outer = "Subject: [...]\nMIME-Version: 1.0\n" },
	{ .input = "Subject: s\nContent-Type: text/plain",
	  .entity = "Subject: s\nHP-Outer: Subject: s\n"
		    "Content-Type: text/plain;" HP_PARAMS("\n") "\n\n",
	  .outer = "Subject: s\nMIME-Version: 1.0\n" },
	{ .input = "Content-Type: text/plain\nTo: t",
	  .entity = "To: t\nHP-Outer: To: t\n"
		    "Content-Type: text/plain;" HP_PARAMS("\n") "\n\n",
	  .outer = "To: t\nMIME-Version: 1.0\n" },
};

static void test_mime_protect_headers(void)
{
	unsigned int i;

	test_begin("mime: header protection");
	for (i = 0; i < N_ELEMENTS(hp_cases); i++) T_BEGIN {
		const struct hp_case *c = &hp_cases[i];
		pool_t pool = pool_alloconly_create("test", 512);
		struct sieve_encrypt_mime *mime;
		struct istream *input, *entity;
		const char *late;

		input = i_stream_create_from_data(c->input, strlen(c->input));
		test_assert_idx(sieve_encrypt_mime_parse(pool, input, NULL,
							 &mime) == 0, i);
		sieve_encrypt_mime_protect_headers(mime, c->hide_subject);
		entity = sieve_encrypt_mime_entity(mime, input);
		test_assert_strcmp_idx(read_all(entity), c->entity, i);
		i_stream_unref(&entity);
		test_assert_strcmp_idx(write_head(mime, input, &late),
				       c->outer, i);
		test_assert_strcmp_idx(late, c->late == NULL ? "" : c->late,
				       i);
		i_stream_unref(&input);
		pool_unref(&pool);
	} T_END;
	test_end();
}

/* Legacy display elements (RFC 9788 section 4.5.3) */
struct legacy_case {
	const char *input;
	/* the entity with the element; NULL: none, for the reason */
	const char *entity;
	const char *reason;
};

#define LEGACY_PARAMS(nl) HP_PARAMS(nl) ";" nl " hp-legacy-display=\"1\""
#define LEGACY_DIV "<div class=\"header-protection-legacy-display\">\n"
#define LEGACY_HTML_HEADER \
	"Subject: s\nHP-Outer: Subject: [...]\n" \
	"Content-Type: text/html;" LEGACY_PARAMS("\n") "\n\n"

static const struct legacy_case legacy_cases[] = {
	/* text/plain: the line and a blank line before the body */
	{ .input = "Subject: Dinner plans\nFrom: a\n"
		   "Content-Type: text/plain; charset=us-ascii\n"
		   "\n"
		   "Let's meet\n",
	  .entity = "Subject: Dinner plans\nFrom: a\n"
		    "HP-Outer: Subject: [...]\nHP-Outer: From: a\n"
		    "Content-Type: text/plain;" LEGACY_PARAMS("\n")
		    "; charset=us-ascii\n"
		    "\n"
		    "Subject: Dinner plans\n"
		    "\n"
		    "Let's meet\n" },
	/* No Content-Type: the default; CRLF; folding unfolded */
	{ .input = "Subject:  a\r\n\tb \r\n\r\nbody",
	  .entity = "Subject:  a\r\n\tb \r\nHP-Outer: Subject: [...]\r\n"
		    "Content-Type: text/plain; charset=us-ascii;"
		    LEGACY_PARAMS("\r\n") "\r\n"
		    "\r\nSubject: a b\r\n\r\nbody" },
	/* Two Subject fields: both hidden, both shown; an empty body */
	{ .input = "Subject: one\nSubject: two\n"
		   "Content-Type: text/plain\n\n",
	  .entity = "Subject: one\nSubject: two\nHP-Outer: Subject: [...]\n"
		    "Content-Type: text/plain;" LEGACY_PARAMS("\n") "\n\n"
		    "Subject: one\nSubject: two\n\n" },
	/* Obsolete syntax: the value after the colon */
	{ .input = "Subject : old\nContent-Type: text/plain\n\nb",
	  .entity = "Subject: old\nHP-Outer: Subject: [...]\n"
		    "Content-Type: text/plain;" LEGACY_PARAMS("\n") "\n\n"
		    "Subject: old\n\nb" },
	/* Encoded words: decoded into a utf-8 part in 8bit ... */
	{ .input = "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= x\n"
		   "Content-Type: text/plain; charset=UTF-8\n"
		   "Content-Transfer-Encoding: 8bit\n\nb",
	  .entity = "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= x\n"
		    "HP-Outer: Subject: [...]\n"
		    "Content-Type: text/plain;" LEGACY_PARAMS("\n")
		    "; charset=UTF-8\n"
		    "Content-Transfer-Encoding: 8bit\n\n"
		    "Subject: Gr\xc3\xbc\xc3\x9f" "e x\n\nb" },
	/* ... as they are in one that cannot hold the result (7bit) ... */
	{ .input = "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n"
		   "Content-Type: text/plain; charset=utf-8\n\nb",
	  .entity = "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n"
		    "HP-Outer: Subject: [...]\n"
		    "Content-Type: text/plain;" LEGACY_PARAMS("\n")
		    "; charset=utf-8\n\n"
		    "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\n\nb" },
	/* ... decoded when the result is ASCII; a line end in one is a
	   space (no line of its own) */
	{ .input = "Subject: =?utf-8?q?a=0AFrom:_x?=\n"
		   "Content-Type: text/plain; charset=iso-8859-1\n\nb",
	  .entity = "Subject: =?utf-8?q?a=0AFrom:_x?=\n"
		    "HP-Outer: Subject: [...]\n"
		    "Content-Type: text/plain;" LEGACY_PARAMS("\n")
		    "; charset=iso-8859-1\n\n"
		    "Subject: a From: x\n\nb" },
	/* text/html: after the <body> tag, not after one in a comment, the
	   title or a quoted attribute value; escaped, non-ASCII as
	   references */
	{ .input = "Subject: =?utf-8?q?a_<b>_&_=C3=BC?=\n"
		   "Content-Type: text/html\n\n"
		   "<!DOCTYPE html><html><head><title><body></title>"
		   "<!-- <body> --><style>b{}</style></head>"
		   "<BODY class=\"a>b\">\n<p>hi</p></body></html>\n",
	  .entity = "Subject: =?utf-8?q?a_<b>_&_=C3=BC?=\n"
		    "HP-Outer: Subject: [...]\n"
		    "Content-Type: text/html;" LEGACY_PARAMS("\n") "\n\n"
		    "<!DOCTYPE html><html><head><title><body></title>"
		    "<!-- <body> --><style>b{}</style></head>"
		    "<BODY class=\"a>b\">"
		    LEGACY_DIV
		    "<pre>Subject: a &lt;b&gt; &amp; &#xfc;</pre>\n"
		    "</div>\n"
		    "\n<p>hi</p></body></html>\n" },
	{ .input = "Subject: s\nContent-Type: text/html\n\n"
		   "<script>x='<body>'</script ><body>t",
	  .entity = LEGACY_HTML_HEADER
		    "<script>x='<body>'</script ><body>"
		    LEGACY_DIV "<pre>Subject: s</pre>\n</div>\nt" },
	{ .input = "Subject: s\nContent-Type: text/html\n\n"
		   "<bodyx><body/>t",
	  .entity = LEGACY_HTML_HEADER
		    "<bodyx><body/>"
		    LEGACY_DIV "<pre>Subject: s</pre>\n</div>\nt" },
	/* None */
	{ .input = "From: f\nContent-Type: text/plain\n\nb",
	  .reason = "no Subject" },
	{ .input = "Subject: s\nContent-Type: multipart/mixed; boundary=b\n"
		   "\n--b\n\nx\n--b--\n",
	  .reason = "the body is multipart/mixed" },
	{ .input = "Subject: s\nContent-Type: text/plain\n"
		   "Content-Transfer-Encoding: quoted-printable\n\nb",
	  .reason = "Content-Transfer-Encoding quoted-printable" },
	{ .input = "Subject: s\nContent-Type: text/plain\n"
		   "Content-Transfer-Encoding: base64\n\nYg==\n",
	  .reason = "Content-Transfer-Encoding base64" },
	{ .input = "Subject: s\nContent-Type: text/plain; charset=utf-16\n"
		   "\nb",
	  .reason = "charset utf-16" },
	{ .input = "Subject: s\nContent-Type: text/plain\n"
		   "Content-Type: text/html\n\nb",
	  .reason = "more than one" },
	{ .input = "Subject: s\nContent-Type: text\n\nb",
	  .reason = "cannot be parsed" },
	{ .input = "Subject: s\nContent-Type: text/html\n\n"
		   "<p>no body tag <!-- <body> -->",
	  .reason = "without a <body> tag" },
	{ .input = "Subject: Gr\xc3\xbc\xc3\x9f" "e\n"
		   "Content-Type: text/plain; charset=utf-8\n"
		   "Content-Transfer-Encoding: 7bit\n\nb",
	  .reason = "8-bit" },
	{ .input = "Subject: s",
	  .reason = "no body" },
	/* A Content-Type line in obsolete syntax stays outside: the entity
	   is text/plain, the line must not decide */
	{ .input = "Subject: s\nContent-Type : text/html\n\n<body>b",
	  .reason = "no field" },
	{ .input = "Subject: s\nContent-Transfer-Encoding : 8bit\n\nb",
	  .reason = "no field" },
};

/* The entity with header protection and hide_subject, without the
   element */
static const char *legacy_protected_entity(const char *msg)
{
	pool_t pool = pool_alloconly_create("test", 512);
	struct sieve_encrypt_mime *mime;
	struct istream *input, *entity;
	const char *ret;

	input = i_stream_create_from_data(msg, strlen(msg));
	i_assert(sieve_encrypt_mime_parse(pool, input, NULL, &mime) == 0);
	sieve_encrypt_mime_protect_headers(mime, TRUE);
	entity = sieve_encrypt_mime_entity(mime, input);
	ret = read_all(entity);
	i_stream_unref(&entity);
	i_stream_unref(&input);
	pool_unref(&pool);
	return ret;
}

static void test_mime_legacy_display(void)
{
	unsigned int i;

	test_begin("mime: legacy display element");
	for (i = 0; i < N_ELEMENTS(legacy_cases); i++) T_BEGIN {
		const struct legacy_case *c = &legacy_cases[i];
		pool_t pool = pool_alloconly_create("test", 512);
		struct sieve_encrypt_mime *mime;
		struct istream *input, *entity;
		const char *reason = NULL, *expected;
		int ret;

		input = i_stream_create_from_data(c->input, strlen(c->input));
		test_assert_idx(sieve_encrypt_mime_parse(pool, input, NULL,
							 &mime) == 0, i);
		sieve_encrypt_mime_protect_headers(mime, TRUE);
		ret = sieve_encrypt_mime_legacy_display(mime, input, &reason);
		test_assert_idx(ret == (c->entity != NULL ? 1 : 0), i);
		if (c->entity == NULL) {
			test_assert_idx(reason != NULL &&
					strstr(reason, c->reason) != NULL, i);
		}
		/* none: the entity as without the option */
		expected = (c->entity != NULL ? c->entity :
			    legacy_protected_entity(c->input));
		entity = sieve_encrypt_mime_entity(mime, input);
		test_assert_strcmp_idx(read_all(entity), expected, i);
		i_stream_unref(&entity);
		i_stream_unref(&input);
		pool_unref(&pool);
	} T_END;
	test_end();
}

/* Without hide_subject nothing is hidden: no element */
static void test_mime_legacy_not_hidden(void)
{
	static const char msg[] = "Subject: s\nContent-Type: text/plain\n\nb";
	pool_t pool = pool_alloconly_create("test", 512);
	struct sieve_encrypt_mime *mime;
	struct istream *input;
	const char *reason = NULL;

	test_begin("mime: legacy display element, Subject not hidden");
	input = i_stream_create_from_data(msg, sizeof(msg) - 1);
	test_assert(sieve_encrypt_mime_parse(pool, input, NULL, &mime) == 0);
	sieve_encrypt_mime_protect_headers(mime, FALSE);
	test_assert(sieve_encrypt_mime_legacy_display(mime, input,
						      &reason) == 0);
	test_assert_strcmp(reason, "the Subject is not hidden");
	i_stream_unref(&input);
	pool_unref(&pool);
	test_end();
}

/* The <body> tag's end does not depend on how the body is cut */
static void test_legacy_html_pieces(void)
{
	static const char *const bodies[] = {
		"<!DOCTYPE html><html><head><title><body></title>"
		"<!-- <body> --><style>b{}</style></head>"
		"<BODY class=\"a>b\">\n<p>hi</p>",
		"<script>x='<body>'</script ><body>t",
		"<!--->--><!x><body id='>'>",
		"<textarea></textare></textarea><body>",
	};
	static const size_t ends[] = { 106, 34, 26, 37 };
	struct sieve_encrypt_legacy_html_scan scan;
	unsigned int i;
	size_t j, end, len;
	bool found;

	test_begin("legacy: <body> tag in pieces");
	for (i = 0; i < N_ELEMENTS(bodies); i++) {
		len = strlen(bodies[i]);
		sieve_encrypt_legacy_html_init(&scan);
		test_assert_idx(sieve_encrypt_legacy_html_feed(
			&scan, (const void *)bodies[i], len, &end), i);
		test_assert_idx(end == ends[i], i);
		sieve_encrypt_legacy_html_init(&scan);
		found = FALSE;
		for (j = 0; j < len && !found; j++) {
			found = sieve_encrypt_legacy_html_feed(
				&scan, (const void *)(bodies[i] + j), 1, &end);
		}
		test_assert_idx(found && j == ends[i] && end == 1, i);
	}
	sieve_encrypt_legacy_html_init(&scan);
	test_assert(!sieve_encrypt_legacy_html_feed(
		&scan, (const void *)"<p><!-- <body>", 14, &end));
	test_end();
}

/* Deeper open comments than the limit at the end of a value without
   type/subtype: no parameters for that field */
static void test_mime_protect_deep_comment(void)
{
	string_t *msg = t_str_new(512);
	pool_t pool = pool_alloconly_create("test", 512);
	struct sieve_encrypt_mime *mime;
	struct istream *input, *entity;
	const char *expected;
	unsigned int i;

	test_begin("mime: header protection, deeply open comment");
	str_append(msg, "Content-Type: text ");
	for (i = 0; i <= SIEVE_ENCRYPT_HP_MAX_OPEN_COMMENTS; i++)
		str_append_c(msg, '(');
	str_append(msg, "\n\nb");
	input = i_stream_create_from_data(str_data(msg), str_len(msg));
	test_assert(sieve_encrypt_mime_parse(pool, input, NULL, &mime) == 0);
	sieve_encrypt_mime_protect_headers(mime, FALSE);
	entity = sieve_encrypt_mime_entity(mime, input);
	expected = str_c(msg);
	test_assert_strcmp(read_all(entity), expected);
	i_stream_unref(&entity);
	i_stream_unref(&input);
	pool_unref(&pool);
	test_end();
}

static void test_mime_output(void)
{
	static const char msg[] = "Subject: s\r\nContent-Type: text/plain\r\n"
				  "\r\nbody\r\n";
	pool_t pool = pool_alloconly_create("test", 512);
	struct sieve_encrypt_mime *mime;
	struct istream *input;
	buffer_t *buf = t_buffer_create(1024);
	struct ostream *output = o_stream_create_buffer(buf);
	const char *boundary = sieve_encrypt_mime_boundary();
	const char *str;

	test_begin("mime: PGP/MIME wrapper");
	test_assert(strlen(boundary) == 36);
	test_assert(strcmp(boundary, sieve_encrypt_mime_boundary()) != 0);

	input = i_stream_create_from_data(msg, sizeof(msg) - 1);
	test_assert(sieve_encrypt_mime_parse(pool, input, NULL,
					     &mime) == 0);
	test_assert(sieve_encrypt_mime_uses_crlf(mime));
	sieve_encrypt_mime_write_head(mime, input, output, "B");
	o_stream_nsend_str(output, "ARMOR\r\n");
	sieve_encrypt_mime_write_tail(mime, output, "B");
	test_assert(o_stream_finish(output) > 0);
	o_stream_destroy(&output);
	str = t_strndup(buf->data, buf->used);
	test_assert_strcmp(str,
		"Subject: s\r\n"
		"MIME-Version: 1.0\r\n"
		"Content-Type: multipart/encrypted;\r\n"
		" protocol=\"application/pgp-encrypted\";\r\n"
		" boundary=\"B\"\r\n"
		"\r\n"
		"This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\r\n"
		"--B\r\n"
		"Content-Type: application/pgp-encrypted\r\n"
		"Content-Description: PGP/MIME version identification\r\n"
		"\r\n"
		"Version: 1\r\n"
		"\r\n"
		"--B\r\n"
		"Content-Type: application/octet-stream; name=\"encrypted.asc\"\r\n"
		"Content-Description: OpenPGP encrypted message\r\n"
		"Content-Disposition: inline; filename=\"encrypted.asc\"\r\n"
		"\r\n"
		"ARMOR\r\n"
		"\r\n"
		"--B--\r\n");
	i_stream_unref(&input);
	pool_unref(&pool);
	test_end();
}

/* What the plugin writes is encrypted already: a second encrypt leaves it
   alone. The ciphertext packets decide: a literal data packet in the same
   wrapper is not encrypted. */
static void test_mime_output_encrypted(void)
{
	static const unsigned char encrypted[] = {
		0xc1, 0x03, 0x01, 0x02, 0x03,
		/* 2-octet length: 1000 bytes */
		0xd2, 0xc3, 0x28
	};
	static const unsigned char literal[] = {
		0xcb, 0xc3, 0x28
	};
	static const struct {
		const unsigned char *packet;
		size_t size;
		bool encrypted;
	} packets[] = {
		{ encrypted, sizeof(encrypted), TRUE },
		{ literal, sizeof(literal), FALSE },
	};
	unsigned char zeros[1000];
	unsigned int i;

	memset(zeros, 0, sizeof(zeros));
	test_begin("mime: the output is encrypted already");
	for (i = 0; i < N_ELEMENTS(packets) * 2; i++) T_BEGIN {
		bool crlf = (i % 2 == 1);
		const char *msg = (crlf ?
			"Subject: s\r\nContent-Type: text/plain\r\n\r\nb\r\n" :
			"Subject: s\nContent-Type: text/plain\n\nb\n");
		pool_t pool = pool_alloconly_create("test", 512);
		buffer_t *buf = t_buffer_create(4096);
		struct ostream *output = o_stream_create_buffer(buf);
		struct sieve_encrypt_mime *mime, *again;
		struct sieve_encrypt_armor *armor;
		struct istream *input;

		input = i_stream_create_from_data(msg, strlen(msg));
		test_assert(sieve_encrypt_mime_parse(pool, input, NULL,
						     &mime) == 0);
		test_assert(!sieve_encrypt_mime_is_encrypted(mime));
		sieve_encrypt_mime_write_head(mime, input, output, "B");
		armor = sieve_encrypt_armor_begin(output, crlf);
		sieve_encrypt_armor_write(armor, packets[i / 2].packet,
					  packets[i / 2].size);
		sieve_encrypt_armor_write(armor, zeros, sizeof(zeros));
		sieve_encrypt_armor_end(&armor);
		sieve_encrypt_mime_write_tail(mime, output, "B");
		test_assert(o_stream_finish(output) > 0);
		o_stream_destroy(&output);
		i_stream_unref(&input);

		input = i_stream_create_from_data(buf->data, buf->used);
		test_assert(sieve_encrypt_mime_parse(pool, input, NULL,
						     &again) == 0);
		test_assert_idx(sieve_encrypt_mime_is_encrypted(again) ==
				packets[i / 2].encrypted, i);
		i_stream_unref(&input);
		pool_unref(&pool);
	} T_END;
	test_end();
}

static void test_mime_large_header(void)
{
	/* More header than any stream buffer: offsets stay exact */
	string_t *msg = t_str_new(300000);
	pool_t pool = pool_alloconly_create("test", 512);
	struct sieve_encrypt_mime *mime;
	struct istream *input, *entity;
	const char *got;
	unsigned int i;

	test_begin("mime: large folded header");
	str_append(msg, "Content-Type: text/plain;\n");
	for (i = 0; i < 10000; i++)
		str_printfa(msg, " x%u=\"abcdefghijklmnopqrstu\";\n", i);
	str_append(msg, "X-Long: ");
	for (i = 0; i < 100000; i++)
		str_append_c(msg, 'y');
	str_append(msg, "\n\nbody\n");

	input = i_stream_create_from_data(str_data(msg), str_len(msg));
	test_assert(sieve_encrypt_mime_parse(pool, input, NULL,
					     &mime) == 0);
	test_assert(!sieve_encrypt_mime_is_encrypted(mime));
	entity = sieve_encrypt_mime_entity(mime, input);
	got = read_all(entity);
	test_assert(strlen(got) == str_len(msg) - 100009);
	test_assert(strncmp(got, str_c(msg), strlen(got) - 6) == 0);
	test_assert(strcmp(got + strlen(got) - 6, "\nbody\n") == 0);
	i_stream_unref(&entity);
	i_stream_unref(&input);
	pool_unref(&pool);
	test_end();
}

/*
 * The status header field
 */

struct status_case {
	const char *input;
	/* the message in clear with the field "no-key" */
	const char *clear;
	/* the encrypted message's header up to the boundary */
	const char *outer;
	/* what goes into the ciphertext */
	const char *entity;
	/* the lines after the new Content-Type (NULL: none) */
	const char *late;
};

static const struct status_case status_cases[] = {
	/* on top; the sender's fields of that name (any case, folded,
	   white space before the colon) removed; others kept */
	{ .input = "X-Status: encrypted\n"
		   "From: a@example.org\n"
		   "x-status:\n encrypted\n"
		   "X-STATUS : encrypted\n"
		   "X-Status-Other: x\n"
		   "Content-Type: text/plain\n"
		   "\nbody\n",
	  .clear = "X-Status: no-key\n"
		   "From: a@example.org\n"
		   "X-Status-Other: x\n"
		   "Content-Type: text/plain\n"
		   "\nbody\n",
	  .outer = "X-Status: encrypted\n"
		   "From: a@example.org\n"
		   "X-Status-Other: x\n"
		   "MIME-Version: 1.0\n",
	  .entity = "Content-Type: text/plain\n\nbody\n" },
	/* CRLF; a malformed field of that name goes into the entity, to
	   the start of its body like any malformed field */
	{ .input = "Subject: s\r\nX-Status: a\rb\r\n\r\nbody\r\n",
	  .clear = "X-Status: no-key\r\nSubject: s\r\n\r\nbody\r\n",
	  .outer = "X-Status: encrypted\r\nSubject: s\r\n"
		   "MIME-Version: 1.0\r\n",
	  .entity = "\r\nX-Status: a\rb\r\nbody\r\n" },
	/* lines that are no field after the Content-Type, but not one of
	   that name; without a blank line, into the entity's body */
	{ .input = "X-Status: a\nbad line\nX-Status : b\nTo: t\n\nbody",
	  .clear = "X-Status: no-key\nbad line\nTo: t\n\nbody",
	  .outer = "X-Status: encrypted\nTo: t\nMIME-Version: 1.0\n",
	  .entity = "\nbody",
	  .late = "bad line\n" },
	{ .input = "To: t\nX-Status : b\nbody line",
	  .clear = "X-Status: no-key\nTo: t\nbody line",
	  .outer = "X-Status: encrypted\nTo: t\nMIME-Version: 1.0\n",
	  .entity = "\nX-Status : b\nbody line" },
	/* a last field without newline, and no header at all */
	{ .input = "Subject: s\nX-Status: x",
	  .clear = "X-Status: no-key\nSubject: s\n",
	  .outer = "X-Status: encrypted\nSubject: s\nMIME-Version: 1.0\n",
	  .entity = "\n" },
	/* a first line that begins with white space stays first, in clear
	   and in the outer header: the status field goes below that field,
	   which would otherwise continue it */
	{ .input = " x: encrypted\nSubject: s\n\nbody",
	  .clear = " x: encrypted\nX-Status: no-key\nSubject: s\n\nbody",
	  .outer = " x: encrypted\nX-Status: encrypted\nSubject: s\n"
		   "MIME-Version: 1.0\n",
	  .entity = "\nbody" },
	{ .input = "\tx\n y\nX-Status: z\n\nbody",
	  .clear = "\tx\n y\nX-Status: no-key\n\nbody",
	  .outer = "\tx\n y\nX-Status: encrypted\nMIME-Version: 1.0\n",
	  .entity = "\nbody" },
	{ .input = " x",
	  .clear = " x\nX-Status: no-key\n",
	  .outer = " x\nX-Status: encrypted\nMIME-Version: 1.0\n",
	  .entity = "\n" },
	/* unless it has a bare CR: then it goes into the entity's body,
	   and the status field is the outer header's first */
	{ .input = " x: a\rb\nTo: t\n\nbody",
	  .clear = " x: a\rb\nX-Status: no-key\nTo: t\n\nbody",
	  .outer = "X-Status: encrypted\nTo: t\nMIME-Version: 1.0\n",
	  .entity = "\n x: a\rb\nbody" },
	{ .input = "\nbody",
	  .clear = "X-Status: no-key\n\nbody",
	  .outer = "X-Status: encrypted\nMIME-Version: 1.0\n",
	  .entity = "\nbody" },
};

static void test_mime_status(void)
{
	unsigned int i;

	test_begin("mime: status header field");
	for (i = 0; i < N_ELEMENTS(status_cases); i++) T_BEGIN {
		const struct status_case *c = &status_cases[i];
		pool_t pool = pool_alloconly_create("test", 512);
		struct sieve_encrypt_mime *mime;
		struct istream *input, *clear, *entity;
		const char *late;

		input = i_stream_create_from_data(c->input, strlen(c->input));
		test_assert_idx(sieve_encrypt_mime_parse(pool, input,
							 "X-Status",
							 &mime) == 0, i);
		clear = sieve_encrypt_mime_with_status(
			mime, input, SIEVE_ENCRYPT_STATUS_NO_KEY);
		test_assert_strcmp_idx(read_all(clear), c->clear, i);
		i_stream_unref(&clear);
		test_assert_strcmp_idx(write_head(mime, input, &late),
				       c->outer, i);
		test_assert_strcmp_idx(late, c->late == NULL ? "" : c->late, i);
		entity = sieve_encrypt_mime_entity(mime, input);
		test_assert_strcmp_idx(read_all(entity), c->entity, i);
		i_stream_unref(&entity);
		i_stream_unref(&input);
		pool_unref(&pool);
	} T_END;
	test_end();
}

static void test_status_names(void)
{
	static const char *const valid[] = {
		"X-Encrypt-Status", "x-status", "Encryption",
		"X-" "0123456789012345678901234567890123456789" "0123456789012345"
	};
	static const char *const invalid[] = {
		"", "Content-Type", "content-x", "MIME-Version", "Subject",
		"from", "Received", "Resent-To", "X Status", "X-Status:",
		"X\xe4",
		"X-" "0123456789012345678901234567890123456789" "0123456789012345678"
	};
	const char *error;
	unsigned int i;

	test_begin("status: header field names");
	for (i = 0; i < N_ELEMENTS(valid); i++) {
		test_assert_idx(sieve_encrypt_status_header_name_check(
			valid[i], &error), i);
	}
	for (i = 0; i < N_ELEMENTS(invalid); i++) {
		error = NULL;
		test_assert_idx(!sieve_encrypt_status_header_name_check(
			invalid[i], &error), i);
		test_assert_idx(error != NULL &&
				strstr(error, "sieve_encrypt_status_header=")
				!= NULL, i);
	}
	test_assert_strcmp(sieve_encrypt_status_value(
		SIEVE_ENCRYPT_STATUS_ALREADY_ENCRYPTED), "already-encrypted");
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_mime_cases,
		test_mime_protect_headers,
		test_mime_protect_deep_comment,
		test_mime_legacy_display,
		test_mime_legacy_not_hidden,
		test_legacy_html_pieces,
		test_mime_output,
		test_mime_output_encrypted,
		test_mime_large_header,
		test_mime_status,
		test_status_names,
		NULL
	};
	return test_run(test_functions);
}
