// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the manifest parser (imaging/manifest.c), which the
 * agent runs on the task the server sends: whatever it accepts must
 * satisfy the manifest's invariants, encode back to JSON and parse again
 * to the same manifest. Build with clang -fsanitize=fuzzer, or replay a
 * corpus with replay.c.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* True if path has a ".." component ("a/../b"; not "vmlin../x"). */
static bool climbs(const char *path)
{
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return true;
		p += n;
		p += *p == '/';
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct manifest m, again;
	const char *why = NULL;
	char msg[1024];
	json_t *j;
	char *text;

	if (manifest_parse((const char *)data, size, &m, &why) < 0) {
		if (!why)
			abort(); /* every refusal names its field */
		return 0;
	}
	if (!m.artifact.present || !manifest_compression_valid(m.format, m.compression) ||
	    !cmdline_safe(m.cmdline) || m.artifact.size > MANIFEST_SIZE_MAX || strlen(m.artifact.sha256) != 64 ||
	    m.kernel.source[0] == '/' || climbs(m.kernel.source) || climbs(m.initrd.source) || m.image[0] == '\0')
		abort();
	if (manifest_signed_message(&m, msg, sizeof(msg)) < 0)
		abort();
	j = manifest_to_json(&m);
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text)
		return 0; /* out of memory */
	/* Encoding what was parsed back gives the same text: nothing lost or changed. */
	if (manifest_parse(text, strlen(text), &again, &why) < 0)
		abort();
	j = manifest_to_json(&again);
	char *text2 = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (text2 && strcmp(text, text2) != 0)
		abort();
	free(text2);
	free(text);
	return 0;
}
