// SPDX-License-Identifier: Apache-2.0
/*
 * Runs a libFuzzer target over saved inputs without libFuzzer: every
 * regular file in the directories (or the files) named on the command line
 * goes to LLVMFuzzerTestOneInput once, in an exact-size heap buffer so that
 * AddressSanitizer sees a read past the end. Lets `make check` replay the
 * seed corpora with gcc. Prints how many inputs it ran.
 *
 *   replay DIR_OR_FILE...
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Files larger than this are not fuzz inputs: refused rather than loaded. */
#define REPLAY_INPUT_MAX (1 << 20)

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	long n;

	if (!f || fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 || n > REPLAY_INPUT_MAX ||
	    fseek(f, 0, SEEK_SET) < 0) {
		fprintf(stderr, "replay: %s: cannot read (or larger than %d bytes)\n", path, REPLAY_INPUT_MAX);
		if (f)
			fclose(f);
		return -1;
	}
	/* At least one byte, so that an empty input is a valid pointer of size 0. */
	buf = malloc(n ? (size_t)n : 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fprintf(stderr, "replay: %s: read failed\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	unsigned long ran = 0, failed = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: replay DIR_OR_FILE...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		struct dirent *de;
		DIR *d;
		char **names = NULL;
		size_t n = 0, cap = 0;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			failed++;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (run_file(argv[i]) < 0)
				failed++;
			else
				ran++;
			continue;
		}
		d = opendir(argv[i]);
		if (!d) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			failed++;
			continue;
		}
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			if (n == cap) {
				char **nn;
				cap = cap ? cap * 2 : 64;
				nn = realloc(names, cap * sizeof(*names));
				if (!nn) {
					fprintf(stderr, "replay: out of memory\n");
					return 1;
				}
				names = nn;
			}
			if (asprintf(&names[n], "%s/%s", argv[i], de->d_name) < 0) {
				fprintf(stderr, "replay: out of memory\n");
				return 1;
			}
			n++;
		}
		closedir(d);
		/* A stable order, so that a failure is reproducible by its position. */
		if (n)
			qsort(names, n, sizeof(*names), cmp_str);
		for (size_t j = 0; j < n; j++) {
			if (stat(names[j], &st) == 0 && S_ISREG(st.st_mode)) {
				if (run_file(names[j]) < 0)
					failed++;
				else
					ran++;
			}
			free(names[j]);
		}
		free(names);
	}
	printf("replay: ran %lu inputs%s\n", ran, failed ? ", some could not be read" : "");
	return failed ? 1 : 0;
}
