/* Copyright (c) 2026 sieve-encrypt authors, see the included COPYING file
 */

#include "lib.h"
#include "array.h"
#include "fd-util.h"
#include "ioloop.h"
#include "istream.h"

#include "sieve-encrypt-gpg-engine.h"
#include "sieve-encrypt-gpg-io.h"

#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>

/* Pipes to gpg are enlarged to this size (Linux: F_SETPIPE_SZ; the default
   limit for unprivileged processes, /proc/sys/fs/pipe-max-size, is 1 MiB):
   fewer wake-ups, and the ciphertext arrives in large pieces, which keeps
   the temporary file's writes large. */
#define SIEVE_ENCRYPT_GPG_PIPE_SIZE (1024 * 1024)

/* sieve-encrypt-gpg-exec kills gpg at the deadline, which ends the
   operation; the I/O loop gives up this much later in any case (when
   that did not happen, e.g. the program was stopped) */
#define SIEVE_ENCRYPT_GPG_KILL_GRACE_MSECS 1000

/* One file descriptor (a pipe to gpg) that gpgme wants watched */
struct sieve_encrypt_gpg_fd {
	struct sieve_encrypt_gpg_io *io;
	int fd;
	struct io *watch;
	gpgme_io_cb_t callback;
	void *callback_data;
	/* gpgme writes to fd (else it reads from it) */
	bool outbound:1;
	/* set O_NONBLOCK (sieve_encrypt_gpg_io_send() writes to it) */
	bool nonblocking:1;
};

struct sieve_encrypt_gpg_io {
	gpgme_ctx_t ctx;
	unsigned int timeout_msecs;
	sieve_encrypt_gpg_key_callback_t *key_callback;
	void *context;

	struct ioloop *ioloop;
	/* the current operation's deadline (CLOCK_MONOTONIC) */
	struct timespec deadline;
	ARRAY(struct sieve_encrypt_gpg_fd *) fds;
	/* the pipe whose gpgme callback is running */
	struct sieve_encrypt_gpg_fd *serving;
	/* for sieve_encrypt_gpg_io_receive(): grown to what the pipe held,
	   up to SIEVE_ENCRYPT_GPG_PIPE_SIZE (small mail needs little) */
	unsigned char *receive_buffer;
	size_t receive_buffer_size;
	/* the current operation's data */
	struct sieve_encrypt_gpg_traffic traffic;
	gpgme_error_t op_err;
	bool done:1;
	bool timed_out:1;
};

/*
 * gpgme's I/O callbacks
 */

static void sieve_encrypt_gpg_fd_ready(struct sieve_encrypt_gpg_fd *gfd)
{
	struct sieve_encrypt_gpg_io *io = gfd->io;

	/* gfd may be removed (freed) by the callback */
	io->serving = gfd;
	(void)gfd->callback(gfd->callback_data, gfd->fd);
	io->serving = gfd;
}

static void sieve_encrypt_gpg_pipe_enlarge(int fd)
{
#ifdef F_SETPIPE_SZ
	/* Only an optimization: a smaller pipe works as well */
	(void)fcntl(fd, F_SETPIPE_SZ, SIEVE_ENCRYPT_GPG_PIPE_SIZE);
#else
	(void)fd;
#endif
}

static gpgme_error_t
sieve_encrypt_gpg_io_add(void *data, int fd, int dir, gpgme_io_cb_t fnc,
			 void *fnc_data, void **tag_r)
{
	struct sieve_encrypt_gpg_io *io = data;
	struct sieve_encrypt_gpg_fd *gfd;

	i_assert(io->ioloop != NULL);

	sieve_encrypt_gpg_pipe_enlarge(fd);

	gfd = i_new(struct sieve_encrypt_gpg_fd, 1);
	gfd->io = io;
	gfd->fd = fd;
	gfd->callback = fnc;
	gfd->callback_data = fnc_data;
	/* dir: 1 = gpgme reads from fd, 0 = gpgme writes to it */
	gfd->outbound = (dir == 0);
	gfd->watch = io_add_to(io->ioloop, fd, (dir != 0 ? IO_READ : IO_WRITE),
			       sieve_encrypt_gpg_fd_ready, gfd);
	array_push_back(&io->fds, &gfd);
	*tag_r = gfd;
	return 0;
}

static void sieve_encrypt_gpg_io_remove(void *tag)
{
	struct sieve_encrypt_gpg_fd *gfd = tag;
	struct sieve_encrypt_gpg_io *io = gfd->io;
	struct sieve_encrypt_gpg_fd *const *fds;
	unsigned int i, count;

	fds = array_get(&io->fds, &count);
	for (i = 0; i < count; i++) {
		if (fds[i] == gfd) {
			array_delete(&io->fds, i, 1);
			break;
		}
	}
	if (io->serving == gfd)
		io->serving = NULL;
	io_remove(&gfd->watch);
	i_free(gfd);
}

static void
sieve_encrypt_gpg_io_event(void *data, gpgme_event_io_t type,
			   void *type_data)
{
	struct sieve_encrypt_gpg_io *io = data;
	gpgme_io_event_done_data_t done;

	switch (type) {
	case GPGME_EVENT_DONE:
		done = type_data;
		io->op_err = (done->err != 0 ? done->err : done->op_err);
		io->done = TRUE;
		if (io->ioloop != NULL)
			io_loop_stop(io->ioloop);
		break;
	case GPGME_EVENT_NEXT_KEY:
		io->key_callback(type_data, io->context);
		break;
	case GPGME_EVENT_START:
	case GPGME_EVENT_NEXT_TRUSTITEM:
		break;
	}
}

/*
 * Moving the data past gpgme
 */

/* The fast path is not taken when most of the data of a direction
   (and at least this much) went through gpgme */
#define SIEVE_ENCRYPT_GPG_SLOW_PATH_MIN_SIZE (256 * 1024)

static bool
sieve_encrypt_gpg_direction_slow(uoff_t past, uoff_t through)
{
	return (through >= SIEVE_ENCRYPT_GPG_SLOW_PATH_MIN_SIZE &&
		through > past);
}

bool sieve_encrypt_gpg_traffic_slow(const struct sieve_encrypt_gpg_traffic *t)
{
	return (sieve_encrypt_gpg_direction_slow(t->to_gpg_past,
						 t->to_gpg_through) ||
		sieve_encrypt_gpg_direction_slow(t->from_gpg_past,
						 t->from_gpg_through));
}

void sieve_encrypt_gpg_io_count_through(struct sieve_encrypt_gpg_io *io,
					bool to_gpg, size_t size)
{
	if (to_gpg)
		io->traffic.to_gpg_through += size;
	else
		io->traffic.from_gpg_through += size;
}

const struct sieve_encrypt_gpg_traffic *
sieve_encrypt_gpg_io_traffic(const struct sieve_encrypt_gpg_io *io)
{
	return &io->traffic;
}

int sieve_encrypt_gpg_io_send(struct sieve_encrypt_gpg_io *io,
			      struct istream *input)
{
	struct sieve_encrypt_gpg_fd *gfd = io->serving;
	const unsigned char *data;
	size_t size;
	ssize_t ret;

	if (gfd == NULL || !gfd->outbound)
		return 0;
	if (!gfd->nonblocking) {
		/* gpgme's own writes to this pipe handle EAGAIN */
		fd_set_nonblock(gfd->fd, TRUE);
		gfd->nonblocking = TRUE;
	}
	while (i_stream_read_more(input, &data, &size) > 0) {
		ret = write(gfd->fd, data, size);
		if (ret < 0) {
			/* EPIPE: gpg is gone; gpgme finds that out with its
			   next write and closes the pipe */
			if (errno == EAGAIN || errno == EPIPE)
				return 1;
			return -1;
		}
		i_stream_skip(input, ret);
		io->traffic.to_gpg_past += ret;
	}
	return 1;
}

ssize_t sieve_encrypt_gpg_io_read_input(struct sieve_encrypt_gpg_io *io,
					struct istream *input,
					void *buffer, size_t size)
{
	const unsigned char *data;
	size_t avail;
	int ret;

	ret = sieve_encrypt_gpg_io_send(io, input);
	if (ret < 0)
		return -1;
	if (ret > 0)
		size = 1;
	do {
		/* 0 only from a non-blocking stream: read again */
		ret = i_stream_read_more(input, &data, &avail);
	} while (ret == 0);
	if (ret > 0) {
		size = I_MIN(size, avail);
		memcpy(buffer, data, size);
		i_stream_skip(input, size);
		io->traffic.to_gpg_through += size;
		return (ssize_t)size;
	}
	if (input->stream_errno != 0) {
		errno = input->stream_errno;
		return -1;
	}
	return 0;
}

ssize_t sieve_encrypt_gpg_io_write_output(struct sieve_encrypt_gpg_io *io,
					  const void *buffer, size_t size,
					  sieve_encrypt_gpg_consume_t *consume,
					  void *context)
{
	const void *more;
	ssize_t ret;

	if (consume(context, buffer, size) < 0)
		return -1;
	while ((ret = sieve_encrypt_gpg_io_receive(io, &more)) > 0) {
		if (consume(context, more, ret) < 0)
			return -1;
	}
	return (ret < 0 ? -1 : (ssize_t)size);
}

ssize_t sieve_encrypt_gpg_io_receive(struct sieve_encrypt_gpg_io *io,
				     const void **data_r)
{
	struct sieve_encrypt_gpg_fd *gfd = io->serving;
	int avail = 0;
	size_t size;
	ssize_t ret;

	/* Only what the pipe holds: a read never blocks, and gpgme's
	   callback still sees the end of the data */
	if (gfd == NULL || gfd->outbound ||
	    ioctl(gfd->fd, FIONREAD, &avail) < 0 || avail <= 0)
		return 0;
	size = I_MIN((size_t)avail, SIEVE_ENCRYPT_GPG_PIPE_SIZE);
	if (size > io->receive_buffer_size) {
		/* A fresh 1 MiB for every small mail cost more than the
		   mail's own ciphertext (zeroing, page faults) */
		i_free(io->receive_buffer);
		io->receive_buffer_size = I_MIN(nearest_power(size),
						SIEVE_ENCRYPT_GPG_PIPE_SIZE);
		io->receive_buffer = i_malloc(io->receive_buffer_size);
	}
	ret = read(gfd->fd, io->receive_buffer, size);
	if (ret > 0)
		io->traffic.from_gpg_past += ret;
	*data_r = io->receive_buffer;
	return ret;
}

/*
 * Deadline
 */

/* gpg is no child of this process (gpgme double-forks the engine): the
   engine, sieve-encrypt-gpg-exec, owns it and kills it at the deadline.
   Here the operation only ends. */
static void sieve_encrypt_gpg_io_timeout(struct sieve_encrypt_gpg_io *io)
{
	io->timed_out = TRUE;
	/* Closes the pipes (removing our watches) and ends the operation */
	(void)gpgme_cancel(io->ctx);
	io_loop_stop(io->ioloop);
}

static bool
sieve_encrypt_gpg_io_deadline_passed(const struct sieve_encrypt_gpg_io *io)
{
	struct timespec now;

	if (clock_gettime(CLOCK_MONOTONIC, &now) < 0)
		i_fatal("clock_gettime(CLOCK_MONOTONIC) failed: %m");
	return (now.tv_sec > io->deadline.tv_sec ||
		(now.tv_sec == io->deadline.tv_sec &&
		 now.tv_nsec >= io->deadline.tv_nsec));
}

/*
 * Operations
 */

struct sieve_encrypt_gpg_io *
sieve_encrypt_gpg_io_attach(gpgme_ctx_t ctx, unsigned int timeout_msecs,
			    sieve_encrypt_gpg_key_callback_t *key_callback,
			    void *context)
{
	struct sieve_encrypt_gpg_io *io;
	struct gpgme_io_cbs cbs = {
		.add = sieve_encrypt_gpg_io_add,
		.remove = sieve_encrypt_gpg_io_remove,
		.event = sieve_encrypt_gpg_io_event,
	};

	io = i_new(struct sieve_encrypt_gpg_io, 1);
	io->ctx = ctx;
	io->timeout_msecs = timeout_msecs;
	io->key_callback = key_callback;
	io->context = context;
	i_array_init(&io->fds, 8);

	cbs.add_priv = io;
	cbs.event_priv = io;
	gpgme_set_io_cbs(ctx, &cbs);
	return io;
}

void sieve_encrypt_gpg_io_detach(struct sieve_encrypt_gpg_io **_io)
{
	struct sieve_encrypt_gpg_io *io = *_io;

	if (io == NULL)
		return;
	*_io = NULL;

	i_assert(io->ioloop == NULL);
	i_assert(array_count(&io->fds) == 0);
	gpgme_set_io_cbs(io->ctx, NULL);
	array_free(&io->fds);
	i_free(io->receive_buffer);
	i_free(io);
}

void sieve_encrypt_gpg_io_begin(struct sieve_encrypt_gpg_io *io)
{
	i_assert(io->ioloop == NULL);

	io->ioloop = io_loop_create();
	sieve_encrypt_gpg_deadline_in(io->timeout_msecs, &io->deadline);
	io->op_err = 0;
	io->done = FALSE;
	io->timed_out = FALSE;
	i_zero(&io->traffic);
}

const struct timespec *
sieve_encrypt_gpg_io_deadline(const struct sieve_encrypt_gpg_io *io)
{
	i_assert(io->ioloop != NULL);
	return &io->deadline;
}

gpgme_error_t sieve_encrypt_gpg_io_end(struct sieve_encrypt_gpg_io *io,
				       gpgme_error_t start_err)
{
	struct timeout *to;

	if (start_err == 0 && !io->done) {
		to = timeout_add_to(io->ioloop, io->timeout_msecs +
				    SIEVE_ENCRYPT_GPG_KILL_GRACE_MSECS,
				    sieve_encrypt_gpg_io_timeout, io);
		io_loop_run(io->ioloop);
		timeout_remove(&to);
		/* Ended by the engine's kill at the deadline, probably
		   without an error (gpgme cannot see gpg's exit status) */
		if (sieve_encrypt_gpg_io_deadline_passed(io))
			io->timed_out = TRUE;
	}
	if (array_count(&io->fds) > 0) {
		/* The start failed half-way */
		(void)gpgme_cancel(io->ctx);
	}
	i_assert(array_count(&io->fds) == 0);
	io_loop_destroy(&io->ioloop);

	if (start_err != 0)
		return start_err;
	if (io->timed_out)
		return gpg_error(GPG_ERR_TIMEOUT);
	return io->op_err;
}
