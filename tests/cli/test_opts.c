/* test_opts.c - the CLI option parser (cli/opts.h): decimal numbers, seconds,
 * "--x=v" and "--x v", abbreviations, the rest-of-line option, positional
 * arguments and the exit statuses, through repeated calls as subcommands make. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "opts.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])) - 1)

static void test_u64_decimal(void **state)
{
    (void)state;
    uint64_t v = 99;
    assert_int_equal(cli_parse_u64("010", 0, 100, &v), 0);
    assert_int_equal(v, 10);
    assert_int_equal(cli_parse_u64("0000", 0, 100, &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(cli_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
    assert_true(v == UINT64_MAX);
    v = 7;
    static const char *const bad[] = {"",
                                      "0x10",
                                      "0X10",
                                      "+5",
                                      "-5",
                                      " 5",
                                      "5 ",
                                      "1e3",
                                      "5k",
                                      "ten",
                                      "1.0",
                                      "08a",
                                      "18446744073709551616",
                                      "99999999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(cli_parse_u64(bad[i], 0, UINT64_MAX, &v), -1);
        assert_int_equal(v, 7); /* untouched on error */
    }
    assert_int_equal(cli_parse_u64(NULL, 0, 1, &v), -1);
    assert_int_equal(cli_parse_u64("65536", 0, 65535, &v), -1);
    assert_int_equal(cli_parse_u64("0", 1, 5, &v), -1);
    assert_int_equal(cli_parse_u64("65535", 0, 65535, &v), 0);
    assert_int_equal(v, 65535);
}

static void test_seconds(void **state)
{
    (void)state;
    double d = -1;
    assert_int_equal(cli_parse_seconds("0.5", &d), 0);
    assert_true(d == 0.5);
    assert_int_equal(cli_parse_seconds("02", &d), 0);
    assert_true(d == 2.0);
    assert_int_equal(cli_parse_seconds("3.", &d), 0);
    assert_true(d == 3.0);
    assert_int_equal(cli_parse_seconds(".25", &d), 0);
    assert_true(d == 0.25);
    static const char *const bad[] = {"",   ".",   "0x1", "1e3",   "-1",  "+1",      " 1",
                                      "1 ", "inf", "nan", "1.2.3", "1,5", "10000001"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(cli_parse_seconds(bad[i], &d), -1);
}

struct fixture {
    uint64_t n;
    double secs;
    const char *name;
    bool flag;
    int mode;
    struct cli_rest rest;
    bool n_given;
};

static const char *check_name(const char *value, const void *ctx)
{
    (void)ctx;
    return strcmp(value, "good") ? "good" : NULL;
}

static int parse(struct fixture *f, int argc, char **argv, int *first)
{
    memset(f, 0, sizeof(*f));
    f->n = 5;
    const struct cli_opt opts[] = {
        {.name = "num",
         .kind = CLI_OPT_U64,
         .dest = &f->n,
         .min = 1,
         .max = 1000,
         .short_name = 'n',
         .given = &f->n_given},
        {.name = "secs", .kind = CLI_OPT_SECONDS, .dest = &f->secs},
        {.name = "name", .kind = CLI_OPT_STR, .dest = &f->name, .check = check_name},
        {.name = "flag", .kind = CLI_OPT_FLAG, .dest = &f->flag},
        {.name = "one", .kind = CLI_OPT_CONST, .dest = &f->mode, .min = 1},
        {.name = "two", .kind = CLI_OPT_CONST, .dest = &f->mode, .min = 2},
        {.name = "rest", .kind = CLI_OPT_REST, .dest = &f->rest},
        {0},
    };
    const struct cli_cmd cmd = {.prog = "test", .opts = opts};
    return cli_parse(&cmd, argc, argv, first);
}

static void test_equals_and_space(void **state)
{
    (void)state;
    struct fixture f;
    char *a[] = {"t", "--num", "010", "--secs", "0.5", "--name", "good", "--flag", NULL};
    assert_int_equal(parse(&f, ARGC(a), a, NULL), CLI_RUN);
    assert_int_equal(f.n, 10);
    assert_true(f.n_given);
    assert_true(f.secs == 0.5);
    assert_string_equal(f.name, "good");
    assert_true(f.flag);
    char *b[] = {"t", "--num=010", "--secs=0.5", "--name=good", "--flag", NULL};
    assert_int_equal(parse(&f, ARGC(b), b, NULL), CLI_RUN);
    assert_int_equal(f.n, 10);
    assert_true(f.secs == 0.5);
    assert_string_equal(f.name, "good");
    char *c[] = {"t", "-n", "7", NULL};
    assert_int_equal(parse(&f, ARGC(c), c, NULL), CLI_RUN);
    assert_int_equal(f.n, 7);
    char *d[] = {"t", "--one", "--two", "--one", NULL}; /* the last one wins */
    assert_int_equal(parse(&f, ARGC(d), d, NULL), CLI_RUN);
    assert_int_equal(f.mode, 1);
    char *e[] = {"t", NULL};
    assert_int_equal(parse(&f, ARGC(e), e, NULL), CLI_RUN);
    assert_int_equal(f.n, 5);
    assert_false(f.n_given);
}

static void test_usage_errors(void **state)
{
    (void)state;
    struct fixture f;
    char *cases[][4] = {
        {"t", "--num", "0x10", NULL}, {"t", "--num=", NULL, NULL},     {"t", "--num", NULL, NULL},
        {"t", "--num", "0", NULL},    {"t", "--nu", "5", NULL},        {"t", "--bogus", NULL, NULL},
        {"t", "-x", NULL, NULL},      {"t", "--flag=1", NULL, NULL},   {"t", "--name", "bad", NULL},
        {"t", "--secs", "1e3", NULL}, {"t", "positional", NULL, NULL}, {"t", "--rest", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int argc = 0;
        while (cases[i][argc])
            argc++;
        assert_int_equal(parse(&f, argc, cases[i], NULL), CLI_EXIT_USAGE);
    }
}

static void test_help(void **state)
{
    (void)state;
    struct fixture f;
    char *a[] = {"t", "--num", "3", "--help", NULL};
    assert_int_equal(parse(&f, ARGC(a), a, NULL), 0);
    char *b[] = {"t", "-h", NULL};
    assert_int_equal(parse(&f, ARGC(b), b, NULL), 0);
    char *c[] = {"t", "--he", NULL}; /* no abbreviation of --help either */
    assert_int_equal(parse(&f, ARGC(c), c, NULL), CLI_EXIT_USAGE);
}

static void test_positional(void **state)
{
    (void)state;
    struct fixture f;
    int first = -1;
    char *a[] = {"t", "--num", "3", "cmd", "--num", "4", NULL};
    assert_int_equal(parse(&f, ARGC(a), a, &first), CLI_RUN);
    assert_int_equal(first, 3); /* options end at the first non-option */
    assert_int_equal(f.n, 3);
    char *b[] = {"t", "--flag", "--", "--num", NULL};
    assert_int_equal(parse(&f, ARGC(b), b, &first), CLI_RUN);
    assert_int_equal(first, 3);
    char *c[] = {"t", "--flag", NULL};
    assert_int_equal(parse(&f, ARGC(c), c, &first), CLI_RUN);
    assert_int_equal(first, 2);
}

static void test_rest(void **state)
{
    (void)state;
    struct fixture f;
    char buf[64];
    /* Every remaining argument, options included. */
    char *a[] = {"t", "--num", "3", "--rest", "--cpu", "1", "--num", "9", NULL};
    assert_int_equal(parse(&f, ARGC(a), a, NULL), CLI_RUN);
    assert_int_equal(f.n, 3);
    assert_null(f.rest.first);
    assert_int_equal(f.rest.argc, 4);
    assert_int_equal(cli_rest_join(&f.rest, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "--cpu 1 --num 9");
    /* One quoted argument: options may follow. */
    char *b[] = {"t", "--rest", "--cpu 1 --fork 1", "--num", "9", NULL};
    assert_int_equal(parse(&f, ARGC(b), b, NULL), CLI_RUN);
    assert_int_equal(f.n, 9);
    assert_int_equal(cli_rest_join(&f.rest, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "--cpu 1 --fork 1");
    char *c[] = {"t", "--rest=--cpu 2", "--flag", NULL};
    assert_int_equal(parse(&f, ARGC(c), c, NULL), CLI_RUN);
    assert_true(f.flag);
    assert_int_equal(cli_rest_join(&f.rest, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "--cpu 2");
    assert_int_equal(cli_rest_join(&f.rest, buf, 4), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_u64_decimal),
        cmocka_unit_test(test_seconds),
        cmocka_unit_test(test_equals_and_space),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_positional),
        cmocka_unit_test(test_rest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
