package demo

import (
	"fmt"
	"time"
)

// State is what a target does at one point of the script.
type State int

// Target states.
const (
	Up   State = iota // answers at once
	Slow              // answers, slower than the feature's latency objective
	Down              // fails, the way its Failure says
)

// String names the state as the narration does.
func (s State) String() string {
	switch s {
	case Up:
		return "up"
	case Slow:
		return "slow"
	case Down:
		return "down"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// Failure is how a target fails while Down. Whatever it is, its DNS name
// answers SERVFAIL and its brokers are shut down.
type Failure int

// Failure modes.
const (
	// Refused: the power is cut, the listener is closed (connection refused).
	Refused Failure = iota
	// Unavailable: a front end elsewhere still answers, with HTTP 503.
	Unavailable
)

// Change sets the state of the targets it selects: those of Feature
// ("service/feature", "" for any) served from Site ("" for any).
type Change struct {
	Site    string
	Feature string
	State   State
}

// Beat is one moment of the script.
type Beat struct {
	At      time.Duration // from the start of the script, at speed 1
	Say     string        // the narration
	Changes []Change
}

// Phase is one entry of a target's script: from At on (at speed 1), State.
type Phase struct {
	At    time.Duration
	State State
}

// back brings features back on every site.
func back(features ...string) []Change {
	out := make([]Change, 0, len(features))
	for _, f := range features {
		out = append(out, Change{Feature: f, State: Up})
	}
	return out
}

// scriptLength is when the script ends, at speed 1.
const scriptLength = 200 * time.Second

// timeline is the game day, in the order of the 17 October 2022 bulletin:
// messages first, then chat rooms, wallet, shopping, business, Daum, Cafe,
// Map, Pay, Mobility, Entertainment; Talk drawer, Talk Channel, Daum mail and
// road view recover last and stay "recovering" at the end (their restored data
// is trusted only after TrustAfter), Friends shop search, Cafe popular posts
// and, with the evening traffic, payments stay slow ("degraded"). Meanwhile
// busan's gateway fails Kakao Games for a while: a failure only kr-south-1
// sees, which the global view shows as regional.
var timeline = []Beat{
	{At: 0, Say: "a calm Saturday afternoon: every feature answers",
		Changes: []Change{{State: Up}}},
	{At: 20 * time.Second, Say: "fire in data center pangyo",
		Changes: []Change{{Site: SitePangyo, State: Down}}},
	{At: 28 * time.Second, Say: "messages send / receive back",
		Changes: back("talk/message-send-receive")},
	{At: 36 * time.Second, Say: "chat rooms back",
		Changes: back("talk/chat-rooms")},
	{At: 40 * time.Second, Say: "busan's regional gateway fails for Kakao Games: only kr-south-1 sees it (regional, not global)",
		Changes: []Change{{Site: SiteBusanGateway, Feature: "games/main", State: Down}}},
	{At: 44 * time.Second, Say: "wallet back (e-certificates, digital cards)",
		Changes: back("talk/wallet")},
	{At: 52 * time.Second, Say: "shopping back; Friends shop search answers, slowly",
		Changes: append(back("talk/shopping"), Change{Feature: "talk/friends-shop-search", State: Slow})},
	{At: 60 * time.Second, Say: "business back (chatbot, admin center)",
		Changes: back("talk/business")},
	{At: 64 * time.Second, Say: "busan's gateway for Kakao Games back",
		Changes: []Change{{Site: SiteBusanGateway, Feature: "games/main", State: Up}}},
	{At: 68 * time.Second, Say: "Daum news, search and video back",
		Changes: back("daum/news", "daum/search", "daum/video")},
	{At: 76 * time.Second, Say: "Daum Cafe back; popular posts and statistics slow",
		Changes: append(back("cafe/main"), Change{Feature: "cafe/popular-posts", State: Slow})},
	{At: 84 * time.Second, Say: "Kakao Map back (road view still dark)",
		Changes: back("map/main")},
	{At: 92 * time.Second, Say: "Kakao Pay back: transfers and payments",
		Changes: back("pay/transfer", "pay/payment")},
	{At: 100 * time.Second, Say: "Kakao T and Kakao Navi back",
		Changes: back("mobility/kakao-t", "mobility/navigation")},
	{At: 108 * time.Second, Say: "Kakao Page / Webtoon back; Melon has both sites again",
		Changes: back("entertainment/webtoon", "entertainment/melon")},
	{At: 125 * time.Second, Say: "Talk drawer, Talk Channel, Daum mail and road view answer again: restored data under watch (recovering)",
		Changes: back("talk/talk-drawer", "talk/talk-channel", "daum/mail", "map/road-view")},
	{At: 150 * time.Second, Say: "evening traffic: Kakao Pay payments slow down (degraded, not down)",
		Changes: []Change{{Feature: "pay/payment", State: Slow}}},
	{At: scriptLength, Say: "end of the script"},
}

// selects reports whether c applies to the target of feature key on site.
func (c Change) selects(key, site string) bool {
	return (c.Site == "" || c.Site == site) && (c.Feature == "" || c.Feature == key)
}

// scriptFor is the script of the target of feature key on site: the phases
// the timeline puts it through, each a change of state.
func scriptFor(beats []Beat, key, site string) []Phase {
	var out []Phase
	for _, b := range beats {
		for _, c := range b.Changes {
			if !c.selects(key, site) {
				continue
			}
			if n := len(out); n == 0 || out[n-1].State != c.State {
				out = append(out, Phase{At: b.At, State: c.State})
			}
		}
	}
	return out
}

// stateAt is the state a script gives at t (speed 1); Up before it begins.
func stateAt(script []Phase, t time.Duration) State {
	s := Up
	for _, p := range script {
		if p.At > t {
			break
		}
		s = p.State
	}
	return s
}

// storyStart is the story clock at the start of the script: the fire broke out
// at 15:19 and the services went dark at 15:33 on 15 October 2022 (KST).
var storyStart = time.Date(2022, time.October, 15, 15, 13, 0, 0, time.FixedZone("KST", 9*60*60))

// storyTime is the story clock at script time at (speed 1): one second of the
// script is one minute of that day.
func storyTime(at time.Duration) time.Time {
	return storyStart.Add(time.Duration(at.Seconds() * float64(time.Minute)))
}
