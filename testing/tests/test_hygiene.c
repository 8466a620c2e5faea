/* test_hygiene.c - the leak checks of testing/hygiene.h must see each leak they
 * exist for (a check that never fires would let every test, replayed input and
 * stress run pass). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#include "hygiene.h"

/* Forks a child that blocks until killed. */
static pid_t fork_sleeper(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        for (;;)
            pause();
    return pid;
}

/* Forks a child that exits at once and waits (without reaping) until it is a
 * zombie. */
static pid_t fork_zombie(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(0);
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
    return pid;
}

static void test_fd_count_follows_open_and_close(void **state)
{
    (void)state;
    int before = hygiene_fd_count();
    assert_true(before >= 0);
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(hygiene_fd_count(), before + 1);
    close(fd);
    assert_int_equal(hygiene_fd_count(), before);
}

static void test_no_children_sees_a_live_child(void **state)
{
    (void)state;
    struct hygiene_child_probe probe;
    assert_true(hygiene_no_children(&probe));
    assert_int_equal(probe.pid, -1);
    assert_int_equal(probe.error, ECHILD);

    pid_t pid = fork_sleeper();
    assert_false(hygiene_no_children(&probe));
    assert_int_equal(probe.pid, 0);
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    assert_true(hygiene_no_children(NULL));
}

static void test_no_children_sees_and_reaps_a_zombie(void **state)
{
    (void)state;
    pid_t pid = fork_zombie();
    assert_int_equal(hygiene_count_zombie_children(), 1);
    struct hygiene_child_probe probe;
    assert_false(hygiene_no_children(&probe));
    assert_int_equal(probe.pid, pid);
    assert_int_equal(hygiene_count_zombie_children(), 0);
    assert_true(hygiene_no_children(NULL));
}

static void test_zombies_are_told_from_live_children(void **state)
{
    (void)state;
    pid_t live = fork_sleeper();
    fork_zombie();
    assert_int_equal(hygiene_count_zombie_children(), 1);
    assert_int_equal(hygiene_reap_exited_children(), 1);
    assert_int_equal(hygiene_count_zombie_children(), 0);
    assert_int_equal(kill(live, SIGKILL), 0);
    assert_int_equal(waitpid(live, NULL, 0), live);
}

static void test_kill_and_reap_leaves_no_child(void **state)
{
    (void)state;
    fork_sleeper();
    fork_sleeper();
    fork_zombie();
    hygiene_kill_and_reap_children();
    assert_true(hygiene_no_children(NULL));
}

static int make_shm(const char *name)
{
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 4096), 0);
    return fd;
}

static void test_shm_count_own_needs_the_whole_pid(void **state)
{
    (void)state;
    char own[64], longer[64];
    snprintf(own, sizeof(own), "/hygiene-test-%d-own", (int)getpid());
    snprintf(longer, sizeof(longer), "/hygiene-test-%d7-longer", (int)getpid());
    int before = hygiene_shm_count_own();
    close(make_shm(own));
    close(make_shm(longer));
    assert_int_equal(hygiene_shm_count_own(), before + 1);
    shm_unlink(own);
    shm_unlink(longer);
    assert_int_equal(hygiene_shm_count_own(), before);
}

struct found_names {
    int n;
    char names[4][64];
};

static void collect(const char *name, void *ctx)
{
    struct found_names *f = ctx;
    if (f->n < 4)
        snprintf(f->names[f->n], sizeof(f->names[0]), "%s", name);
    f->n++;
}

static void test_new_shm_objects_are_ours_only(void **state)
{
    (void)state;
    /* Only the first is in the baseline; the others are created after it: one
     * named with the pid, one that only a mapping ties to this process, and one
     * of "another program" (the pid is part of a longer number). */
    char old[64], named[64], mapped[64], foreign[64];
    snprintf(old, sizeof(old), "/hygiene-test-%d-old", (int)getpid());
    snprintf(named, sizeof(named), "/hygiene-test-%d-named", (int)getpid());
    snprintf(mapped, sizeof(mapped), "/hygiene-test-mapped-%d1", (int)getpid());
    snprintf(foreign, sizeof(foreign), "/hygiene-test-foreign-%d2", (int)getpid());
    close(make_shm(old));
    struct hygiene_baseline b;
    hygiene_baseline_take(&b);
    assert_true(b.fd_count >= 0);
    close(make_shm(named));
    close(make_shm(foreign));
    int fd = make_shm(mapped);
    void *map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    assert_true(map != MAP_FAILED);
    close(fd);

    struct found_names found = {0};
    assert_int_equal(hygiene_new_shm_objects(&b, collect, &found), 2);
    assert_int_equal(found.n, 2);
    bool saw_named = false, saw_mapped = false;
    for (int i = 0; i < 2; i++) {
        saw_named |= !strcmp(found.names[i], named + 1);
        saw_mapped |= !strcmp(found.names[i], mapped + 1);
    }
    assert_true(saw_named);
    assert_true(saw_mapped);

    munmap(map, 4096);
    shm_unlink(old);
    shm_unlink(named);
    shm_unlink(mapped);
    shm_unlink(foreign);
    found.n = 0;
    assert_int_equal(hygiene_new_shm_objects(&b, collect, &found), 0);
    hygiene_baseline_release(&b);
    assert_int_equal(b.shm_n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IPCT_TEST(test_fd_count_follows_open_and_close),
        IPCT_TEST(test_no_children_sees_a_live_child),
        IPCT_TEST(test_no_children_sees_and_reaps_a_zombie),
        IPCT_TEST(test_zombies_are_told_from_live_children),
        IPCT_TEST(test_kill_and_reap_leaves_no_child),
        IPCT_TEST(test_shm_count_own_needs_the_whole_pid),
        IPCT_TEST(test_new_shm_objects_are_ours_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
