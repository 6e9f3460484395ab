/* Reader of the labelled test vector files of testdata/casproto (their
 * README): entries separated by blank lines, lines "key: value", '#'
 * comments; a key may repeat. For the host unit tests only. */
#ifndef SCONE_TEST_VECTORS_H
#define SCONE_TEST_VECTORS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VEC_MAX_LINES 64

struct vec_line {
	char *key, *val;
};

struct vec_entry {
	struct vec_line l[VEC_MAX_LINES];
	int n;
};

struct vec_file {
	char *text; /* owns the strings */
	struct vec_entry *e;
	int n;
};

/* Reads path into entries; 0 or -1 (file missing or malformed). */
static inline int vec_read(const char *path, struct vec_file *f)
{
	memset(f, 0, sizeof *f);
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return -1;
	fseek(fp, 0, SEEK_END);
	long sz = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	f->text = malloc((size_t)sz + 1);
	if (fread(f->text, 1, (size_t)sz, fp) != (size_t)sz) {
		fclose(fp);
		return -1;
	}
	fclose(fp);
	f->text[sz] = 0;
	int cap = 0, open = 0;
	for (char *line = f->text; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		if (line[0] == 0) {
			open = 0;
		} else if (line[0] != '#') {
			char *sep = strstr(line, ": ");
			if (!sep)
				return -1;
			if (!open) {
				if (f->n == cap) {
					cap = cap ? 2 * cap : 16;
					f->e = realloc(f->e, (size_t)cap * sizeof *f->e);
				}
				memset(&f->e[f->n++], 0, sizeof *f->e);
				open = 1;
			}
			struct vec_entry *e = &f->e[f->n - 1];
			if (e->n == VEC_MAX_LINES)
				return -1;
			*sep = 0;
			e->l[e->n].key = line;
			e->l[e->n].val = sep + 2;
			e->n++;
		}
		line = nl ? nl + 1 : NULL;
	}
	return 0;
}

static inline void vec_free(struct vec_file *f)
{
	free(f->text);
	free(f->e);
}

/* The k-th (0-based) value of key in e, or NULL. */
static inline const char *vec_get_nth(const struct vec_entry *e, const char *key, int k)
{
	for (int i = 0; i < e->n; i++)
		if (!strcmp(e->l[i].key, key) && k-- == 0)
			return e->l[i].val;
	return NULL;
}

static inline const char *vec_get(const struct vec_entry *e, const char *key) { return vec_get_nth(e, key, 0); }

static inline int vec_count(const struct vec_entry *e, const char *key)
{
	int n = 0;
	for (int i = 0; i < e->n; i++)
		n += !strcmp(e->l[i].key, key);
	return n;
}

/* Decodes lowercase or uppercase hex into a new buffer (*len bytes; NULL
 * for bad hex). An empty string gives a 1-byte buffer and *len 0. */
static inline uint8_t *vec_hex(const char *s, size_t *len)
{
	size_t n = strlen(s);
	if (n % 2)
		return NULL;
	uint8_t *b = malloc(n / 2 + 1);
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1) {
			free(b);
			return NULL;
		}
		b[i] = (uint8_t)v;
	}
	*len = n / 2;
	return b;
}

/* The hex value of key, which must be exactly want bytes (0: any). */
static inline uint8_t *vec_bytes(const struct vec_entry *e, const char *key, size_t want, size_t *len)
{
	const char *v = vec_get(e, key);
	size_t n = 0;
	uint8_t *b = v ? vec_hex(v, &n) : NULL;
	if (b && want && n != want) {
		free(b);
		b = NULL;
	}
	if (len)
		*len = n;
	return b;
}

#endif
