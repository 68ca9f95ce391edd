// SPDX-License-Identifier: Apache-2.0
/*
 * Unit tests of server/boot/ipxe.c: which script a node gets in every state,
 * loading the templates (the repository's firmware/templates, read relative
 * to the repository root where the tests run, and directories missing a
 * file), rendering every script with typical values and checking its
 * lines, and the refusals: unsafe values and unknown or unterminated
 * placeholders. The reimage script's kernel line is also read back by the
 * agent's own parser (imaging/agent/cmdline.c), the other end of it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmdline.h"
#include "ipxe.h"
#include "testutil.h"

#define REPO_TEMPLATES "firmware/templates"
#define SERVER "http://10.77.0.1:8080"
#define MAC "52:54:00:12:34:56"
#define TOKEN "bwa_0123456789abcdef0123456789abcdef0123456789abcdef"
#define CMDLINE "console=tty0 console=ttyS0,115200"
#define CHAIN "chain --replace " SERVER "/boot/52-54-00-12-34-56.ipxe"

static const char *const script_names[IPXE_N_SCRIPTS] = { "unknown", "wait", "reimage", "active", "local" };

static struct bw_node node_new(void)
{
	struct bw_node n;
	memset(&n, 0, sizeof(n));
	n.id = 7;
	snprintf(n.name, sizeof(n.name), "web-1");
	snprintf(n.mac, sizeof(n.mac), MAC);
	snprintf(n.state, sizeof(n.state), "new");
	snprintf(n.active_slot, sizeof(n.active_slot), "none");
	return n;
}

static struct bw_node node_installed(const char *state, const char *slot)
{
	struct bw_node n = node_new();
	snprintf(n.state, sizeof(n.state), "%s", state);
	n.installed_image = 3;
	snprintf(n.installed_version, sizeof(n.installed_version), "12.5");
	snprintf(n.active_slot, sizeof(n.active_slot), "%s", slot);
	return n;
}

static struct ipxe_vars typical(void)
{
	return (struct ipxe_vars){
		.server = SERVER,
		.mac = MAC,
		.node = "web-1",
		.token = TOKEN,
		.image = "debian",
		.version = "12.5",
		.slot = "a",
		.cmdline = CMDLINE,
		.retry = 0,
	};
}

/* True if text has this exact line. */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

static void expect_line(const char *text, const char *line)
{
	if (!has_line(text, line))
		fail_msg("no line \"%s\" in:\n%s", line, text);
}

/* The line that starts with prefix, copied into out. */
static void line_starting(const char *text, const char *prefix, char *out, size_t size)
{
	const char *p = strstr(text, prefix), *e;
	if (!p)
		fail_msg("no line starting with \"%s\" in:\n%s", prefix, text);
	e = strchr(p, '\n');
	if (!e)
		e = p + strlen(p);
	assert_true((size_t)(e - p) < size);
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
}

/* Renders from t and checks what every rendered script has in common. */
static char *render_ok(const struct ipxe_templates *t, enum ipxe_script which, const struct ipxe_vars *v)
{
	char *text = NULL;
	int r = ipxe_render(t, which, v, &text);
	if (r != 0)
		fail_msg("ipxe_render(%s) = %d", ipxe_script_name(which), r);
	assert_non_null(text);
	return text;
}

static void render_err(const struct ipxe_templates *t, enum ipxe_script which, const struct ipxe_vars *v, int err)
{
	char *sentinel = (char *)"untouched", *text = sentinel;
	int r = ipxe_render(t, which, v, &text);
	if (r != err)
		fail_msg("ipxe_render(%s) = %d, expected %d", ipxe_script_name(which), r, err);
	/* Written only on success. */
	assert_ptr_equal(text, sentinel);
}

/* ---- ipxe_choose ---- */

static void test_choose(void **state)
{
	struct bw_node n;
	(void)state;

	assert_int_equal(ipxe_choose(NULL), IPXE_UNKNOWN);

	/* Enrolled, nothing installed, nothing to do. */
	n = node_new();
	assert_int_equal(ipxe_choose(&n), IPXE_WAIT);

	/* Provisioning and reimaging boot the agent, installed OS or not. */
	n = node_new();
	snprintf(n.state, sizeof(n.state), "provisioning");
	assert_int_equal(ipxe_choose(&n), IPXE_REIMAGE);
	n = node_installed("reimaging", "a");
	assert_int_equal(ipxe_choose(&n), IPXE_REIMAGE);
	n = node_installed("provisioning", "b");
	assert_int_equal(ipxe_choose(&n), IPXE_REIMAGE);

	/* Active: the installed OS from slot a or b. */
	n = node_installed("active", "a");
	assert_int_equal(ipxe_choose(&n), IPXE_ACTIVE);
	n = node_installed("active", "b");
	assert_int_equal(ipxe_choose(&n), IPXE_ACTIVE);
	/* So do the states after a reimage, which need the OS up. */
	n = node_installed("waiting_health", "b");
	assert_int_equal(ipxe_choose(&n), IPXE_ACTIVE);
	n = node_installed("rolled_back", "a");
	assert_int_equal(ipxe_choose(&n), IPXE_ACTIVE);
	/* A slot the agent just wrote is booted while it waits for health, even on a new node. */
	n = node_new();
	snprintf(n.state, sizeof(n.state), "waiting_health");
	snprintf(n.pending_slot, sizeof(n.pending_slot), "b");
	n.pending_image = 7;
	snprintf(n.pending_version, sizeof(n.pending_version), "2.0");
	assert_true(ipxe_pending(&n));
	assert_int_equal(ipxe_choose(&n), IPXE_ACTIVE);
	/* ... but only in that state: a failed or reimaging node does not boot it. */
	snprintf(n.state, sizeof(n.state), "failed");
	assert_false(ipxe_pending(&n));
	assert_int_equal(ipxe_choose(&n), IPXE_WAIT);
	snprintf(n.state, sizeof(n.state), "reimaging");
	assert_int_equal(ipxe_choose(&n), IPXE_REIMAGE);

	/* Anything missing of image, version and slot: wait. */
	n = node_installed("active", "none");
	assert_int_equal(ipxe_choose(&n), IPXE_WAIT);
	n = node_installed("active", "");
	assert_int_equal(ipxe_choose(&n), IPXE_WAIT);
	n = node_installed("active", "c");
	assert_int_equal(ipxe_choose(&n), IPXE_WAIT);
	n = node_installed("active", "ab");
	assert_int_equal(ipxe_choose(&n), IPXE_WAIT);
	n = node_installed("active", "a");
	n.installed_image = 0;
	assert_int_equal(ipxe_choose(&n), IPXE_WAIT);
	n = node_installed("active", "a");
	n.installed_version[0] = '\0';
	assert_int_equal(ipxe_choose(&n), IPXE_WAIT);

	/* Maintenance wins over everything. */
	n = node_new();
	n.maintenance = true;
	assert_int_equal(ipxe_choose(&n), IPXE_LOCAL);
	n = node_installed("active", "a");
	n.maintenance = true;
	assert_int_equal(ipxe_choose(&n), IPXE_LOCAL);
	n = node_installed("reimaging", "a");
	n.maintenance = true;
	assert_int_equal(ipxe_choose(&n), IPXE_LOCAL);
	n = node_new();
	snprintf(n.state, sizeof(n.state), "provisioning");
	n.maintenance = true;
	assert_int_equal(ipxe_choose(&n), IPXE_LOCAL);
}

static void test_script_names(void **state)
{
	(void)state;
	for (int i = 0; i < IPXE_N_SCRIPTS; i++)
		assert_string_equal(ipxe_script_name((enum ipxe_script)i), script_names[i]);
	assert_string_equal(ipxe_script_name(IPXE_N_SCRIPTS), "?");
	assert_string_equal(ipxe_script_name((enum ipxe_script)1000), "?");
}

/* ---- loading ---- */

/* Writes <dir>/<name>.ipxe. */
static void write_template(const char *dir, const char *name, const char *text)
{
	char path[256];
	FILE *f;
	snprintf(path, sizeof(path), "%s/%s.ipxe", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/* A directory with every template: "#!ipxe\n" except custom for the one named. */
static void make_templates(char dir[64], const char *name, const char *custom)
{
	char path[128];
	assert_int_equal(test_dir_make("ipxe", "", dir, path), 0);
	for (int i = 0; i < IPXE_N_SCRIPTS; i++)
		write_template(dir, script_names[i],
			       name && strcmp(name, script_names[i]) == 0 ? custom : "#!ipxe\n");
}

static void test_load_repo(void **state)
{
	struct ipxe_templates *t = NULL;
	const char *missing = "untouched";
	(void)state;

	assert_int_equal(ipxe_templates_load(REPO_TEMPLATES, &t, &missing), 0);
	assert_non_null(t);
	assert_string_equal(missing, "untouched");
	ipxe_templates_free(t);
	assert_int_equal(ipxe_templates_load(REPO_TEMPLATES, &t, NULL), 0);
	ipxe_templates_free(t);
	ipxe_templates_free(NULL);
}

static void test_load_missing(void **state)
{
	struct ipxe_templates *t, *sentinel = (struct ipxe_templates *)&t;
	const char *missing;
	char dir[64], path[256];
	(void)state;

	for (int i = 0; i < IPXE_N_SCRIPTS; i++) {
		make_templates(dir, NULL, NULL);
		snprintf(path, sizeof(path), "%s/%s.ipxe", dir, script_names[i]);
		assert_int_equal(unlink(path), 0);
		t = sentinel;
		missing = NULL;
		assert_int_equal(ipxe_templates_load(dir, &t, &missing), -ENOENT);
		assert_non_null(missing);
		assert_string_equal(missing, script_names[i]);
		assert_ptr_equal(t, sentinel);
		/* ret_missing may be NULL. */
		assert_int_equal(ipxe_templates_load(dir, &t, NULL), -ENOENT);
		assert_int_equal(rm_rf(dir), 0);
	}

	/* No directory at all: the first one is missing. */
	t = sentinel;
	assert_int_equal(ipxe_templates_load("/nonexistent/bootwave/templates", &t, &missing), -ENOENT);
	assert_string_equal(missing, "unknown");
	assert_ptr_equal(t, sentinel);

	/* A template larger than the limit (64 KiB) is refused and named too. */
	{
		char *big = malloc(64 * 1024 + 2);
		assert_non_null(big);
		memset(big, '#', 64 * 1024 + 1);
		big[64 * 1024 + 1] = '\0';
		make_templates(dir, "active", big);
		free(big);
		missing = NULL;
		assert_int_equal(ipxe_templates_load(dir, &t, &missing), -EFBIG);
		assert_string_equal(missing, "active");
		assert_ptr_equal(t, sentinel);
		assert_int_equal(rm_rf(dir), 0);
	}
}

/* ---- rendering the repository's templates ---- */

static int setup_repo(void **state)
{
	struct ipxe_templates *t = NULL;
	const char *missing = "?";
	int r = ipxe_templates_load(REPO_TEMPLATES, &t, &missing);
	if (r < 0) {
		print_error("cannot load %s/%s.ipxe (run from the repository root): %s\n", REPO_TEMPLATES, missing,
			    strerror(-r));
		return -1;
	}
	*state = t;
	return 0;
}

static int teardown_repo(void **state)
{
	ipxe_templates_free(*state);
	return 0;
}

/* What every script of the repository has: the shebang, no placeholder left. */
static void check_common(const char *text)
{
	assert_true(strncmp(text, "#!ipxe\n", 7) == 0);
	if (strstr(text, "{{") || strstr(text, "}}"))
		fail_msg("placeholder left in:\n%s", text);
}

static void test_render_active(void **state)
{
	const struct ipxe_templates *t = *state;
	struct ipxe_vars v = typical();
	struct agent_boot b;
	const char *bad = NULL;
	char *text, kernel[1024];

	text = render_ok(t, IPXE_ACTIVE, &v);
	check_common(text);
	expect_line(text, "echo bootwave: node web-1: booting debian 12.5 from slot a");
	/* The token of an active boot is its heartbeat token (routes_boot.c mints one per boot). */
	expect_line(text, "kernel " SERVER "/boot/images/debian/12.5/kernel initrd=initrd root=PARTLABEL=bw-os-a rw "
			  CMDLINE " bootwave.server=" SERVER " bootwave.node=web-1 bootwave.hbtoken=" TOKEN
			  " ds=nocloud;s=" SERVER "/nocloud/" TOKEN "/;dsmode=net || goto retry");
	expect_line(text, "initrd --name initrd " SERVER "/boot/images/debian/12.5/initrd || goto retry");
	expect_line(text, "boot || goto retry");
	expect_line(text, "echo bootwave: loading the OS failed; asking again in 30 s");
	expect_line(text, "sleep 30");
	expect_line(text, CHAIN);
	assert_null(strstr(text, "bootwave.token=")); /* the one-time token goes to the agent only */
	/* The heartbeat agent of the OS still reads its token beside cloud-init's NoCloud seed. */
	line_starting(text, "kernel ", kernel, sizeof(kernel));
	memset(&b, 0, sizeof(b));
	if (agent_cmdline_parse(kernel, strlen(kernel), &b, &bad) != 0)
		fail_msg("the agent refuses the kernel line (%s): %s", bad ? bad : "?", kernel);
	assert_string_equal(b.hbtoken, TOKEN);
	free(text);

	v.slot = "b";
	v.retry = 5;
	text = render_ok(t, IPXE_ACTIVE, &v);
	expect_line(text, "kernel " SERVER "/boot/images/debian/12.5/kernel initrd=initrd root=PARTLABEL=bw-os-b rw "
			  CMDLINE " bootwave.server=" SERVER " bootwave.node=web-1 bootwave.hbtoken=" TOKEN
			  " ds=nocloud;s=" SERVER "/nocloud/" TOKEN "/;dsmode=net || goto retry");
	expect_line(text, "sleep 5");
	expect_line(text, "echo bootwave: loading the OS failed; asking again in 5 s");
	assert_null(strstr(text, "bw-os-a"));
	free(text);
}

static void test_render_reimage(void **state)
{
	const struct ipxe_templates *t = *state;
	struct ipxe_vars v = typical();
	struct agent_boot b;
	const char *bad = NULL;
	char *text, kernel[1024];

	text = render_ok(t, IPXE_REIMAGE, &v);
	check_common(text);
	expect_line(text, "echo bootwave: node web-1: loading the reimage agent");
	expect_line(text, "kernel " SERVER "/boot/agent/vmlinuz initrd=ca initrd=initrd " CMDLINE " bootwave.server=" SERVER
			  " bootwave.api=" SERVER " bootwave.node=web-1 bootwave.token=" TOKEN " bootwave.mac=" MAC
			  " || goto retry");
	expect_line(text, "initrd --name initrd " SERVER "/boot/agent/initrd || goto retry");
	expect_line(text, "initrd --name ca " SERVER "/boot/agent/ca.cpio || goto retry");
	expect_line(text, "sleep 30");
	expect_line(text, CHAIN);

	/* The agent reads the same line back (iPXE passes the words after the kernel URL). */
	line_starting(text, "kernel ", kernel, sizeof(kernel));
	memset(&b, 0, sizeof(b));
	if (agent_cmdline_parse(kernel, strlen(kernel), &b, &bad) != 0)
		fail_msg("the agent refuses the kernel line (%s): %s", bad ? bad : "?", kernel);
	assert_string_equal(b.server, SERVER);
	assert_string_equal(b.api, SERVER);
	assert_string_equal(b.node, "web-1");
	assert_string_equal(b.token, TOKEN);
	free(text);

	/* With TLS the agent calls the API elsewhere than it booted from. */
	v.api = "https://10.77.0.1:8443";
	text = render_ok(t, IPXE_REIMAGE, &v);
	line_starting(text, "kernel ", kernel, sizeof(kernel));
	assert_int_equal(agent_cmdline_parse(kernel, strlen(kernel), &b, &bad), 0);
	assert_string_equal(b.server, SERVER);
	assert_string_equal(b.api, "https://10.77.0.1:8443");
	free(text);
}

static void test_render_unknown_wait_local(void **state)
{
	const struct ipxe_templates *t = *state;
	struct ipxe_vars v = typical();
	char *text;

	/* Not enrolled: the server knows only the MAC. */
	v.node = "";
	v.token = "";
	v.image = v.version = v.slot = "";
	text = render_ok(t, IPXE_UNKNOWN, &v);
	check_common(text);
	expect_line(text, "echo bootwave: " MAC " is not enrolled; it is listed by: bootwave discovered list");
	expect_line(text, "echo bootwave: enroll it with: bootwave node create NAME --mac " MAC);
	expect_line(text, "sleep 30");
	expect_line(text, CHAIN);
	free(text);

	v = typical();
	v.retry = 7;
	text = render_ok(t, IPXE_WAIT, &v);
	check_common(text);
	expect_line(text, "echo bootwave: node web-1 (" MAC ") has no OS yet; waiting for a reimage");
	expect_line(text, "sleep 7");
	expect_line(text, CHAIN);
	free(text);

	v = typical();
	text = render_ok(t, IPXE_LOCAL, &v);
	check_common(text);
	expect_line(text, "echo bootwave: node web-1 is in maintenance; booting from the local disk");
	/* iPXE's own ${...} in a template is left alone. */
	expect_line(text, "iseq ${platform} efi && exit ||");
	expect_line(text, "sanboot --no-describe --drive 0x80 || exit");
	free(text);

	/* The largest retry. */
	v.retry = 4294967295u;
	text = render_ok(t, IPXE_WAIT, &v);
	expect_line(text, "sleep 4294967295");
	free(text);
}

static void test_render_unsafe_values(void **state)
{
	const struct ipxe_templates *t = *state;
	struct ipxe_vars v;
	static const char *const unsafe[] = {
		"a\nshell", "a\rb", "a\tb", "a\x01", "a\x7f", "${net0/mac}", "a$b", "a\"b", "\"", "a\\b", "\\",
	};

	for (size_t i = 0; i < sizeof(unsafe) / sizeof(unsafe[0]); i++) {
		v = typical();
		v.token = unsafe[i];
		render_err(t, IPXE_REIMAGE, &v, -EINVAL);
		v = typical();
		v.node = unsafe[i];
		render_err(t, IPXE_REIMAGE, &v, -EINVAL);
		render_err(t, IPXE_WAIT, &v, -EINVAL);
		v = typical();
		v.cmdline = unsafe[i];
		render_err(t, IPXE_ACTIVE, &v, -EINVAL);
		v = typical();
		v.image = unsafe[i];
		render_err(t, IPXE_ACTIVE, &v, -EINVAL);
		v = typical();
		v.version = unsafe[i];
		render_err(t, IPXE_ACTIVE, &v, -EINVAL);
		v = typical();
		v.slot = unsafe[i];
		render_err(t, IPXE_ACTIVE, &v, -EINVAL);
		v = typical();
		v.server = unsafe[i];
		render_err(t, IPXE_UNKNOWN, &v, -EINVAL);
		v = typical();
		v.mac = unsafe[i];
		render_err(t, IPXE_UNKNOWN, &v, -EINVAL);
	}
	/* Spaces and other printable characters are values like any other. */
	v = typical();
	v.cmdline = "quiet  splash=1 a.b-c_d:e/f,g";
	{
		char *text = render_ok(t, IPXE_ACTIVE, &v);
		assert_non_null(strstr(text, " rw quiet  splash=1 a.b-c_d:e/f,g bootwave.server="));
		free(text);
	}
}

/* ---- custom templates ---- */

/* Renders custom as the wait script of a fresh directory. */
static int render_custom(const char *custom, const struct ipxe_vars *v, char **ret)
{
	struct ipxe_templates *t = NULL;
	char dir[64];
	int r;

	make_templates(dir, "wait", custom);
	assert_int_equal(ipxe_templates_load(dir, &t, NULL), 0);
	assert_int_equal(rm_rf(dir), 0);
	r = ipxe_render(t, IPXE_WAIT, v, ret);
	ipxe_templates_free(t);
	return r;
}

static void custom_ok(const char *custom, const struct ipxe_vars *v, const char *want)
{
	char *text = NULL;
	int r = render_custom(custom, v, &text);
	if (r != 0)
		fail_msg("rendering \"%s\" = %d", custom, r);
	assert_string_equal(text, want);
	free(text);
}

static void custom_err(const char *custom, int err)
{
	struct ipxe_vars v = typical();
	char *sentinel = (char *)"untouched", *text = sentinel;
	int r = render_custom(custom, &v, &text);
	if (r != err)
		fail_msg("rendering \"%s\" = %d, expected %d", custom, r, err);
	assert_ptr_equal(text, sentinel);
}

static void test_render_custom(void **state)
{
	struct ipxe_vars v = typical();
	(void)state;

	/* Every placeholder. */
	v.retry = 9;
	custom_ok("{{server}}|{{mac}}|{{mac_hyp}}|{{node}}|{{token}}|{{image}}|{{version}}|{{slot}}|{{cmdline}}|{{retry}}\n",
		  &v,
		  SERVER "|" MAC "|52-54-00-12-34-56|web-1|" TOKEN "|debian|12.5|a|" CMDLINE "|9\n");
	/* Adjacent, repeated, at both ends. */
	custom_ok("{{node}}{{mac_hyp}}{{node}}", &v, "web-152-54-00-12-34-56web-1");
	/* No placeholder, lone braces: verbatim. */
	custom_ok("#!ipxe\necho }} { {node} } {x}\n", &v, "#!ipxe\necho }} { {node} } {x}\n");
	custom_ok("", &v, "");
	/* A value is not expanded again. */
	v.node = "{{token}}";
	custom_ok("echo {{node}}\n", &v, "echo {{token}}\n");
	/* NULL values are empty; mac_hyp follows mac. */
	memset(&v, 0, sizeof(v));
	custom_ok("[{{server}}][{{mac}}][{{mac_hyp}}][{{node}}][{{cmdline}}][{{retry}}]", &v, "[][][][][][30]");

	/* Unknown placeholders. */
	custom_err("#!ipxe\necho {{bogus}}\n", -EINVAL);
	custom_err("{{}}", -EINVAL);
	custom_err("{{ node }}", -EINVAL);
	custom_err("{{NODE}}", -EINVAL);
	custom_err("{{nod}}", -EINVAL);
	custom_err("{{nodes}}", -EINVAL);
	custom_err("{{mac_}}", -EINVAL);
	custom_err("{{{node}}", -EINVAL);
	/* Unterminated. */
	custom_err("#!ipxe\necho {{node\n", -EINVAL);
	custom_err("echo {{node}} {{", -EINVAL);
	custom_err("{{", -EINVAL);
	custom_err("{{node}", -EINVAL);
	custom_err("echo {{node", -EINVAL);
}

int main(void)
{
	const struct CMUnitTest plain[] = {
		cmocka_unit_test(test_choose),
		cmocka_unit_test(test_script_names),
		cmocka_unit_test(test_load_repo),
		cmocka_unit_test(test_load_missing),
		cmocka_unit_test(test_render_custom),
	};
	const struct CMUnitTest repo[] = {
		cmocka_unit_test(test_render_active),
		cmocka_unit_test(test_render_reimage),
		cmocka_unit_test(test_render_unknown_wait_local),
		cmocka_unit_test(test_render_unsafe_values),
	};
	int failed = cmocka_run_group_tests_name("ipxe", plain, NULL, NULL);
	failed += cmocka_run_group_tests_name("ipxe_repo_templates", repo, setup_repo, teardown_repo);
	return failed;
}
