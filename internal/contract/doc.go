// Package contract does the calendar arithmetic of an SLA contract: which
// parts of a time range are covered hours (e.g. "Mon-Fri 09:00-18:00" in
// Asia/Seoul, less excluded dates such as holidays), and which credit tier an
// availability reaches. It is pure: no clock, no I/O. Local times are built
// with time.Date in the contract's location, so a covered day is cut where
// the clocks change as a person in that zone would cut it.
package contract
