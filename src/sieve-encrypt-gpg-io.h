/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#ifndef SIEVE_ENCRYPT_GPG_IO_H
#define SIEVE_ENCRYPT_GPG_IO_H

#include <gpgme.h>

/* Runs gpgme operations in a private Dovecot ioloop (gpgme's external event
   loop interface), so that an operation has a deadline: gpgme's engine,
   sieve-encrypt-gpg-exec, kills gpg at that time, and an operation that
   ends then (or has not ended a little later) fails with
   GPG_ERR_TIMEOUT. */
struct sieve_encrypt_gpg_io;

typedef void sieve_encrypt_gpg_key_callback_t(gpgme_key_t key, void *context);

/* Take over ctx's I/O. Keys that a key listing finds are handed to
   key_callback, which owns the reference. */
struct sieve_encrypt_gpg_io *
sieve_encrypt_gpg_io_attach(gpgme_ctx_t ctx, unsigned int timeout_msecs,
			    sieve_encrypt_gpg_key_callback_t *key_callback,
			    void *context);
void sieve_encrypt_gpg_io_detach(struct sieve_encrypt_gpg_io **io);

/* Call before gpgme_op_*_start(): sets the deadline */
void sieve_encrypt_gpg_io_begin(struct sieve_encrypt_gpg_io *io);
/* The deadline of the operation begun (CLOCK_MONOTONIC), for the engine */
const struct timespec *
sieve_encrypt_gpg_io_deadline(const struct sieve_encrypt_gpg_io *io);
/* Call after gpgme_op_*_start() with its result: runs the operation to its
   end and returns its error (GPG_ERR_TIMEOUT when the deadline passed). */
gpgme_error_t sieve_encrypt_gpg_io_end(struct sieve_encrypt_gpg_io *io,
				       gpgme_error_t start_err);

/* gpgme formats every byte that it passes between gpg and the data
   callbacks for its debug trace, also with tracing off (gpgme 1.18 to
   1.24), which costs more than the encryption. So the data callbacks move
   the bulk themselves, on the pipe that gpgme is serving when it calls
   them; outside gpgme's I/O callbacks these do nothing and return 0. */

/* The data of the current operation, in bytes: moved past gpgme by the
   two functions below, and through gpgme (counted by the data callbacks
   with sieve_encrypt_gpg_io_count_through()). */
struct sieve_encrypt_gpg_traffic {
	uoff_t to_gpg_past, to_gpg_through;
	uoff_t from_gpg_past, from_gpg_through;
};

const struct sieve_encrypt_gpg_traffic *
sieve_encrypt_gpg_io_traffic(const struct sieve_encrypt_gpg_io *io);
void sieve_encrypt_gpg_io_count_through(struct sieve_encrypt_gpg_io *io,
					bool to_gpg, size_t size);
/* Whether the fast path was not taken: in one direction most of the data
   (at least 256 KiB) went through gpgme, e.g. because a gpgme version
   calls the data callbacks outside its I/O callbacks. Correct, but
   slow. */
bool sieve_encrypt_gpg_traffic_slow(const struct sieve_encrypt_gpg_traffic *t);

/* Write as much of input as the pipe takes without blocking. Returns 1,
   0 when called outside gpgme's I/O callback of the pipe to gpg (nothing
   written), or -1 when the write failed (errno set). A read error of input
   is left in input->stream_errno. */
int sieve_encrypt_gpg_io_send(struct sieve_encrypt_gpg_io *io,
			      struct istream *input);
/* The work of a gpgme read callback that feeds input to gpg: most of
   input goes past gpgme (sieve_encrypt_gpg_io_send()), gpgme gets only
   the next byte: it keeps the pipe and closes it when input ends. Called
   outside the pipe's I/O callback (the slow path), gpgme gets what it
   asked for. Returns as gpgme_data_read_cb_t (errno set on -1). */
ssize_t sieve_encrypt_gpg_io_read_input(struct sieve_encrypt_gpg_io *io,
					struct istream *input,
					void *buffer, size_t size);
/* The work of a gpgme write callback that takes what gpg writes:
   consume gets what gpgme read from the pipe, then what else the pipe
   holds, past gpgme (sieve_encrypt_gpg_io_receive()). Returns size, or -1
   when consume or a read failed (errno set). */
typedef int sieve_encrypt_gpg_consume_t(void *context, const void *data,
					size_t size);
ssize_t sieve_encrypt_gpg_io_write_output(struct sieve_encrypt_gpg_io *io,
					  const void *buffer, size_t size,
					  sieve_encrypt_gpg_consume_t *consume,
					  void *context);
/* Read what the pipe holds (without blocking) into a buffer owned by io,
   valid until the next call. Returns its size, or -1 (errno set). */
ssize_t sieve_encrypt_gpg_io_receive(struct sieve_encrypt_gpg_io *io,
				     const void **data_r);

#endif
