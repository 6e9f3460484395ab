// Package testruntime chooses the runtime configuration of the suites that
// convert images and run them (test/e2e, test/gostd): SCONE_E2E_TRANSPORT
// (sync, async) and SCONE_E2E_SCHEDULER (os, mn) apply to every conversion,
// so that a whole suite can run through the async transport and the
// user-level threads too. SCONE_E2E_ASYNC_POST (0, 1, 2) is passed to every
// container internal/podmantest runs as SCONE_ASYNC_POST: with 2, every
// blocking call the mn scheduler can post goes to a host worker
// (docs/runtime.md, "Posted blocking calls"). Unset, the conversions keep the defaults (sync,
// os). Apart from pkg/convert's own tests, which cannot import it.
package testruntime
