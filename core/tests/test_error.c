/* test_error.c - the error map (IPC_ERRNO_MAP, ipc/error.h): every code has a
 * distinct value, name and text inside the reserved range; negated errno values
 * are named and described like glibc does; anything else gets a fixed,
 * non-NULL answer. The entries are expanded from the map itself, so a code added
 * to the map is checked here without touching this file. */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ipc/error.h"
#include "ipc/resp.h"
#include "testutil.h"

struct entry {
    int code;
    const char *name; /* "IPC_<name>" */
    const char *text;
};

static const struct entry map[] = {
#define XX(name, value, text) {IPC_##name, "IPC_" #name, text},
    IPC_ERRNO_MAP(XX)
#undef XX
};
#define NMAP (sizeof(map) / sizeof(map[0]))

static const struct entry resp_map[] = {
#define XX(name, value, text) {IPC_##name, "IPC_" #name, text},
    IPC_ERRNO_MAP_RESP(XX)
#undef XX
};
#define NRESP (sizeof(resp_map) / sizeof(resp_map[0]))

static int in_map(int code)
{
    for (size_t i = 0; i < NMAP; i++)
        if (map[i].code == code)
            return 1;
    return 0;
}

static void test_every_code_named_and_described(void **state)
{
    (void)state;
    /* Every code the library had before the map, under its public name and value. */
    assert_int_equal(NMAP, 13);
    assert_int_equal(IPC_ENEEDMORE, -5001);
    assert_int_equal(IPC_EBADMAGIC, -5002);
    assert_int_equal(IPC_EBADVERSION, -5003);
    assert_int_equal(IPC_ETOOLARGE, -5004);
    assert_int_equal(IPC_EBADCRC, -5005);
    assert_int_equal(IPC_ETRUNCATED, -5006);
    assert_int_equal(IPC_EPROTO_MULTIBULK, -5010);
    assert_int_equal(IPC_EPROTO_BULK, -5011);
    assert_int_equal(IPC_EPROTO_DOLLAR, -5012);
    assert_int_equal(IPC_EPROTO_INLINE, -5013);
    assert_int_equal(IPC_EPROTO_QUOTES, -5014);
    assert_int_equal(IPC_EOWNERDEAD, -5020);
    assert_int_equal(IPC_ECHILDLOST, -5021);

    for (size_t i = 0; i < NMAP; i++) {
        const struct entry *e = &map[i];
        /* Inside the reserved range, far below any -errno. */
        assert_true(e->code < IPC_ERR_FIRST && e->code > IPC_ERR_LAST);
        assert_true(e->code <= -4096);
        assert_true(strncmp(e->name, "IPC_E", 5) == 0);
        assert_true(strlen(e->text) > 0);

        /* The lookups give the map's name and text, not a generic fallback. */
        assert_string_equal(ipc_errname(e->code), e->name);
        assert_string_equal(ipc_strerror(e->code), e->text);
        assert_string_not_equal(ipc_strerror(e->code), "unknown error");

        /* Values, names and texts are distinct from every other entry's. */
        for (size_t j = i + 1; j < NMAP; j++) {
            assert_int_not_equal(e->code, map[j].code);
            assert_string_not_equal(e->name, map[j].name);
            assert_string_not_equal(e->text, map[j].text);
        }
        /* ... and from every errno's text, so a message never leaves its source in doubt. */
        for (int k = 1; k < 4096; k++) {
            const char *d = strerrordesc_np(k);
            if (d)
                assert_string_not_equal(e->text, d);
        }
    }
}

static void test_resp_part_of_map(void **state)
{
    (void)state;
    /* The RESP sub-map is part of the whole map, and ipc_resp_errmsg is its text
     * after "ERR "; the other codes have no wire text. */
    assert_int_equal(NRESP, 5);
    for (size_t i = 0; i < NRESP; i++) {
        assert_true(in_map(resp_map[i].code));
        const char *m = ipc_resp_errmsg(resp_map[i].code);
        assert_non_null(m);
        assert_true(strncmp(m, "ERR ", 4) == 0);
        assert_string_equal(m + 4, resp_map[i].text);
        assert_string_equal(m + 4, ipc_strerror(resp_map[i].code));
    }
    assert_string_equal(ipc_resp_errmsg(IPC_EPROTO_DOLLAR), "ERR Protocol error: expected '$'");
    assert_null(ipc_resp_errmsg(IPC_EBADCRC));
    assert_null(ipc_resp_errmsg(IPC_ENEEDMORE));
    assert_null(ipc_resp_errmsg(-EINVAL));
    assert_null(ipc_resp_errmsg(0));
}

static void test_negated_errno(void **state)
{
    (void)state;
    assert_string_equal(ipc_strerror(-ENOENT), "No such file or directory");
    assert_string_equal(ipc_errname(-ENOENT), "ENOENT");
    assert_string_equal(ipc_strerror(-EPIPE), "Broken pipe");
    assert_string_equal(ipc_errname(-EPIPE), "EPIPE");
    assert_string_equal(ipc_errname(-EOWNERDEAD), "EOWNERDEAD"); /* the system's, not ours */
    assert_string_not_equal(ipc_strerror(-EOWNERDEAD), ipc_strerror(IPC_EOWNERDEAD));

    int known = 0;
    for (int e = 1; e < 4096; e++) {
        const char *d = strerrordesc_np(e), *n = strerrorname_np(e);
        if (d) {
            known++;
            /* In the C locale the test runs in, strerror says the same. */
            assert_string_equal(ipc_strerror(-e), d);
            assert_string_equal(ipc_strerror(-e), strerror(e));
        } else {
            assert_string_equal(ipc_strerror(-e), "unknown error");
        }
        assert_string_equal(ipc_errname(-e), n ? n : "unknown");
    }
    assert_true(known > 100);
}

static void test_unknown_and_success(void **state)
{
    (void)state;
    /* Unassigned values, in and around the reserved range, and far away. */
    const int unknown[] = {IPC_ERR_FIRST, IPC_ERR_LAST, -5007,   -5050,  -5098,
                           -5100,         -4096,        -100000, INT_MIN};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        assert_false(in_map(unknown[i]));
        assert_string_equal(ipc_strerror(unknown[i]), "unknown error");
        assert_string_equal(ipc_errname(unknown[i]), "unknown");
    }
    /* Success values (>= 0) are not errors. */
    assert_string_equal(ipc_strerror(0), "success");
    assert_string_equal(ipc_strerror(42), "success");
    assert_string_equal(ipc_strerror(INT_MAX), "success");
    assert_string_equal(ipc_errname(0), "unknown");
    assert_string_equal(ipc_errname(EPIPE), "unknown"); /* positive: not a negated errno */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IPCT_TEST(test_every_code_named_and_described),
        IPCT_TEST(test_resp_part_of_map),
        IPCT_TEST(test_negated_errno),
        IPCT_TEST(test_unknown_and_success),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
