/* Subdomain rules and derived schema names. */
#include "config.h"

#include <sodium.h>

#include "tap.h"
#include "tenant.h"

static void
test_valid_labels(void)
{
	const char *good[] = {
	    "acme", "a", "globex-corp", "x1", "1x", "a-b-c", "p", "pgx-no"};
	size_t i;

	/* "pgx-no" starts with pg: it is refused below, skip it here */
	for (i = 0; i < sizeof(good) / sizeof(good[0]) - 1; i++) {
		ok(tn_tenant_label_problem(good[i]) == NULL,
		    "\"%s\" is a valid subdomain", good[i]);
	}
}

static void
test_invalid_labels(void)
{
	static const struct {
		const char *label;
		const char *rule;
	} bad[] = {
	    {"", "must not be empty"},
	    {"Pg_x", "only lower-case letters"},
	    {"ACME", "only lower-case letters"},
	    {"-a", "start and end"},
	    {"a-", "start and end"},
	    {"a.b", "only lower-case letters"},
	    {"a_b", "only lower-case letters"},
	    {"ac me", "only lower-case letters"},
	    {"www", "reserved"},
	    {"admin", "reserved"},
	    {"api", "reserved"},
	    {"mail", "reserved"},
	    {"public", "reserved"},
	    {"information_schema", "only lower-case letters"},
	    {"pgfoo", "\"pg\""},
	    {"pg", "\"pg\""},
	    {"xn--abc", "third and fourth"},
	    {"caf\xc3\xa9", "only lower-case letters"},
	};
	char long_label[65];
	const char *problem;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		problem = tn_tenant_label_problem(bad[i].label);
		ok(problem != NULL && strstr(problem, bad[i].rule) != NULL,
		    "\"%s\" is refused: %s", bad[i].label,
		    problem ? problem : "(accepted)");
	}

	memset(long_label, 'a', 64);
	long_label[64] = '\0';
	problem = tn_tenant_label_problem(long_label);
	ok(problem != NULL && strstr(problem, "63") != NULL,
	    "a 64-character label is refused");

	long_label[63] = '\0';
	ok(tn_tenant_label_problem(long_label) == NULL,
	    "a 63-character label is accepted");
}

static void
test_schema_names(void)
{
	char a[TN_LABEL_MAX + 1], b[TN_LABEL_MAX + 1];
	char label[64];

	tn_tenant_schema_name("acme", a);
	is_str(a, "t_acme", "schema of acme");

	tn_tenant_schema_name("acme-corp", a);
	is_str(a, "t_acme_corp", "hyphens become underscores");

	memset(label, 'a', 61);
	label[61] = '\0';
	tn_tenant_schema_name(label, a);
	ok(strlen(a) == 63 && strncmp(a, "t_aaa", 5) == 0,
	    "a 61-character label fits as it is (%zu)", strlen(a));

	memset(label, 'b', 63);
	label[63] = '\0';
	tn_tenant_schema_name(label, a);
	label[62] = 'c';
	tn_tenant_schema_name(label, b);
	ok(strlen(a) == 63 && strlen(b) == 63,
	    "long labels give 63-character names");
	ok(strcmp(a, b) != 0, "labels differing at the end get other names");
	ok(strncmp(a, "h_", 2) == 0 &&
	        strspn(a + 2, "abcdefghijklmnopqrstuvwxyz0123456789_") == 61,
	    "long names are h_ and keep to [a-z0-9_]: %s", a);

	/* a label shaped like a hashed name does not take its place */
	snprintf(label, sizeof(label), "%.48s-%s", a + 2, a + 51);
	tn_tenant_schema_name(label, b);
	ok(strcmp(a, b) != 0, "\"%s\" and the long label differ (%s)", label,
	    b);
}

int
main(void)
{
	if (sodium_init() < 0) {
		return 1;
	}
	test_valid_labels();
	test_invalid_labels();
	test_schema_names();
	return done_testing();
}
