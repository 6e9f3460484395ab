/* SGXS measurement of the SCONE enclave layout (MRENCLAVE), rebuilt in C.
 *
 * MRENCLAVE is a pure function of two byte strings: the runtime ELF
 * (scone-run) and config.bin. pkg/enclave (Go) computes it at build time; the
 * runtime recomputes it with sgxs_measure() from its own executable and the
 * config before any application code runs (sim EINIT). Both follow the layout
 * in docs/enclave.md:
 *
 *   0                runtime image: every page covered by a PT_LOAD segment,
 *                    at (page vaddr - lowest PT_LOAD page vaddr); SECINFO
 *                    PT_REG + segment R/W/X; EADD + 16 EEXTEND
 *   + 1 guard page
 *   config pages     ceil(len/4096) pages, R, EADD + 16 EEXTEND (zero padded)
 *   + 1 guard page
 *   heap             heap_size bytes, RW, EADD only
 *   per thread t:    guard page, stack (RW, EADD only), TCS (EADD + EEXTEND),
 *                    2 SSA pages (RW, EADD only), 1 thread-data page (RW, EADD only)
 *   + 1 guard page   -> end; ECREATE size = next power of two >= end
 *
 * The stream is hashed record by record with BearSSL SHA-256; nothing is
 * allocated apart from the parsed config, and no global state is kept.
 */
#ifndef SCONE_SGXS_H
#define SCONE_SGXS_H

#include <stddef.h>
#include <stdint.h>

#define SGXS_PAGE 4096u
#define SGXS_NSSA 2u
#define SGXS_SSAFRAMESIZE 1u	      /* pages per SSA frame */
#define SGXS_MAX_LOADS 32u	      /* PT_LOAD segments accepted */
#define SGXS_MAX_IMAGE (1ull << 30)   /* runtime image span limit */
#define SGXS_MAX_ENCLAVE (1ull << 36) /* ECREATE size limit (64 GiB) */

/* SECINFO.FLAGS */
#define SGXS_SI_R 0x1u
#define SGXS_SI_W 0x2u
#define SGXS_SI_X 0x4u
#define SGXS_PT_TCS 0x100u
#define SGXS_PT_REG 0x200u

/* Error codes (0 on success). */
#define SGXS_OK 0
#define SGXS_EELF (-1)	  /* runtime ELF malformed or unsupported */
#define SGXS_ECONFIG (-2) /* config.bin does not parse */
#define SGXS_ESIZE (-3)	  /* layout exceeds a limit */
#define SGXS_ESTREAM (-4) /* malformed SGXS stream */
#define SGXS_EINVAL (-5)
#define SGXS_ENOMEM (-6)

/* Offsets are relative to the enclave base. */
struct sgxs_layout {
	uint64_t image_vaddr; /* lowest PT_LOAD page vaddr (maps to offset 0) */
	uint64_t image_size;  /* bytes of the image span, page multiple */
	uint64_t entry;	      /* offset of e_entry (TCS.OENTRY) */
	uint64_t config_off;
	uint64_t config_pages;
	uint64_t heap_off;
	uint64_t heap_size;
	uint64_t stack_size;
	uint32_t nthreads;
	uint64_t thread_off;	/* thread t block at thread_off + t * thread_stride */
	uint64_t thread_stride; /* guard + stack + TCS + SSA frames + thread data */
	/* inside a thread block: */
	uint64_t stack_rel; /* = 1 page (after the guard) */
	uint64_t tcs_rel;   /* = stack_rel + stack_size */
	uint64_t ssa_rel;   /* = tcs_rel + 1 page */
	uint64_t td_rel;    /* = ssa_rel + NSSA pages (OFSBASGX/OGSBASGX) */
	uint64_t end;	    /* first offset after the final guard page */
	uint64_t size;	    /* ECREATE SIZE */
	uint64_t eadds;	    /* number of EADD records */
	uint64_t eextends;  /* number of EEXTEND records */
};

/* Computes the layout from the ELF and the sizes taken from a config. */
int sgxs_layout(const uint8_t *elf, size_t elf_len, size_t config_len, uint64_t heap_size, uint64_t stack_size,
		uint32_t nthreads, struct sgxs_layout *out);

/* Computes MRENCLAVE of (runtime ELF, config.bin). The config is parsed with
 * econfig_parse for heap/stack/threads. layout may be NULL. */
int sgxs_measure(const uint8_t *elf, size_t elf_len, const uint8_t *config, size_t config_len, uint8_t mrenclave[32],
		 struct sgxs_layout *layout);

/* Checks that stream is a well-formed SGXS measurement stream (one ECREATE
 * first, then EADD / EEXTEND+256 data bytes records) and returns its
 * MRENCLAVE (= SHA-256 of the stream). */
int sgxs_hash_stream(const uint8_t *stream, size_t len, uint8_t mrenclave[32]);

const char *sgxs_strerror(int err);

#endif
