/* redir.c - dup2 plans for fds 0-2. See ipc/redir.h. */
#include "ipc/redir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"

enum { SRC_NONE = 0, SRC_FD, SRC_SAME };

struct ipc_redir {
    struct {
        int kind;
        int fd;    /* SRC_FD: plan-owned fd >= 3, close-on-exec */
        int other; /* SRC_SAME */
    } slot[3];
};

static int valid_target(int t)
{
    return t >= 0 && t <= 2;
}

int ipc_redir_new(ipc_redir **out)
{
    if (!out)
        return -EINVAL;
    ipc_redir *r = ipc__sys_calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    for (int t = 0; t < 3; t++)
        r->slot[t].fd = -1;
    *out = r;
    return 0;
}

static void slot_reset(ipc_redir *r, int t)
{
    if (r->slot[t].kind == SRC_FD && r->slot[t].fd >= 0)
        close(r->slot[t].fd);
    r->slot[t].kind = SRC_NONE;
    r->slot[t].fd = -1;
    r->slot[t].other = -1;
}

void ipc_redir_free(ipc_redir *r)
{
    if (!r)
        return;
    for (int t = 0; t < 3; t++)
        slot_reset(r, t);
    free(r);
}

/* Takes ownership of fd: moves it above 2 (so applying never clobbers a source
 * with a target) and makes sure it is close-on-exec. */
static int set_owned_fd(ipc_redir *r, int target, int fd)
{
    int hi = ipc__sys_fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int err = hi < 0 ? ipc__neg_errno() : 0;
    close(fd);
    if (hi < 0)
        return err;
    slot_reset(r, target);
    r->slot[target].kind = SRC_FD;
    r->slot[target].fd = hi;
    return 0;
}

int ipc_redir_file(ipc_redir *r, int target, const char *path, int mode)
{
    if (!r || !valid_target(target) || !path || !*path)
        return -EINVAL;
    int oflags;
    switch (mode) {
    case IPC_REDIR_TRUNC:
        oflags = O_WRONLY | O_CREAT | O_TRUNC;
        break;
    case IPC_REDIR_APPEND:
        oflags = O_WRONLY | O_CREAT | O_APPEND;
        break;
    case IPC_REDIR_READ:
        oflags = O_RDONLY;
        break;
    default:
        return -EINVAL;
    }
    int fd = IPC__RETRY(ipc__sys_open(path, oflags | O_CLOEXEC | O_NOCTTY, 0644));
    if (fd < 0)
        return ipc__neg_errno();
    return set_owned_fd(r, target, fd);
}

int ipc_redir_fd(ipc_redir *r, int target, int fd)
{
    if (!r || !valid_target(target) || fd < 0)
        return -EINVAL;
    int hi = ipc__sys_fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (hi < 0)
        return ipc__neg_errno();
    slot_reset(r, target);
    r->slot[target].kind = SRC_FD;
    r->slot[target].fd = hi;
    return 0;
}

int ipc_redir_null(ipc_redir *r, int target)
{
    if (!r || !valid_target(target))
        return -EINVAL;
    int fd = IPC__RETRY(ipc__sys_open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY));
    if (fd < 0)
        return ipc__neg_errno();
    return set_owned_fd(r, target, fd);
}

int ipc_redir_same(ipc_redir *r, int target, int other)
{
    if (!r || !valid_target(target) || !valid_target(other))
        return -EINVAL;
    slot_reset(r, target);
    if (other == target)
        return 0; /* "1>&1" leaves the target alone */
    r->slot[target].kind = SRC_SAME;
    r->slot[target].other = other;
    return 0;
}

int ipc_redir_clear(ipc_redir *r, int target)
{
    if (!r || !valid_target(target))
        return -EINVAL;
    slot_reset(r, target);
    return 0;
}

int ipc_redir_resolve(const ipc_redir *r, int src[3])
{
    if (!r || !src)
        return -EINVAL;
    for (int t = 0; t < 3; t++) {
        switch (r->slot[t].kind) {
        case SRC_FD:
            src[t] = r->slot[t].fd;
            break;
        case SRC_SAME: {
            int o = r->slot[t].other;
            src[t] = r->slot[o].kind == SRC_FD ? r->slot[o].fd : o;
            break;
        }
        default:
            src[t] = -1;
        }
    }
    return 0;
}

/* The async-signal-safe core shared by every apply form: gives target t the fd
 * src[t] (-1: untouched). Sources that are themselves targets (0-2) are copied above
 * 2 first so no dup2 destroys a source still needed. The copies are recorded in
 * tmp[] for the caller to close. */
static int apply_resolved(const int src[3], int tmp[3])
{
    int use[3];
    for (int t = 0; t < 3; t++) {
        tmp[t] = -1;
        use[t] = src[t];
    }
    for (int t = 0; t < 3; t++) {
        if (use[t] >= 0 && use[t] <= 2) {
            int hi = ipc__sys_fcntl(use[t], F_DUPFD_CLOEXEC, 3);
            if (hi < 0)
                return ipc__neg_errno();
            tmp[t] = hi;
            use[t] = hi;
        }
    }
    for (int t = 0; t < 3; t++) {
        if (use[t] < 0)
            continue;
        /* use[t] >= 3 != t, so dup2 always creates a fresh, inheritable fd t. */
        if (ipc__dup2_retry(use[t], t) < 0)
            return ipc__neg_errno();
    }
    return 0;
}

static void close_tmp(int tmp[3])
{
    for (int t = 0; t < 3; t++)
        if (tmp[t] >= 0)
            close(tmp[t]);
}

int ipc_redir_apply_fds(const int src[3])
{
    if (!src)
        return -EINVAL;
    for (int t = 0; t < 3; t++)
        if (src[t] < -1)
            return -EINVAL;
    int tmp[3];
    int rc = apply_resolved(src, tmp);
    close_tmp(tmp);
    return rc;
}

int ipc_redir_apply_child(const ipc_redir *r)
{
    int src[3];
    int rc = ipc_redir_resolve(r, src);
    if (rc < 0)
        return rc;
    return ipc_redir_apply_fds(src);
}

int ipc_redir_apply(const ipc_redir *r, struct ipc_redir_saved *saved)
{
    if (!r || !saved)
        return -EINVAL;
    int src[3], tmp[3];
    int rc = ipc_redir_resolve(r, src);
    if (rc < 0)
        return rc;
    struct ipc_redir_saved s;
    s.active = 1;
    for (int t = 0; t < 3; t++) {
        s.fd[t] = -1;
        s.closed[t] = 0;
    }
    for (int t = 0; t < 3; t++) {
        if (src[t] < 0)
            continue;
        int hi = ipc__sys_fcntl(t, F_DUPFD_CLOEXEC, 3);
        if (hi >= 0) {
            s.fd[t] = hi;
        } else if (errno == EBADF) {
            s.closed[t] = 1; /* restore closes it again */
        } else {
            rc = ipc__neg_errno();
            for (int u = 0; u < 3; u++)
                if (s.fd[u] >= 0)
                    close(s.fd[u]);
            return rc;
        }
    }
    fflush(stdout);
    fflush(stderr);
    rc = apply_resolved(src, tmp);
    close_tmp(tmp);
    if (rc < 0) {
        /* Best effort back to where we were; the error reported is the first one. */
        int rc2 = ipc_redir_restore(&s);
        (void)rc2;
        return rc;
    }
    *saved = s;
    return 0;
}

int ipc_redir_restore(struct ipc_redir_saved *saved)
{
    if (!saved || saved->active != 1)
        return -EINVAL;
    fflush(stdout);
    fflush(stderr);
    int rc = 0;
    for (int t = 0; t < 3; t++) {
        if (saved->fd[t] >= 0) {
            if (ipc__dup2_retry(saved->fd[t], t) < 0 && rc == 0)
                rc = ipc__neg_errno();
            close(saved->fd[t]);
            saved->fd[t] = -1;
        } else if (saved->closed[t]) {
            close(t);
            saved->closed[t] = 0;
        }
    }
    saved->active = 0;
    return rc;
}
