package demo

import "time"

// The two sites of the landscape. Every target is served from one of them.
const (
	SitePangyo = "pangyo" // the data center that burns
	SiteBusan  = "busan"  // the data center that stays up
	// SiteBusanGateway is busan's regional gateway: kr-south-1 reaches the
	// features marked Gateway through it, so a failure of the gateway alone
	// is one only kr-south-1 sees (regional, not global).
	SiteBusanGateway = "busan-gateway"
)

// Region is one agent of the demo: where it watches from and what.
type Region struct {
	Name     string // agent.region
	Nickname string // shown in the narration
	// AllFeatures: the agent watches the whole catalog; otherwise only the
	// features served from SiteBusan and those marked WatchedFromBusan.
	AllFeatures bool
	// ViaGateway: the agent checks features marked Gateway through
	// SiteBusanGateway instead of their sites.
	ViaGateway bool
}

// regions are the demo's two agents; the first gets --web.listen-address.
var regions = []Region{
	{Name: "kr-central-1", Nickname: "pangyo", AllFeatures: true},
	{Name: "kr-south-1", Nickname: "busan", ViaGateway: true},
}

// Service groups features the way the recovery bulletin does.
type Service struct {
	Name  string
	Title string
	// Datacenter is the site most of its features are served from, exported as
	// the `datacenter` label so outages group into one incident per site.
	Datacenter string
	Features   []Feature
}

// Feature is one thing users do, served from one site or, when Sites has two
// entries, from both (then the feature passes while either answers).
type Feature struct {
	Name  string
	Title string
	Sites []string
	// Fail is how its targets fail when the script takes them down.
	Fail Failure
	// DNS adds a check resolving the feature's name in the demo zone.
	DNS bool
	// Messaging adds NATS and MQTT round trips through the site's brokers.
	Messaging bool
	// WebSocket adds a round trip through the target's WebSocket echo.
	WebSocket bool
	// Latency gives the feature a latency objective, so that a slow target
	// shows as degraded.
	Latency bool
	// TrustAfter is how long a recovered feature must pass before it counts as
	// up again (at speed 1): data restored from backup is not trusted at once.
	// 0 means the default recovery_threshold.
	TrustAfter time.Duration
	// WatchedFromBusan: the kr-south-1 agent watches it too.
	WatchedFromBusan bool
	// Gateway: the feature is also reached through SiteBusanGateway (a target
	// of its own, failing as well while the feature's first site is Down).
	Gateway bool
}

// Key is "service/feature", the key used by the script and the tests.
func (s *Service) Key(f *Feature) string { return s.Name + "/" + f.Name }

// trustAfter is how long restored data is watched before it is trusted.
const trustAfter = 2 * time.Minute

// catalog is the landscape, after the services and features of the 17 October
// 2022 recovery bulletin (docs/seed-catalog.md): KakaoTalk, Daum,
// Daum Cafe, Kakao Map, Kakao Pay and Kakao Mobility are served from pangyo;
// Kakao Games and Kakao Style from busan; Melon from both.
var catalog = []Service{
	{Name: "talk", Title: "KakaoTalk", Datacenter: SitePangyo, Features: []Feature{
		{Name: "message-send-receive", Title: "Messages: send / receive", Sites: []string{SitePangyo}, DNS: true, Messaging: true, WatchedFromBusan: true},
		{Name: "chat-rooms", Title: "Chat rooms: main functions", Sites: []string{SitePangyo}, WebSocket: true},
		{Name: "talk-drawer", Title: "Chat rooms: Talk drawer", Sites: []string{SitePangyo}, TrustAfter: trustAfter},
		{Name: "talk-channel", Title: "Talk Channel", Sites: []string{SitePangyo}, TrustAfter: trustAfter},
		{Name: "wallet", Title: "Wallet: e-certificates, digital cards", Sites: []string{SitePangyo}},
		{Name: "shopping", Title: "Shopping: gifts, Friends shop, ordering", Sites: []string{SitePangyo}},
		{Name: "friends-shop-search", Title: "Shopping: Friends shop search", Sites: []string{SitePangyo}, Latency: true},
		{Name: "business", Title: "Business: chatbot, admin center, biz plugin", Sites: []string{SitePangyo}},
	}},
	{Name: "daum", Title: "Daum", Datacenter: SitePangyo, Features: []Feature{
		{Name: "news", Title: "News", Sites: []string{SitePangyo}, Fail: Unavailable},
		{Name: "search", Title: "Search", Sites: []string{SitePangyo}, Fail: Unavailable, DNS: true, WatchedFromBusan: true},
		{Name: "video", Title: "Video", Sites: []string{SitePangyo}, Fail: Unavailable},
		{Name: "mail", Title: "Daum / Kakao mail", Sites: []string{SitePangyo}, Fail: Unavailable, TrustAfter: trustAfter},
	}},
	{Name: "cafe", Title: "Daum Cafe", Datacenter: SitePangyo, Features: []Feature{
		{Name: "main", Title: "Main functions", Sites: []string{SitePangyo}, Fail: Unavailable},
		{Name: "popular-posts", Title: "Popular posts and statistics", Sites: []string{SitePangyo}, Fail: Unavailable, Latency: true},
	}},
	{Name: "map", Title: "Kakao Map", Datacenter: SitePangyo, Features: []Feature{
		{Name: "main", Title: "Main functions", Sites: []string{SitePangyo}, DNS: true},
		{Name: "road-view", Title: "Road view", Sites: []string{SitePangyo}, TrustAfter: trustAfter},
	}},
	{Name: "pay", Title: "Kakao Pay", Datacenter: SitePangyo, Features: []Feature{
		{Name: "transfer", Title: "In-chat and account transfer", Sites: []string{SitePangyo}, Fail: Unavailable},
		{Name: "payment", Title: "Online / offline payment", Sites: []string{SitePangyo}, Fail: Unavailable, Latency: true, WatchedFromBusan: true},
	}},
	{Name: "mobility", Title: "Kakao Mobility", Datacenter: SitePangyo, Features: []Feature{
		{Name: "kakao-t", Title: "Kakao T: taxi and driver apps", Sites: []string{SitePangyo}, WatchedFromBusan: true},
		{Name: "navigation", Title: "Kakao Navi", Sites: []string{SitePangyo}},
	}},
	{Name: "entertainment", Title: "Kakao Entertainment", Datacenter: SitePangyo, Features: []Feature{
		{Name: "webtoon", Title: "Kakao Page / Webtoon", Sites: []string{SitePangyo}},
		{Name: "melon", Title: "Melon streaming", Sites: []string{SitePangyo, SiteBusan}, WatchedFromBusan: true},
	}},
	{Name: "games", Title: "Kakao Games", Datacenter: SiteBusan, Features: []Feature{
		{Name: "main", Title: "Mobile and PC games", Sites: []string{SiteBusan}, Gateway: true},
	}},
	{Name: "zigzag", Title: "Kakao Style (Zigzag)", Datacenter: SiteBusan, Features: []Feature{
		{Name: "main", Title: "Main functions", Sites: []string{SiteBusan}},
	}},
}

// watches reports whether region r watches feature f.
func (r Region) watches(f *Feature) bool {
	if r.AllFeatures || f.WatchedFromBusan {
		return true
	}
	for _, site := range f.Sites {
		if site != SiteBusan {
			return false
		}
	}
	return true
}

// sitesOf are the sites whose targets r checks for f.
func (r Region) sitesOf(f *Feature) []string {
	if r.ViaGateway && f.Gateway {
		return []string{SiteBusanGateway}
	}
	return f.Sites
}

// catalogIndex is the position of a feature in the catalog (-1 if absent).
func catalogIndex(service, feature string) int {
	i := 0
	for _, s := range catalog {
		for _, f := range s.Features {
			if s.Name == service && f.Name == feature {
				return i
			}
			i++
		}
	}
	return -1
}
