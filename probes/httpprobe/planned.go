package httpprobe

// A config is validated when it is loaded, and its probers are built right
// after: each built the same plan (at 50,000 checks, 30 MB of garbage and a
// tenth of a second). ValidateAndKeep keeps the plan it builds for the next
// New to take, once; a prober never shares its plan. Validating, building and
// forgetting follow one another (the agent loads, then applies), so the plan
// needs no lock.

// ValidateAndKeep is Validate that keeps the plan it built for the next New
// of c. Whoever calls it calls Forget once the probers are built, so that a
// check that is not rebuilt (unchanged by a reload) does not hold a plan.
func (c *Config) ValidateAndKeep() error {
	p, err := c.plan()
	if err != nil {
		return err
	}
	c.kept = p
	return nil
}

// Forget drops the plan ValidateAndKeep kept, if New has not taken it.
func (c *Config) Forget() { c.kept = nil }

// takePlan is the plan ValidateAndKeep kept, or a new one.
func (c *Config) takePlan() (*plan, error) {
	if p := c.kept; p != nil {
		c.kept = nil
		return p, nil
	}
	return c.plan()
}
