/* sys.h - the fault-injection seam: every system call and allocation of libipc
 * that can fail is spelled ipc__sys_<call>(...) (docs/design.md, "Fault
 * injection"). Without IPC_FAULTS each name is a macro for the real call, so a
 * build without the option compiles to exactly the code it had before the seam.
 * With it, each goes through faults.c, which may fail the call with an errno or
 * shorten a transfer, and records the call site (file:line) for the sweep. */
#ifndef IPC_SYS_H
#define IPC_SYS_H

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#if IPC_FAULTS
#include "ipc/faults.h"

#define IPC__STR2(x) #x
#define IPC__STR(x)  IPC__STR2(x)
#define IPC__SITE    __FILE_NAME__ ":" IPC__STR(__LINE__)

/* The controller's decision for one call: 0 to make the real call (with *len
 * possibly lowered for a short transfer; len may be NULL), else the errno to
 * fail with. Async-signal-safe. */
int ipc__fault(enum ipc_fault_call call, const char *site, size_t *len);

ssize_t ipc__fault_read(const char *site, int fd, void *buf, size_t n);
ssize_t ipc__fault_signalfd_read(const char *site, int fd, void *buf, size_t n);
ssize_t ipc__fault_write(const char *site, int fd, const void *buf, size_t n);
ssize_t ipc__fault_readv(const char *site, int fd, const struct iovec *iov, int cnt);
ssize_t ipc__fault_writev(const char *site, int fd, const struct iovec *iov, int cnt);
ssize_t ipc__fault_send(const char *site, int fd, const void *buf, size_t n, int flags);
ssize_t ipc__fault_recv(const char *site, int fd, void *buf, size_t n, int flags);
ssize_t ipc__fault_sendto(const char *site, int fd, const void *buf, size_t n, int flags,
                          const struct sockaddr *to, socklen_t tolen);
ssize_t ipc__fault_recvfrom(const char *site, int fd, void *buf, size_t n, int flags,
                            struct sockaddr *from, socklen_t *fromlen);
int ipc__fault_int(enum ipc_fault_call call, const char *site);
/* The same for calls whose possible errnos depend on their fd (connect, accept4:
 * EINTR only when the socket blocks), on fcntl's command or on dup2's target. */
int ipc__fault_fd(enum ipc_fault_call call, const char *site, int fd);
int ipc__fault_fcntl(const char *site, int fd, int cmd, ...);
int ipc__fault_wait(enum ipc_fault_call call, const char *site, int options);
int ipc__fault_dup2(const char *site, int oldfd, int newfd);
/* Signal sends: EPERM and ESRCH only for a target that is not a live child of
 * this process (by pid, or by pidfd). */
int ipc__fault_pid(enum ipc_fault_call call, const char *site, pid_t pid);
int ipc__fault_pidfd(const char *site, int pidfd);
struct timespec;
int ipc__fault_sigtimedwait(const char *site, const struct timespec *timeout);
int ipc__fault_rc(enum ipc_fault_call call, const char *site);
void *ipc__fault_malloc(const char *site, size_t n);
void *ipc__fault_calloc(const char *site, size_t n, size_t size);
void *ipc__fault_realloc(const char *site, void *p, size_t n);
void *ipc__fault_mmap(const char *site, void *addr, size_t len, int prot, int flags, int fd,
                      off_t off);

/* Calls returning -1 and setting errno: fail before the call when the controller
 * says so. A macro rather than a function, so that the real call is made in the
 * caller's frame (vfork must be, and __FILE_NAME__:__LINE__ must be the caller's). */
#define IPC__SYS_INT(call, expr) (ipc__fault_int(IPC_FAULT_##call, IPC__SITE) ? -1 : (expr))
/* Calls returning an error number (posix_spawn, pthread_sigmask). */
#define IPC__SYS_RC(call, expr) (ipc__fault_rc(IPC_FAULT_##call, IPC__SITE) ?: (expr))

#define ipc__sys_read(...)          ipc__fault_read(IPC__SITE, __VA_ARGS__)
#define ipc__sys_signalfd_read(...) ipc__fault_signalfd_read(IPC__SITE, __VA_ARGS__)
#define ipc__sys_write(...)         ipc__fault_write(IPC__SITE, __VA_ARGS__)
#define ipc__sys_readv(...)         ipc__fault_readv(IPC__SITE, __VA_ARGS__)
#define ipc__sys_writev(...)        ipc__fault_writev(IPC__SITE, __VA_ARGS__)
#define ipc__sys_send(...)          ipc__fault_send(IPC__SITE, __VA_ARGS__)
#define ipc__sys_recv(...)          ipc__fault_recv(IPC__SITE, __VA_ARGS__)
#define ipc__sys_sendto(...)        ipc__fault_sendto(IPC__SITE, __VA_ARGS__)
#define ipc__sys_recvfrom(...)      ipc__fault_recvfrom(IPC__SITE, __VA_ARGS__)
#define ipc__sys_malloc(...)        ipc__fault_malloc(IPC__SITE, __VA_ARGS__)
#define ipc__sys_calloc(...)        ipc__fault_calloc(IPC__SITE, __VA_ARGS__)
#define ipc__sys_realloc(...)       ipc__fault_realloc(IPC__SITE, __VA_ARGS__)
#define ipc__sys_mmap(...)          ipc__fault_mmap(IPC__SITE, __VA_ARGS__)
#define ipc__sys_pipe2(...)         IPC__SYS_INT(pipe2, pipe2(__VA_ARGS__))
#define ipc__sys_fork()             IPC__SYS_INT(fork, fork())
#define ipc__sys_vfork()            IPC__SYS_INT(vfork, vfork())
#define ipc__sys_posix_spawn(...)   IPC__SYS_RC(posix_spawn, posix_spawn(__VA_ARGS__))
#define ipc__sys_posix_spawnp(...)  IPC__SYS_RC(posix_spawn, posix_spawnp(__VA_ARGS__))
#define ipc__sys_execve(...)        IPC__SYS_INT(execve, execve(__VA_ARGS__))
#define ipc__sys_waitpid(pid, st, options)                                                         \
    (ipc__fault_wait(IPC_FAULT_waitpid, IPC__SITE, options) ? -1 : waitpid(pid, st, options))
#define ipc__sys_waitid(type, id, info, options)                                                   \
    (ipc__fault_wait(IPC_FAULT_waitid, IPC__SITE, options) ? -1 : waitid(type, id, info, options))
#define ipc__sys_pidfd_open(...) IPC__SYS_INT(pidfd_open, syscall(SYS_pidfd_open, __VA_ARGS__))
#define ipc__sys_pidfd_send_signal(fd, ...)                                                        \
    (ipc__fault_pidfd(IPC__SITE, fd) ? -1 : syscall(SYS_pidfd_send_signal, fd, __VA_ARGS__))
#define ipc__sys_kill(pid, ...)                                                                    \
    (ipc__fault_pid(IPC_FAULT_kill, IPC__SITE, pid) ? -1 : kill(pid, __VA_ARGS__))
#define ipc__sys_sigqueue(pid, ...)                                                                \
    (ipc__fault_pid(IPC_FAULT_sigqueue, IPC__SITE, pid) ? -1 : sigqueue(pid, __VA_ARGS__))
#define ipc__sys_dup2(...)       (ipc__fault_dup2(IPC__SITE, __VA_ARGS__) ? -1 : dup2(__VA_ARGS__))
#define ipc__sys_fcntl(...)      (ipc__fault_fcntl(IPC__SITE, __VA_ARGS__) ? -1 : fcntl(__VA_ARGS__))
#define ipc__sys_open(...)       IPC__SYS_INT(open, open(__VA_ARGS__))
#define ipc__sys_socket(...)     IPC__SYS_INT(socket, socket(__VA_ARGS__))
#define ipc__sys_setsockopt(...) IPC__SYS_INT(setsockopt, setsockopt(__VA_ARGS__))
#define ipc__sys_bind(...)       IPC__SYS_INT(bind, bind(__VA_ARGS__))
#define ipc__sys_listen(...)     IPC__SYS_INT(listen, listen(__VA_ARGS__))
#define ipc__sys_accept4(fd, ...)                                                                  \
    (ipc__fault_fd(IPC_FAULT_accept4, IPC__SITE, fd) ? -1 : accept4(fd, __VA_ARGS__))
#define ipc__sys_connect(fd, ...)                                                                  \
    (ipc__fault_fd(IPC_FAULT_connect, IPC__SITE, fd) ? -1 : connect(fd, __VA_ARGS__))
#define ipc__sys_getsockname(...)     IPC__SYS_INT(getsockname, getsockname(__VA_ARGS__))
#define ipc__sys_poll(...)            IPC__SYS_INT(poll, poll(__VA_ARGS__))
#define ipc__sys_memfd_create(...)    IPC__SYS_INT(memfd_create, memfd_create(__VA_ARGS__))
#define ipc__sys_shm_open(...)        IPC__SYS_INT(shm_open, shm_open(__VA_ARGS__))
#define ipc__sys_ftruncate(...)       IPC__SYS_INT(ftruncate, ftruncate(__VA_ARGS__))
#define ipc__sys_sigaction(...)       IPC__SYS_INT(sigaction, sigaction(__VA_ARGS__))
#define ipc__sys_sigprocmask(...)     IPC__SYS_INT(sigprocmask, sigprocmask(__VA_ARGS__))
#define ipc__sys_pthread_sigmask(...) IPC__SYS_RC(pthread_sigmask, pthread_sigmask(__VA_ARGS__))
#define ipc__sys_sigtimedwait(set, info, ts)                                                       \
    (ipc__fault_sigtimedwait(IPC__SITE, ts) ? -1 : sigtimedwait(set, info, ts))
#define ipc__sys_signalfd(...) IPC__SYS_INT(signalfd, signalfd(__VA_ARGS__))

#else /* no seam: the real calls, nothing else */

#define ipc__sys_read                   read
#define ipc__sys_signalfd_read          read
#define ipc__sys_write                  write
#define ipc__sys_readv                  readv
#define ipc__sys_writev                 writev
#define ipc__sys_send                   send
#define ipc__sys_recv                   recv
#define ipc__sys_sendto                 sendto
#define ipc__sys_recvfrom               recvfrom
#define ipc__sys_malloc                 malloc
#define ipc__sys_calloc                 calloc
#define ipc__sys_realloc                realloc
#define ipc__sys_mmap                   mmap
#define ipc__sys_pipe2                  pipe2
#define ipc__sys_fork                   fork
#define ipc__sys_vfork                  vfork
#define ipc__sys_posix_spawn            posix_spawn
#define ipc__sys_posix_spawnp           posix_spawnp
#define ipc__sys_execve                 execve
#define ipc__sys_waitpid                waitpid
#define ipc__sys_waitid                 waitid
#define ipc__sys_pidfd_open(...)        syscall(SYS_pidfd_open, __VA_ARGS__)
#define ipc__sys_pidfd_send_signal(...) syscall(SYS_pidfd_send_signal, __VA_ARGS__)
#define ipc__sys_kill                   kill
#define ipc__sys_sigqueue               sigqueue
#define ipc__sys_dup2                   dup2
#define ipc__sys_fcntl                  fcntl
#define ipc__sys_open                   open
#define ipc__sys_socket                 socket
#define ipc__sys_setsockopt             setsockopt
#define ipc__sys_bind                   bind
#define ipc__sys_listen                 listen
#define ipc__sys_accept4                accept4
#define ipc__sys_connect                connect
#define ipc__sys_getsockname            getsockname
#define ipc__sys_poll                   poll
#define ipc__sys_memfd_create           memfd_create
#define ipc__sys_shm_open               shm_open
#define ipc__sys_ftruncate              ftruncate
#define ipc__sys_sigaction              sigaction
#define ipc__sys_sigprocmask            sigprocmask
#define ipc__sys_pthread_sigmask        pthread_sigmask
#define ipc__sys_sigtimedwait           sigtimedwait
#define ipc__sys_signalfd               signalfd

#endif

#endif
