/* hygiene.c - fd, child and /dev/shm leak checks shared by the unit tests, the
 * corpus replay and the stress drivers (see hygiene.h). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hygiene.h"

int hygiene_fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory stream's own fd */
}

bool hygiene_no_children(struct hygiene_child_probe *probe)
{
    int status;
    pid_t p;
    do {
        p = waitpid(-1, &status, WNOHANG);
    } while (p == -1 && errno == EINTR);
    int error = p == -1 ? errno : 0;
    if (probe) {
        probe->pid = p;
        probe->error = error;
    }
    return p == -1 && error == ECHILD;
}

void hygiene_for_each_child(pid_t parent, void (*fn)(pid_t pid, char state, void *arg), void *arg)
{
    DIR *d = opendir("/proc");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "re");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[len] = '\0';
        /* comm may hold spaces and parentheses: parse after the last ')'. */
        char *rp = strrchr(buf, ')');
        char state;
        long ppid;
        if (!rp || sscanf(rp + 1, " %c %ld", &state, &ppid) != 2 || ppid != (long)parent)
            continue;
        fn((pid_t)atol(e->d_name), state, arg);
    }
    closedir(d);
}

static void count_zombie(pid_t pid, char state, void *arg)
{
    (void)pid;
    *(int *)arg += state == 'Z';
}

static void kill_live(pid_t pid, char state, void *arg)
{
    if (state != 'Z' && kill(pid, SIGKILL) == 0)
        ++*(int *)arg;
}

int hygiene_count_zombie_children(void)
{
    int zombies = 0;
    hygiene_for_each_child(getpid(), count_zombie, &zombies);
    return zombies;
}

int hygiene_reap_exited_children(void)
{
    int n = 0;
    while (waitpid(-1, NULL, WNOHANG) > 0)
        n++;
    return n;
}

void hygiene_kill_and_reap_children(void)
{
    int killed = 0;
    hygiene_for_each_child(getpid(), kill_live, &killed);
    if (killed > 0)
        while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
            ;
    hygiene_reap_exited_children();
}

/* True when name contains pid as a whole number: pid 12 must not claim "x123". */
static bool name_has_pid(const char *name, pid_t pid)
{
    char digits[24];
    int n = snprintf(digits, sizeof(digits), "%d", (int)pid);
    for (const char *at = strstr(name, digits); at; at = strstr(at + 1, digits)) {
        bool digit_before = at > name && at[-1] >= '0' && at[-1] <= '9';
        bool digit_after = at[n] >= '0' && at[n] <= '9';
        if (!digit_before && !digit_after)
            return true;
    }
    return false;
}

/* Calls visit(name, ctx) for every object in /dev/shm (dot entries aside) until it
 * returns false. Without /dev/shm there is nothing to visit. */
static void for_each_shm_object(bool (*visit)(const char *name, void *ctx), void *ctx)
{
    DIR *d = opendir("/dev/shm");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && !visit(e->d_name, ctx))
            break;
    closedir(d);
}

struct own_count {
    pid_t pid;
    int n;
};

static bool count_if_own(const char *name, void *ctx)
{
    struct own_count *c = ctx;
    if (name_has_pid(name, c->pid))
        c->n++;
    return true;
}

int hygiene_shm_count_own(void)
{
    struct own_count c = {.pid = getpid(), .n = 0};
    for_each_shm_object(count_if_own, &c);
    return c.n;
}

static bool record_name(const char *name, void *ctx)
{
    struct hygiene_baseline *b = ctx;
    if (b->shm_n >= HYGIENE_MAX_SHM_NAMES)
        return false;
    b->shm_names[b->shm_n] = strdup(name);
    if (b->shm_names[b->shm_n])
        b->shm_n++;
    return true;
}

void hygiene_baseline_take(struct hygiene_baseline *b)
{
    b->fd_count = hygiene_fd_count();
    b->shm_n = 0;
    for_each_shm_object(record_name, b);
}

void hygiene_baseline_release(struct hygiene_baseline *b)
{
    for (size_t i = 0; i < b->shm_n; i++)
        free(b->shm_names[i]);
    b->shm_n = 0;
}

static bool in_baseline(const struct hygiene_baseline *b, const char *name)
{
    for (size_t i = 0; i < b->shm_n; i++)
        if (!strcmp(b->shm_names[i], name))
            return true;
    return false;
}

static bool mapped_by_self(const char *name)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return false;
    char line[512], needle[300];
    snprintf(needle, sizeof(needle), "/dev/shm/%s", name);
    bool found = false;
    while (!found && fgets(line, sizeof(line), f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

struct new_own_search {
    const struct hygiene_baseline *baseline;
    pid_t pid;
    void (*found)(const char *name, void *ctx);
    void *ctx;
    int n;
};

static bool report_if_new_and_own(const char *name, void *ctx)
{
    struct new_own_search *q = ctx;
    if (in_baseline(q->baseline, name))
        return true;
    if (name_has_pid(name, q->pid) || mapped_by_self(name)) {
        q->found(name, q->ctx);
        q->n++;
    }
    return true;
}

int hygiene_new_shm_objects(const struct hygiene_baseline *b,
                            void (*found)(const char *name, void *ctx), void *ctx)
{
    struct new_own_search q = {.baseline = b, .pid = getpid(), .found = found, .ctx = ctx, .n = 0};
    for_each_shm_object(report_if_new_and_own, &q);
    return q.n;
}
