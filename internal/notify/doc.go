// Package notify is the agent's communications: operators' incident updates
// and manual incidents, and the subscriptions that carry incidents and
// maintenance to people and systems (signed webhooks, e-mail with double
// opt-in). It knows nothing of probes: the agent hands it Events (Publish)
// and the web server mounts its endpoints (Routes).
//
// Everything it must not lose lives in its own bbolt file (Store): updates,
// manual incidents, subscribers, hashed tokens and the outgoing delivery
// queue, one transaction per change. Deliveries leave from the queue in
// their own goroutine (Service.Run), in order per target, retried with
// exponential backoff until they succeed, give up, or are dropped from a
// full queue; a restart resumes the queue (at least once; receivers dedupe
// by the X-Vigil-Delivery id).
package notify
