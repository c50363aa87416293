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
	// TitleKo is the title in Korean: the config gives both.
	TitleKo string
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
	// TitleKo is the title in Korean.
	TitleKo string
	Sites   []string
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
	// Journey adds a journey the way a user goes: log in, post a message
	// with the token, read it back, delete it (always), against the
	// target's small message API.
	Journey bool
	// Browser adds a browser check of the target's page (when a Chromium
	// is installed).
	Browser bool
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
	{Name: "talk", Title: "KakaoTalk", TitleKo: "카카오톡", Datacenter: SitePangyo, Features: []Feature{
		{Name: "message-send-receive", Title: "Messages: send / receive", TitleKo: "메시지: 수발신", Sites: []string{SitePangyo}, DNS: true, Messaging: true, WatchedFromBusan: true, Journey: true},
		{Name: "chat-rooms", Title: "Chat rooms: main functions", TitleKo: "채팅방: 주요 기능", Sites: []string{SitePangyo}, WebSocket: true},
		{Name: "talk-drawer", Title: "Chat rooms: Talk drawer", TitleKo: "채팅방: 톡서랍", Sites: []string{SitePangyo}, TrustAfter: trustAfter},
		{Name: "talk-channel", Title: "Talk Channel", TitleKo: "톡채널", Sites: []string{SitePangyo}, TrustAfter: trustAfter},
		{Name: "wallet", Title: "Wallet: e-certificates, digital cards", TitleKo: "지갑: 전자증명서, 디지털 카드", Sites: []string{SitePangyo}},
		{Name: "shopping", Title: "Shopping: gifts, Friends shop, ordering", TitleKo: "쇼핑: 선물하기, 프렌즈샵, 주문하기", Sites: []string{SitePangyo}},
		{Name: "friends-shop-search", Title: "Shopping: Friends shop search", TitleKo: "쇼핑: 프렌즈샵 검색", Sites: []string{SitePangyo}, Latency: true},
		{Name: "business", Title: "Business: chatbot, admin center, biz plugin", TitleKo: "비즈니스: 챗봇, 관리자센터, 비즈플러그인", Sites: []string{SitePangyo}},
	}},
	{Name: "daum", Title: "Daum", TitleKo: "다음", Datacenter: SitePangyo, Features: []Feature{
		{Name: "news", Title: "News", TitleKo: "뉴스", Sites: []string{SitePangyo}, Fail: Unavailable},
		{Name: "search", Title: "Search", TitleKo: "검색", Sites: []string{SitePangyo}, Fail: Unavailable, DNS: true, WatchedFromBusan: true},
		{Name: "video", Title: "Video", TitleKo: "동영상", Sites: []string{SitePangyo}, Fail: Unavailable},
		{Name: "mail", Title: "Daum / Kakao mail", TitleKo: "다음·카카오 메일", Sites: []string{SitePangyo}, Fail: Unavailable, TrustAfter: trustAfter},
	}},
	{Name: "cafe", Title: "Daum Cafe", TitleKo: "다음 카페", Datacenter: SitePangyo, Features: []Feature{
		{Name: "main", Title: "Main functions", TitleKo: "주요 기능", Sites: []string{SitePangyo}, Fail: Unavailable},
		{Name: "popular-posts", Title: "Popular posts and statistics", TitleKo: "인기글과 통계", Sites: []string{SitePangyo}, Fail: Unavailable, Latency: true},
	}},
	{Name: "map", Title: "Kakao Map", TitleKo: "카카오맵", Datacenter: SitePangyo, Features: []Feature{
		{Name: "main", Title: "Main functions", TitleKo: "주요 기능", Sites: []string{SitePangyo}, DNS: true},
		{Name: "road-view", Title: "Road view", TitleKo: "로드뷰", Sites: []string{SitePangyo}, TrustAfter: trustAfter, Browser: true},
	}},
	{Name: "pay", Title: "Kakao Pay", TitleKo: "카카오페이", Datacenter: SitePangyo, Features: []Feature{
		{Name: "transfer", Title: "In-chat and account transfer", TitleKo: "채팅방 송금과 계좌 이체", Sites: []string{SitePangyo}, Fail: Unavailable},
		{Name: "payment", Title: "Online / offline payment", TitleKo: "온·오프라인 결제", Sites: []string{SitePangyo}, Fail: Unavailable, Latency: true, WatchedFromBusan: true},
	}},
	{Name: "mobility", Title: "Kakao Mobility", TitleKo: "카카오모빌리티", Datacenter: SitePangyo, Features: []Feature{
		{Name: "kakao-t", Title: "Kakao T: taxi and driver apps", TitleKo: "카카오 T: 택시와 대리운전 앱", Sites: []string{SitePangyo}, WatchedFromBusan: true},
		{Name: "navigation", Title: "Kakao Navi", TitleKo: "카카오내비", Sites: []string{SitePangyo}},
	}},
	{Name: "entertainment", Title: "Kakao Entertainment", TitleKo: "카카오엔터테인먼트", Datacenter: SitePangyo, Features: []Feature{
		{Name: "webtoon", Title: "Kakao Page / Webtoon", TitleKo: "카카오페이지 / 웹툰", Sites: []string{SitePangyo}},
		{Name: "melon", Title: "Melon streaming", TitleKo: "멜론 스트리밍", Sites: []string{SitePangyo, SiteBusan}, WatchedFromBusan: true},
	}},
	{Name: "games", Title: "Kakao Games", TitleKo: "카카오게임즈", Datacenter: SiteBusan, Features: []Feature{
		{Name: "main", Title: "Mobile and PC games", TitleKo: "모바일·PC 게임", Sites: []string{SiteBusan}, Gateway: true},
	}},
	{Name: "zigzag", Title: "Kakao Style (Zigzag)", TitleKo: "카카오스타일 (지그재그)", Datacenter: SiteBusan, Features: []Feature{
		{Name: "main", Title: "Main functions", TitleKo: "주요 기능", Sites: []string{SiteBusan}},
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
