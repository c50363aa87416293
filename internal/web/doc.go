// Package web serves the agent: /metrics, health and reload endpoints, the JSON
// API under /api/v1 (features, outages, incidents, report), the status page at
// / and the bulletin at /bulletin, all behind --web.config.file
// (exporter-toolkit: TLS and basic auth).
//
// The pages are server-rendered html/template with their CSS and a small
// refresh script embedded and inlined: no external asset, readable without
// JavaScript, in English or Korean (?lang=ko or Accept-Language).
package web
