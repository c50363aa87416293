// Package web serves the agent: /metrics, health and reload endpoints, the JSON
// API under /api/v1 (features, outages, incidents, report), the status page at
// / (public with web.public; /internal and /public always), the bulletin at
// /bulletin, an Atom feed at /feed.atom and /services/{service}/feed.atom, and
// SVG badges under /badge/, all behind --web.config.file (exporter-toolkit: TLS
// and basic auth).
//
// The pages are server-rendered html/template with their CSS and a small
// refresh script embedded and inlined: no external asset, readable without
// JavaScript, in English or Korean (?lang=ko or Accept-Language), titles in
// the reader's language where the config gives them, times in web.timezone.
package web
