/* The volume state client of the attest subsystem (docs/cas.md, "Volume
 * state"): reads and records the state of the protected volumes a CAS
 * policy tracks, on a pinned TLS connection kept open (reopened on
 * failure), authenticated by the attested session's record key. It serves
 * the volume shield as the ops of struct vol_freshness (shield.h).
 *
 * Requests are serialized; a record of a state older than one already
 * acknowledged is answered VOLF_OK without asking (the CAS has a later
 * one), so that records from several threads never look like a rollback.
 * Connection failures and "try later" are retried ATTEST_ATTEMPTS times
 * with back-off. Only authenticated answers count: an unsigned refusal is
 * reported as a failure with the CAS's (unverified) reason. */
#ifndef SCONE_ATTEST_VOLSTATE_H
#define SCONE_ATTEST_VOLSTATE_H

#include "attest.h"
#include "shield.h"

/* The client for the tracked volumes vols (from the released secrets; they
 * must outlive it), on the session sess (copied, then wiped by the caller).
 * NULL when out of memory. */
const struct vol_freshness *volstate_new(const struct attest_target *t, const struct attest_session *sess,
					 const struct casmsg_volume_fresh *vols, size_t nvols);

#endif
