/* Gramine's /dev/attestation pseudo-files in simulation mode (shield.h:
 * struct rt_attestation; the FS shield answers the paths, docs/
 * attestation.md "/dev/attestation"):
 *
 *   user_report_data     write the 64 bytes of REPORTDATA; read them back
 *   quote                a simulation quote of this enclave with them,
 *                        signed with SCONE_SIM_QUOTE_KEY_FILE
 *   keys/_sgx_mrenclave  the 16-byte sealing key of this MRENCLAVE
 *   keys/_sgx_mrsigner   the 16-byte sealing key of this MRSIGNER,
 *                        ISVPRODID (and ISVSVN)
 *
 * Sealing keys come from the platform secret of the simulation quote key
 * (sealkey.h): in simulation mode the host holds it, so they protect
 * nothing against the host. Without SCONE_SIM_QUOTE_KEY_FILE the files do
 * not exist (ENOENT). */
#ifndef SCONE_DEVATTEST_H
#define SCONE_DEVATTEST_H

#include "simquote.h"

struct rt_attestation;

/* The pseudo-files of the verified enclave id, or NULL when the host
 * provides no simulation quote key (an unusable one ends the runtime,
 * exit 77). Called once at start-up, before the shields' init. */
const struct rt_attestation *devattest_setup(const struct sgx_identity *id);

#endif
