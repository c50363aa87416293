// Package global puts each agent's record on NATS JetStream, so that one
// view across regions can be built from every agent's (issue 17). Its one
// job today is the publishing side: Publisher reads the SLA engine's outbox
// (sla.Options.Outbox) in order, publishes each record to the stream with a
// message id the stream deduplicates by, and acknowledges the outbox once
// the stream has them. The consumer (`vigil global`) comes later.
package global
