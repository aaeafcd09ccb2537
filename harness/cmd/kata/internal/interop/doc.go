// Package interop holds the interoperability check's test: the final
// server, built as make serve builds it, against a charge point that
// nobody here wrote (ocpp-rpc, in strict mode, from the interop directory
// at the kata's root), over TCP: plain, and over TLS with Basic auth and
// an API token.
//
// The check itself is interop/check.mjs, which make interop runs against
// a server of the learner's. The test needs Node.js and the check's
// modules (npm ci --prefix interop): where they are missing it skips and
// says how to get them, unless KATA_INTEROP=required, as CI sets it.
package interop
