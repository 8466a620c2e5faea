/* test_server.c - server setup (ipcsrv/server.h): binding, describe, option
 * checks. The forked, signal-driven server is covered by tests/integration/. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#include "ipcsrv/server.h"

static void test_server_setup(void **state)
{
    (void)state;
    char path[64];
    snprintf(path, sizeof(path), "/tmp/ipc-test-server-%ld.sock", (long)getpid());
    struct ipc_server_options o = {.port = 0, .unix_path = path, .udp = 1, .workers = 2};
    ipc_server *s;
    IPCT_OK(ipc_server_new(&s, &o));
    int port = ipc_server_port(s);
    assert_true(port > 0);
    char line[256], want[64];
    assert_true(ipc_server_describe(s, line, sizeof(line)) > 0);
    snprintf(want, sizeof(want), "tcp 127.0.0.1:%d udp 127.0.0.1:%d", port, port);
    assert_non_null(strstr(line, want));
    assert_non_null(strstr(line, path));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(ipc_server_describe(s, line, 8), -ENOSPC);
    ipc_server_free(s);
    assert_int_equal(stat(path, &st), -1); /* removed by its creator */

    struct ipc_server_options bad = {.port = 70000};
    assert_int_equal(ipc_server_new(&s, &bad), -EINVAL);
    bad = (struct ipc_server_options){.workers = IPC_SERVER_MAX_WORKERS + 1};
    assert_int_equal(ipc_server_new(&s, &bad), -EINVAL);
    bad = (struct ipc_server_options){.bind = "example.com"};
    assert_int_equal(ipc_server_new(&s, &bad), -EINVAL);
    bad = (struct ipc_server_options){.no_tcp = 1};
    assert_int_equal(ipc_server_new(&s, &bad), -EINVAL);
    bad = (struct ipc_server_options){.busy_poll_us = -2};
    assert_int_equal(ipc_server_new(&s, &bad), -EINVAL);
    bad = (struct ipc_server_options){.busy_poll_us = IPC_SERVER_MAX_BUSY_POLL_US + 1};
    assert_int_equal(ipc_server_new(&s, &bad), -EINVAL);
    struct ipc_server_options never_spin = {.busy_poll_us = -1};
    IPCT_OK(ipc_server_new(&s, &never_spin));
    ipc_server_free(s);
    assert_int_equal(ipc_server_new(NULL, &o), -EINVAL);
    assert_int_equal(ipc_server_run(NULL), -EINVAL);
    ipc_server_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IPCT_TEST(test_server_setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
