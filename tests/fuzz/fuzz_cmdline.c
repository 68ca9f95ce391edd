// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the agent's kernel command line
 * (imaging/agent/cmdline.c): what iPXE boots the agent with, from a script
 * fetched over plain HTTP on the provisioning network. A refusal names one
 * of the four parameters; what is accepted has a server URL of printable
 * ASCII starting with http:// or https:// and a host, a valid node name,
 * values without quotes, every field terminated, and written back as a
 * command line (each value quoted) parses to the same values. Build with
 * clang -fsanitize=fuzzer, or replay a corpus with replay.c.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"
#include "validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TERMINATED(s) (memchr((s), '\0', sizeof(s)) != NULL)

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "bootwave.server", "bootwave.node", "bootwave.token", "bootwave.hbtoken" };
	struct agent_boot b, again;
	const char *bad = NULL;
	char line[1024];
	bool known = false;
	int r, n;

	r = agent_cmdline_parse((const char *)data, size, &b, &bad);
	if (r < 0) {
		for (size_t i = 0; bad && i < sizeof(keys) / sizeof(keys[0]); i++)
			known |= strcmp(bad, keys[i]) == 0;
		if (!known)
			abort(); /* every refusal names the parameter */
		return 0;
	}
	if (!TERMINATED(b.server) || !TERMINATED(b.node) || !TERMINATED(b.token) || !TERMINATED(b.hbtoken))
		abort();
	if ((strncmp(b.server, "http://", 7) != 0 && strncmp(b.server, "https://", 8) != 0) || !printable(b.server) ||
	    !name_valid(b.node) || strchr(b.token, '"') || strchr(b.hbtoken, '"'))
		abort();
	/* Written back, each value quoted: the same values. */
	n = snprintf(line, sizeof(line), "bootwave.server=\"%s\" bootwave.node=\"%s\" bootwave.token=\"%s\" bootwave.hbtoken=\"%s\"",
		     b.server, b.node, b.token, b.hbtoken);
	if (n < 0 || (size_t)n >= sizeof(line))
		abort(); /* the fields are bounded */
	bad = NULL;
	if (agent_cmdline_parse(line, (size_t)n, &again, &bad) < 0) {
		fprintf(stderr, "fuzz_cmdline: refused when written back (%s): %s\n", bad ? bad : "?", line);
		abort();
	}
	if (strcmp(b.server, again.server) || strcmp(b.node, again.node) || strcmp(b.token, again.token) ||
	    strcmp(b.hbtoken, again.hbtoken))
		abort();
	return 0;
}
