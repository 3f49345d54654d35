/*
 * getopt SHORT [LONG...]: the C library's getopt_long(3), for comparing
 * tinit's reading of the peers' command lines with the real thing. LONG is
 * NAME=C or NAME:=C (takes a value), standing for short option C; with no
 * LONG, plain getopt(3) is used, as tini does. Each line of stdin is one
 * command line, its words separated by \x01, prefixed with "P" to set
 * POSIXLY_CORRECT or "-" not to. For each, it prints every option as
 * "opt C VALUE" ("opt C" without a value), every error as "?" after
 * getopt's own message, then "arg WORD" for every operand and "end".
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	struct option longs[32] = {0};
	int nlong = 0;
	for (int i = 2; i < argc && nlong < 31; i++) {
		char *name = strdup(argv[i]);
		char *eq = strchr(name, '=');
		if (!eq)
			return 2;
		*eq = 0;
		int has = 0;
		size_t n = strlen(name);
		if (n > 0 && name[n - 1] == ':') {
			name[n - 1] = 0;
			has = required_argument;
		}
		longs[nlong++] = (struct option){name, has, NULL, eq[1]};
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	dup2(1, 2);
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, stdin)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = 0;
		if (line[0] == 'P')
			setenv("POSIXLY_CORRECT", "1", 1);
		else
			unsetenv("POSIXLY_CORRECT");
		char *words[256];
		int nw = 0;
		words[nw++] = "prog";
		if (len > 1) {
			char *rest = line + 1;
			for (;;) {
				char *sep = strchr(rest, '\x01');
				if (nw < 255)
					words[nw++] = rest;
				if (!sep)
					break;
				*sep = 0;
				rest = sep + 1;
			}
		}
		words[nw] = NULL;
		optind = 0; /* full reinitialisation, permutation state included */
		int c;
		while ((c = nlong ? getopt_long(nw, words, argv[1], longs, NULL) : getopt(nw, words, argv[1])) != -1) {
			if (c == '?')
				printf("?\n");
			else if (optarg)
				printf("opt %c %s\n", c, optarg);
			else
				printf("opt %c\n", c);
		}
		for (int i = optind; i < nw; i++)
			printf("arg %s\n", words[i]);
		printf("end\n");
	}
	return 0;
}
