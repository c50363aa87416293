package demo

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
)

// Landscape is every target of the catalog, the DNS zone and the brokers,
// running on loopback and doing what the script says.
type Landscape struct {
	// DNSAddr is the zone server's UDP address.
	DNSAddr string

	targets []*Target          // in catalog order
	byKey   map[string]*Target // "service/feature@site"
	zone    *zone
}

// startLandscape starts a target per feature and site (Up), the brokers of the
// messaging features and the DNS zone. beats give each target its Script.
func startLandscape(beats []Beat, tm timing, logger *slog.Logger) (*Landscape, error) {
	l := &Landscape{byKey: map[string]*Target{}}
	names := map[string]*Target{}
	for si := range catalog {
		s := &catalog[si]
		for fi := range s.Features {
			f := &s.Features[fi]
			for _, site := range f.Sites {
				t := &Target{
					Service: s.Name, Feature: f.Name, Site: site, Fail: f.Fail,
					Script:    scriptFor(beats, s.Key(f), site),
					slowDelay: tm.slow, webSocket: f.WebSocket,
					logger: logger.With("target", s.Key(f)+"@"+site),
				}
				if f.Messaging {
					b, err := startBrokers(logger.With("broker", s.Key(f)+"@"+site))
					if err != nil {
						l.Close()
						return nil, err
					}
					t.brokers = b
				}
				if err := startTarget(t); err != nil {
					if t.brokers != nil {
						t.brokers.close()
					}
					l.Close()
					return nil, err
				}
				if f.DNS {
					t.DNSName = dnsName(s.Name, f.Name, site)
					names[t.DNSName] = t
				}
				l.targets = append(l.targets, t)
				l.byKey[s.Key(f)+"@"+site] = t
			}
			if f.Gateway {
				if err := l.startGateway(beats, tm, logger, s, f); err != nil {
					l.Close()
					return nil, err
				}
			}
		}
	}
	z, err := startZone(names)
	if err != nil {
		l.Close()
		return nil, err
	}
	l.zone, l.DNSAddr = z, z.addr
	return l, nil
}

// startGateway starts the target of f on SiteBusanGateway: it answers as its
// script says, and fails while f's first site is Down.
func (l *Landscape) startGateway(beats []Beat, tm timing, logger *slog.Logger, s *Service, f *Feature) error {
	key := s.Key(f)
	t := &Target{
		Service: s.Name, Feature: f.Name, Site: SiteBusanGateway, Fail: Unavailable,
		Script:    scriptFor(beats, key, SiteBusanGateway),
		slowDelay: tm.slow, upstream: l.byKey[key+"@"+f.Sites[0]],
		logger: logger.With("target", key+"@"+SiteBusanGateway),
	}
	if err := startTarget(t); err != nil {
		return err
	}
	l.targets = append(l.targets, t)
	l.byKey[key+"@"+SiteBusanGateway] = t
	return nil
}

// Target returns the target of feature key ("service/feature") on site, nil if
// there is none.
func (l *Landscape) Target(key, site string) *Target { return l.byKey[key+"@"+site] }

// Targets lists every target in catalog order.
func (l *Landscape) Targets() []*Target { return l.targets }

// apply makes every target selected by changes take its new state. It
// returns once all are done; a target that could not come back is an error
// (it stays down) but does not stop the others.
func (l *Landscape) apply(changes []Change) error {
	var errs []error
	for _, t := range l.targets {
		for _, c := range changes {
			if c.selects(t.Key(), t.Site) {
				if err := t.setState(c.State); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// featuresDown lists the features whose every target is Down, sorted.
func (l *Landscape) featuresDown() []string {
	up := map[string]bool{}
	for _, t := range l.targets {
		if t.State() != Down {
			up[t.Key()] = true
		} else if _, seen := up[t.Key()]; !seen {
			up[t.Key()] = false
		}
	}
	var down []string
	for key, isUp := range up {
		if !isUp {
			down = append(down, key)
		}
	}
	sort.Strings(down)
	return down
}

// brokerAddrs describes the brokers for the guide.
func (l *Landscape) brokerAddrs() string {
	for _, t := range l.targets {
		if t.brokers != nil {
			return fmt.Sprintf("NATS nats://%s, MQTT tcp://%s (%s)", t.brokers.NATSAddr, t.brokers.MQTTAddr, t.Site)
		}
	}
	return "none"
}

// Close stops every target, broker and the zone.
func (l *Landscape) Close() {
	for _, t := range l.targets {
		t.close()
	}
	if l.zone != nil {
		l.zone.close()
	}
}
