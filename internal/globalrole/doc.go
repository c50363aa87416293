// Package globalrole is `vigil global`, the view across regions as a
// service: it replays the agents' records from the NATS JetStream stream
// into a globalview.View and follows the stream live, and serves the view
// as /metrics (vigil_global_*), the /api/v1/global/ JSON API (features,
// outages, incidents, report), a status page and a bulletin (EN/KO) across
// all regions. The view is derived state: a restart replays
// the stream, and two instances side by side agree.
package globalrole
