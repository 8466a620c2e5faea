/* ipc/redir.h - dup2 plans for stdin, stdout and stderr (the shell's <, >, >>,
 * >/dev/null, 2>&1).
 *
 * A plan is declarative: it maps each of the targets 0, 1, 2 to a source, and
 * applying it gives every target its source at once. All files are opened (and
 * given fds duplicated) when the source is set, in the parent, close-on-exec and
 * moved above fd 2, so the "apply in a child" form needs no allocation or open
 * and is async-signal-safe. Overlapping targets are safe: sources that are
 * themselves targets are first duplicated to fresh close-on-exec fds, so swapping
 * stdout and stderr (ipc_redir_same(r, 1, 2) + ipc_redir_same(r, 2, 1)) works.
 *
 * ipc_redir_same(r, target, other) means "target gets what other gets from this
 * plan, or other's fd as it was before the plan when the plan leaves other alone
 * (or maps it with ipc_redir_same)". So `>file 2>&1` is
 * ipc_redir_file(r, 1, "file", IPC_REDIR_TRUNC) + ipc_redir_same(r, 2, 1),
 * whatever the order of the two calls.
 *
 * Thread safety: a plan may be applied concurrently (in children) but not modified
 * concurrently. Applying in the current process (ipc_redir_apply) changes the
 * process-wide fds 0-2: serialise it with any other thread using them.
 *
 * Errors under faults (what harnesses/faultsweep.c observed with every seam call
 * of this module failed in turn; the same holds for real failures):
 *   ipc_redir_new          -ENOMEM.
 *   ipc_redir_file, ipc_redir_null  -ENOENT, -EACCES, -EMFILE, -ENFILE, -ENOMEM
 *                          (open; EINTR is retried), -EMFILE (moving the fd above 2).
 *   ipc_redir_fd           -EMFILE (F_DUPFD_CLOEXEC).
 *   ipc_redir_apply        -EMFILE (saving 0-2); nothing is changed on failure.
 *   ipc_redir_apply_child, ipc_redir_apply_fds  -EMFILE (F_DUPFD_CLOEXEC).
 *   Every dup2 retries EINTR and EBUSY (a dup2 racing an open() in another
 *   thread), so ipc_redir_restore gives 0-2 back and returns 0.
 *   ipc_redir_same, ipc_redir_clear, ipc_redir_resolve, ipc_redir_free: none.
 */
#ifndef IPC_REDIR_H
#define IPC_REDIR_H

#include <stddef.h>

#include "ipc/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ipc_redir ipc_redir; /* opaque plan */

#define IPC_REDIR_STDIN  0
#define IPC_REDIR_STDOUT 1
#define IPC_REDIR_STDERR 2

/* ipc_redir_file modes (exactly one). Files are created with mode 0644 (minus umask). */
#define IPC_REDIR_TRUNC  1 /* O_WRONLY|O_CREAT|O_TRUNC   (>)  */
#define IPC_REDIR_APPEND 2 /* O_WRONLY|O_CREAT|O_APPEND  (>>) */
#define IPC_REDIR_READ   3 /* O_RDONLY                   (<)  */

/* Creates an empty plan (applying it changes nothing). Returns 0 and *out (owned by
 * the caller, ipc_redir_free), -EINVAL, -ENOMEM. */
IPC_MUST_USE int ipc_redir_new(ipc_redir **out);

/* Frees the plan and closes the fds it holds. NULL is a no-op. */
void ipc_redir_free(ipc_redir *r);

/* Each setter replaces the target's previous source (closing an fd held for it).
 * target is 0, 1 or 2. They return 0, -EINVAL for a bad target/mode/NULL, or the
 * open/fcntl error (-ENOENT, -EACCES, -EBADF, -EMFILE...). Not async-signal-safe. */

/* target to the file at path, opened now with mode (IPC_REDIR_*) and O_CLOEXEC. The
 * one open file (and its offset) is shared by every application of the plan, like
 * the shell's `exec >file`; set it again for a fresh truncation. */
IPC_MUST_USE int ipc_redir_file(ipc_redir *r, int target, const char *path, int mode);
/* target to a duplicate of fd taken now (e.g. a pipe end); the caller keeps fd. */
IPC_MUST_USE int ipc_redir_fd(ipc_redir *r, int target, int fd);
/* target to /dev/null (read-write). */
IPC_MUST_USE int ipc_redir_null(ipc_redir *r, int target);
/* target gets other's source (2>&1 is ipc_redir_same(r, 2, 1)); see the top. */
IPC_MUST_USE int ipc_redir_same(ipc_redir *r, int target, int other);
/* target is left alone again (undoes a setter). */
IPC_MUST_USE int ipc_redir_clear(ipc_redir *r, int target);

/* Saved fds for ipc_redir_restore; fields are private. */
struct ipc_redir_saved {
    int fd[3];     /* close-on-exec copies of the original 0-2, -1 when not saved */
    int closed[3]; /* the original target was not open */
    int active;
};

/* Applies r in the calling process, first saving the current 0-2 into *saved
 * (stdout and stderr are fflush'ed first so buffered output lands where it was
 * meant to). On failure nothing is changed. Returns 0, -EINVAL, -EMFILE/-EBADF...
 * Not async-signal-safe (fflush); see the thread note at the top. */
IPC_MUST_USE int ipc_redir_apply(const ipc_redir *r, struct ipc_redir_saved *saved);

/* Puts back the fds saved by ipc_redir_apply (after fflush of stdout/stderr) and
 * closes the saved copies. Returns 0, -EINVAL (not active), or the dup2 error. */
IPC_MUST_USE int ipc_redir_restore(struct ipc_redir_saved *saved);

/* Applies r in a freshly forked/vforked child, typically right before exec:
 * async-signal-safe, no allocation. Temporary fds it makes are close-on-exec.
 * The fds the plan holds stay open (close-on-exec) in the child. Returns 0 or a
 * negative errno (the child should then report it and _exit). */
IPC_MUST_USE int ipc_redir_apply_child(const ipc_redir *r);

/* Gives target t (0-2) the fd src[t] at once, -1 leaving t alone: the primitive
 * under every apply form, usable with plain fds (e.g. pipe ends) without a plan.
 * Sources among 0-2 are copied above 2 first, so overlapping and swapped mappings
 * are safe. Async-signal-safe, no allocation; temporary fds are closed before it
 * returns. Returns 0, -EINVAL (src NULL or an entry < -1), or the fcntl/dup2 error. */
IPC_MUST_USE int ipc_redir_apply_fds(const int src[3]);

/* Resolves the plan: src[t] is the fd target t must receive (a plan fd >= 3 or an
 * original target 0-2), or -1 when t is left alone. Returns 0 or -EINVAL.
 * Async-signal-safe. Used by proc to build posix_spawn file actions. */
IPC_MUST_USE int ipc_redir_resolve(const ipc_redir *r, int src[3]);

#ifdef __cplusplus
}
#endif
#endif
