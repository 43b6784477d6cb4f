#include "base/common.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_fs.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "kube/kubeconfig.h"

/* Each test gets a fresh directory under /tmp, removed (recursively) after. */
static char dir[64];
static char path[256];

#define CA_PEM "-----BEGIN CERTIFICATE-----\nQ0EK\n-----END CERTIFICATE-----\n"
#define CA_B64 "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tClEwRUsKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="
#define CERT_PEM "-----BEGIN CERTIFICATE-----\nQ0xJRU5UCg==\n-----END CERTIFICATE-----\n"
#define CERT_B64                                                                               \
	"LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tClEweEpSVTVVQ2c9PQotLS0tLUVORCBDRVJUSUZJQ0FURS0t" \
	"LS0tCg=="
#define KEY_PEM "-----BEGIN EC PRIVATE KEY-----\nS0VZCg==\n-----END EC PRIVATE KEY-----\n"
#define KEY_B64                                                                                \
	"LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0tClMwVlpDZz09Ci0tLS0tRU5EIEVDIFBSSVZBVEUgS0VZ" \
	"LS0tLS0K"

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/llmo-test-kubeconfig-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/config", dir);
	unsetenv("KUBECONFIG");
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	unsetenv("LLMO_SERVICEACCOUNT_DIR");
	return 0;
}

static int teardown(void **state)
{
	test_rm_rf(dir);
	return 0;
}

static void write_file(const char *name, const char *text)
{
	char p[512];
	FILE *f;

	if (name[0] == '/')
		snprintf(p, sizeof(p), "%s", name);
	else
		snprintf(p, sizeof(p), "%s/%s", dir, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void mkdir_in(const char *name)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_int_equal(mkdir(p, 0700), 0);
}

/* Two clusters, three users, four contexts, as `kubectl config view` writes them. */
static const char kubeconfig[] = "apiVersion: v1\n"
				 "kind: Config\n"
				 "current-context: prod\n"
				 "clusters:\n"
				 "- name: prod-cluster\n"
				 "  cluster:\n"
				 "    server: https://10.0.0.1:6443/\n"
				 "    certificate-authority-data: " CA_B64 "\n"
				 "- name: dev-cluster\n"
				 "  cluster:\n"
				 "    server: https://dev.example.com\n"
				 "    certificate-authority: ca.crt\n"
				 "- name: lab-cluster\n"
				 "  cluster:\n"
				 "    server: https://lab:443\n"
				 "    insecure-skip-tls-verify: true\n"
				 "users:\n"
				 "- name: admin\n"
				 "  user:\n"
				 "    token: abc.def\n"
				 "- name: robot\n"
				 "  user:\n"
				 "    tokenFile: tokens/robot\n"
				 "- name: cert-user\n"
				 "  user:\n"
				 "    client-certificate-data: " CERT_B64 "\n"
				 "    client-key-data: " KEY_B64 "\n"
				 "contexts:\n"
				 "- name: prod\n"
				 "  context:\n"
				 "    cluster: prod-cluster\n"
				 "    user: admin\n"
				 "    namespace: team-a\n"
				 "- name: dev\n"
				 "  context:\n"
				 "    cluster: dev-cluster\n"
				 "    user: robot\n"
				 "- name: lab\n"
				 "  context:\n"
				 "    cluster: lab-cluster\n"
				 "    user: cert-user\n"
				 "- name: broken\n"
				 "  context:\n"
				 "    cluster: nowhere\n"
				 "    user: admin\n";

static void test_current_context_with_token(void **state)
{
	struct llmo_kube_config c;
	struct llmo_error err = {0};

	write_file("config", kubeconfig);
	assert_int_equal(llmo_kube_config_load(path, NULL, &c, &err), 0);
	/* the trailing '/' of the server is dropped: paths start with one */
	assert_string_equal(c.server, "https://10.0.0.1:6443");
	assert_string_equal(c.token, "abc.def");
	assert_null(c.token_file);
	assert_string_equal(c.ca_pem, CA_PEM);
	assert_null(c.cert_pem);
	assert_null(c.key_pem);
	assert_false(c.insecure_skip_verify);
	assert_string_equal(c.ns, "team-a");
	assert_string_equal(c.context, "prod");
	llmo_kube_config_release(&c);
}

static void test_token_file_and_ca_file(void **state)
{
	struct llmo_kube_config c;
	struct llmo_error err = {0};
	char want[512];

	write_file("config", kubeconfig);
	mkdir_in("tokens");
	write_file("tokens/robot", "robot-token\n");
	write_file("ca.crt", CA_PEM);
	/* relative names are read from the kubeconfig's directory */
	assert_int_equal(llmo_kube_config_load(path, "dev", &c, &err), 0);
	assert_string_equal(c.server, "https://dev.example.com");
	assert_string_equal(c.token, "robot-token");
	snprintf(want, sizeof(want), "%s/tokens/robot", dir);
	assert_string_equal(c.token_file, want);
	assert_string_equal(c.ca_pem, CA_PEM);
	/* no namespace in the context */
	assert_string_equal(c.ns, "default");
	assert_string_equal(c.context, "dev");
	llmo_kube_config_release(&c);
}

static void test_client_cert_data(void **state)
{
	struct llmo_kube_config c;
	struct llmo_error err = {0};

	write_file("config", kubeconfig);
	assert_int_equal(llmo_kube_config_load(path, "lab", &c, &err), 0);
	assert_string_equal(c.server, "https://lab:443");
	assert_true(c.insecure_skip_verify);
	assert_null(c.token);
	assert_null(c.ca_pem);
	assert_string_equal(c.cert_pem, CERT_PEM);
	assert_string_equal(c.key_pem, KEY_PEM);
	llmo_kube_config_release(&c);
}

/* The message must be "kubeconfig PATH: " followed by msg. */
static void expect_error(const char *text, const char *context, int code, const char *msg)
{
	struct llmo_kube_config c;
	struct llmo_error err = {0};
	char want[1024];

	write_file("config", text);
	assert_int_equal(llmo_kube_config_load(path, context, &c, &err), code);
	assert_int_equal(err.code, code);
	snprintf(want, sizeof(want), "kubeconfig %s: %s", path, msg);
	assert_string_equal(err.msg, want);
	/* nothing is left to release */
	assert_null(c.server);
	assert_null(c.token);
}

static void test_errors(void **state)
{
	expect_error(kubeconfig, "foo", LLMO_ENOTFOUND, "context \"foo\" not found");
	expect_error(kubeconfig, "broken", LLMO_ENOTFOUND,
		     "cluster \"nowhere\" (of context \"broken\") not found");
	expect_error("contexts:\n- name: a\n  context: {cluster: c, user: u}\n"
		     "clusters:\n- name: c\n  cluster: {server: 'https://x'}\n",
		     "a", LLMO_ENOTFOUND, "user \"u\" (of context \"a\") not found");
	expect_error("contexts:\n- name: a\n  context: {cluster: c}\n"
		     "clusters:\n- name: c\n  cluster: {insecure-skip-tls-verify: true}\n",
		     "a", LLMO_EINVAL, "cluster \"c\" has no server");
	expect_error("apiVersion: v1\nkind: Config\n", NULL, LLMO_ENOTFOUND,
		     "no current-context, and no context was named");
	expect_error("current-context: a\ncontexts:\n- name: a\n  context: {cluster: c}\n"
		     "clusters:\n- name: c\n  cluster:\n    server: https://x\n"
		     "    certificate-authority-data: 'not base64!'\n",
		     NULL, LLMO_EPARSE,
		     "clusters[\"c\"].cluster.certificate-authority-data: not valid "
		     "base64");
	expect_error("current-context: a\ncontexts:\n- name: a\n  context: {cluster: c, user: u}\n"
		     "clusters:\n- name: c\n  cluster: {server: 'https://x'}\n"
		     "users:\n- name: u\n  user:\n    exec: {command: aws}\n",
		     NULL, LLMO_EUNSUPPORTED,
		     "user \"u\": exec credentials are not supported (use a token "
		     "or a client certificate)");
	expect_error("current-context: a\ncontexts:\n- name: a\n  context: {cluster: c}\n"
		     "clusters:\n- name: c\n  cluster: {server: 8}\n",
		     NULL, LLMO_EPARSE,
		     "clusters[\"c\"].cluster.server: expected a string, got integer");
	expect_error("- just\n- a list\n", NULL, LLMO_EPARSE, "expected a mapping");
}

static void test_missing_files(void **state)
{
	struct llmo_kube_config c;
	struct llmo_error err = {0};
	char want[1024];

	assert_int_equal(llmo_kube_config_load(path, NULL, &c, &err), LLMO_ENOTFOUND);
	snprintf(want, sizeof(want), "kubeconfig %s: no such file", path);
	assert_string_equal(err.msg, want);

	/* a tokenFile that is not there names both files */
	write_file("config", kubeconfig);
	write_file("ca.crt", CA_PEM);
	assert_int_equal(llmo_kube_config_load(path, "dev", &c, &err), LLMO_ENOTFOUND);
	snprintf(want, sizeof(want),
		 "kubeconfig %s: users[\"robot\"].user.tokenFile: %s/tokens/robot: no such file",
		 path, dir);
	assert_string_equal(err.msg, want);
}

static void test_kubeconfig_env(void **state)
{
	struct llmo_kube_config c;
	struct llmo_error err = {0};
	char env[512];

	write_file("config", kubeconfig);
	/* the first file of the list that exists */
	snprintf(env, sizeof(env), "%s/missing:%s", dir, path);
	setenv("KUBECONFIG", env, 1);
	assert_int_equal(llmo_kube_config_load(NULL, NULL, &c, &err), 0);
	assert_string_equal(c.context, "prod");
	llmo_kube_config_release(&c);

	/* ~/.kube/config when KUBECONFIG is unset */
	unsetenv("KUBECONFIG");
	setenv("HOME", dir, 1);
	mkdir_in(".kube");
	write_file(".kube/config", kubeconfig);
	assert_int_equal(llmo_kube_config_load(NULL, "lab", &c, &err), 0);
	assert_string_equal(c.server, "https://lab:443");
	llmo_kube_config_release(&c);
}

static void write_serviceaccount(const char *ns)
{
	char sa[256];

	snprintf(sa, sizeof(sa), "%s/sa", dir);
	mkdir(sa, 0700);
	write_file("sa/token", "pod-token\n");
	write_file("sa/ca.crt", CA_PEM);
	if (ns)
		write_file("sa/namespace", ns);
	setenv("LLMO_SERVICEACCOUNT_DIR", sa, 1);
}

static void test_in_cluster(void **state)
{
	struct llmo_kube_config c;
	struct llmo_error err = {0};
	char want[512];

	assert_int_equal(llmo_kube_config_in_cluster(&c, &err), LLMO_ENOTFOUND);
	write_serviceaccount("llm-orchestrator");
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(llmo_kube_config_in_cluster(&c, &err), 0);
	assert_string_equal(c.server, "https://10.96.0.1:443");
	assert_string_equal(c.token, "pod-token");
	snprintf(want, sizeof(want), "%s/sa/token", dir);
	assert_string_equal(c.token_file, want);
	assert_string_equal(c.ca_pem, CA_PEM);
	assert_string_equal(c.ns, "llm-orchestrator");
	assert_null(c.context);
	llmo_kube_config_release(&c);

	/* an IPv6 service address goes in brackets */
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	assert_int_equal(llmo_kube_config_in_cluster(&c, &err), 0);
	assert_string_equal(c.server, "https://[fd00::1]:443");
	llmo_kube_config_release(&c);

	setenv("KUBERNETES_SERVICE_PORT", "http", 1);
	assert_int_equal(llmo_kube_config_in_cluster(&c, &err), LLMO_EINVAL);
}

static void test_in_cluster_default_namespace(void **state)
{
	struct llmo_kube_config c;
	struct llmo_error err = {0};

	write_serviceaccount(NULL);
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	assert_int_equal(llmo_kube_config_in_cluster(&c, &err), 0);
	assert_string_equal(c.ns, "default");
	llmo_kube_config_release(&c);
}

static void test_auto(void **state)
{
	struct llmo_kube_config c;
	struct llmo_error err = {0};
	char env[512];

	write_file("config", kubeconfig);
	write_serviceaccount("ns-from-pod");
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	setenv("HOME", dir, 1); /* no .kube/config there */

	/* an explicit path wins */
	assert_int_equal(llmo_kube_config_auto(path, NULL, &c, &err), 0);
	assert_string_equal(c.context, "prod");
	llmo_kube_config_release(&c);

	/* then KUBECONFIG */
	setenv("KUBECONFIG", path, 1);
	assert_int_equal(llmo_kube_config_auto(NULL, "dev", &c, &err), LLMO_ENOTFOUND);
	assert_int_equal(llmo_kube_config_auto(NULL, "lab", &c, &err), 0);
	assert_string_equal(c.context, "lab");
	llmo_kube_config_release(&c);

	/* a KUBECONFIG naming only missing files is an error, not in-cluster */
	snprintf(env, sizeof(env), "%s/missing", dir);
	setenv("KUBECONFIG", env, 1);
	assert_int_equal(llmo_kube_config_auto(NULL, NULL, &c, &err), LLMO_ENOTFOUND);

	/* nothing else: in-cluster */
	unsetenv("KUBECONFIG");
	assert_int_equal(llmo_kube_config_auto(NULL, NULL, &c, &err), 0);
	assert_string_equal(c.ns, "ns-from-pod");
	assert_string_equal(c.server, "https://10.96.0.1:443");
	llmo_kube_config_release(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_current_context_with_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_token_file_and_ca_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_cert_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kubeconfig_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_cluster, setup, teardown),
		cmocka_unit_test_setup_teardown(test_in_cluster_default_namespace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auto, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
